/**
 * What the pretext methods (rotation, NPID) share: no clustering while they train, an epoch is a
 * shuffled pass over the images, and after the last epoch the backbone's pooled features are
 * clustered into `clusters` groups, so that every run ends with cluster labels (labels.npy).
 */
import type { Batch } from '../data/loader.ts';
import { makeRng, shuffleInPlace } from '../data/rng.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { type AlgorithmContext, type ClusterAlgorithm, type ClusteringOptions, type StepResult, sizeSummary } from './algorithm.ts';
import { kmeansOfPooled } from './pooled_kmeans.ts';

export abstract class PretextAlgorithm implements ClusterAlgorithm {
  #labels: Int32Array | undefined;
  #k = 0;

  constructor(protected readonly o: ClusteringOptions) {}

  async init(_ctx: AlgorithmContext): Promise<Record<string, number>> {
    return {};
  }

  async beginEpoch(ctx: AlgorithmContext, epoch: number): Promise<{ order: Int32Array; info: Record<string, number> }> {
    const order = Int32Array.from({ length: ctx.store.n }, (_, i) => i);
    return { order: shuffleInPlace(order, makeRng(this.o.seed, epoch, 0x9e)), info: {} };
  }

  abstract step(ctx: AlgorithmContext, batch: Batch): StepResult;

  afterStep(_ctx: AlgorithmContext, _iteration: number): Record<string, number> {
    return {};
  }

  async finish(ctx: AlgorithmContext): Promise<void> {
    this.#k = this.o.clusters;
    this.#labels = await kmeansOfPooled(ctx, this.#k, { restarts: 1, seed: this.o.seed, iterations: this.o.kmeans.iterations });
  }

  /** Undefined until finish() has clustered the features. */
  labels(): Int32Array | undefined {
    return this.#labels;
  }

  clusterStats(): Record<string, number> {
    return this.#labels === undefined ? {} : sizeSummary(this.#labels, this.#k);
  }

  stateDict(): Map<string, Tensor> {
    return new Map();
  }

  loadStateDict(_ctx: AlgorithmContext, _state: Map<string, Tensor>, _meta: Record<string, unknown>): void {}

  meta(): Record<string, unknown> {
    return {};
  }

  dispose(): void {}
}
