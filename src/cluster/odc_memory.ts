/**
 * ODC's two memories (paper section 3.1, Fig. 2): the samples memory holds a feature F_m(x) and a
 * pseudo-label for every image, the centroids memory one feature per cluster.
 *
 * "F_m(x) ← m·f(x)/‖f(x)‖₂ + (1 − m)·F_m(x)" (Eq. 2, re-normalised as the released code does), then
 * each involved sample gets a new label from the centroids; the involved centroids are recomputed
 * every k-th iteration; clusters smaller than a threshold are dissolved and re-created by splitting
 * the largest cluster (section 3.2). [0]: ODC, 2020, https://arxiv.org/abs/2006.10645
 *
 * All per-iteration work is proportional to the batch, not to N: the cluster sizes and per-cluster
 * feature sums (float64) are kept up to date incrementally, so refreshing centroids, re-weighting
 * and finding small clusters never scan the whole memory. `verify()` compares them with a full
 * recompute.
 */

import { makeRng, type StatefulRng } from '../data/rng.ts';
import type { Collective } from '../distributed/collective.ts';
import { cat, fullLike, getDefaultDevice, onesLike, tensor, where, zeros } from '../tensor/creation.ts';
import type { Device } from '../tensor/dtype.ts';
import { ConfigError } from '../tensor/errors.ts';
import { HostRead } from '../tensor/host_read.ts';
import { keep, noGrad, tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { CheckedAssigner, type CheckedAssignStats, cpuHasBf16, nearestFloat32 } from './checked_assign.ts';
import { blendFeatures, lastOccurrence, unitRows } from './sample_bank.ts';
import { tensorFromIndices } from './tensor_util.ts';
import { twoMeans } from './two_means.ts';

/**
 * 'dot': argmax_c ⟨C_c, F⟩ with un-normalised mean centroids (the released code);
 * 'euclidean': argmin_c ‖F − C_c‖² (the paper's Eq. 3).
 */
export type AssignRule = 'dot' | 'euclidean';

/** How re-assignment scores the centroids (OdcMemoryOptions.scoring). */
export type ScoringMode = 'auto' | 'float32' | 'checked';

export interface OdcMemoryOptions {
  /** N: images in the dataset. */
  length: number;
  /** D: feature size (the neck's output, 256). */
  featDim: number;
  /** K: clusters. */
  numClasses: number;
  /** m in Eq. 2 (0.5). */
  momentum?: number;
  /** Clusters with fewer members are dissolved (20). */
  minCluster?: number;
  assign?: AssignRule;
  /**
   * How batch re-assignment scores the centroids: 'float32', or 'checked' (bfloat16 scores, every
   * centroid that could win re-scored in float32: the same labels at about half the cost; see
   * checked_assign.ts). 'auto' (default): 'checked' for 1,024 clusters or more on a CPU that
   * multiplies bfloat16 natively, else 'float32'.
   */
  scoring?: ScoringMode;
  seed?: number;
  /**
   * Where the samples memory's features ([N, D] float32, the one part that grows with the data set)
   * are kept: by default on the device the memory is made on, or 'cpu' (host RAM, as the released
   * code keeps its 1.28 M x 256 bank) when that device is too small. Only the batch's rows cross.
   */
  featuresOn?: Device;
}

/** Rows per step when a whole-memory sum reads features kept on another device. */
const SUM_CHUNK = 65_536;

export class OdcMemory {
  readonly length: number;
  readonly featDim: number;
  readonly numClasses: number;
  readonly momentum: number;
  readonly minCluster: number;
  readonly assign: AssignRule;
  /** [N, D] float32, unit rows. */
  readonly features: Tensor;
  /** [N] int64. */
  readonly labels: Tensor;
  /** [K, D] float32 (plain means, not re-normalised). */
  readonly centroids: Tensor;
  /** [K] int64 cluster sizes, always equal to bincount(labels). */
  readonly counts: Tensor;
  /** [K, D] float64 per-cluster feature sums, always equal to a recompute from the memory. */
  readonly sums: Tensor;
  /** The random split's generator (used when 2-means leaves one side empty); checkpointed. */
  #rng: StatefulRng;
  #seed: number;
  #splits = 0;
  /** [1] int64 and [4] int64: the splits counter and #rng's state as tensors, refreshed by stateDict(). */
  readonly #splitsState: Tensor;
  readonly #rngState: Tensor;
  /** Present when batches are re-assigned by checked bfloat16 scoring; stale once the centroids change. */
  #checked: CheckedAssigner | undefined;
  #checkedStale = true;
  /** Where everything but the features lives (the default device at construction), and where the features do. */
  readonly #device: Device;
  readonly #featuresOn: Device;

  constructor(o: OdcMemoryOptions) {
    const pos = (v: number, what: string) => {
      if (!Number.isInteger(v) || v < 1) throw new ConfigError(`Expected positive integer for ${what} but received ${v}`);
    };
    pos(o.length, 'memory length');
    pos(o.featDim, 'memory featDim');
    pos(o.numClasses, 'memory numClasses');
    this.length = o.length;
    this.featDim = o.featDim;
    this.numClasses = o.numClasses;
    this.momentum = o.momentum ?? 0.5;
    this.minCluster = o.minCluster ?? 20;
    this.assign = o.assign ?? 'dot';
    if (!(this.momentum > 0 && this.momentum <= 1)) throw new ConfigError(`Expected memory momentum in (0, 1] but received ${this.momentum}`);
    checkCapacity(o.length, o.numClasses, this.minCluster);
    this.#seed = o.seed ?? 0;
    this.#rng = makeRng(this.#seed, 0x0dc);
    this.#device = getDefaultDevice();
    this.#featuresOn = o.featuresOn ?? this.#device;
    this.features = keep(zeros([o.length, o.featDim], { device: this.#featuresOn }));
    this.labels = keep(zeros([o.length], { dtype: 'int64' }));
    this.centroids = keep(zeros([o.numClasses, o.featDim]));
    this.counts = keep(zeros([o.numClasses], { dtype: 'int64' }));
    this.sums = keep(zeros([o.numClasses, o.featDim], { dtype: 'float64' }));
    this.#splitsState = keep(zeros([1], { dtype: 'int64' }));
    this.#rngState = keep(zeros([4], { dtype: 'int64' }));
    const scoring = o.scoring ?? 'auto';
    if (scoring === 'checked' || (scoring === 'auto' && o.numClasses >= 1024 && cpuHasBf16())) this.#checked = new CheckedAssigner(this.assign);
  }

  /** How batches are re-assigned: 'checked' (bfloat16 + float32 re-check) or 'float32'. */
  get scoring(): 'checked' | 'float32' {
    return this.#checked === undefined ? 'float32' : 'checked';
  }

  /** Batches scored by the checked path and by its float32 fall-back, and candidates per row. */
  scoringStats(): CheckedAssignStats | undefined {
    return this.#checked?.stats();
  }

  /** Clusters dissolved and re-created since construction. */
  get splits(): number {
    return this.#splits;
  }

  /** Fills the memories from a global clustering: features are L2-normalised, centroids are cluster means. */
  init(features: Tensor, labels: Tensor): void {
    noGrad(() =>
      tidy(() => {
        if (features.size(0) !== this.length || labels.size(0) !== this.length) {
          throw new ConfigError(`memory init: ${features.size(0)} features / ${labels.size(0)} labels for a memory of ${this.length}`);
        }
        this.features.copy_(unitRows(features));
        this.labels.copy_(labels);
        this.#recomputeStats();
        this.updateCentroids();
      }),
    );
  }

  #recomputeStats(o: { sums?: boolean } = {}): void {
    tidy(() => {
      this.counts.copy_(this.labels.bincount(this.numClasses));
      if (o.sums ?? true) this.#sumFeatures(this.sums.zero_());
    });
  }

  /** Adds every sample's feature to its cluster's row of `sums` (float64), reading the features in chunks. */
  #sumFeatures(sums: Tensor): Tensor {
    for (let start = 0; start < this.length; start += SUM_CHUNK) {
      tidy(() => {
        const n = Math.min(SUM_CHUNK, this.length - start);
        sums.indexAdd_(0, this.labels.narrow(0, start, n), this.features.narrow(0, start, n).to(this.#device).double());
      });
    }
    return sums;
  }

  /** The features of rows `index`, on the memory's device (read across from where they are kept). */
  #rows(index: Tensor): Tensor {
    return this.features.indexSelect(0, index.to(this.#featuresOn)).to(this.#device);
  }

  /** New labels for unit features [B, D] under the assignment rule, against all centroids or a subset. */
  #nearest(feats: Tensor, centroids?: Tensor): Tensor {
    if (centroids !== undefined || this.#checked === undefined || feats.device !== 'cpu') return nearestFloat32(feats, centroids ?? this.centroids, this.assign);
    if (this.#checkedStale) {
      this.#checked.setCentroids(this.centroids);
      this.#checkedStale = false;
    }
    return this.#checked.nearest(feats);
  }

  /**
   * Eq. 2 for the batch (indices [B] int64, raw features [B, D]), then re-assignment of the batch's
   * labels (`relabel: false` keeps them). Returns the label-change ratio over the batch, a float64
   * scalar tensor left on the device (reading it waits for the device: the trainer reads it with
   * the loss, at logged iterations). Repeated indices: the last one wins (as the released code's
   * indexed write).
   */
  updateSamples(index: Tensor, feats: Tensor, o: { relabel?: boolean } = {}): Tensor {
    return noGrad(() =>
      tidy(() => {
        const old = this.#rows(index);
        const fresh = blendFeatures(old, feats, this.momentum);
        const oldLabels = this.labels.indexSelect(0, index);
        const newLabels = (o.relabel ?? true) ? this.#nearest(fresh) : oldLabels;
        const changed = newLabels.ne(oldLabels).sum().double().div(index.numel);
        const { last, isLast } = lastOccurrence(index);
        this.#write(index, old, oldLabels, fresh.indexSelect(0, last), newLabels.indexSelect(0, last), isLast);
        return changed;
      }),
    );
  }

  /**
   * Moves distinct samples to the clusters `labels`, their features unchanged (`feats`: their
   * current rows, already read by the caller), keeping counts and sums in step.
   */
  #relabel(index: Tensor, feats: Tensor, labels: Tensor): void {
    tidy(() => this.#write(index, feats, this.labels.indexSelect(0, index), feats, labels));
  }

  /**
   * Writes the samples' new features and labels, their current rows already read. One accumulating
   * indexed write each for the sums and the counts (index_add_ on rows costs a dispatch per row).
   * With repeated indices, every repeat carries the same features and label and `once` [B] bool
   * marks the one whose move is counted.
   */
  #write(index: Tensor, oldFeats: Tensor, oldLabels: Tensor, feats: Tensor, labels: Tensor, once?: Tensor): void {
    tidy(() => {
      const both = cat([oldLabels, labels]);
      const moved = cat([oldFeats.neg(), feats]).double();
      const ones = once === undefined ? onesLike(labels) : once.long();
      this.sums.indexPut_([both], once === undefined ? moved : moved.mul(cat([ones, ones]).unsqueeze(1)), true);
      this.counts.indexPut_([both], cat([ones.neg(), ones]), true);
      this.features.indexCopy_(0, index.to(this.#featuresOn), feats.to(this.#featuresOn));
      this.labels.indexCopy_(0, index, labels);
    });
  }

  /** Recomputes the centroids of all non-empty clusters (empty ones keep theirs), or of `clusters` only. */
  updateCentroids(clusters?: number[]): void {
    this.#checkedStale = true;
    noGrad(() =>
      tidy(() => {
        if (clusters === undefined) {
          const nonEmpty = this.counts.gt(0);
          const means = this.sums.div(this.counts.clampMin(1).double().unsqueeze(1)).float();
          this.centroids.copy_(where(nonEmpty.unsqueeze(1), means, this.centroids));
        } else {
          const ix = tensorFromIndices(clusters);
          const c = this.counts.indexSelect(0, ix).clampMin(1).double().unsqueeze(1);
          this.centroids.indexCopy_(0, ix, this.sums.indexSelect(0, ix).div(c).float());
        }
      }),
    );
  }

  /** Loss weights ∝ (1/(N_c + eps))^pow, normalised to sum 1 (section 3.2, loss re-weighting). */
  classWeights(power = 0.5, eps = 1e-5): Tensor {
    return noGrad(() =>
      tidy(() => {
        const inv = this.counts.double().add(eps).reciprocal().pow(power);
        return inv.div(inv.sum()).float();
      }),
    );
  }

  /** Whether any cluster is below `minCluster` (a bool scalar on the memory's device). */
  #anySmall(): Tensor {
    return this.counts.lt(this.minCluster).any();
  }

  /**
   * The test that opens dealWithSmallClusters (is any cluster below `minCluster`?) on its way to
   * the host, without waiting for the device; undefined when small clusters are never repaired.
   */
  smallClustersAsync(): HostRead | undefined {
    if (this.minCluster <= 0) return undefined;
    return tidy(() => new HostRead(this.#anySmall()));
  }

  /**
   * Section 3.2, dealing with small clusters: members of every cluster below `minCluster` move to
   * their best normal cluster; each emptied cluster is re-created from one half of a 2-means split
   * of the largest cluster. Returns the number of clusters re-created.
   */
  dealWithSmallClusters(): number {
    if (this.minCluster <= 0 || !tidy(() => this.#anySmall().item())) return 0;
    const counts = this.counts.toArray();
    const small = counts.flatMap((c, k) => (c < this.minCluster ? [k] : []));
    if (small.length === 0) return 0;
    noGrad(() => {
      const isSmall = new Uint8Array(this.numClasses);
      for (const s of small) isSmall[s] = 1;
      const inclusion = counts.flatMap((_, k) => (isSmall[k] ? [] : [k]));
      tidy(() => {
        const incl = tensorFromIndices(inclusion);
        const inclCentroids = this.centroids.indexSelect(0, incl);
        const members = this.#membersOf(small);
        if (members.numel > 0) {
          const feats = this.#rows(members);
          const target = incl.indexSelect(0, this.#nearest(feats, inclCentroids));
          this.#relabel(members, feats, target);
        }
      });
      for (const e of small) this.#recreate(e);
    });
    this.#splits += small.length;
    return small.length;
  }

  /** Indices of every sample whose label is in `clusters` (one O(N) pass, only when repairs are due). */
  #membersOf(clusters: number[]): Tensor {
    return tidy(() => {
      const mark = zeros([this.numClasses], { dtype: 'bool' });
      mark.indexFill_(0, tensorFromIndices(clusters), 1);
      return mark.indexSelect(0, this.labels).nonzero().flatten();
    });
  }

  /** Moves one half of a 2-means split of the current largest cluster into the empty cluster e. */
  #recreate(e: number): void {
    tidy(() => {
      const largest = this.counts.argmax().item();
      const members = this.#membersOf([largest]);
      if (members.numel < 2) return;
      const feats = this.#rows(members);
      let second = twoMeans(feats, { seed: this.#seed });
      if (second === undefined) {
        // The 2-means split put everything on one side: split at random (as the released code).
        const n = members.numel;
        const order = Int32Array.from({ length: n }, (_, i) => i);
        for (let i = n - 1; i > 0; i--) {
          const j = this.#rng.int(0, i);
          [order[i], order[j]] = [order[j], order[i]];
        }
        second = tensorFromIndices(order.subarray(Math.floor(n / 2)));
      }
      const moved = members.indexSelect(0, second);
      const target = fullLike(moved, e);
      this.#relabel(moved, feats.indexSelect(0, second), target);
      this.updateCentroids([largest, e]);
    });
  }

  /** Cluster-size summary: number of empty and small clusters, min/median/max size. */
  stats(): { empty: number; small: number; min: number; median: number; max: number } {
    const c = this.counts.toArray().sort((a, b) => a - b);
    return {
      empty: c.filter((v) => v === 0).length,
      small: c.filter((v) => v < this.minCluster).length,
      min: c[0],
      median: c[Math.floor(c.length / 2)],
      max: c[c.length - 1],
    };
  }

  /**
   * Largest deviation of the incremental counts and sums from a full recompute over the memory
   * (counts exact; sums relative to their scale). Used by tests.
   */
  verify(): { countError: number; sumError: number } {
    return noGrad(() =>
      tidy(() => {
        const counts = this.labels.bincount(this.numClasses);
        const sums = this.#sumFeatures(zeros([this.numClasses, this.featDim], { dtype: 'float64' }));
        const countError = counts.sub(this.counts).abs().max().item();
        const sumError = sums.sub(this.sums).abs().max().item() / Math.max(1, sums.abs().max().item());
        return { countError, sumError };
      }),
    );
  }

  /**
   * Everything a resumed run needs to continue exactly as an uninterrupted one (live tensors; do not
   * dispose; valid until the memory changes): features, labels, centroids, the float64 per-cluster
   * sums (a recompute can round differently from the incremental updates), the splits counter and
   * the random split's generator state. The counts are exact and recomputed on load.
   */
  stateDict(): Map<string, Tensor> {
    tidy(() => {
      this.#splitsState.copy_(tensor(BigInt64Array.of(BigInt(this.#splits))));
      this.#rngState.copy_(tensor(BigInt64Array.from(this.#rng.getState(), (v) => BigInt(v))));
    });
    return new Map([
      ['memory.features', this.features],
      ['memory.labels', this.labels],
      ['memory.centroids', this.centroids],
      ['memory.sums', this.sums],
      ['memory.splits', this.#splitsState],
      ['memory.split_rng', this.#rngState],
    ]);
  }

  /**
   * Restores a stateDict(). Features, labels and centroids are required; the other keys (absent
   * from checkpoints written before they were added) fall back to a recompute of the sums, a splits
   * counter of 0 and a freshly seeded generator, and are listed in `missingKeys`.
   */
  loadStateDict(state: Map<string, Tensor>): { missingKeys: string[] } {
    const required = new Set(['memory.features', 'memory.labels', 'memory.centroids']);
    const missingKeys: string[] = [];
    noGrad(() => {
      for (const [k, t] of this.stateDict()) {
        const v = state.get(k);
        if (v === undefined) {
          if (required.has(k)) throw new ConfigError(`checkpoint lacks '${k}'`);
          missingKeys.push(k);
          continue;
        }
        const a = t.shape;
        const b = v.shape;
        if (a.length !== b.length || a.some((d, i) => d !== b[i])) throw new ConfigError(`checkpoint '${k}' has shape [${b}], memory expects [${a}]`);
        t.copy_(v);
      }
      this.#checkedStale = true;
      this.#recomputeStats({ sums: missingKeys.includes('memory.sums') });
    });
    this.#splits = missingKeys.includes('memory.splits') ? 0 : this.#splitsState.toArray()[0];
    this.#rng = makeRng(this.#seed, 0x0dc);
    if (!missingKeys.includes('memory.split_rng')) this.#rng.setState(this.#rngState.toArray());
    return { missingKeys };
  }

  /** Makes this memory equal to rank `root`'s (every rank of the group calls it). */
  broadcastFrom(group: Collective, root: number): void {
    noGrad(() => {
      for (const t of this.stateDict().values()) group.broadcast(t, root);
      this.#checkedStale = true;
      this.#recomputeStats({ sums: false });
    });
    this.#splits = this.#splitsState.toArray()[0];
    this.#rng.setState(this.#rngState.toArray());
  }

  /** The splits counter (also `splits`); checkpointed by stateDict(). */
  get splitCount(): number {
    return this.#splits;
  }
  set splitCount(v: number) {
    this.#splits = v;
  }

  dispose(): void {
    for (const t of [this.features, this.labels, this.centroids, this.counts, this.sums, this.#splitsState, this.#rngState]) t.dispose();
    this.#checked?.dispose();
  }
}

/**
 * A clear error when K clusters of at least `minCluster` members cannot exist in N images
 * (a frequent failure of the released code on custom data), naming the largest valid K.
 */
export function checkCapacity(n: number, k: number, minCluster: number): void {
  if (k * minCluster > n) {
    const largest = Math.max(1, Math.floor(n / Math.max(1, minCluster)));
    throw new ConfigError(
      `${k} clusters x minimum size ${minCluster} = ${k * minCluster} exceeds the ${n} images; use at most ${largest} clusters (--clusters ${largest}) or a smaller --min-cluster`,
    );
  }
}
