/** What the trainer needs from a method: a clustering method (ODC, DeepCluster) or a pretext method (rotation, NPID). */
import type { AugmentConfig } from '../data/augment.ts';
import type { ImageSet } from '../data/image_set.ts';
import type { Batch } from '../data/loader.ts';
import type { Collective } from '../distributed/collective.ts';
import type { ClusterModel } from '../models/cluster_model.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { RunConfig } from './budget.ts';

/**
 * What every method's clustering reads from the run's config: the number of clusters, the seed,
 * the k-means settings and the PCA dimension (each method takes these and its own options, not the
 * whole config).
 */
export type ClusteringOptions = Pick<RunConfig, 'clusters' | 'seed' | 'kmeans' | 'pcaDim'>;

/** What a method works on: the images, the network, the processes; the same for every method. */
export interface AlgorithmContext {
  /** The training images, in memory or streamed. */
  store: ImageSet;
  model: ClusterModel;
  extractCfg: AugmentConfig;
  /** Worker threads of the extraction passes. */
  workers: number;
  log: (line: string) => void;
  /**
   * The processes training together (`singleProcess` when alone). Each holds the whole data set and
   * an identical copy of the method's state; a batch is this process's slice of the global batch.
   */
  group: Collective;
}

export interface StepResult {
  /** The scalar loss to back-propagate. */
  loss: Tensor;
  /** ODC: share of the batch whose label changed (a float64 scalar on the device). */
  changeRatio?: Tensor;
  /** Top-1 agreement of the head with the pseudo-labels (a training-health signal). */
  target: Tensor;
  logits: Tensor;
}

export interface ClusterAlgorithm {
  /** Initial global clustering of a fresh run. */
  init(ctx: AlgorithmContext): Promise<Record<string, number>>;
  /** Called at the start of every epoch (DeepCluster re-clusters here); returns the sampling order. */
  beginEpoch(ctx: AlgorithmContext, epoch: number, resumed: boolean): Promise<{ order: Int32Array; info: Record<string, number> }>;
  /** Forward pass and loss of one batch (inside the trainer's scope); may update memories. */
  step(ctx: AlgorithmContext, batch: Batch): StepResult;
  /** After the optimiser step: per-iteration bookkeeping. Returns timing/info for the log. */
  afterStep(ctx: AlgorithmContext, iteration: number): Record<string, number>;
  /** After the last epoch (DeepCluster clusters once more). */
  finish(ctx: AlgorithmContext): Promise<void>;
  /** Current cluster label of every image (pretext methods: none until their final clustering). */
  labels(): Int32Array | undefined;
  /** Cluster-size summary for logs. */
  clusterStats(): Record<string, number>;
  /** Method state for checkpoints (live tensors) and its restoration. */
  stateDict(): Map<string, Tensor>;
  loadStateDict(ctx: AlgorithmContext, state: Map<string, Tensor>, meta: Record<string, unknown>): void;
  /** JSON-able state saved in checkpoint metadata. */
  meta(): Record<string, unknown>;
  dispose(): void;
}

/** Cluster-size summary of `labels` over k clusters (the methods without incremental counts). */
export function sizeSummary(labels: ArrayLike<number>, k: number): Record<string, number> {
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  const s = counts.sort((a, b) => a - b);
  return { empty: s.filter((v) => v === 0).length, min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
}

/** Sampling with replacement: N draws of [0, N) (the released ODC sampler). */
export function withReplacement(n: number, rng: { int(lo: number, hi: number): number }): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(0, n - 1);
  return out;
}
