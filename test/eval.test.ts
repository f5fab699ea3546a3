/** Evaluation protocols: constructed cases with known answers and end-to-end runs on Fashion-MNIST slices. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeRng } from '../src/data/rng.ts';
import { FASHION_MNIST_DIR } from '../src/data/spec.ts';
import { kmeansScores, scorePartition } from '../src/eval/cluster_eval.ts';
import { randomEvalModel } from '../src/eval/eval_model.ts';
import { evaluate, writeEvalResults } from '../src/eval/evaluate.ts';
import { poolingGrid, tapShapes } from '../src/eval/features.ts';
import { knnClassify } from '../src/eval/knn.ts';
import { linearProbe } from '../src/eval/linear_probe.ts';
import { tableToMarkdown } from '../src/eval/tables.ts';
import { memory, type Tensor, tensor } from '../src/index.ts';

const skip = !existsSync(FASHION_MNIST_DIR) && 'dataset-fashion-mnist not installed';

/** k well-separated Gaussian blobs in d dims (centres fixed by k and d, points by seed): [features, labels]. */
function blobs(n: number, k: number, d: number, spread: number, seed: number): [Tensor, Int32Array] {
  const at = makeRng(k, d);
  const centres = Array.from({ length: k }, () => Array.from({ length: d }, () => (at.next() - 0.5) * 20));
  const rng = makeRng(seed);
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % k;
    for (let j = 0; j < d; j++) {
      const g = Math.sqrt(-2 * Math.log(rng.next() + 1e-12)) * Math.cos(2 * Math.PI * rng.next());
      x[i * d + j] = centres[y[i]][j] + spread * g;
    }
  }
  return [tensor(x, { shape: [n, d] }), y];
}

describe('kNN', () => {
  it('classifies separable blobs perfectly, weighted and majority, and leaks nothing', () => {
    const [trX, trY] = blobs(600, 5, 16, 0.5, 1);
    const [teX, teY] = blobs(200, 5, 16, 0.5, 2);
    const before = memory().numTensors;
    const rows = knnClassify(trX, trY, teX, teY, 5, { ks: [1, 20, 200], chunk: 64 });
    assert.equal(memory().numTensors, before);
    for (const r of rows) {
      assert.equal(r.weighted, 1, `k=${r.k} weighted`);
      assert.equal(r.majority, 1, `k=${r.k} majority`);
    }
  });

  it('weighted voting follows similarity where the majority does not', () => {
    // Query at +x; one training point exactly there (class 1), three further off (class 0).
    const trX = tensor([[1, 0], [0.2, 1], [0.2, -1], [0.1, 1]]);
    const teX = tensor([[1, 0]]);
    const [r] = knnClassify(trX, Int32Array.from([1, 0, 0, 0]), teX, Int32Array.from([1]), 2, { ks: [4], temperature: 0.07 });
    assert.equal(r.weighted, 1);
    assert.equal(r.majority, 0);
  });
});

describe('linear probe', () => {
  it('separates blobs and reports top-1/top-5', () => {
    const [trX, trY] = blobs(1000, 4, 32, 1, 3);
    const [teX, teY] = blobs(400, 4, 32, 1, 4);
    const r = linearProbe(trX, trY, teX, teY, 4, { epochs: 4, batchSize: 64 });
    assert.ok(r.top1 > 0.99, `top-1 ${r.top1}`);
    assert.equal(r.top5, 1);
    assert.ok(r.trainLoss < 0.1, `train loss ${r.trainLoss}`);
  });

  it('is at chance on labels independent of the features', () => {
    const [trX] = blobs(800, 4, 8, 1, 5);
    const [teX] = blobs(400, 4, 8, 1, 6);
    const rng = makeRng(9);
    const rand = (n: number) => Int32Array.from({ length: n }, () => rng.int(0, 3));
    const r = linearProbe(trX, rand(800), teX, rand(400), 4, { epochs: 3 });
    assert.ok(Math.abs(r.top1 - 0.25) < 0.08, `top-1 ${r.top1}`);
  });
});

describe('clustering protocol', () => {
  it('k-means recovers blobs; scores are invariant to label names', () => {
    const [x, y] = blobs(500, 5, 8, 0.3, 7);
    const km = kmeansScores(x, y, 5, { restarts: 3 });
    assert.ok(km.nmi > 0.99 && km.acc > 0.99, `NMI ${km.nmi}, ACC ${km.acc}`);
    const renamed = Int32Array.from(km.labels, (v) => (v + 3) % 5);
    const s = scorePartition(renamed, y, 5);
    assert.equal(s.acc, km.acc);
    assert.equal(s.nmi, km.nmi);
    assert.equal(s.sizes.clusters, 5);
  });
});

