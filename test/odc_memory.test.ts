/** Each ODC memory operation on tiny hand-checkable cases, and incremental statistics = full recompute. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCapacity, OdcMemory } from '../src/cluster/odc_memory.ts';
import { lastOccurrence } from '../src/cluster/sample_bank.ts';
import { ConfigError, Generator, randint, randn, tensor, tidy } from '../src/index.ts';
import { cuda } from '../src/runtime.ts';
import { withDefaultDevice } from '../src/tensor/creation.ts';

const ix = (v: number[]) => tensor(BigInt64Array.from(v, BigInt));
const close = (a: number[], b: number[], tol = 1e-6) => {
  assert.equal(a.length, b.length);
  for (const [i, v] of a.entries()) assert.ok(Math.abs(v - b[i]) < tol, `${a} vs ${b}`);
};

/** 4 samples in 2-D, two clusters: {0, 1} around +x, {2, 3} around +y. */
function tiny(o: { assign?: 'dot' | 'euclidean'; minCluster?: number; momentum?: number } = {}) {
  const m = new OdcMemory({ length: 4, featDim: 2, numClasses: 2, minCluster: o.minCluster ?? 1, assign: o.assign, momentum: o.momentum });
  m.init(tensor([[2, 0], [1, 0], [0, 3], [0, 1]]), ix([0, 0, 1, 1]));
  return m;
}

