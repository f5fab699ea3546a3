/** Linear SVM evaluation: the solver and the protocol against scikit-learn (scripts/gen_svm_fixture.py). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { makeRng } from '../src/data/rng.ts';
import { averagePrecisionScore, vocAveragePrecision } from '../src/eval/average_precision.ts';
import { decisionFunction, SvmData, trainLinearSvc } from '../src/eval/linear_svm.ts';
import { lowShotSample, lowShotSvm } from '../src/eval/lowshot.ts';
import { foldRows, stratifiedKFold } from '../src/eval/stratified_kfold.ts';
import type { LabelledFeatures } from '../src/eval/svm_pool.ts';
import { DEFAULT_COSTS, REFERENCE_COSTS, svmProtocol } from '../src/eval/svm_protocol.ts';
import { ConfigError } from '../src/tensor/errors.ts';

interface Fixture {
  sklearn: string;
  n_train: number;
  n_test: number;
  d: number;
  tol: number;
  max_iter: number;
  costs: number[];
  x_train: string;
  x_test: string;
  y_train: number[];
  y_test: number[];
  fits: { cls: number; C: number; intercept: number; decision: number[]; ap_voc: number; ap_sklearn: number }[];
  folds: Record<string, number[]>;
  cv_ap: number[][];
  chosen_cost: number[];
  test_ap: number[];
  map: number;
  ap_cases: { scores: number[]; labels: number[]; voc: number; sklearn: number }[];
}

const fx = JSON.parse(readFileSync(new URL('./fixtures/svm_fixture.json', import.meta.url), 'utf8')) as Fixture;
const f32 = (b64: string): Float32Array => new Float32Array(new Uint8Array(Buffer.from(b64, 'base64')).buffer);
const train: LabelledFeatures = { data: f32(fx.x_train), n: fx.n_train, d: fx.d, labels: fx.y_train };
const test: LabelledFeatures = { data: f32(fx.x_test), n: fx.n_test, d: fx.d, labels: fx.y_test };
const tight = { tol: fx.tol, maxIter: fx.max_iter };

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('linear SVM (liblinear dual coordinate descent)', () => {
  const xTrain = SvmData.from(train, { normalize: true });
  const xTest = SvmData.from(test, { normalize: true });

  it(`reproduces scikit-learn ${fx.sklearn} LinearSVC decision values and APs within 1e-3`, () => {
    for (const f of fx.fits) {
      const y = fx.y_train.map((l) => (l === f.cls ? 1 : -1));
      const model = trainLinearSvc(xTrain, y, { c: f.C, posWeight: 2, negWeight: 1, ...tight });
      assert.ok(model.converged, `class ${f.cls} C=${f.C} did not converge`);
      const scores = decisionFunction(model, xTest);
      const at = `class ${f.cls} C=${f.C}`;
      assert.ok(maxAbsDiff(scores, f.decision) < 1e-3, `${at}: decision values differ by ${maxAbsDiff(scores, f.decision)}`);
      assert.ok(Math.abs(model.intercept - f.intercept) < 1e-3, `${at}: intercept ${model.intercept} vs ${f.intercept}`);
      const truth = fx.y_test.map((l) => (l === f.cls ? 1 : 0));
      assert.ok(Math.abs(vocAveragePrecision(scores, truth) - f.ap_voc) < 1e-3, `${at}: VOC AP`);
      assert.ok(Math.abs(averagePrecisionScore(scores, truth) - f.ap_sklearn) < 1e-3, `${at}: sklearn AP`);
    }
  });

  it('is deterministic given a seed; the kernel path equals plain features', () => {
    const y = fx.y_train.map((l) => (l === 3 ? 1 : -1));
    const a = trainLinearSvc(xTrain, y, { c: 1, seed: 5 });
    const b = trainLinearSvc(xTrain, y, { c: 1, seed: 5 });
    assert.deepEqual(a.coef, b.coef);
    assert.equal(a.iterations, b.iterations);
    const plain = { data: xTest.rows.filter((_, i) => i % xTest.stride < xTest.d), n: xTest.n, d: xTest.d };
    assert.ok(maxAbsDiff(decisionFunction(a, xTest), decisionFunction(a, plain)) < 1e-9);
  });

  it('trains on a subset of rows and fits a separable problem perfectly', () => {
    const rng = makeRng(7);
    const n = 200;
    const d = 13;
    const data = new Float32Array(n * d);
    const y = new Int8Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 2 ? 1 : -1;
      for (let k = 0; k < d; k++) data[i * d + k] = rng.next() + (k === 0 ? 2 * y[i] : 0);
    }
    const x = SvmData.from({ data, n, d });
    const rows = Int32Array.from({ length: 100 }, (_, i) => 2 * i + (i % 3 === 0 ? 1 : 0));
    const model = trainLinearSvc(x, y, { c: 1 }, rows);
    assert.ok(model.converged);
    const scores = decisionFunction(model, x);
    assert.equal(vocAveragePrecision(scores, y), 1);
    assert.equal(averagePrecisionScore(scores, y), 1);
    for (let i = 0; i < n; i++) assert.equal(Math.sign(scores[i]), y[i]);
  });

  it('rejects invalid costs and rows', () => {
    const y = fx.y_train.map((l) => (l === 0 ? 1 : -1));
    assert.throws(() => trainLinearSvc(xTrain, y, { c: 0 }), ConfigError);
    assert.throws(() => trainLinearSvc(xTrain, y, { c: 1 }, Int32Array.of(0, fx.n_train)), RangeError);
  });
});

describe('average precision', () => {
  it('matches hand-computed values', () => {
    // ranks: + − + −: P = 1, 1/2, 2/3, 1/2; R = 1/2, 1/2, 1, 1
    assert.ok(Math.abs(vocAveragePrecision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) - 5 / 6) < 1e-12);
    assert.ok(Math.abs(averagePrecisionScore([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) - 5 / 6) < 1e-12);
    // ranks: − + +: VOC interpolates precision 1/2 up to 2/3, scikit-learn does not
    assert.ok(Math.abs(vocAveragePrecision([3, 2, 1], [0, 1, 1]) - 2 / 3) < 1e-12);
    assert.ok(Math.abs(averagePrecisionScore([3, 2, 1], [0, 1, 1]) - (0.5 * 0.5 + 0.5 * (2 / 3))) < 1e-12);
    assert.ok(Number.isNaN(vocAveragePrecision([1, 2], [0, 0])));
    assert.equal(averagePrecisionScore([1, 2], [false, false]), 0);
  });

  it('matches the reference and scikit-learn on tied scores', () => {
    for (const c of fx.ap_cases) {
      assert.ok(Math.abs(vocAveragePrecision(c.scores, c.labels) - c.voc) < 1e-12, `VOC ${JSON.stringify(c)}`);
      assert.ok(Math.abs(averagePrecisionScore(c.scores, c.labels) - c.sklearn) < 1e-12, `sklearn ${JSON.stringify(c)}`);
    }
  });
});

describe('SVM protocol', () => {
  it('assigns folds exactly as StratifiedKFold(3)', () => {
    for (const [cls, want] of Object.entries(fx.folds)) {
      const y = fx.y_train.map((l) => (l === Number(cls) ? 1 : -1));
      assert.deepEqual(Array.from(stratifiedKFold(y, 3)), want, `class ${cls}`);
    }
    // 7 samples of a, 2 of b: round-robin counts a 3/2/2, b 0/1/1 (scikit-learn's allocation)
    assert.deepEqual(Array.from(stratifiedKFold([0, 0, 1, 0, 0, 1, 0, 0, 0], 3)), [0, 0, 1, 0, 1, 2, 1, 2, 2]);
    const { train: tr, test: te } = foldRows(Int32Array.of(0, 1, 0, 2), 0);
    assert.deepEqual([Array.from(tr), Array.from(te)], [[1, 3], [0, 2]]);
    assert.throws(() => stratifiedKFold([0, 1], 3), RangeError);
  });

  it('has the reference cost list (the default drops 10 and 100)', () => {
    assert.equal(REFERENCE_COSTS.length, 19);
    assert.deepEqual(REFERENCE_COSTS.slice(0, 4), [1, 10, 100, 0.0625]);
    assert.equal(REFERENCE_COSTS[18], 0.5 ** 19);
    assert.deepEqual(DEFAULT_COSTS, REFERENCE_COSTS.filter((c) => c !== 10 && c !== 100));
  });

  it('chooses costs by CV AP and reproduces scikit-learn test APs (inline and on 2 workers)', async () => {
    const progress: number[] = [];
    const inline = await svmProtocol(train, test, { costs: fx.costs, ...tight, threads: 1, onProgress: (d, t) => progress.push(d / t) });
    assert.deepEqual(inline.classes, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(inline.fits, 10 * 4 * 3 + 10);
    assert.equal(progress.length, inline.fits);
    assert.equal(progress.at(-1), 1);
    for (let c = 0; c < 10; c++) assert.ok(maxAbsDiff(inline.cvAp[c], fx.cv_ap[c]) < 1e-3, `CV AP of class ${c}`);
    // Each class's cost is the best of its own CV APs; scikit-learn's choice may differ only where
    // two costs' CV APs are within the 1e-3 the solvers agree to, and then so may the test APs.
    let sameCost = 0;
    for (let c = 0; c < 10; c++) {
      const cv = inline.cvAp[c];
      const best = Math.max(...cv);
      assert.equal(cv[fx.costs.indexOf(inline.chosenCost[c])], best, `class ${c}: the chosen cost has the best CV AP`);
      if (inline.chosenCost[c] === fx.chosen_cost[c]) {
        sameCost++;
        assert.ok(Math.abs(inline.ap[c] - fx.test_ap[c]) < 1e-3, `class ${c}: test AP ${inline.ap[c]} vs ${fx.test_ap[c]}`);
      } else {
        assert.ok(cv[fx.costs.indexOf(fx.chosen_cost[c])] >= best - 2e-3, `class ${c}: scikit-learn's cost is within 2e-3 of the best CV AP`);
      }
    }
    assert.ok(sameCost >= 8, `the same cost as scikit-learn for ${sameCost}/10 classes`);
    if (sameCost === 10) assert.ok(Math.abs(inline.map - fx.map) < 1e-3);
    assert.equal(inline.notConverged, 0);

    const pooled = await svmProtocol(train, test, { costs: fx.costs, ...tight, threads: 2 });
    assert.equal(pooled.threads, 2);
    assert.deepEqual(pooled.cvAp, inline.cvAp);
    assert.deepEqual(pooled.ap, inline.ap);
  });
});

describe('low-shot SVM', () => {
  const classes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

  it('samples k positives and 9k negatives per class, distinct, seeded', () => {
    for (const shot of [1, 2, 3]) {
      const sample = lowShotSample(fx.y_train, classes, shot, makeRng(0, 1, shot));
      assert.equal(sample.length, 10);
      sample.forEach((rows, c) => {
        assert.equal(rows.length, 10 * shot);
        assert.equal(new Set(rows).size, rows.length);
        assert.equal(rows.filter((r) => fx.y_train[r] === c).length, shot);
        for (let i = 1; i < rows.length; i++) assert.ok(rows[i] > rows[i - 1]);
      });
      assert.deepEqual(lowShotSample(fx.y_train, classes, shot, makeRng(0, 1, shot)), sample);
      assert.notDeepEqual(lowShotSample(fx.y_train, classes, shot, makeRng(0, 2, shot)), sample);
    }
    assert.throws(() => lowShotSample(fx.y_train, classes, 1000, makeRng(0)), ConfigError);
  });

  it('reports per shot the cost with the best mean mAP and its spread over samples', async () => {
    const r = await lowShotSvm(train, test, { shots: [1, 4], samples: 3, costs: [0.0625, 1], threads: 1 });
    assert.equal(r.fits, 2 * 3 * 10 * 2);
    assert.equal(r.map.length, 3);
    for (const [si, p] of r.perShot.entries()) {
      const ki = r.costs.indexOf(p.cost);
      const means = r.costs.map((_, k) => r.map.reduce((a, m) => a + m[si][k], 0) / 3);
      assert.equal(Math.max(...means), means[ki]);
      assert.ok(Math.abs(p.mean - means[ki]) < 1e-12);
      assert.ok(p.min <= p.mean && p.mean <= p.max && p.std >= 0);
    }
    assert.ok(Math.abs(r.average - (r.perShot[0].mean + r.perShot[1].mean) / 2) < 1e-12);
    assert.ok(r.perShot[1].mean > r.perShot[0].mean, 'more shots, better mAP');
  });
});
