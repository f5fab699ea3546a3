/**
 * Each evaluation protocol as one step of `odc eval`: from the extracted features to its results
 * (eval.json) and its paste-ready table. The protocols themselves live in knn.ts, cluster_eval.ts,
 * svm_protocol.ts, lowshot.ts and linear_probe.ts.
 */
import { cat } from '../tensor/creation.ts';
import { tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { loadCheckpoint } from '../train/checkpoint.ts';
import type { TrainConfig } from '../train/config.ts';
import { loadTrainingSet } from '../train/run_setup.ts';
import { kmeansScores, type PartitionScores, PROTOCOL_KMEANS_RESTARTS, scorePartition } from './cluster_eval.ts';
import type { EvalOptions, Protocol } from './evaluate.ts';
import type { Extracted, FeatureSource } from './feature_source.ts';
import type { TapShape } from './features.ts';
import { knnClassify } from './knn.ts';
import { linearProbe } from './linear_probe.ts';
import { lowShotSvm } from './lowshot.ts';
import type { Splits } from './splits.ts';
import type { LabelledFeatures } from './svm_pool.ts';
import { svmProtocol } from './svm_protocol.ts';
import type { EvalTable } from './tables.ts';

export interface Pooled {
  train: Tensor;
  test: Tensor;
  dims: number;
}

/** What every protocol reads. */
export interface ProtocolInputs {
  o: EvalOptions;
  seed: number;
  splits: Splits;
  source: FeatureSource;
  /** Every tap the protocols asked for (undefined when none needed features). */
  features: Extracted | undefined;
  /** The pooled features (knn, cluster, svm, lowshot). */
  pooled: Pooled | undefined;
  /** The linear probe's taps, in order. */
  linearTaps: readonly string[];
  /** The checkpoint's run settings (config.json), for its own cluster labels. */
  runConfig: TrainConfig | undefined;
  /** The pooled features as float32 rows in JS memory, for the SVM solver (made once, shared by svm and lowshot). */
  svmRows(): { train: LabelledFeatures; test: LabelledFeatures };
  log: (line: string) => void;
  progress: (stage: string, done: number, total: number) => void;
}

export interface ProtocolOutcome {
  result: unknown;
  table: EvalTable;
}

const pct = (v: number) => Number((100 * v).toFixed(2));
const r4 = (v: number) => Number(v.toFixed(4));

/** The SVM solver's rows of `pooled`, made on first use. */
export function svmRowsOnce(pooled: () => Pooled, splits: Splits): () => { train: LabelledFeatures; test: LabelledFeatures } {
  let made: { train: LabelledFeatures; test: LabelledFeatures } | undefined;
  const rows = (t: Tensor, labels: Int32Array): LabelledFeatures => ({ data: tidy(() => t.float().contiguous().data<Float32Array>()), n: t.size(0), d: t.size(1), labels });
  return () => {
    const p = pooled();
    made ??= { train: rows(p.train, splits.trainY), test: rows(p.test, splits.testY) };
    return made;
  };
}

async function knn(i: ProtocolInputs): Promise<ProtocolOutcome | undefined> {
  const p = i.pooled;
  if (p === undefined) return undefined;
  const { trainY, testY, numClasses } = i.splits;
  const rows = await knnClassify(p.train, trainY, p.test, testY, numClasses, { ks: i.o.knnKs, onProgress: (d, t) => i.progress('kNN', d, t) });
  i.log(`kNN: ${rows.map((r) => `k=${r.k} ${pct(r.weighted)}% (majority ${pct(r.majority)}%)`).join(', ')}`);
  return {
    result: { features: 'pooled', dims: p.dims, temperature: 0.07, rows },
    table: {
      title: `kNN top-1 (%), ${i.source.description}, cosine on L2-normalised ${i.source.vectors(p.dims)}, T = 0.07`,
      columns: ['k', 'weighted top-1', 'majority top-1'],
      rows: rows.map((r) => [r.k, pct(r.weighted), pct(r.majority)]),
    },
  };
}

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

async function cluster(i: ProtocolInputs): Promise<ProtocolOutcome | undefined> {
  const p = i.pooled;
  if (p === undefined) return undefined;
  const { trainY, testY, numClasses } = i.splits;
  const rows: (string | number)[][] = [];
  const out: Record<string, unknown> = {};
  const addRow = (name: string, s: PartitionScores) => {
    rows.push([name, s.sizes.clusters, r4(s.nmi), r4(s.ari), r4(s.acc), r4(s.purity), s.sizes.empty, s.sizes.min, s.sizes.median, s.sizes.max, r4(s.sizes.gini)]);
  };
  // k-means with k = number of classes on all images (train and test splits together).
  const all = tidy(() => cat([p.train, p.test], 0));
  const truth = new Int32Array(trainY.length + testY.length);
  truth.set(trainY);
  truth.set(testY, trainY.length);
  try {
    i.progress('k-means', 0, 1);
    const restarts = i.o.kmeansRestarts ?? PROTOCOL_KMEANS_RESTARTS;
    const km = kmeansScores(all, truth, numClasses, { seed: i.seed, restarts });
    i.progress('k-means', 1, 1);
    const { labels: _l, ...scores } = km;
    out.kmeans = { k: numClasses, images: truth.length, restarts, ...scores };
    addRow(`k-means (k = ${numClasses}) on ${i.source.model ? 'pooled features' : 'pixels'}, ${truth.length} images`, km);
    i.log(`k-means (k = ${numClasses}) on ${truth.length} images: NMI ${r4(km.nmi)}, ACC ${r4(km.acc)}`);
  } finally {
    all.dispose();
  }
  // The run's own cluster labels, against the truth of the images it trained on.
  const run = i.runConfig;
  if (i.o.checkpoint !== undefined && i.o.baseline === undefined && run !== undefined) {
    const labels = checkpointLabels(i.o.checkpoint);
    if (labels !== undefined) {
      const store = await loadTrainingSet(run, i.log);
      if (store.labels && store.n === labels.length) {
        const s = scorePartition(labels, store.labels, run.clusters ?? Math.max(...labels) + 1);
        out.run_labels = { images: store.n, ...s };
        addRow(`${run.method} labels in the checkpoint (K = ${run.clusters}), ${store.n} images`, s);
        i.log(`checkpoint labels (K = ${run.clusters}): NMI ${r4(s.nmi)}, ACC ${r4(s.acc)}`);
      } else {
        i.log(`checkpoint labels skipped: ${store.labels ? `${labels.length} labels for ${store.n} training images` : 'training data has no labels'}`);
      }
    }
  }
  return {
    result: out,
    table: { title: `Clustering vs true classes, ${i.source.description}`, columns: ['partition', 'clusters', 'NMI', 'ARI', 'ACC', 'purity', 'empty', 'min', 'median', 'max', 'Gini'], rows },
  };
}

const classNameOf = (i: ProtocolInputs) => (c: number) => i.splits.train.classNames?.[c] ?? String(c);

async function svm(i: ProtocolInputs): Promise<ProtocolOutcome | undefined> {
  const p = i.pooled;
  if (p === undefined) return undefined;
  const data = i.svmRows();
  const r = await svmProtocol(data.train, data.test, { seed: i.seed, ...i.o.svm, onProgress: (d, t) => i.progress('SVM', d, t) });
  const folds = i.o.svm?.folds ?? 3;
  const className = classNameOf(i);
  i.log(`SVM: mAP ${pct(r.map)}% (${r.fits} fits${r.notConverged ? `, ${r.notConverged} stopped at the iteration cap` : ''})`);
  return {
    result: { features: 'pooled', dims: p.dims, folds, ...r },
    table: {
      title: `Linear SVM (one-vs-rest, cost by ${folds}-fold CV over ${r.costs.length} costs), test AP (%), ${i.source.description}, ${i.source.vectors(p.dims)}`,
      columns: ['class', 'AP', 'cost'],
      rows: [...r.classes.map((c, k) => [className(c), pct(r.ap[k]), r.chosenCost[k]]), ['mean (mAP)', pct(r.map), '']],
    },
  };
}

async function lowshot(i: ProtocolInputs): Promise<ProtocolOutcome | undefined> {
  const p = i.pooled;
  if (p === undefined) return undefined;
  const data = i.svmRows();
  const r = await lowShotSvm(data.train, data.test, { seed: i.seed, ...i.o.lowshot, onProgress: (d, t) => i.progress('low-shot SVM', d, t) });
  const samples = i.o.lowshot?.samples ?? 5;
  i.log(`low-shot: ${r.perShot.map((x) => `${x.shot}: ${pct(x.mean)}`).join(', ')}; average ${pct(r.average)}`);
  return {
    result: { features: 'pooled', dims: p.dims, samples, ...r },
    table: {
      title: `Low-shot linear SVM, test mAP (%), ${i.source.description}, ${i.source.vectors(p.dims)}; positives per class; mean ± std over ${samples} samples`,
      columns: [...r.perShot.map((x) => `${x.shot}`), 'average'],
      rows: [[...r.perShot.map((x) => `${pct(x.mean)} ± ${pct(x.std)}`), pct(r.average)]],
    },
  };
}

/** A linear probe per tap; each tap's features are freed once probed. */
async function linear(i: ProtocolInputs): Promise<ProtocolOutcome | undefined> {
  const f = i.features;
  if (f === undefined) return undefined;
  const { trainY, testY, numClasses } = i.splits;
  const model = i.source.model;
  const rows: (string | number)[][] = [];
  const out: Record<string, unknown>[] = [];
  // Pixels have one "tap"; a backbone's come in the requested order.
  const shapes = model ? i.linearTaps.map((t) => f.shapes.find((s) => s.tap === t) as TapShape) : f.shapes;
  for (const shape of shapes) {
    const tap = shape.tap;
    const trainX = f.train.get(tap) as Tensor;
    const testX = f.test.get(tap) as Tensor;
    const name = model ? tap : 'pixels';
    const r = await linearProbe(trainX, trainY, testX, testY, numClasses, {
      ...i.o.linear, seed: i.seed, onEpoch: (e) => i.progress(`linear probe ${name}`, e, i.o.linear?.epochs ?? 10),
    });
    i.source.release(trainX);
    i.source.release(testX);
    const pooling = !model ? 'none' : shape.tap === 'pool' ? 'global' : `${shape.channels}×${shape.grid}×${shape.grid} (from ${shape.side}×${shape.side})`;
    out.push({ tap: name, pooling, ...r });
    rows.push([name, pooling, r.dims, pct(r.top1), pct(r.top5)]);
    i.log(`linear probe ${name} (${r.dims} dims): top-1 ${pct(r.top1)}%`);
  }
  const lo = i.o.linear ?? {};
  return {
    result: out,
    table: {
      title: `Linear probe top-1/top-5 (%), ${i.source.description} (${lo.epochs ?? 10} epochs, SGD Nesterov 0.9, lr ${lo.lr ?? 0.01}, batch ${lo.batchSize ?? 256})`,
      columns: ['tap', 'pooling', 'dims', 'top-1', 'top-5'],
      rows,
    },
  };
}

/** The protocols in the order they run and their tables appear (eval.json's merge relies on it). */
export const PROTOCOL_RUNS: readonly (readonly [Protocol, (i: ProtocolInputs) => Promise<ProtocolOutcome | undefined>])[] = [
  ['knn', knn],
  ['cluster', cluster],
  ['svm', svm],
  ['lowshot', lowshot],
  ['linear', linear],
];