describe('OdcMemory', () => {
  it('init L2-normalises features and sets centroids to the plain means', () => tidy(() => {
    const m = tiny();
    close(m.features.flatten().toArray(), [1, 0, 1, 0, 0, 1, 0, 1]);
    close(m.centroids.flatten().toArray(), [1, 0, 0, 1]);
    assert.deepEqual(m.counts.toArray(), [2, 2]);
    m.dispose();
  }));

  it('momentum update: F ← normalise(m·f/‖f‖ + (1 − m)·F), and the change ratio', () => tidy(() => {
    const m = tiny({ momentum: 0.5 });
    // sample 1 (at +x) sees a feature along +y: mixed = 0.5·(1,0) + 0.5·(0,1) → (1,1)/√2, then nearest centroid.
    const r = m.updateSamples(ix([1]), tensor([[0, 5]]));
    close(m.features.select(0, 1).toArray(), [Math.SQRT1_2, Math.SQRT1_2]);
    assert.equal(r.item(), 0); // a tie between (1,0) and (0,1): argmax takes the first (cluster 0)
    const r2 = m.updateSamples(ix([1, 3]), tensor([[0, 5], [0, 1]]));
    assert.equal(m.labels.toArray()[1], 1);
    assert.equal(r2.item(), 0.5);
    const { countError, sumError } = m.verify();
    assert.equal(countError, 0);
    assert.ok(sumError < 1e-12);
    m.dispose();
  }));

  it('repeated indices: the last repeat\'s feature and label win and the sample is counted once (found on the device)', () => tidy(() => {
    const { last, isLast } = lastOccurrence(ix([3, 1, 3, 2, 1]));
    assert.deepEqual(last.toArray(), [2, 4, 2, 3, 4]);
    assert.deepEqual(isLast.toArray(), [0, 0, 1, 1, 1]);
    const m = tiny({ momentum: 0.8 });
    // Sample 3 (at +y, cluster 1) twice: along +y (stays in cluster 1), then along +x, which wins:
    // 0.2·(0,1) + 0.8·(1,0), normalised, in cluster 0.
    const r = m.updateSamples(ix([3, 3]), tensor([[0, 5], [7, 0]]));
    const n = Math.hypot(0.8, 0.2);
    close(m.features.select(0, 3).toArray(), [0.8 / n, 0.2 / n]);
    assert.deepEqual(m.labels.toArray(), [0, 0, 1, 0]);
    assert.deepEqual(m.counts.toArray(), [3, 1]);
    assert.equal(r.item(), 0.5); // over the batch's rows, repeats included
    assert.ok(m.verify().sumError < 1e-12);
    assert.equal(m.verify().countError, 0);
    m.dispose();
  }));

  it('dot rule vs euclidean rule differ for centroids of different norms', () => tidy(() => {
    // centroids: c0 = (1, 0) (tight cluster), c1 = (0.1, 0.5) (loose cluster, small norm)
    for (const [assign, expected] of [['dot', 0], ['euclidean', 1]] as const) {
      const m = new OdcMemory({ length: 4, featDim: 2, numClasses: 2, minCluster: 1, assign, momentum: 1 });
      m.init(tensor([[1, 0], [1, 0], [0.6, 0.8], [-0.4, 0.2]]), ix([0, 0, 1, 1]));
      close(m.centroids.select(0, 1).toArray(), [(0.6 - 0.4 / Math.hypot(0.4, 0.2)) / 2, (0.8 + 0.2 / Math.hypot(0.4, 0.2)) / 2]);
      // f = (0.5, 0.866): f·c0 = 0.5 > f·c1 ≈ 0.467 (dot picks 0), but ‖c1‖² ≈ 0.41 < 1 puts f nearer c1.
      m.updateSamples(ix([2]), tensor([[0.5, 0.866]]));
      assert.equal(m.labels.toArray()[2], expected, assign);
      m.dispose();
    }
  }));

  it('centroid refresh equals the mean of the current members; empty clusters keep theirs', () => tidy(() => {
    const m = tiny({ momentum: 1 });
    m.updateSamples(ix([1]), tensor([[0, 1]])); // sample 1 moves to cluster 1
    close(m.centroids.flatten().toArray(), [1, 0, 0, 1]); // not refreshed yet
    m.updateCentroids();
    close(m.centroids.flatten().toArray(), [1, 0, 0, 1]);
    assert.deepEqual(m.counts.toArray(), [1, 3]);
    m.updateSamples(ix([0]), tensor([[0, 1]])); // cluster 0 becomes empty
    m.updateCentroids();
    close(m.centroids.select(0, 0).toArray(), [1, 0]);
    m.dispose();
  }));

  it('re-weighting: w_c ∝ (N_c + eps)^-1/2, summing to 1', () => tidy(() => {
    const m = new OdcMemory({ length: 5, featDim: 2, numClasses: 2, minCluster: 1 });
    m.init(randn([5, 2], { generator: new Generator(0) }), ix([0, 0, 0, 0, 1]));
    const w = m.classWeights().toArray();
    const a = 1 / Math.sqrt(4 + 1e-5);
    const b = 1 / Math.sqrt(1 + 1e-5);
    close(w, [a / (a + b), b / (a + b)]);
    m.dispose();
  }));

  it('small clusters are dissolved into normal ones and re-created by splitting the largest', () => tidy(() => {
    // cluster 2 has one member (small with minCluster 2); cluster 0 is the largest with two clear groups.
    const m = new OdcMemory({ length: 8, featDim: 2, numClasses: 3, minCluster: 2 });
    m.init(
      tensor([[1, 0.05], [1, 0.1], [1, 0.0], [0.1, 1], [0.2, 1], [-1, 0.1], [-1, 0], [0, -1]]),
      ix([0, 0, 0, 0, 0, 1, 1, 2]),
    );
    const repaired = m.dealWithSmallClusters();
    assert.equal(repaired, 1);
    const counts = m.counts.toArray();
    assert.ok(counts.every((c) => c >= 2), `counts ${counts}`);
    const labels = m.labels.toArray();
    // the split separates the +x group from the +y group of the old cluster 0
    assert.equal(labels[3], labels[4]);
    assert.notEqual(labels[0], labels[3]);
    assert.equal(labels[0], labels[1]);
    // the new cluster's centroid is the mean of its members
    const e = 2;
    const members = labels.flatMap((l, i) => (l === e ? [i] : []));
    const feats = m.features.toArray();
    const mean = [0, 1].map((d) => members.reduce((s, i) => s + feats[i * 2 + d], 0) / members.length);
    close(m.centroids.select(0, e).toArray(), mean);
    assert.deepEqual(m.verify().countError, 0);
    m.dispose();
  }));

  it('incremental counts and sums equal a full recompute after many random updates (with repeated indices)', () => tidy(() => {
    const g = new Generator(1);
    const m = new OdcMemory({ length: 300, featDim: 16, numClasses: 12, minCluster: 10 });
    m.init(randn([300, 16], { generator: g }).abs(), randint(0, 12, [300], { generator: g }));
    for (let it = 1; it <= 200; it++) {
      tidy(() => {
        m.updateSamples(randint(0, 300, [32], { generator: g }), randn([32, 16], { generator: g }).abs());
        if (it % 10 === 0) m.updateCentroids();
        m.dealWithSmallClusters();
      });
    }
    const { countError, sumError } = m.verify();
    assert.equal(countError, 0);
    assert.ok(sumError < 1e-9, `sum error ${sumError}`);
    assert.ok(m.counts.toArray().every((c) => c >= 10));
    m.dispose();
  }));

  it('the small-cluster test read later (smallClustersAsync) calls for the same repairs as the one made at once', () => tidy(() => {
    const run = (deferred: boolean) =>
      tidy(() => {
        const g = new Generator(4);
        const m = new OdcMemory({ length: 300, featDim: 16, numClasses: 12, minCluster: 15 });
        m.init(randn([300, 16], { generator: g }).abs(), randint(0, 12, [300], { generator: g }));
        const due: boolean[] = [];
        for (let it = 1; it <= 80; it++) {
          tidy(() => {
            m.updateSamples(randint(0, 300, [32], { generator: g }), randn([32, 16], { generator: g }).abs());
            if (it % 10 === 0) m.updateCentroids();
            if (!deferred) {
              due.push(m.counts.lt(15).any().item() !== 0);
              m.dealWithSmallClusters();
              return;
            }
            const test = m.smallClustersAsync();
            assert.ok(test);
            const w = randn([64, 64], { generator: new Generator(it) });
            w.mm(w); // (what the next forward pass would queue)
            const isDue = test.value().item() !== 0;
            test.dispose();
            due.push(isDue);
            if (isDue) assert.ok(m.dealWithSmallClusters() > 0);
          });
        }
        const out = { due, labels: m.labels.toArray(), centroids: m.centroids.toArray(), splits: m.splitCount };
        m.dispose();
        return out;
      });
    const now = run(false);
    const later = run(true);
    assert.ok(now.due.some((d) => d) && now.due.some((d) => !d), `repairs due at ${now.due}`);
    assert.deepEqual(later.due, now.due);
    assert.equal(later.splits, now.splits);
    assert.deepEqual(later.labels, now.labels);
    assert.deepEqual(later.centroids, now.centroids);
    const never = new OdcMemory({ length: 10, featDim: 2, numClasses: 2, minCluster: 0 });
    assert.equal(never.smallClustersAsync(), undefined);
    never.dispose();
  }));

  it('a state dict carries the sums, the splits counter and the random split\'s generator; older ones load with defaults', () => tidy(() => {
    // Cluster 0: eight identical samples, which 2-means cannot split (the released code's fallback, a
    // random half, is taken); cluster 2: a single sample, small under minCluster 2.
    const feats = tensor([...Array.from({ length: 8 }, () => [1, 0]), [0, 1], [0.1, 1], [0.2, 1], [-1, 0]]);
    const labels = ix([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2]);
    const opts = { length: 12, featDim: 2, numClasses: 3, minCluster: 2 };
    const a = new OdcMemory(opts);
    a.init(feats, labels);
    assert.equal(a.dealWithSmallClusters(), 1);
    assert.deepEqual(a.counts.toArray(), [4, 4, 4]); // the random half of cluster 0 re-created cluster 2
    const b = new OdcMemory(opts);
    assert.deepEqual(b.loadStateDict(a.stateDict()).missingKeys, []);
    assert.equal(b.splitCount, 1);
    for (const k of ['labels', 'sums', 'counts', 'centroids'] as const) assert.deepEqual(b[k].toArray(), a[k].toArray(), k);
    // A checkpoint written before these keys existed: sums recomputed, counter 0, a freshly seeded generator.
    const state = new Map(a.stateDict());
    for (const k of ['memory.sums', 'memory.splits', 'memory.split_rng']) state.delete(k);
    const old = new OdcMemory(opts);
    assert.deepEqual(old.loadStateDict(state).missingKeys, ['memory.sums', 'memory.splits', 'memory.split_rng']);
    assert.equal(old.splitCount, 0);
    assert.ok(old.verify().sumError < 1e-12);
    // The same situation again: the restored memory draws the same random half as the original, the
    // one without the generator state draws the first split's half again.
    for (const m of [a, b, old]) {
      m.init(feats, labels);
      m.dealWithSmallClusters();
    }
    assert.equal(a.splitCount, 2);
    assert.equal(b.splitCount, 2);
    assert.deepEqual(b.labels.toArray(), a.labels.toArray());
    assert.notDeepEqual(old.labels.toArray(), a.labels.toArray());
    for (const m of [a, b, old]) m.dispose();
  }));

  it('features kept apart (featuresOn): every update, repair and state the same as a memory that keeps them with the rest', async () => {
    // On a CPU-only machine both memories live on the CPU: the path that reads and writes the rows
    // across devices is the one run here; with CUDA, the second keeps its features in host RAM.
    const hasCuda = cuda.isAvailable();
    const run = async (featuresOn: 'cpu' | undefined) =>
      withDefaultDevice(hasCuda ? 'cuda' : 'cpu', async () =>
        tidy(() => {
          const g = new Generator(3);
          const m = new OdcMemory({ length: 300, featDim: 16, numClasses: 12, minCluster: 10, featuresOn });
          m.init(randn([300, 16], { generator: g }).abs(), randint(0, 12, [300], { generator: g }));
          const changes: number[] = [];
          for (let it = 1; it <= 60; it++) {
            tidy(() => {
              changes.push(m.updateSamples(randint(0, 300, [32], { generator: g }), randn([32, 16], { generator: g }).abs()).item());
              if (it % 10 === 0) m.updateCentroids();
              m.dealWithSmallClusters();
            });
          }
          const out = { device: m.features.device, changes, labels: m.labels.toArray(), features: m.features.toArray(), splits: m.splits, verify: m.verify() };
          m.dispose();
          return out;
        }),
      );
    const a = await run(undefined);
    const b = await run('cpu');
    assert.equal(b.device, 'cpu');
    assert.deepEqual(b.changes, a.changes);
    assert.deepEqual(b.labels, a.labels);
    close(b.features, a.features, 1e-6);
    assert.equal(b.splits, a.splits);
    assert.ok(a.splits > 0, 'no repair happened: the test would not reach the repair path');
    assert.equal(b.verify.countError, 0);
    assert.ok(b.verify.sumError < 1e-9);
  });

  it('refuses impossible sizes with the largest valid cluster count', () => {
    assert.throws(() => checkCapacity(1300, 10000, 20), (e: unknown) => e instanceof ConfigError && /use at most 65 clusters/.test(e.message));
    assert.doesNotThrow(() => checkCapacity(1300, 65, 20));
  });
});
