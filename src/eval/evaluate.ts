/**
 * `odc eval` as a library call: loads the frozen backbone (a checkpoint, a random network or raw
 * pixels), the labelled train/test splits, extracts the features each protocol needs once, runs the
 * protocols and returns results plus paste-ready tables; `writeEvalResults` merges them into
 * eval.json (and eval.md) next to the checkpoint.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { presetFor } from '../data/augment.ts';
import { type ImageSet, isStreamed, rowsOf, subsetOf } from '../data/image_set.ts';
import { makeRng, shuffleInPlace } from '../data/rng.ts';
import { isStreamSpec, loadImageSet } from '../data/spec.ts';
import { writeFileAtomic } from '../io/safetensors.ts';
import { CONV_TAPS, type Tap } from '../models/backbone.ts';
import { cat, withDefaultDevice } from '../tensor/creation.ts';
import { checkDevice } from '../tensor/device.ts';
import { ConfigError } from '../tensor/errors.ts';
import { tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { loadCheckpoint } from '../train/checkpoint.ts';
import { loadTrainingSet } from '../train/run_setup.ts';
import { kmeansScores, type PartitionScores, scorePartition } from './cluster_eval.ts';
import { type ArchSpec, type EvalModel, type EvalSettings, loadEvalModel, randomEvalModel, resolveEvalSettings, runConfigOf } from './eval_model.ts';
import { extractTaps, FeatureCache, pixelFeatures, type TapShape, tapShapes } from './features.ts';
import { type KnnRow, knnClassify } from './knn.ts';
import { type LinearProbeOptions, linearProbe } from './linear_probe.ts';
import { type LowShotOptions, lowShotSvm } from './lowshot.ts';
import type { LabelledFeatures } from './svm_pool.ts';
import { type SvmProtocolOptions, svmProtocol } from './svm_protocol.ts';
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

interface Splits {
  train: ImageSet;
  test: ImageSet;
  trainY: Int32Array;
  testY: Int32Array;
  numClasses: number;
  note?: string;
}

async function loadSplits(settings: EvalSettings, seed: number, log: (l: string) => void, sub: { train?: number; test?: number } = {}): Promise<Splits> {
  const spec = settings.dataset;
  const folder = { size: settings.imageSize, onError: settings.onBadImage, warn: log };
  let train = await loadImageSet(spec, 'train', folder);
  let test: ImageSet | undefined;
  let note: string | undefined;
  if (spec.startsWith('folder:') || isStreamSpec(spec)) {
    // A folder (or shards) has no test split: hold out a seeded 20 % of it.
    const order = Int32Array.from({ length: train.n }, (_, i) => i);
    shuffleInPlace(order, makeRng(seed, 7));
    const cut = Math.round(train.n * 0.8);
    test = rowsOf(train, order.slice(cut).sort(), `${train.source} (held-out 20 %)`);
    train = rowsOf(train, order.slice(0, cut).sort(), `${train.source} (80 %)`);
    note = `${isStreamSpec(spec) ? 'streamed' : 'folder'} dataset: seeded 80/20 train/test split`;
  } else {
    test = await loadImageSet(spec, 'test', folder);
  }
  if (sub.train !== undefined) train = subsetOf(train, sub.train, seed);
  if (sub.test !== undefined) test = subsetOf(test, sub.test, seed);
  if (!train.labels || !test.labels) throw new ConfigError(`--dataset ${spec}: the evaluation protocols need true labels and ${train.source} has none`);
  const numClasses = train.classNames?.length ?? Math.max(...train.labels) + 1;
  return { train, test, trainY: train.labels, testY: test.labels, numClasses, note };
}

const pct = (v: number) => Number((100 * v).toFixed(2));
const r4 = (v: number) => Number(v.toFixed(4));

/** Cluster labels stored in a checkpoint (ODC memory or DeepCluster labels), if any. */
function checkpointLabels(path: string): Int32Array | undefined {
  const ck = loadCheckpoint(path);
  try {
    const t = ck.memory.get('memory.labels') ?? ck.rest.get('dc.labels') ?? ck.model.get('memory.labels');
    return t === undefined ? undefined : Int32Array.from(t.toArray());
  } finally {
    ck.dispose();
  }
}

