/**
 * k-means on the engine: chunked matrix-product assignment (‖c‖² − 2x·c), index_add means,
 * k-means++ or random-distinct-points initialisation, empty clusters re-seeded by splitting a large
 * one (faiss's rule: pick j with probability (n_j − 1)/(n − k), copy its centroid, perturb
 * alternate coordinates by ±1/1024), several restarts keeping the lowest inertia, fully seeded.
 *
 * Over a process group, each rank holds a contiguous shard of the rows: initial centres are drawn
 * from the whole set (the same draws on every rank), and each Lloyd iteration all-reduces the
 * per-cluster sums and counts, so every rank ends with the same centroids and its shard's labels.
 */

import { makeRng, type Rng } from '../data/rng.ts';
import { type Collective, singleProcess } from '../distributed/collective.ts';
import { arange, cat, tensor, zeros } from '../tensor/creation.ts';
import { ConfigError } from '../tensor/errors.ts';
import { keep, noGrad, tidy } from '../tensor/scope.ts';
import { aten, wrap } from '../tensor/tensor.ts';
import type { Tensor } from './tensor_util.ts';

export interface KMeansOptions {
  k: number;
  iterations?: number;
  init?: 'kmeans++' | 'random';
  restarts?: number;
  seed?: number;
  /** Rows per assignment chunk (bounds the [chunk, k] distance matrix). */
  chunk?: number;
  /** Stop early when the relative inertia change falls below this (0: run every iteration). */
  tol?: number;
  /** The processes holding the other shards of the rows (default: this process holds them all). */
  group?: Collective;
}

export interface KMeansResult {
  /** [N] int64 cluster of each row (of this rank's shard over a group). */
  labels: Tensor;
  /** [k, D] float32 centroids. */
  centroids: Tensor;
  /** Σ squared distance to the assigned centroid. */
  inertia: number;
  /** Clusters re-seeded from an empty state (all restarts of the kept run). */
  splits: number;
}

/** Squared L2 norm of every row ([N]), in chunks: computed once per clustering, not per pass. */
export function rowNormsSquared(x: Tensor, chunk = 8192): Tensor {
  return tidy(() => {
    const parts: Tensor[] = [];
    for (let s = 0; s < x.size(0); s += chunk) parts.push(x.narrow(0, s, Math.min(chunk, x.size(0) - s)).square().sum(1));
    return parts.length === 0 ? zeros([0]) : cat(parts);
  });
}

/**
 * Nearest centroid (squared L2) of every row, in chunks: [labels, squared distances]. `x2`, the
 * rows' squared norms (rowNormsSquared), saves recomputing them on every pass.
 */
export function assignNearest(x: Tensor, centroids: Tensor, chunk = 8192, x2?: Tensor): [Tensor, Tensor] {
  return tidy(() => {
    const c2 = centroids.square().sum(1);
    const labels: Tensor[] = [];
    const dists: Tensor[] = [];
    const n = x.size(0);
    for (let s = 0; s < n; s += chunk) {
      const len = Math.min(chunk, n - s);
      const xb = x.narrow(0, s, len);
      // ‖x‖² − 2 x·c + ‖c‖²; the ‖x‖² term does not change the argmin and is added back for the distance.
      const d = c2.unsqueeze(0).addmm(xb, centroids.t(), 1, -2);
      const [v, i] = d.min(1);
      labels.push(i);
      dists.push(v.add(x2 ? x2.narrow(0, s, len) : xb.square().sum(1)).clampMin(0));
    }
    return [cat(labels), cat(dists)];
  });
}

/** Where the shards lie: every rank's row count and first global row, and the total. */
interface Shards {
  group: Collective;
  counts: number[];
  offsets: number[];
  n: number;
}

function shardsOf(x: Tensor, group: Collective): Shards {
  const counts = tidy(() => group.allGatherStacked(tensor(BigInt64Array.of(BigInt(x.size(0))))).flatten().toArray());
  const offsets = counts.map((_, r) => counts.slice(0, r).reduce((a, b) => a + b, 0));
  return { group, counts, offsets, n: counts.reduce((a, b) => a + b, 0) };
}

/** Global row i of the sharded x, on every rank ([D]): its owner sends it. */
function globalRow(x: Tensor, s: Shards, i: number): Tensor {
  return tidy(() => {
    const { rank } = s.group;
    const row = zeros([x.size(1)]);
    const local = i - s.offsets[rank];
    if (local >= 0 && local < s.counts[rank]) row.copy_(x.select(0, local));
    return s.group.allReduce(row, 'sum');
  });
}

