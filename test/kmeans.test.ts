/** k-means recovers a known partition; PCA whitening; capacity errors; the 2-way split. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kmeans, pcaWhitenL2 } from '../src/cluster/kmeans.ts';
import { twoMeans } from '../src/cluster/two_means.ts';
import { nmi } from '../src/eval/cluster_metrics.ts';
import { ConfigError, cat, Generator, randn, tensor, tidy } from '../src/index.ts';

/** Three well separated Gaussian blobs in 5-D, 40 points each; returns points and true labels. */
function blobs(g: Generator) {
  const centres = [[8, 0, 0, 0, 0], [0, 8, 0, 0, 0], [0, 0, 8, 0, 0]];
  const parts = centres.map((c) => randn([40, 5], { generator: g }).add(tensor([c])));
  return { x: cat(parts), truth: Array.from({ length: 120 }, (_, i) => Math.floor(i / 40)) };
}

describe('k-means', () => {
  for (const init of ['kmeans++', 'random'] as const) {
    it(`recovers three separated blobs (${init} init)`, () => tidy(() => {
      const { x, truth } = blobs(new Generator(3));
      const r = kmeans(x, { k: 3, init, restarts: 3, seed: 1 });
      assert.equal(nmi(r.labels.toArray(), truth), 1);
      assert.deepEqual(r.centroids.shape, [3, 5]);
      assert.ok(r.inertia < 120 * 5 * 1.5, `inertia ${r.inertia}`);
      r.labels.dispose();
      r.centroids.dispose();
    }));
  }

  it('is reproducible for a seed', () => tidy(() => {
    const { x } = blobs(new Generator(4));
    const a = kmeans(x, { k: 5, seed: 7 });
    const b = kmeans(x, { k: 5, seed: 7 });
    assert.deepEqual(a.labels.toArray(), b.labels.toArray());
    for (const t of [a.labels, a.centroids, b.labels, b.centroids]) t.dispose();
  }));

  it('re-seeds empty clusters by splitting (duplicate points force empties)', () => tidy(() => {
    const x = cat([tensor([[0, 0]]).expand(50, 2), tensor([[5, 5]]).expand(50, 2), tensor([[9, 0], [9, 0.1]])]).contiguous();
    const r = kmeans(x, { k: 4, init: 'random', seed: 2, iterations: 5 });
    const counts = r.labels.bincount(4).toArray();
    assert.equal(counts.reduce((a, b) => a + b, 0), 102);
    r.labels.dispose();
    r.centroids.dispose();
  }));

  it('gives the same clustering whatever the chunk, with centroids the means of their rows', () => tidy(() => {
    const { x } = blobs(new Generator(6));
    const whole = kmeans(x, { k: 4, seed: 3, iterations: 30, restarts: 2 });
    const chunked = kmeans(x, { k: 4, seed: 3, iterations: 30, restarts: 2, chunk: 7 });
    assert.deepEqual(chunked.labels.toArray(), whole.labels.toArray());
    assert.ok(Math.abs(chunked.inertia - whole.inertia) <= 1e-4 * whole.inertia, `${chunked.inertia} vs ${whole.inertia}`);
    // Converged (30 passes on three blobs): each centroid is the mean of the rows labelled with it,
    // and the inertia is Σ‖x − c‖² over those labels.
    const flat = x.toArray();
    const rows = Array.from({ length: 120 }, (_, i) => flat.slice(i * 5, i * 5 + 5));
    const labels = chunked.labels.toArray();
    const cf = chunked.centroids.toArray();
    const cents = Array.from({ length: 4 }, (_, j) => cf.slice(j * 5, j * 5 + 5));
    let inertia = 0;
    for (let j = 0; j < 4; j++) {
      const mine = rows.filter((_, i) => labels[i] === j);
      if (mine.length === 0) continue;
      for (let d = 0; d < 5; d++) {
        const mean = mine.reduce((a, r) => a + r[d], 0) / mine.length;
        assert.ok(Math.abs(mean - cents[j][d]) < 1e-3, `centroid ${j}[${d}] ${cents[j][d]} vs mean ${mean}`);
      }
    }
    rows.forEach((r, i) => {
      inertia += r.reduce((a, v, d) => a + (v - cents[labels[i]][d]) ** 2, 0);
    });
    assert.ok(Math.abs(inertia - chunked.inertia) <= 1e-3 * inertia, `inertia ${chunked.inertia} vs ${inertia}`);
    for (const t of [whole.labels, whole.centroids, chunked.labels, chunked.centroids]) t.dispose();
  }));

  it('names the largest valid k when there are too few samples', () => tidy(() => {
    assert.throws(() => kmeans(randn([10, 2]), { k: 11 }), (e: unknown) => e instanceof ConfigError && /use at most 10 clusters/.test(e.message));
  }));

  it('PCA whitening gives unit-variance decorrelated components before L2 normalisation', () => tidy(() => {
    const g = new Generator(5);
    const x = randn([2000, 6], { generator: g }).mm(randn([6, 6], { generator: g }));
    const y = pcaWhitenL2(x, 3);
    assert.deepEqual(y.shape, [2000, 3]);
    const norms = y.norm(2, 1).toArray();
    assert.ok(norms.every((v) => Math.abs(v - 1) < 1e-5));
    assert.deepEqual(pcaWhitenL2(x, -1).shape, [2000, 6]);
  }));

  it('2-means splits two groups and reports a failed split', () => tidy(() => {
    const x = cat([randn([30, 4], { generator: new Generator(1) }), randn([20, 4], { generator: new Generator(2) }).add(10)]);
    const second = twoMeans(x, { seed: 0 });
    assert.ok(second);
    const rows = second.toArray().sort((a, b) => a - b);
    assert.ok(rows.length === 20 || rows.length === 30);
    assert.ok(rows.every((r) => (rows.length === 20 ? r >= 30 : r < 30)));
    assert.equal(twoMeans(tensor([[1, 1], [1, 1], [1, 1]])), undefined);
  }));
});
