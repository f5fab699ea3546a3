/**
 * The 2-way split used to re-create a dissolved cluster: k-means with k = 2 on the members of the
 * largest cluster, as the released code's KMeans(n_clusters=2, random_state=0, max_iter=20)
 * (data centred, greedy k-means++ with 2 local trials, 10 restarts, lowest inertia kept).
 */
import { makeRng } from '../data/rng.ts';
import { stack } from '../tensor/creation.ts';
import { noGrad, tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';

export interface TwoMeansOptions {
  seed?: number;
  restarts?: number;
  iterations?: number;
  tol?: number;
}

/**
 * Rows (int64 indices into `x`) of the second sub-cluster, or undefined when either side is empty.
 */
export function twoMeans(x: Tensor, o: TwoMeansOptions = {}): Tensor | undefined {
  return noGrad(() =>
    tidy(() => {
      const n = x.size(0);
      const xc = x.sub(x.mean(0, true));
      const x2 = xc.square().sum(1);
      const tolAbs = xc.var(0, false, 0).mean().item() * (o.tol ?? 1e-4);
      const rng = makeRng(o.seed ?? 0, 2);
      let bestInertia = Number.POSITIVE_INFINITY;
      let best: Tensor | undefined;
      const dist = (c: Tensor) => x2.unsqueeze(1).addmm(xc, c.t(), 1, -2).add(c.square().sum(1).unsqueeze(0)).clampMin(0); // [n, 2]
      for (let r = 0; r < (o.restarts ?? 10); r++) {
        const res = tidy(() => {
          // greedy k-means++: first centre at random, second the best of 2 candidates drawn ∝ D².
          const i0 = rng.int(0, n - 1);
          const closest = x2.add(x2.select(0, i0)).sub(xc.matmul(xc.select(0, i0)).mul(2)).clampMin(0);
          const cum = closest.double().cumsum(0);
          const total = cum.select(0, n - 1).item();
          const cands = [0, 1].map(() => Math.min(n - 1, total > 0 ? cum.lt(rng.next() * total).sum().item() : rng.int(0, n - 1)));
          const pot = cands.map((c) =>
            tidy(() => closest.minimum(x2.add(x2.select(0, c)).sub(xc.matmul(xc.select(0, c)).mul(2)).clampMin(0)).sum().item()),
          );
          const i1 = cands[pot[0] <= pot[1] ? 0 : 1];
          let c = stack([xc.select(0, i0), xc.select(0, i1)]);
          for (let it = 0; it < (o.iterations ?? 20); it++) {
            const lab = dist(c).argmin(1);
            const m1 = lab.eq(1).unsqueeze(1).float();
            const m0 = m1.rsub(1);
            const n1 = m1.sum().item();
            const n0 = n - n1;
            const c0 = n0 > 0 ? xc.mul(m0).sum(0).div(n0) : c.select(0, 0);
            const c1 = n1 > 0 ? xc.mul(m1).sum(0).div(n1) : c.select(0, 1);
            const next = stack([c0, c1]);
            const shift = next.sub(c).square().sum().item();
            c = next;
            if (shift <= tolAbs) break;
          }
          const d = dist(c);
          const [v, lab] = d.min(1);
          return { inertia: v.double().sum().item(), lab };
        });
        if (res.inertia < bestInertia) {
          bestInertia = res.inertia;
          best?.dispose();
          best = res.lab;
        } else {
          res.lab.dispose();
        }
      }
      const second = (best as Tensor).eq(1).nonzero().flatten();
      const size = second.numel;
      if (size === 0 || size === n) return undefined;
      return second;
    }),
  );
}
