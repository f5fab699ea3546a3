/**
 * The 2-way split used to re-create a dissolved cluster: k-means with k = 2 on the members of the
 * largest cluster, as the released code's KMeans(n_clusters=2, random_state=0, max_iter=20)
 * (data centred, greedy k-means++ with 2 local trials, 10 restarts, lowest inertia kept). All
 * restarts run together as batched tensor operations, so a split costs a few hundred operator
 * calls instead of thousands (splits are frequent with many clusters on small data).
 */
import { makeRng } from '../data/rng.ts';
import { stack, tensor, where } from '../tensor/creation.ts';
import { noGrad, tidy } from '../tensor/scope.ts';
import { aten, type Tensor, wrap } from '../tensor/tensor.ts';

export interface TwoMeansOptions {
  seed?: number;
  restarts?: number;
  iterations?: number;
}

const searchsortedOp = aten('searchsorted', 'Tensor');

/**
 * Rows (int64 indices into `x`) of the second sub-cluster, or undefined when either side is empty.
 */
export function twoMeans(x: Tensor, o: TwoMeansOptions = {}): Tensor | undefined {
  return noGrad(() =>
    tidy(() => {
      const n = x.size(0);
      const R = o.restarts ?? 10;
      const rng = makeRng(o.seed ?? 0, 2);
      const xc = x.sub(x.mean(0, true)); // [n, d]
      const x2 = xc.square().sum(1); // [n]
      const xt = xc.t();
      /** Squared distances of every point to each of the given points: [..., n]. */
      const sqdist = (rowsIdx: Tensor) => x2.indexSelect(0, rowsIdx.flatten()).reshape(...rowsIdx.shape, 1)
        .add(x2).sub(xc.indexSelect(0, rowsIdx.flatten()).mm(xt).reshape(...rowsIdx.shape, n).mul(2)).clampMin(0);
      // greedy k-means++ per restart: a random first centre, then the better of 2 candidates drawn ∝ D².
      const i0 = tensor(BigInt64Array.from({ length: R }, () => BigInt(rng.int(0, n - 1))));
      const closest = sqdist(i0); // [R, n]
      const cum = closest.double().cumsum(1);
      const total = cum.select(1, n - 1).unsqueeze(1); // [R, 1]
      const u = tensor(Float64Array.from({ length: 2 * R }, () => rng.next()), { shape: [R, 2] }).mul(total);
      const cand = (wrap(searchsortedOp(cum, u, false, false, undefined, undefined)) as Tensor).clampMax(n - 1); // [R, 2]
      const pot = sqdist(cand).minimum(closest.unsqueeze(1)).sum(2); // [R, 2]
      const i1 = cand.gather(1, pot.argmin(1, true)).squeeze(1);
      let c = stack([xc.indexSelect(0, i0), xc.indexSelect(0, i1)], 1); // [R, 2, d]
      const sumAll = xc.sum(0); // [d]
      const dist = (cent: Tensor) => xc.matmul(cent.transpose(1, 2)).mul(-2).add(x2.view(1, n, 1)).add(cent.square().sum(2).unsqueeze(1)).clampMin(0); // [R, n, 2]
      for (let it = 0; it < (o.iterations ?? 20); it++) {
        c = tidy(() => {
          const m1 = dist(c).argmin(2).eq(1).float(); // [R, n]
          const n1 = m1.sum(1, true); // [R, 1]
          const n0 = n1.rsub(n);
          const s1 = m1.mm(xc); // [R, d]
          const c1 = where(n1.gt(0), s1.div(n1.clampMin(1)), c.select(1, 1));
          const c0 = where(n0.gt(0), s1.rsub(0).add(sumAll).div(n0.clampMin(1)), c.select(1, 0));
          return stack([c0, c1], 1);
        });
      }
      const [best, lab] = dist(c).min(2); // [R, n]
      const r = best.double().sum(1).argmin().item();
      const second = lab.select(0, r).eq(1).nonzero().flatten();
      const size = second.numel;
      if (size === 0 || size === n) return undefined;
      return second;
    }),
  );
}
