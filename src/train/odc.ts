/**
 * Online Deep Clustering (paper section 3.1-3.2): memories initialised once by a global k-means of
 * the (random) network's features; then, every iteration, cross-entropy against the labels in the
 * samples memory with weights ∝ 1/√N_c, the memory update (Eq. 2) and re-assignment, centroid
 * refresh every k iterations, and small-cluster repair. [0]: ODC, 2020, https://arxiv.org/abs/2006.10645
 */

import { kmeans, pcaWhitenL2 } from '../cluster/kmeans.ts';
import { OdcMemory } from '../cluster/odc_memory.ts';
import type { Batch } from '../data/loader.ts';
import { makeRng } from '../data/rng.ts';
import { gatherShards } from '../distributed/data_parallel.ts';
import * as F from '../nn/functional.ts';
import type { HostRead } from '../tensor/host_read.ts';
import { keep, tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { type AlgorithmContext, type ClusterAlgorithm, type ClusteringOptions, type StepResult, withReplacement } from './algorithm.ts';
import type { RunConfig } from './budget.ts';
import { extractFeatures } from './extract.ts';

/** ODC's settings: its memories', and the batch size and log interval (the label warm-up is counted in epochs of batches; the ranks' memories are compared at logged iterations). */
export type OdcOptions = ClusteringOptions & Pick<RunConfig, 'memory' | 'batchSize' | 'logEvery'>;

export class OdcAlgorithm implements ClusterAlgorithm {
  memory: OdcMemory | undefined;
  #weights: Tensor | undefined;
  /** Milliseconds spent in memory operations (for the memory-share figure). */
  memoryMs = 0;
  #repaired = 0;
  /** Repairs made since afterStep last reported them. */
  #repairedUnreported = 0;
  /**
   * The small-cluster test of the last afterStep, on its way to the host. The repair it may call
   * for is made before anything reads the memories again (the next loss, logs, checkpoints), so
   * the result is the released code's, while the device never waits for the test at the end of an
   * iteration: the next forward pass is already queued when the answer is read.
   */
  #smallClusters: HostRead | undefined;
  /** Iterations done (for the warm-up). */
  #iteration = 0;

  constructor(private readonly o: OdcOptions) {}

  #ensureMemory(ctx: AlgorithmContext): OdcMemory {
    if (this.memory === undefined) {
      const m = this.o.memory;
      this.memory = new OdcMemory({
        length: ctx.store.n, featDim: ctx.model.featureDim, numClasses: this.o.clusters, momentum: m.momentum,
        minCluster: m.minCluster, assign: m.assign, scoring: m.scoring, seed: this.o.seed, featuresOn: m.featuresOn === 'host' ? 'cpu' : undefined,
      });
    }
    return this.memory;
  }

  #reweight(): void {
    this.#weights?.dispose();
    this.#weights = keep((this.memory as OdcMemory).classWeights(this.o.memory.reweightPower));
  }

  async init(ctx: AlgorithmContext): Promise<Record<string, number>> {
    const memory = this.#ensureMemory(ctx);
    // step 1: features of the whole set from the current network (eval mode: BN running stats, no dropout)
    ctx.model.eval();
    const t0 = performance.now();
    // (each process extracts its shard of the set; the samples memory holds them all on every rank)
    const { group } = ctx;
    const part = { rank: group.rank, worldSize: group.worldSize };
    const shard = await extractFeatures(ctx.store, ctx.extractCfg, (x) => ctx.model.feature(x), { workers: ctx.workers, part, warn: ctx.log });
    const feats = gatherShards(group, shard, ctx.store.n);
    const extractS = (performance.now() - t0) / 1000;
    // step 2: L2 (no PCA for ODC) and a global k-means over the shards
    const x = pcaWhitenL2(shard, this.o.pcaDim ?? -1, group);
    const km = kmeans(x, { k: this.o.clusters, iterations: this.o.kmeans.iterations, init: this.o.kmeans.init, restarts: this.o.kmeans.restarts, seed: this.o.seed, group });
    const labels = gatherShards(group, km.labels, ctx.store.n);
    // step 3: memories from the clustering; step 4: fresh head (the trainer makes every rank's rank 0's); step 5: loss weights
    memory.init(feats, labels);
    ctx.model.head.reset();
    this.#reweight();
    const info = { extract_s: extractS, kmeans_s: (performance.now() - t0) / 1000 - extractS, kmeans_splits: km.splits };
    for (const t of [shard, feats, x, km.labels, labels, km.centroids]) t.dispose();
    return info;
  }

  async beginEpoch(ctx: AlgorithmContext, epoch: number): Promise<{ order: Int32Array; info: Record<string, number> }> {
    this.#ensureMemory(ctx);
    if (this.#weights === undefined) this.#reweight();
    return { order: withReplacement(ctx.store.n, makeRng(this.o.seed, epoch, 0x5a)), info: {} };
  }

  step(ctx: AlgorithmContext, batch: Batch): StepResult {
    const { group } = ctx;
    const feature = ctx.model.feature(batch.images);
    const logits = ctx.model.head.forward(feature);
    const memory = this.#settled();
    const weights = this.#weights as Tensor;
    // The global batch (every rank's slice, in rank order) updates every rank's copy of the memories.
    const index = group.allGatherStacked(batch.index).flatten();
    const feats = group.allGatherStacked(feature.detach()).flatten(0, 1);
    // The loss uses the labels before this iteration's re-assignment (as the released code).
    const globalTarget = memory.labels.indexSelect(0, index);
    const b = batch.index.numel;
    const target = globalTarget.narrow(0, group.rank * b, b);
    // The weighted mean over the global batch, Σ w·ℓ / Σ w, split so that the ranks' losses
    // average to it (each rank's Σ w·ℓ over its slice, divided by Σ w of the global batch / W).
    const norm = weights.indexSelect(0, globalTarget).sum().div(group.worldSize);
    const loss = F.crossEntropy(logits, target, { weight: weights, reduction: 'sum' }).div(norm);
    const t0 = performance.now();
    const warmup = this.o.memory.warmupEpochs * Math.ceil(ctx.store.n / this.o.batchSize);
    const relabel = this.#iteration >= warmup;
    const changeRatio = memory.updateSamples(index, feats, { relabel });
    this.memoryMs += performance.now() - t0;
    return { loss, changeRatio, target, logits };
  }

  afterStep(ctx: AlgorithmContext, iteration: number): Record<string, number> {
    this.#iteration = iteration;
    const memory = this.#settled();
    const t0 = performance.now();
    if (iteration % this.o.memory.centroidInterval === 0) memory.updateCentroids();
    if (iteration % this.o.memory.smallClusterInterval === 0) {
      this.#smallClusters?.dispose();
      this.#smallClusters = memory.smallClustersAsync();
    }
    this.#reweight();
    if (iteration % this.o.logEvery === 0) this.#checkReplicas(ctx);
    this.memoryMs += performance.now() - t0;
    const repaired = this.#repairedUnreported;
    this.#repairedUnreported = 0;
    return { repaired };
  }

  /** The memories, with the small-cluster repair the last test called for made (section 3.2). */
  #settled(): OdcMemory {
    const memory = this.memory as OdcMemory;
    const test = this.#smallClusters;
    if (test === undefined) return memory;
    this.#smallClusters = undefined;
    const t0 = performance.now();
    const due = test.value().item() !== 0;
    test.dispose();
    if (due) {
      const repaired = memory.dealWithSmallClusters();
      this.#repaired += repaired;
      this.#repairedUnreported += repaired;
      this.#reweight();
    }
    this.memoryMs += performance.now() - t0;
    return memory;
  }

  /**
   * Every rank applies the same updates to its copy of the memories, in the same order, so the
   * copies stay equal; should floating-point results ever differ between machines, the copies
   * would drift. The cluster sizes of all ranks are compared (every logged iteration) and, where
   * they differ, every rank takes rank 0's memories.
   */
  #checkReplicas(ctx: AlgorithmContext): void {
    const { group } = ctx;
    if (group.worldSize === 1) return;
    const memory = this.#settled();
    const differ = tidy(() => {
      const hi = group.allReduce(memory.counts.clone(), 'max');
      const lo = group.allReduce(memory.counts.clone(), 'min');
      return hi.ne(lo).any().item();
    });
    if (!differ) return;
    ctx.log(`warning: the ranks' memories differ at iteration ${this.#iteration}: all take rank 0's`);
    memory.broadcastFrom(group, 0);
  }

  async finish(): Promise<void> {}

  labels(): Int32Array {
    return Int32Array.from(this.#settled().labels.toArray());
  }

  clusterStats(): Record<string, number> {
    return { ...this.#settled().stats(), repaired_total: this.#repaired, memory_s: this.memoryMs / 1000 };
  }

  stateDict(): Map<string, Tensor> {
    return this.#settled().stateDict();
  }

  loadStateDict(ctx: AlgorithmContext, state: Map<string, Tensor>, meta: Record<string, unknown>): void {
    const memory = this.#ensureMemory(ctx);
    const { missingKeys } = memory.loadStateDict(state);
    this.#repaired = Number(meta.repaired_total ?? 0);
    this.#repairedUnreported = Number(meta.repaired_unreported ?? 0);
    // Checkpoints from before the counter was saved: every repair of a training run is a split.
    if (missingKeys.includes('memory.splits')) memory.splitCount = this.#repaired;
    this.#iteration = Number(meta.iteration ?? 0);
    this.#weights?.dispose();
    this.#weights = undefined;
    this.#smallClusters?.dispose();
    this.#smallClusters = undefined;
  }

  meta(): Record<string, unknown> {
    this.#settled();
    // (a repair made while saving is reported with the next iteration, in this run or the resumed one)
    return { repaired_total: this.#repaired, repaired_unreported: this.#repairedUnreported, iteration: this.#iteration };
  }

  dispose(): void {
    this.memory?.dispose();
    this.#weights?.dispose();
    this.#smallClusters?.dispose();
  }
}