/** Runs the requested protocols on `o.device` (default CPU). Tensors it creates are freed before it returns. */
export async function evaluate(o: EvalOptions): Promise<EvalResult> {
  const device = checkDevice(o.device, '--device');
  return withDefaultDevice(device, () => evaluateOn(o));
}

async function evaluateOn(o: EvalOptions): Promise<EvalResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const progress = o.onProgress ?? (() => {});
  const protocols = [...new Set(o.protocols ?? FAST_PROTOCOLS)];
  const seed = o.seed ?? 0;
  if (o.checkpoint === undefined && o.baseline === undefined) throw new ConfigError('odc eval: pass --checkpoint PATH, or --baseline random|pixels');
  if (o.checkpoint !== undefined && o.baseline !== undefined) throw new ConfigError('pass either --checkpoint or --baseline, not both');
  if (o.checkpoint !== undefined && !existsSync(o.checkpoint)) throw new ConfigError(`--checkpoint ${o.checkpoint}: no such file`);
  // The run's config.json shapes the model and its input (dataset, image size, architecture);
  // options override it.
  const runConfig = o.checkpoint !== undefined ? runConfigOf(o.checkpoint) : undefined;
  const settings = resolveEvalSettings({ arch: o.arch, dataset: o.dataset, imageSize: o.imageSize }, runConfig);
  const spec = settings.dataset;
  const splits = await loadSplits(settings, seed, log, { train: o.trainSubset, test: o.testSubset });
  const { train, test, trainY, testY, numClasses } = splits;
  log(`data: ${train.source}: ${train.n} train / ${test.n} test images, ${numClasses} classes${splits.note ? ` (${splits.note})` : ''}`);

  const seconds: EvalResult['seconds'] = {};
  const results: EvalResult['protocols'] = {};
  const tables: EvalTable[] = [];
  // Extraction at the evaluation images' size, normalised with the statistics the run trained with
  // (they follow its channels and image size, as in `odc train`).
  const trainedSize = settings.trainedSize ?? train.height;
  const { mean, std } = presetFor(train.channels, trainedSize);
  const pipeline = { ...presetFor(train.channels, train.height), mean, std };
  const time = async <T>(key: Protocol | 'extract', fn: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      seconds[key] = ((seconds[key] ?? 0) + (performance.now() - t0) / 1000);
    }
  };

  let model: EvalModel | undefined;
  if (o.baseline === 'random') model = randomEvalModel(settings.arch, { inChannels: train.channels, height: train.height, seed });
  else if (o.baseline !== 'pixels') model = loadEvalModel(o.checkpoint as string, { arch: settings.arch, inChannels: train.channels, height: trainedSize });
  const featuresName = model?.description ?? 'raw pixels';
  const vectors = (dims: number) => `${model ? 'pooled features' : 'pixels'} (${dims} dims)`;
  log(`features: ${featuresName}`);
  if (model) {
    const stats = (v: number[]) => v.map((x) => x.toFixed(4)).join(', ');
    log(`input: ${train.channels}x${train.height}x${train.width}${trainedSize !== train.height ? ` (the run trained at ${trainedSize} px)` : ''}, mean [${stats(mean)}], std [${stats(std)}]`);
  }

  const owned: Tensor[] = [];
  const cache = o.cache !== false && o.checkpoint !== undefined && o.baseline === undefined ? new FeatureCache(join(dirname(resolve(o.checkpoint)), 'features')) : undefined;
  // The cache key holds everything the features depend on: the file, the model built from it and the input.
  const modelStamp = o.checkpoint !== undefined && model !== undefined
    ? `${FeatureCache.modelStamp(o.checkpoint)}:${JSON.stringify(model.spec)}:${pipeline.size}px:${[...mean, ...std].join(',')}`
    : 'none';

  /** Train and test features of some taps (pixels: the 'pool' slot holds raw pixels). */
  const extract = async (taps: readonly Tap[]): Promise<{ shapes: TapShape[]; train: Map<Tap, Tensor>; test: Map<Tap, Tensor> }> =>
    time('extract', async () => {
      if (model === undefined) {
        const px = (s: ImageSet) => {
          if (isStreamed(s)) throw new ConfigError(`--baseline pixels: ${s.source} is streamed and has no decoded pixels; use an in-memory dataset (folder:DIR)`);
          return new Map<Tap, Tensor>([['pool', pixelFeatures(s)]]);
        };
        const tr = px(train);
        const te = px(test);
        owned.push(...tr.values(), ...te.values());
        return { shapes: [{ tap: 'pool', channels: 0, side: 0, grid: 1, dims: train.channels * train.height * train.width }], train: tr, test: te };
      }
      const m = model;
      const shapes = tapShapes(m, train, pipeline.size, taps);
      const out = { shapes, train: new Map<Tap, Tensor>(), test: new Map<Tap, Tensor>() };
      for (const [split, store] of [['train', train], ['test', test]] as const) {
        const key = (tap: Tap) => FeatureCache.keyOf({ model: modelStamp, data: store.source, split, tap, grid: shapes.find((s) => s.tap === tap)?.grid ?? 1 });
        const need: TapShape[] = [];
        for (const s of shapes) {
          const hit = s.tap === 'pool' ? cache?.get(`${split}-pool`, key('pool')) : undefined;
          if (hit !== undefined) {
            out[split].set(s.tap, hit);
            owned.push(hit);
          } else need.push(s);
        }
        if (need.length === 0) continue;
        const got = await extractTaps(m, store, pipeline, need, {
          batchSize: o.batchSize, workers: o.workers, onBatch: (d, t) => progress(`extract ${split} ${need.map((s) => s.tap).join(',')}`, d, t),
        });
        for (const [tap, t] of got) {
          out[split].set(tap, t);
          owned.push(t);
          if (tap === 'pool') cache?.set(`${split}-pool`, key('pool'), t);
        }
      }
      return out;
    });

  try {
    let pooled: { train: Tensor; test: Tensor; dims: number } | undefined;
    const needPooled = protocols.some((p) => p === 'knn' || p === 'svm' || p === 'lowshot' || p === 'cluster');
    const linearTaps: Tap[] = protocols.includes('linear') ? [...(o.linearTaps ?? (model ? [...CONV_TAPS, 'pool'] : ['pool']))] : [];
    // One extraction pass serves every protocol (conv taps stored as float16: about 3.6 GB for
    // 60,000 images of a width-16 ResNet-18; each is freed after its linear probe).
    const wanted = [...new Set<Tap>([...linearTaps, ...(needPooled ? ['pool' as Tap] : [])])];
    const feats = wanted.length > 0 ? await extract(wanted) : undefined;
    if (needPooled && feats) {
      const shape = feats.shapes.find((s) => s.tap === 'pool') as TapShape;
      pooled = { train: feats.train.get('pool') as Tensor, test: feats.test.get('pool') as Tensor, dims: shape.dims };
      log(`pooled features: ${pooled.dims} dims`);
    }

    if (protocols.includes('knn') && pooled) {
      const p = pooled;
      const rows: KnnRow[] = await time('knn', () =>
        knnClassify(p.train, trainY, p.test, testY, numClasses, { ks: o.knnKs, onProgress: (d, t) => progress('kNN', d, t) }),
      );
      results.knn = { features: 'pooled', dims: p.dims, temperature: 0.07, rows };
      tables.push({
        title: `kNN top-1 (%), ${featuresName}, cosine on L2-normalised ${vectors(p.dims)}, T = 0.07`,
        columns: ['k', 'weighted top-1', 'majority top-1'],
        rows: rows.map((r) => [r.k, pct(r.weighted), pct(r.majority)]),
      });
      log(`kNN: ${rows.map((r) => `k=${r.k} ${pct(r.weighted)}% (majority ${pct(r.majority)}%)`).join(', ')}`);
    }

    if (protocols.includes('cluster') && pooled) {
      const p = pooled;
      const rows: (string | number)[][] = [];
      const out: Record<string, unknown> = {};
      const addRow = (name: string, s: PartitionScores) => {
        rows.push([name, s.sizes.clusters, r4(s.nmi), r4(s.ari), r4(s.acc), r4(s.purity), s.sizes.empty, s.sizes.min, s.sizes.median, s.sizes.max, r4(s.sizes.gini)]);
      };
      await time('cluster', async () => {
        // k-means with k = number of classes on all images (train and test splits together).
        const all = tidy(() => cat([p.train, p.test], 0));
        const truth = new Int32Array(trainY.length + testY.length);
        truth.set(trainY);
        truth.set(testY, trainY.length);
        try {
          progress('k-means', 0, 1);
          const km = kmeansScores(all, truth, numClasses, { seed });
          progress('k-means', 1, 1);
          const { labels: _l, ...scores } = km;
          out.kmeans = { k: numClasses, images: truth.length, ...scores };
          addRow(`k-means (k = ${numClasses}) on ${model ? 'pooled features' : 'pixels'}, ${truth.length} images`, km);
          log(`k-means (k = ${numClasses}) on ${truth.length} images: NMI ${r4(km.nmi)}, ACC ${r4(km.acc)}`);
        } finally {
          all.dispose();
        }
        // The run's own cluster labels, against the truth of the images it trained on.
        if (o.checkpoint !== undefined && o.baseline === undefined && runConfig !== undefined) {
          const labels = checkpointLabels(o.checkpoint);
          if (labels !== undefined) {
            const store = await loadTrainingSet(runConfig, log);
            if (store.labels && store.n === labels.length) {
              const s = scorePartition(labels, store.labels, runConfig.clusters ?? Math.max(...labels) + 1);
              out.run_labels = { images: store.n, ...s };
              addRow(`${runConfig.method} labels in the checkpoint (K = ${runConfig.clusters}), ${store.n} images`, s);
              log(`checkpoint labels (K = ${runConfig.clusters}): NMI ${r4(s.nmi)}, ACC ${r4(s.acc)}`);
            } else {
              log(`checkpoint labels skipped: ${store.labels ? `${labels.length} labels for ${store.n} training images` : 'training data has no labels'}`);
            }
          }
        }
      });
      results.cluster = out;
      tables.push({
        title: `Clustering vs true classes, ${featuresName}`,
        columns: ['partition', 'clusters', 'NMI', 'ARI', 'ACC', 'purity', 'empty', 'min', 'median', 'max', 'Gini'],
        rows,
      });
    }

    // The SVM solver works on float32 rows in JS memory (shared with its worker threads).
    let svmRows: { train: LabelledFeatures; test: LabelledFeatures } | undefined;
    const svmData = (): { train: LabelledFeatures; test: LabelledFeatures } => {
      const p = pooled as { train: Tensor; test: Tensor; dims: number };
      const rows = (t: Tensor, labels: Int32Array): LabelledFeatures => ({ data: tidy(() => t.float().contiguous().data<Float32Array>()), n: t.size(0), d: t.size(1), labels });
      svmRows ??= { train: rows(p.train, trainY), test: rows(p.test, testY) };
      return svmRows;
    };
    const className = (c: number) => train.classNames?.[c] ?? String(c);

    if (protocols.includes('svm') && pooled) {
      const p = pooled;
      const data = svmData();
      const r = await time('svm', () => svmProtocol(data.train, data.test, { seed, ...o.svm, onProgress: (d, t) => progress('SVM', d, t) }));
      const folds = o.svm?.folds ?? 3;
      results.svm = { features: 'pooled', dims: p.dims, folds, ...r };
      tables.push({
        title: `Linear SVM (one-vs-rest, cost by ${folds}-fold CV over ${r.costs.length} costs), test AP (%), ${featuresName}, ${vectors(p.dims)}`,
        columns: ['class', 'AP', 'cost'],
        rows: [...r.classes.map((c, i) => [className(c), pct(r.ap[i]), r.chosenCost[i]]), ['mean (mAP)', pct(r.map), '']],
      });
      log(`SVM: mAP ${pct(r.map)}% (${r.fits} fits${r.notConverged ? `, ${r.notConverged} stopped at the iteration cap` : ''})`);
    }

    if (protocols.includes('lowshot') && pooled) {
      const p = pooled;
      const data = svmData();
      const r = await time('lowshot', () => lowShotSvm(data.train, data.test, { seed, ...o.lowshot, onProgress: (d, t) => progress('low-shot SVM', d, t) }));
      const samples = o.lowshot?.samples ?? 5;
      results.lowshot = { features: 'pooled', dims: p.dims, samples, ...r };
      tables.push({
        title: `Low-shot linear SVM, test mAP (%), ${featuresName}, ${vectors(p.dims)}; positives per class; mean ± std over ${samples} samples`,
        columns: [...r.perShot.map((x) => `${x.shot}`), 'average'],
        rows: [[...r.perShot.map((x) => `${pct(x.mean)} ± ${pct(x.std)}`), pct(r.average)]],
      });
      log(`low-shot: ${r.perShot.map((x) => `${x.shot}: ${pct(x.mean)}`).join(', ')}; average ${pct(r.average)}`);
    }

    if (protocols.includes('linear')) {
      const rows: (string | number)[][] = [];
      const out: Record<string, unknown>[] = [];
      const f = feats as NonNullable<typeof feats>;
      // Pixels have one "tap"; a backbone's come in the requested order.
      const shapes = model ? linearTaps.map((t) => f.shapes.find((s) => s.tap === t) as TapShape) : f.shapes;
      for (const shape of shapes) {
        const tap = shape.tap;
        const trainX = f.train.get(tap) as Tensor;
        const testX = f.test.get(tap) as Tensor;
        const r = await time('linear', () =>
          linearProbe(trainX, trainY, testX, testY, numClasses, {
            ...o.linear, seed, onEpoch: (e) => progress(`linear probe ${model ? tap : 'pixels'}`, e, o.linear?.epochs ?? 10),
          }),
        );
        for (const t of [trainX, testX]) {
          t.dispose();
          owned.splice(owned.indexOf(t), 1);
        }
        const name = model ? tap : 'pixels';
        const pooling = !model ? 'none' : shape.tap === 'pool' ? 'global' : `${shape.channels}×${shape.grid}×${shape.grid} (from ${shape.side}×${shape.side})`;
        out.push({ tap: name, pooling, ...r });
        rows.push([name, pooling, r.dims, pct(r.top1), pct(r.top5)]);
        log(`linear probe ${name} (${r.dims} dims): top-1 ${pct(r.top1)}%`);
      }
      results.linear = out;
      const lo = o.linear ?? {};
      tables.push({
        title: `Linear probe top-1/top-5 (%), ${featuresName} (${lo.epochs ?? 10} epochs, SGD Nesterov 0.9, lr ${lo.lr ?? 0.01}, batch ${lo.batchSize ?? 256})`,
        columns: ['tap', 'pooling', 'dims', 'top-1', 'top-5'],
        rows,
      });
    }
  } finally {
    for (const t of owned) t.dispose();
    model?.dispose();
  }
  return {
    checkpoint: o.checkpoint ?? `baseline:${o.baseline}`, dataset: spec, imageSize: train.height, features: featuresName, created: new Date().toISOString(),
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
