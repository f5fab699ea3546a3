/**
 * Checked bfloat16 re-assignment: the same best centroid as a float64 argmax (wherever the float64
 * gap exceeds float32 rounding), under both rules, with padding, ties and the float32 fall-back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CheckedAssigner, nearestFloat32 } from '../src/cluster/checked_assign.ts';
import { OdcMemory } from '../src/cluster/odc_memory.ts';
import { Generator, randint, randn, randperm, type Tensor, tensor, tidy, zeros } from '../src/index.ts';

const unit = (t: Tensor) => t.div(t.norm(2, 1, true));

/** Centroids as the means of `perCluster` random non-negative unit vectors: nearly collinear, small score gaps. */
function meansOfRandom(g: Generator, K: number, D: number, perCluster: number): Tensor {
  return tidy(() => {
    const f = unit(randn([K * perCluster, D], { generator: g }).abs());
    const lab = randint(0, K, [K * perCluster], { generator: g });
    return zeros([K, D]).indexAdd_(0, lab, f).div(lab.bincount(K).clampMin(1).float().unsqueeze(1));
  });
}

/**
 * Rows whose chosen centroid scores (in float64) more than the float32 bound below the best: what
 * the assigner guarantees. A float32 score of D products is within D·2^-24·‖x‖·‖c‖ of the exact one
 * (plus the rounding of −‖c‖²/2 for the euclidean rule); two such errors separate the exact best
 * from any centroid a float32 argmax may pick instead. Which of two (nearly) equal centroids wins
 * depends on the BLAS kernel's summation order, so no test compares indices bit for bit.
 */
function wrongRows(x: Tensor, c: Tensor, chosen: Tensor, rule: 'dot' | 'euclidean'): number {
  return tidy(() => {
    const xd = x.double();
    const cd = c.double();
    let s = xd.mm(cd.t());
    const cNorm = cd.norm(2, 1).max().item();
    const D = x.size(1);
    let tol = xd.norm(2, 1).mul(2 * (D + 2) * 2 ** -24 * cNorm);
    if (rule === 'euclidean') {
      s = s.sub(cd.square().sum(1).mul(0.5).unsqueeze(0));
      tol = tol.add(2 * 2 ** -24 * cNorm * cNorm);
    }
    return s.max(1)[0].sub(s.gather(1, chosen.unsqueeze(1)).squeeze(1)).gt(tol).sum().item();
  });
}

