/**
 * DeepCluster (Caron et al., 2018), the paper's baseline: before every epoch, features of the whole
 * set (eval mode, pooled backbone output) → PCA to 256 with whitening → L2 → k-means → new
 * pseudo-labels; uniform sampling over clusters; classifier re-initialised; plain cross-entropy.
 */

import { kmeans, pcaWhitenL2 } from '../cluster/kmeans.ts';
import type { Batch } from '../data/loader.ts';
import { makeRng, shuffleInPlace } from '../data/rng.ts';
import { gatherShards } from '../distributed/data_parallel.ts';
import * as F from '../nn/functional.ts';
import { tensor } from '../tensor/creation.ts';
import { ConfigError } from '../tensor/errors.ts';
import { keep } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { type AlgorithmContext, type ClusterAlgorithm, type ClusteringOptions, type StepResult, sizeSummary } from './algorithm.ts';
import { extractFeatures } from './extract.ts';

export class DeepClusterAlgorithm implements ClusterAlgorithm {
  #labels: Int32Array | undefined;
  #labelTensor: Tensor | undefined;
  #k = 0;

  constructor(private readonly o: ClusteringOptions) {}

  async #cluster(ctx: AlgorithmContext, round: number): Promise<Record<string, number>> {
    ctx.model.eval();
    const t0 = performance.now();
    // Each process extracts and clusters its shard of the set (PCA and k-means sum over the
    // shards); the labels are then gathered, the same on every rank.
    const { group } = ctx;
    const feats = await extractFeatures(ctx.store, ctx.extractCfg, (x) => ctx.model.feature(x), { workers: ctx.workers, part: { rank: group.rank, worldSize: group.worldSize }, warn: ctx.log });
    const extractS = (performance.now() - t0) / 1000;
    const x = pcaWhitenL2(feats, this.o.pcaDim ?? 256, group);
    const km = kmeans(x, { k: this.o.clusters, iterations: this.o.kmeans.iterations, init: this.o.kmeans.init, restarts: this.o.kmeans.restarts, seed: this.o.seed * 1000 + round, group });
    const labels = gatherShards(group, km.labels, ctx.store.n);
    this.#setLabels(Int32Array.from(labels.toArray()), this.o.clusters);
    for (const t of [feats, x, km.labels, labels, km.centroids]) t.dispose();
    ctx.model.head.reset();
    return { extract_s: extractS, kmeans_s: (performance.now() - t0) / 1000 - extractS, kmeans_splits: km.splits };
  }

  #setLabels(labels: Int32Array, k: number): void {
    this.#labels = labels;
    this.#k = k;
    this.#labelTensor?.dispose();
    this.#labelTensor = keep(tensor(BigInt64Array.from(labels, (v) => BigInt(v))));
  }

  async init(ctx: AlgorithmContext): Promise<Record<string, number>> {
    return this.#cluster(ctx, 0);
  }

  async beginEpoch(ctx: AlgorithmContext, epoch: number, resumed: boolean): Promise<{ order: Int32Array; info: Record<string, number> }> {
    // Epoch 0 uses the initial clustering; later epochs re-cluster first (unless resuming mid-epoch).
    const info = epoch > 0 && !resumed ? await this.#cluster(ctx, epoch) : {};
    return { order: this.#uniformOrder(epoch), info };
  }

  /** N indices, int(N/K)+1 drawn per non-empty cluster (with replacement when it is that small), shuffled. */
  #uniformOrder(epoch: number): Int32Array {
    const labels = this.#labels as Int32Array;
    const n = labels.length;
    const rng = makeRng(this.o.seed, epoch, 0xdc);
    const members: number[][] = Array.from({ length: this.#k }, () => []);
    for (const [i, c] of labels.entries()) members[c].push(i);
    const per = Math.floor(n / this.#k) + 1;
    const picks: number[] = [];
    for (const m of members) {
      if (m.length === 0) continue;
      if (m.length <= per) for (let i = 0; i < per; i++) picks.push(m[rng.int(0, m.length - 1)]);
      else {
        const copy = Int32Array.from(m);
        shuffleInPlace(copy, rng);
        picks.push(...copy.subarray(0, per));
      }
    }
    const order = Int32Array.from(picks);
    shuffleInPlace(order, rng);
    return order.subarray(0, n);
  }

  step(ctx: AlgorithmContext, batch: Batch): StepResult {
    const logits = ctx.model.forward(batch.images);
    const target = (this.#labelTensor as Tensor).indexSelect(0, batch.index);
    return { loss: F.crossEntropy(logits, target), target, logits };
  }

  afterStep(): Record<string, number> {
    return {};
  }

  async finish(ctx: AlgorithmContext): Promise<void> {
    // The released hook clusters once more after the last epoch: these are the final labels.
    await this.#cluster(ctx, 1_000_000);
  }

  labels(): Int32Array {
    return this.#labels as Int32Array;
  }

  clusterStats(): Record<string, number> {
    return sizeSummary(this.#labels ?? [], this.#k);
  }

  /**
   * The current pseudo-labels (`dc.labels`). The rest of DeepCluster's state lives elsewhere in the
   * checkpoint or is a function of it: the head in the model, its re-initialisation's randomness in
   * the default generator (`rng.default`), and the k-means seeds and the sampling order derive from
   * the seed and the epoch.
   */
  stateDict(): Map<string, Tensor> {
    return new Map([['dc.labels', this.#labelTensor as Tensor]]);
  }

  loadStateDict(ctx: AlgorithmContext, state: Map<string, Tensor>, meta: Record<string, unknown>): void {
    const t = state.get('dc.labels');
    if (t === undefined) throw new ConfigError("checkpoint lacks 'dc.labels' (the DeepCluster pseudo-labels)");
    if (t.numel !== ctx.store.n) throw new ConfigError(`checkpoint 'dc.labels' has ${t.numel} labels for ${ctx.store.n} images`);
    this.#setLabels(Int32Array.from(t.toArray()), Number(meta.clusters ?? this.o.clusters));
  }

  meta(): Record<string, unknown> {
    return { clusters: this.#k };
  }

  dispose(): void {
    this.#labelTensor?.dispose();
  }
}
