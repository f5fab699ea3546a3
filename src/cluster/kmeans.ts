/**
 * k-means on the engine: chunked matrix-product assignment (‖c‖² − 2x·c), index_add means,
 * k-means++ or random-distinct-points initialisation, empty clusters re-seeded by splitting a large
 * one (faiss's rule: pick j with probability (n_j − 1)/(n − k), copy its centroid, perturb
 * alternate coordinates by ±1/1024), several restarts keeping the lowest inertia, fully seeded.
 */

import { makeRng, type Rng } from '../data/rng.ts';
import { arange, cat, zeros } from '../tensor/creation.ts';
import { ConfigError } from '../tensor/errors.ts';
import { keep, noGrad, tidy } from '../tensor/scope.ts';
import { aten, wrap } from '../tensor/tensor.ts';
import { type Tensor, tensorFromIndices } from './tensor_util.ts';

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
}

export interface KMeansResult {
  /** [N] int64 cluster of each row. */
  labels: Tensor;
  /** [k, D] float32 centroids. */
  centroids: Tensor;
  /** Σ squared distance to the assigned centroid. */
  inertia: number;
  /** Clusters re-seeded from an empty state (all restarts of the kept run). */
  splits: number;
}

/** Nearest centroid (squared L2) of every row, in chunks: [labels, squared distances]. */
export function assignNearest(x: Tensor, centroids: Tensor, chunk = 8192): [Tensor, Tensor] {
  return tidy(() => {
    const c2 = centroids.square().sum(1);
    const labels: Tensor[] = [];
    const dists: Tensor[] = [];
    const n = x.size(0);
    for (let s = 0; s < n; s += chunk) {
      const xb = x.narrow(0, s, Math.min(chunk, n - s));
      // ‖x‖² − 2 x·c + ‖c‖²; the ‖x‖² term does not change the argmin and is added back for the distance.
      const d = c2.unsqueeze(0).addmm(xb, centroids.t(), 1, -2);
      const [v, i] = d.min(1);
      labels.push(i);
      dists.push(v.add(xb.square().sum(1)).clampMin(0));
    }
    return [cat(labels), cat(dists)];
  });
}

function initRandom(x: Tensor, k: number, rng: Rng): Tensor {
  const n = x.size(0);
  const pick = new Set<number>();
  while (pick.size < k) pick.add(rng.int(0, n - 1));
  return tidy(() => x.indexSelect(0, tensorFromIndices([...pick])).clone());
}

/** k-means++ (Arthur & Vassilvitskii): each next centre drawn with probability ∝ D(x)². */
function initPlusPlus(x: Tensor, k: number, rng: Rng, chunk: number): Tensor {
  return tidy(() => {
    const n = x.size(0);
    const chosen = [rng.int(0, n - 1)];
    let closest = assignNearest(x, x.narrow(0, chosen[0], 1), chunk)[1];
    for (let j = 1; j < k; j++) {
      const cum = closest.double().cumsum(0);
      const total = cum.select(0, n - 1).item();
      let next: number;
      if (!(total > 0)) {
        next = rng.int(0, n - 1);
      } else {
        const r = rng.next() * total;
        next = Math.min(n - 1, cum.lt(r).sum().item());
      }
      chosen.push(next);
      const d = assignNearest(x, x.narrow(0, next, 1), chunk)[1];
      const m = closest.minimum(d);
      closest.dispose();
      d.dispose();
      closest = m;
    }
    return x.indexSelect(0, tensorFromIndices(chosen)).clone();
  });
}

/** Means of the assigned rows; empty clusters come back with count 0 and a zero row. */
function means(x: Tensor, labels: Tensor, k: number): [Tensor, Float64Array] {
  return tidy(() => {
    const sums = zeros([k, x.size(1)], { dtype: 'float64' }).indexAdd_(0, labels, x.double());
    const counts = labels.bincount(k).double();
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
  const n = x.size(0);
  const { k } = o;
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`Expected positive integer for k-means clusters but received ${k}`);
  if (k > n) throw new ConfigError(`k-means: ${k} clusters need at least ${k} samples, got ${n}; use at most ${n} clusters`);
  const iterations = o.iterations ?? 20;
  const restarts = o.restarts ?? 1;
  const chunk = o.chunk ?? 8192;
  const rng = makeRng(o.seed ?? 0, 0x6b6d);
  let best: KMeansResult | undefined;
  noGrad(() => {
    for (let r = 0; r < restarts; r++) {
      let splits = 0;
      let c = (o.init ?? 'kmeans++') === 'random' ? initRandom(x, k, rng) : initPlusPlus(x, k, rng, chunk);
      let prev = Number.POSITIVE_INFINITY;
      for (let it = 0; it < iterations; it++) {
        const [labels, d] = assignNearest(x, c, chunk);
        const inertia = tidy(() => d.double().sum().item());
        const [next, counts] = means(x, labels, k);
        splits += splitEmpty(next, counts, n, rng);
        labels.dispose();
        d.dispose();
        c.dispose();
        c = next;
        if (o.tol && Math.abs(prev - inertia) <= o.tol * Math.abs(inertia)) break;
        prev = inertia;
      }
      const [labels, d] = assignNearest(x, c, chunk);
      const inertia = tidy(() => d.double().sum().item());
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
export function pcaWhitenL2(x: Tensor, dim: number): Tensor {
  return noGrad(() =>
    tidy(() => {
      let y = x;
      if (dim !== -1) {
        const d = Math.min(dim, x.size(1));
        const x64 = x.double();
        const xc = x64.sub(x64.mean(0, true));
        const cov = xc.t().mm(xc).div(x.size(0));
        const [evals, evecs] = eigh(cov);
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

