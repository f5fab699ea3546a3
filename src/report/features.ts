/**
 * The images and the feature space of a run, for galleries and neighbour search: the run's own
 * image store (rebuilt from its config.json) and one L2-normalised feature per image.
 *
 * ODC: the samples memory (`memory.features`, the 256-d neck features the clustering assigned).
 * DeepCluster keeps no memory: the pooled backbone features of model.safetensors (eval mode, the
 * extraction pipeline; what DeepCluster clusters, before its PCA), cached in
 * `<run>/cluster_features.safetensors` once the run has finished.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../data/errors.ts';
import type { ImageSet } from '../data/image_set.ts';
import type { TrainConfig } from '../train/config.ts';
import { type RunDir, readSafetensors } from './run_dir.ts';

export const FEATURE_CACHE = 'cluster_features.safetensors';

export interface RunFeatures {
  /** [n, dim] row-major, each row of unit length (all-zero rows stay zero). */
  data: Float32Array;
  n: number;
  dim: number;
  /** Where they came from, for the page footers. */
  source: string;
}

/** The run's config.json as a TrainConfig; keys this version does not know are ignored. */
async function runConfig(run: RunDir): Promise<TrainConfig> {
  const { resolveConfig, TrainConfigSchema } = await import('../train/config.ts');
  const known = Object.fromEntries(Object.entries(run.config).filter(([k]) => k in TrainConfigSchema.shape));
  return resolveConfig(known, join(run.dir, 'config.json'));
}

/** The run's images in store order (the order of labels.npy and of the memories). */
export async function loadRunStore(run: RunDir, log: (l: string) => void = () => {}): Promise<ImageSet> {
  const { loadTrainingSet } = await import('../train/trainer.ts');
  const cfg = await runConfig(run);
  const store = await loadTrainingSet(cfg, log);
  checkStore(run, store);
  return store;
}

/** The run's labels must number the store's images (a DataError when the data changed since training). */
export function checkStore(run: RunDir, store: ImageSet): void {
  if (run.labels !== undefined && run.labels.length !== store.n) {
    throw new DataError(run.dir, `${run.labelsSource} has ${run.labels.length} labels but the dataset (${store.source}) now has ${store.n} images: the data changed since training`);
  }
}

/** L2-normalises each row in place. */
export function normalizeRows(data: Float32Array, dim: number): Float32Array {
  for (let o = 0; o < data.length; o += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += data[o + j] * data[o + j];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) data[o + j] *= inv;
  }
  return data;
}

function fromFile(path: string, name: string, n: number, source: string): RunFeatures | undefined {
  if (!existsSync(path)) return undefined;
  const t = readSafetensors(path, [name]).tensors.get(name);
  if (t === undefined) return undefined;
  if (!(t.data instanceof Float32Array) || t.shape.length !== 2) throw new DataError(path, `'${name}' is [${t.shape}] ${t.dtype}, expected [N, D] F32`);
  if (t.shape[0] !== n) throw new DataError(path, `'${name}' has ${t.shape[0]} rows for ${n} images`);
  return { data: normalizeRows(t.data, t.shape[1]), n, dim: t.shape[1], source };
}

/** What a cached feature file must match: the weights it was computed from. */
function weightsStamp(path: string): string {
  const st = statSync(path);
  return `${st.size}:${Math.round(st.mtimeMs)}`;
}

/**
 * One unit-length feature per image of `store` (see the module comment for which features);
 * `device` ('cpu', 'cuda', 'cuda:N'): where the features a run does not keep are computed.
 */
export async function runFeatures(run: RunDir, store: ImageSet, log: (l: string) => void = () => {}, device = 'cpu'): Promise<RunFeatures> {
  const n = store.n;
  // The memory's features (ODC's samples memory, NPID's bank) where the run keeps them.
  if (run.method === 'odc' || run.method === 'npid') {
    const f =
      fromFile(join(run.dir, 'memory.safetensors'), 'memory.features', n, 'the samples memory in memory.safetensors') ??
      fromFile(join(run.dir, 'latest.safetensors'), 'memory.features', n, 'the samples memory in latest.safetensors');
    if (f !== undefined) return f;
  }
  const modelPath = join(run.dir, 'model.safetensors');
  const latest = join(run.dir, 'latest.safetensors');
  const weights = existsSync(modelPath) ? modelPath : existsSync(latest) ? latest : undefined;
  if (weights === undefined) throw new DataError(run.dir, 'no model.safetensors or latest.safetensors to compute features from (training has not saved a checkpoint yet)');
  const cache = join(run.dir, FEATURE_CACHE);
  const stamp = weightsStamp(weights);
  const source = `pooled backbone features of ${weights === modelPath ? 'model.safetensors' : 'latest.safetensors'}`;
  if (existsSync(cache) && readSafetensors(cache, []).metadata.weights === stamp) {
    const f = fromFile(cache, 'features', n, `${source}, cached in ${FEATURE_CACHE}`);
    if (f !== undefined) return f;
  }
  log(`computing features of ${n} images from ${weights}${device !== 'cpu' ? ` on ${device}` : ''} (once; cached in the run directory when the run has finished)`);
  const t0 = performance.now();
  const [{ withDefaultDevice }, { checkDevice }] = await Promise.all([import('../tensor/creation.ts'), import('../tensor/device.ts')]);
  const data = await withDefaultDevice(checkDevice(device, '--device'), () => computeFeatures(run, store, weights));
  log(`features computed in ${((performance.now() - t0) / 1000).toFixed(1)}s`);
  const dim = data.length / n;
  // Never write into the directory of a run that is still training.
  if (run.finished) await saveCache(cache, data, n, dim, stamp);
  return { data, n, dim, source };
}

async function computeFeatures(run: RunDir, store: ImageSet, weights: string): Promise<Float32Array> {
  const [{ presetFor }, { ClusterModel }, { loadCheckpoint }, { extractFeatures }, { modelOptions }] = await Promise.all([
    import('../data/augment.ts'), import('../models/cluster_model.ts'), import('../train/checkpoint.ts'), import('../train/extract.ts'), import('../train/methods.ts'),
  ]);
  const cfg = await runConfig(run);
  const stem = cfg.stem === 'auto' ? (store.height <= 64 ? 'cifar' : 'imagenet') : cfg.stem;
  const augCfg = presetFor(store.channels, store.height, Object.fromEntries(Object.entries(cfg.augment).filter(([, v]) => v !== undefined)));
  const model = new ClusterModel(modelOptions({ ...cfg, clusters: cfg.clusters ?? run.clusters }, { channels: store.channels, stem }));
  try {
    const ck = loadCheckpoint(weights);
    try {
      model.loadStateDict(ck.model);
    } finally {
      ck.dispose();
    }
    model.eval();
    // The backbone's pooled feature: DeepCluster's clustering input (the ODC neck would add dropout-trained layers).
    const feats = await extractFeatures(store, augCfg, (x) => model.backbone.pooled(model.prepare(x)), { workers: 0 });
    try {
      return normalizeRows(Float32Array.from(feats.data<Float32Array>()), feats.size(1));
    } finally {
      feats.dispose();
    }
  } finally {
    model.dispose();
  }
}

async function saveCache(path: string, data: Float32Array, n: number, dim: number, stamp: string): Promise<void> {
  const [{ tensor }, { saveSafetensors }] = await Promise.all([import('../tensor/creation.ts'), import('../io/safetensors.ts')]);
  const t = tensor(data, { shape: [n, dim] });
  try {
    saveSafetensors(path, { features: t }, { weights: stamp });
  } finally {
    t.dispose();
  }
}
