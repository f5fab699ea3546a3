/**
 * `odc eval` as a library call: the labelled train/test splits (splits.ts), the frozen features of a
 * checkpoint, a random network or raw pixels (feature_source.ts), extracted once for every protocol
 * asked for, then each protocol (protocol_runs.ts) with its results and paste-ready table;
 * `writeEvalResults` merges them into eval.json (and eval.md) next to the checkpoint.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../io/safetensors.ts';
import { CONV_TAPS, type Tap } from '../models/backbone.ts';
import { withDefaultDevice } from '../tensor/creation.ts';
import { checkDevice } from '../tensor/device.ts';
import { ConfigError } from '../tensor/errors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { type ArchSpec, resolveEvalSettings, runConfigOf } from './eval_model.ts';
import { FeatureSource } from './feature_source.ts';
import type { TapShape } from './features.ts';
import type { LinearProbeOptions } from './linear_probe.ts';
import type { LowShotOptions } from './lowshot.ts';
import { type Pooled, PROTOCOL_RUNS, type ProtocolInputs, svmRowsOnce } from './protocol_runs.ts';
import { loadSplits } from './splits.ts';
import type { SvmProtocolOptions } from './svm_protocol.ts';
import { type EvalTable, tablesToMarkdown } from './tables.ts';

export const PROTOCOLS = ['knn', 'linear', 'svm', 'lowshot', 'cluster'] as const;
export type Protocol = (typeof PROTOCOLS)[number];
/** What `odc eval` runs with no --protocol: the protocols that take seconds, not minutes. */
export const FAST_PROTOCOLS: readonly Protocol[] = ['knn', 'cluster'];

export interface EvalOptions {
  /** A checkpoint (training checkpoint, model.safetensors or backbone state dict). */
  checkpoint?: string;
  /** Features from a randomly initialised backbone or from raw pixels instead of a checkpoint. */
  baseline?: 'random' | 'pixels';
  /** Architecture; default: the checkpoint's run (config.json), else `odc train`'s defaults. */
  arch?: Partial<ArchSpec>;
  /** Dataset spec; default: the checkpoint's run dataset, else fashion-mnist. */
  dataset?: string;
  /** Folder datasets: side images are resized to; default: the checkpoint's run's imageSize, else 64. */
  imageSize?: number;
  protocols?: readonly Protocol[];
  /** Taps of the linear probe (default conv1..conv5 and the pooled feature). */
  linearTaps?: readonly Tap[];
  linear?: LinearProbeOptions;
  knnKs?: number[];
  svm?: SvmProtocolOptions;
  lowshot?: LowShotOptions;
  /** Seeded random subsets of the splits (quick looks, tests). */
  trainSubset?: number;
  testSubset?: number;
  /** Cache extracted pooled features under <checkpoint dir>/features (default true). */
  cache?: boolean;
  batchSize?: number;
  workers?: number;
  /** 'cpu' (default), 'cuda' or 'cuda:N': where the model, the features and the protocols' tensors live. */
  device?: string;
  seed?: number;
  /** k-means++ restarts of the clustering protocol, the lowest inertia kept (default 5). */
  kmeansRestarts?: number;
  log?: (line: string) => void;
  /** Long work reports here: a stage name, done and total units. */
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface EvalResult {
  checkpoint: string;
  dataset: string;
  /** Side of the images the features were extracted at. */
  imageSize: number;
  features: string;
  created: string;
  protocols: Partial<Record<Protocol, unknown>>;
  seconds: Partial<Record<Protocol | 'extract', number>>;
  tables: EvalTable[];
}

/** Runs the requested protocols on `o.device` (default CPU). Tensors it creates are freed before it returns. */
export async function evaluate(o: EvalOptions): Promise<EvalResult> {
  const device = checkDevice(o.device, '--device');
  return withDefaultDevice(device, () => evaluateOn(o));
}

async function evaluateOn(o: EvalOptions): Promise<EvalResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const progress = o.onProgress ?? (() => {});
  const protocols = new Set(o.protocols ?? FAST_PROTOCOLS);
  const seed = o.seed ?? 0;
  if (o.checkpoint === undefined && o.baseline === undefined) throw new ConfigError('odc eval: pass --checkpoint PATH, or --baseline random|pixels');
  if (o.kmeansRestarts !== undefined && !(Number.isInteger(o.kmeansRestarts) && o.kmeansRestarts >= 1)) throw new ConfigError(`--kmeans-restarts must be a whole number >= 1, got ${o.kmeansRestarts}`);
  if (o.checkpoint !== undefined && o.baseline !== undefined) throw new ConfigError('pass either --checkpoint or --baseline, not both');
  if (o.checkpoint !== undefined && !existsSync(o.checkpoint)) throw new ConfigError(`--checkpoint ${o.checkpoint}: no such file`);
  // The run's config.json shapes the model and its input (dataset, image size, architecture); options override it.
  const runConfig = o.checkpoint !== undefined ? runConfigOf(o.checkpoint) : undefined;
  const settings = resolveEvalSettings({ arch: o.arch, dataset: o.dataset, imageSize: o.imageSize }, runConfig);
  const splits = await loadSplits(settings, seed, log, { train: o.trainSubset, test: o.testSubset });
  const { train, test, numClasses } = splits;
  log(`data: ${train.source}: ${train.n} train / ${test.n} test images, ${numClasses} classes${splits.note ? ` (${splits.note})` : ''}`);