describe('features', () => {
  it('pools each tap to about 9,000 dims, never finer than the map', () => {
    assert.equal(poolingGrid(64, 56), 12); // ResNet-50 conv1 at 224 px: 64×12×12 = 9216
    assert.equal(poolingGrid(2048, 7), 2); // conv5: 2048×2×2 = 8192
    assert.equal(poolingGrid(512, 3), 3);
    const model = randomEvalModel({ arch: 'resnet18', width: 16, stem: 'auto', sobel: false }, { inChannels: 1, height: 28 });
    try {
      const shapes = tapShapes(model, { channels: 1 }, 28, ['conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'pool']);
      assert.deepEqual(shapes.map((s) => s.dims), [16 * 24 * 24, 16 * 24 * 24, 32 * 14 * 14, 64 * 7 * 7, 128 * 4 * 4, 128]);
    } finally {
      model.dispose();
    }
  });
});

describe('tables', () => {
  it('renders markdown with right-aligned numeric columns', () => {
    const md = tableToMarkdown({ title: 'kNN', columns: ['k', 'top-1'], rows: [[20, 81.5], [200, 79]] });
    assert.equal(md, '**kNN**\n\n| k | top-1 |\n|---:|---:|\n| 20 | 81.5 |\n| 200 | 79 |\n');
  });
});

describe('evaluate end to end', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'odc-eval-'));

  it('raw pixels: kNN well above chance, linear probe, clustering; eval.json merges protocols', async () => {
    const base = { baseline: 'pixels' as const, trainSubset: 3000, testSubset: 500, log: () => {} };
    const a = await evaluate({ ...base, protocols: ['knn', 'cluster'] });
    const knn = a.protocols.knn as { rows: { k: number; weighted: number }[] };
    assert.ok(knn.rows[0].weighted > 0.7, `pixel kNN k=20 ${knn.rows[0].weighted}`);
    const km = (a.protocols.cluster as { kmeans: { nmi: number; images: number } }).kmeans;
    assert.equal(km.images, 3500);
    assert.ok(km.nmi > 0.4, `pixel k-means NMI ${km.nmi}`);
    const more = await evaluate({ ...base, protocols: ['cluster'], kmeansRestarts: 3 });
    const km3 = (more.protocols.cluster as { kmeans: { restarts: number; nmi: number } }).kmeans;
    assert.equal(km3.restarts, 3);
    assert.equal((a.protocols.cluster as { kmeans: { restarts: number } }).kmeans.restarts, 5);
    await assert.rejects(evaluate({ ...base, protocols: ['cluster'], kmeansRestarts: 0 }), /--kmeans-restarts must be a whole number >= 1, got 0/);
    const path = writeEvalResults(a, join(dir, 'eval.json'));
    const b = await evaluate({ ...base, protocols: ['linear'], linear: { epochs: 2 } });
    const lin = b.protocols.linear as { tap: string; top1: number }[];
    assert.equal(lin[0].tap, 'pixels');
    assert.ok(lin[0].top1 > 0.7, `pixel linear probe ${lin[0].top1}`);
    writeEvalResults(b, path);
    const c = await evaluate({ ...base, protocols: ['svm', 'lowshot'], svm: { costs: [1, 0.0625] }, lowshot: { shots: [1, 8], samples: 2, costs: [1] } });
    const svm = c.protocols.svm as { map: number; ap: number[]; chosenCost: number[] };
    assert.equal(svm.ap.length, 10);
    assert.ok(svm.map > 0.75, `pixel SVM mAP ${svm.map}`);
    const low = c.protocols.lowshot as { perShot: { shot: number; mean: number }[] };
    assert.deepEqual(low.perShot.map((x) => x.shot), [1, 8]);
    assert.ok(low.perShot[1].mean > low.perShot[0].mean, 'more shots, higher mAP');
    writeEvalResults(c, path);
    const merged = JSON.parse(readFileSync(path, 'utf8'));
    assert.deepEqual(Object.keys(merged.protocols).sort(), ['cluster', 'knn', 'linear', 'lowshot', 'svm']);
    assert.equal(merged.tables.length, 5);
    // Re-running a protocol replaces its table instead of adding one.
    writeEvalResults(b, path);
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).tables.length, 5);
    assert.match(readFileSync(join(dir, 'eval.md'), 'utf8'), /\| k \| weighted top-1 \| majority top-1 \|/);
  });

  it('a random network: every conv tap and the pooled feature get a linear-probe row', async () => {
    const r = await evaluate({
      baseline: 'random', arch: { width: 8 }, trainSubset: 1000, testSubset: 300, protocols: ['linear', 'knn'],
      linear: { epochs: 3 }, log: () => {},
    });
    const lin = r.protocols.linear as { tap: string; dims: number; top1: number }[];
    assert.deepEqual(lin.map((l) => l.tap), ['conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'pool']);
    for (const l of lin) assert.ok(l.top1 > 0.2, `${l.tap}: top-1 ${l.top1} (chance 0.1)`);
    assert.ok(lin[0].top1 > 0.6, `conv1 (${lin[0].dims} dims): top-1 ${lin[0].top1}`);
    assert.equal(r.tables.length, 2);
  });

  it('names the missing file and the missing labels', async () => {
    await assert.rejects(evaluate({ checkpoint: join(dir, 'nope.safetensors') }), /--checkpoint .*nope\.safetensors: no such file/);
    await assert.rejects(evaluate({ log: () => {} }), /--checkpoint PATH, or --baseline/);
  });
});