function initRandom(x: Tensor, k: number, rng: Rng, s: Shards): Tensor {
  const pick = new Set<number>();
  while (pick.size < k) pick.add(rng.int(0, s.n - 1));
  return tidy(() => {
    const { rank } = s.group;
    const c = zeros([k, x.size(1)]);
    for (const [j, i] of [...pick].entries()) {
      const local = i - s.offsets[rank];
      if (local >= 0 && local < s.counts[rank]) c.select(0, j).copy_(x.select(0, local));
    }
    return s.group.allReduce(c, 'sum');
  });
}

/** k-means++ (Arthur & Vassilvitskii): each next centre drawn with probability ∝ D(x)². */
function initPlusPlus(x: Tensor, x2: Tensor, k: number, rng: Rng, chunk: number, s: Shards): Tensor {
  return tidy(() => {
    const n = x.size(0);
    const { group } = s;
    const centres = zeros([k, x.size(1)]);
    centres.select(0, 0).copy_(globalRow(x, s, rng.int(0, s.n - 1)));
    let closest = assignNearest(x, centres.narrow(0, 0, 1), chunk, x2)[1];
    for (let j = 1; j < k; j++) {
      const cum = closest.double().cumsum(0);
      const mine = n > 0 ? cum.select(0, n - 1).item() : 0;
      const totals = tidy(() => group.allGatherStacked(tensor(Float64Array.of(mine))).flatten().toArray());
      const total = totals.reduce((a, b) => a + b, 0);
      let next: number;
      if (!(total > 0)) {
        next = rng.int(0, s.n - 1);
      } else {
        // The rank whose shard holds the draw, then the row within it (every rank knows the totals).
        let r = rng.next() * total;
        let owner = 0;
        while (owner < totals.length - 1 && r >= totals[owner]) r -= totals[owner++];
        next = s.offsets[owner] + (owner === group.rank ? Math.min(n - 1, cum.lt(r).sum().item()) : 0);
        if (group.worldSize > 1) next = tidy(() => group.allReduce(tensor(BigInt64Array.of(BigInt(owner === group.rank ? next : 0))), 'sum').toArray()[0]);
      }
      cum.dispose();
      centres.select(0, j).copy_(globalRow(x, s, next));
      const d = assignNearest(x, centres.narrow(0, j, 1), chunk, x2)[1];
      const m = closest.minimum(d);
      closest.dispose();
      d.dispose();
      closest = m;
    }
    return centres;
  });
}

/**
 * Means of the assigned rows (over all shards), summed in float64 a chunk at a time (a float64 copy
 * of the whole of x would be a fresh allocation of twice its size on every pass); empty clusters
 * come back with count 0 and a zero row.
 */
function means(x: Tensor, labels: Tensor, k: number, group: Collective, chunk: number): [Tensor, Float64Array] {
  return tidy(() => {
    const local = zeros([k, x.size(1)], { dtype: 'float64' });
    for (let s = 0; s < x.size(0); s += chunk) {
      const len = Math.min(chunk, x.size(0) - s);
      tidy(() => {
        local.indexAdd_(0, labels.narrow(0, s, len), x.narrow(0, s, len).double());
      });
    }
    const sums = group.allReduce(local, 'sum');
    const counts = group.allReduce(labels.bincount(k).double(), 'sum');
    const c = sums.div(counts.clampMin(1).unsqueeze(1)).float();
    return [c, counts.data<Float64Array>()];
  });
}

/** faiss's empty-cluster repair on centroids `c` (in place) given current counts. */
function splitEmpty(c: Tensor, counts: Float64Array, n: number, rng: Rng): number {
  const k = counts.length;
  let splits = 0;
  for (let ci = 0; ci < k; ci++) {
    if (counts[ci] !== 0) continue;
    let cj = 0;
    for (;;) {
      const p = (counts[cj] - 1) / (n - k);
      if (rng.next() < p) break;
      cj = (cj + 1) % k;
    }
    tidy(() => {
      const d = c.size(1);
      const sign = arange(d).remainder(2).mul(-2).add(1).float().mul(1 / 1024); // +eps, −eps, ...
      const src = c.select(0, cj).clone();
      c.select(0, ci).copy_(src.mul(sign.add(1)));
      c.select(0, cj).copy_(src.mul(sign.neg().add(1)));
    });
    counts[ci] = Math.floor(counts[cj] / 2);
    counts[cj] -= counts[ci];
    splits++;
  }
  return splits;
}