  const seconds: EvalResult['seconds'] = {};
  const time = async <T>(key: Protocol | 'extract', fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      seconds[key] = (seconds[key] ?? 0) + (performance.now() - t0) / 1000;
    }
  };
  const source = new FeatureSource({ ...o, seed }, settings, splits, log);
  const results: EvalResult['protocols'] = {};
  const tables: EvalTable[] = [];
  try {
    const needPooled = (['knn', 'svm', 'lowshot', 'cluster'] as const).some((p) => protocols.has(p));
    const linearTaps: Tap[] = protocols.has('linear') ? [...(o.linearTaps ?? (source.model ? [...CONV_TAPS, 'pool'] : ['pool']))] : [];
    // One extraction pass serves every protocol (conv taps stored as float16: about 3.6 GB for
    // 60,000 images of a width-16 ResNet-18; each is freed after its linear probe).
    const wanted = [...new Set<Tap>([...linearTaps, ...(needPooled ? ['pool' as Tap] : [])])];
    const features = wanted.length > 0 ? await time('extract', () => source.extract(wanted, progress)) : undefined;
    let pooled: Pooled | undefined;
    if (needPooled && features) {
      pooled = { train: features.train.get('pool') as Tensor, test: features.test.get('pool') as Tensor, dims: (features.shapes.find((s) => s.tap === 'pool') as TapShape).dims };
      log(`pooled features: ${pooled.dims} dims`);
    }
    const inputs: ProtocolInputs = {
      o, seed, splits, source, features, pooled, linearTaps, runConfig, svmRows: svmRowsOnce(() => pooled as Pooled, splits), log, progress,
    };
    for (const [name, run] of PROTOCOL_RUNS) {
      if (!protocols.has(name)) continue;
      const outcome = await time(name, () => run(inputs));
      if (outcome === undefined) continue;
      results[name] = outcome.result;
      tables.push(outcome.table);
    }
  } finally {
    source.dispose();
  }
  return {
    checkpoint: o.checkpoint ?? `baseline:${o.baseline}`, dataset: settings.dataset, imageSize: train.height, features: source.description, created: new Date().toISOString(),
    protocols: results, seconds, tables,
  };
}

/** Where `writeEvalResults` puts eval.json by default. */
export function defaultEvalPath(o: Pick<EvalOptions, 'checkpoint' | 'baseline' | 'dataset'>): string {
  if (o.checkpoint !== undefined) return join(dirname(resolve(o.checkpoint)), 'eval.json');
  const ds = (o.dataset ?? 'fashion-mnist').replace(/[^a-zA-Z0-9_-]+/g, '_');
  return resolve('runs', 'baselines', `${o.baseline}-${ds}`, 'eval.json');
}

/**
 * Writes eval.json (merged with an existing one: protocols run now replace their earlier results
 * and tables) and eval.md beside it. Returns the JSON path.
 */
export function writeEvalResults(r: EvalResult, path: string): string {
  let merged: EvalResult = r;
  if (existsSync(path)) {
    try {
      const old = JSON.parse(readFileSync(path, 'utf8')) as EvalResult & { tableProtocols?: string[] };
      if (old.checkpoint === r.checkpoint && old.dataset === r.dataset && (old.imageSize ?? r.imageSize) === r.imageSize) {
        const ran = new Set(Object.keys(r.protocols));
        const keptTables = (old.tables ?? []).filter((_, i) => !ran.has(old.tableProtocols?.[i] ?? ''));
        merged = {
          ...r,
          protocols: { ...old.protocols, ...r.protocols },
          seconds: { ...old.seconds, ...r.seconds },
          tables: [...keptTables, ...r.tables],
        };
        (merged as EvalResult & { tableProtocols: string[] }).tableProtocols = [
          ...(old.tableProtocols ?? []).filter((p) => !ran.has(p)),
          ...tableProtocolsOf(r),
        ];
      }
    } catch {
      // an unreadable earlier file is replaced
    }
  }
  if (merged === r) (merged as EvalResult & { tableProtocols: string[] }).tableProtocols = tableProtocolsOf(r);
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, Buffer.from(`${JSON.stringify(merged, null, 2)}\n`));
  writeFileAtomic(path.replace(/\.json$/, '.md'), Buffer.from(`# Evaluation: ${merged.features}\n\nDataset: ${merged.dataset}\n\n${tablesToMarkdown(merged.tables)}`));
  return path;
}

/** Which protocol produced each table (tables are pushed in protocol order, one per protocol). */
function tableProtocolsOf(r: EvalResult): string[] {
  const order: Protocol[] = ['knn', 'cluster', 'svm', 'lowshot', 'linear'];
  return order.filter((p) => p in r.protocols);
}