describe('CheckedAssigner', () => {
  for (const rule of ['dot', 'euclidean'] as const) {
    for (const K of [4096, 1000]) {
      it(`${rule}, ${K} near-collinear centroids: the float64 argmax, from few candidates`, () => tidy(() => {
        const g = new Generator(3);
        const c = meansOfRandom(g, K, 64, 40);
        const a = new CheckedAssigner(rule);
        a.setCentroids(c);
        let agree = 0;
        let plainBf16Wrong = 0;
        for (let i = 0; i < 4; i++) {
          const x = unit(randn([256, 64], { generator: g }).abs());
          const got = a.nearest(x);
          assert.equal(wrongRows(x, c, got, rule), 0);
          // Without the re-check, bfloat16 scores pick a worse centroid for many rows.
          let plain = x.to('bfloat16').mm(c.to('bfloat16').t()).float();
          if (rule === 'euclidean') plain = plain.sub(c.square().sum(1).mul(0.5).unsqueeze(0));
          plainBf16Wrong += wrongRows(x, c, plain.argmax(1), rule);
          agree += got.eq(nearestFloat32(x, c, rule)).sum().item();
        }
        assert.ok(agree >= 0.99 * 4 * 256, `agreement with the float32 argmax ${agree}/1024`);
        assert.ok(plainBf16Wrong > 20, `plain bfloat16 argmax wrong on ${plainBf16Wrong} rows`);
        const st = a.stats();
        assert.equal(st.fallback, 0);
        assert.ok(st.meanCandidates >= 1 && st.meanCandidates < 48, `candidates per row ${st.meanCandidates}`);
        a.dispose();
      }));
    }
  }

  it('spread-out centroids and rows of any sign and length', () => tidy(() => {
    const g = new Generator(5);
    const c = randn([2000, 32], { generator: g });
    const x = randn([300, 32], { generator: g }).mul(3);
    for (const rule of ['dot', 'euclidean'] as const) {
      const a = new CheckedAssigner(rule);
      a.setCentroids(c);
      const got = a.nearest(x);
      assert.equal(wrongRows(x, c, got, rule), 0);
      // The float32 product meets the same bound (the bound is not too tight for any kernel).
      assert.equal(wrongRows(x, c, nearestFloat32(x, c, rule), rule), 0);
      a.dispose();
    }
  }));

  it('ties go to the lowest index, as argmax', () => tidy(() => {
    const g = new Generator(7);
    const base = randn([40, 16], { generator: g });
    const c = base.repeat(3, 1); // centroid k, k + 40 and k + 80 are equal
    const x = randn([64, 16], { generator: g });
    const a = new CheckedAssigner('dot');
    a.setCentroids(c);
    const got = a.nearest(x);
    // Copies are re-scored by the same float32 sum, so the lowest index of the best wins; the
    // float32 product's own argmax may pick any copy (AVX2 sgemm tiles round copies differently).
    assert.ok(got.toArray().every((k) => k < 40), `${got.toArray()}`);
    assert.equal(wrongRows(x, base, got, 'dot'), 0);
    a.dispose();
  }));

  it('falls back to float32 when too many centroids stay in the window', () => tidy(() => {
    const c = tensor(new Float32Array(3000 * 8).fill(0.5), { shape: [3000, 8] }); // all identical
    const x = unit(randn([10, 8], { generator: new Generator(1) }));
    const a = new CheckedAssigner('dot');
    a.setCentroids(c);
    const got = a.nearest(x);
    assert.equal(a.stats().fallback, 1);
    assert.equal(a.stats().checked, 0);
    // Every centroid is a best one; the float32 product picks one of them per row.
    assert.ok(got.toArray().every((k) => Number.isInteger(k) && k >= 0 && k < 3000), `${got.toArray()}`);
    assert.equal(wrongRows(x, c, got, 'dot'), 0);
    a.dispose();
  }));

  it('OdcMemory re-assigns to a best centroid with checked and float32 scoring, and its statistics stay exact', () => tidy(() => {
    const g = new Generator(11);
    const N = 20000;
    const K = 1024;
    const feats = randn([N, 32], { generator: g }).abs();
    const labels = randint(0, K, [N], { generator: g });
    const mk = (scoring: 'checked' | 'float32') => {
      const m = new OdcMemory({ length: N, featDim: 32, numClasses: K, minCluster: 3, scoring });
      m.init(feats, labels);
      return m;
    };
    const a = mk('checked');
    const b = mk('float32');
    assert.equal(a.scoring, 'checked');
    assert.equal(b.scoring, 'float32');
    let agree = 0;
    for (let it = 1; it <= 30; it++) {
      const index = randperm(N, { generator: g }).narrow(0, 0, 256);
      const f = randn([index.numel, 32], { generator: g }).abs();
      const centroids = a.centroids.clone();
      a.updateSamples(index, f);
      b.updateSamples(index, f);
      // Every re-assigned label is a best centroid within float32 rounding, whichever scoring chose it.
      for (const m of [a, b]) assert.equal(wrongRows(m.features.indexSelect(0, index), centroids, m.labels.indexSelect(0, index), m.assign), 0);
      agree += a.labels.indexSelect(0, index).eq(b.labels.indexSelect(0, index)).sum().item();
      if (it % 10 === 0) {
        a.updateCentroids();
        b.updateCentroids();
      }
    }
    // The two scorings differ only on near-ties (and what those change later on).
    const total = a.labels.eq(b.labels).sum().item();
    assert.ok(total >= 0.99 * N, `labels agree on ${total}/${N}`);
    assert.ok(agree > 0, 'batches were re-assigned');
    assert.equal(a.verify().countError, 0);
    assert.ok(a.verify().sumError < 1e-12);
    a.dispose();
    b.dispose();
  }));
});
