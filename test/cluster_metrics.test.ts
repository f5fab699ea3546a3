/** NMI, ARI, ACC and purity on constructed cases with known answers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRng } from '../src/data/rng.ts';
import { ari, clusterAccuracy, clusterSizes, nmi, purity } from '../src/eval/cluster_metrics.ts';

describe('clustering metrics', () => {
  const truth = [0, 0, 0, 1, 1, 1, 2, 2, 2];
  it('identical partitions score 1, whatever the label names', () => {
    const renamed = truth.map((t) => [7, 3, 5][t]);
    assert.equal(nmi(renamed, truth), 1);
    assert.equal(ari(renamed, truth), 1);
    assert.equal(clusterAccuracy(renamed, truth), 1);
    assert.equal(purity(renamed, truth), 1);
  });

  it('independent partitions score about 0', () => {
    const rng = makeRng(1);
    const a = Array.from({ length: 20000 }, () => rng.int(0, 9));
    const b = Array.from({ length: 20000 }, () => rng.int(0, 9));
    assert.ok(nmi(a, b) < 0.01);
    assert.ok(Math.abs(ari(a, b)) < 0.01);
    assert.ok(clusterAccuracy(a, b) < 0.13);
  });

  it('matches hand-computed values (scikit-learn gives the same)', () => {
    const pred = [0, 0, 1, 1, 1, 1, 2, 2, 2];
    // contingency [[2,0,0],[1,3,0],[0,0,3]]
    assert.ok(Math.abs(clusterAccuracy(pred, truth) - 8 / 9) < 1e-12);
    assert.ok(Math.abs(purity(pred, truth) - 8 / 9) < 1e-12);
    assert.ok(Math.abs(nmi(pred, truth) - 0.7860131032630729) < 1e-9); // sklearn normalized_mutual_info_score
    assert.ok(Math.abs(ari(pred, truth) - 0.6428571428571429) < 1e-9); // sklearn adjusted_rand_score
  });

  it('ACC handles more clusters than classes (extra clusters count as wrong)', () => {
    assert.ok(Math.abs(clusterAccuracy([0, 1, 2, 3], [0, 0, 1, 1]) - 0.5) < 1e-12);
  });

  it('cluster size statistics with Gini', () => {
    const s = clusterSizes([0, 0, 1, 1], 3);
    assert.deepEqual({ ...s, gini: Number(s.gini.toFixed(4)) }, { clusters: 3, empty: 1, min: 0, median: 2, max: 2, gini: 0.3333 });
    assert.equal(clusterSizes([0, 1, 2], 3).gini, 0);
  });
});