/**
 * Clusters the rows of x [N, D] (float32) into k groups. Throws a ConfigError naming the largest
 * valid k when there are fewer rows than clusters.
 */
export function kmeans(x: Tensor, o: KMeansOptions): KMeansResult {
  const group = o.group ?? singleProcess;
  const shards = shardsOf(x, group);
  const { n } = shards;
  const { k } = o;
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`Expected positive integer for k-means clusters but received ${k}`);
  if (k > n) throw new ConfigError(`k-means: ${k} clusters need at least ${k} samples, got ${n}; use at most ${n} clusters`);
  const iterations = o.iterations ?? 20;
  const restarts = o.restarts ?? 1;
  const chunk = o.chunk ?? 8192;
  const rng = makeRng(o.seed ?? 0, 0x6b6d);
  let best: KMeansResult | undefined;
  noGrad(() => {
    // The rows' squared norms, once for every pass of every restart.
    const x2 = rowNormsSquared(x, chunk);
    try {
      for (let r = 0; r < restarts; r++) {
        let splits = 0;
        let c = (o.init ?? 'kmeans++') === 'random' ? initRandom(x, k, rng, shards) : initPlusPlus(x, x2, k, rng, chunk, shards);
        let prev = Number.POSITIVE_INFINITY;
        for (let it = 0; it < iterations; it++) {
          const [labels, d] = assignNearest(x, c, chunk, x2);
          const inertia = tidy(() => group.allReduce(d.double().sum(), 'sum').item());
          const [next, counts] = means(x, labels, k, group, chunk);
          splits += splitEmpty(next, counts, n, rng);
          labels.dispose();
          d.dispose();
          c.dispose();
          c = next;
          if (o.tol && Math.abs(prev - inertia) <= o.tol * Math.abs(inertia)) break;
          prev = inertia;
        }
        const [labels, d] = assignNearest(x, c, chunk, x2);
        const inertia = tidy(() => group.allReduce(d.double().sum(), 'sum').item());
        d.dispose();
        if (best === undefined || inertia < best.inertia) {
          if (best) {
            best.labels.dispose();
            best.centroids.dispose();
          }
          best = { labels, centroids: c, inertia, splits };
        } else {
          labels.dispose();
          c.dispose();
        }
      }
    } finally {
      x2.dispose();
    }
  });
  const result = best as KMeansResult;
  keep(result.labels);
  keep(result.centroids);
  return result;
}

/**
 * PCA to `dim` components with whitening (each component scaled by eigenvalue^-1/2, like faiss
 * PCAMatrix(eigen_power = -0.5)), then L2 row normalisation: DeepCluster's feature preprocessing.
 * `dim = -1` skips PCA and only normalises.
 */
export function pcaWhitenL2(x: Tensor, dim: number, group: Collective = singleProcess): Tensor {
  return noGrad(() =>
    tidy(() => {
      let y = x;
      if (dim !== -1) {
        // Over a group, x is this rank's shard: the mean and covariance are sums over all shards,
        // and rank 0's eigenvectors are used everywhere (eigh may differ in sign between machines).
        const d = Math.min(dim, x.size(1));
        const x64 = x.double();
        const n = group.allReduce(tensor(Float64Array.of(x.size(0))), 'sum').item();
        const xc = x64.sub(group.allReduce(x64.sum(0, true), 'sum').div(n));
        const cov = group.allReduce(xc.t().mm(xc), 'sum').div(n);
        const [evals, evecs] = eigh(cov);
        group.broadcast(evals, 0);
        group.broadcast(evecs, 0);
        const order = evals.argsort(0, true).narrow(0, 0, d);
        const scale = evals.indexSelect(0, order).clampMin(1e-12).pow(-0.5);
        y = xc.mm(evecs.indexSelect(1, order)).mul(scale.unsqueeze(0)).float();
        y = y.maskedFill(y.isfinite().logicalNot(), 0);
      }
      return y.div(y.norm(2, 1, true).add(1e-10));
    }),
  );
}


const eighOp = aten('linalg_eigh');
/** Eigen-decomposition of a symmetric matrix: [eigenvalues ascending, eigenvectors as columns]. */
export function eigh(a: Tensor): [Tensor, Tensor] {
  return wrap(eighOp(a, 'L'));
}

