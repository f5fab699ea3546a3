/**
 * The linear-SVM benchmark of the reference (OpenSelfSup `benchmarks/svm_tools`, VOC07 protocol of
 * Goyal et al. 2019), for single-label datasets: per class a one-vs-rest
 * `LinearSVC(C, class_weight={1: 2, -1: 1}, penalty='l2', loss='squared_hinge', dual=True,
 * tol=1e-4, max_iter=2000, intercept_scaling=1)` on L2-normalised features; per class the cost with
 * the best mean 3-fold cross-validated AP (`cross_val_score(..., cv=3, scoring='average_precision')`
 * = scikit-learn AP over `StratifiedKFold(3)` folds); refit on the whole training set; VOC AP on the
 * test set; mean AP over the classes. Positives are the class, negatives every other class (no
 * "difficult" labels).
 */
import { ConfigError } from '../tensor/errors.ts';
import { foldRows, stratifiedKFold } from './stratified_kfold.ts';
import { type LabelledFeatures, mixSeed, rowRange, type SvmTask, setUpSvm } from './svm_pool.ts';

/** The reference's costs: "1.0,10.0,100.0" plus 0.5^4 … 0.5^19 (`svm_helper.parse_cost_list`). */
export const REFERENCE_COSTS: readonly number[] = [1, 10, 100, ...Array.from({ length: 16 }, (_, i) => 0.5 ** (i + 4))];

/**
 * The default for the full protocol: the reference's list without 10 and 100. Measured on 40,000
 * x 512 Fashion-MNIST features (one CV fold, one class, this 2-core machine under load): C ≤ 0.0625
 * takes 0.8-1.2 s per fit and C = 1 2.5 s, but C = 10 takes 19 s (830 outer iterations) and C = 100
 * 49 s (stops at max_iter 2000, unconverged, in scikit-learn too): with them the 10-class CV takes
 * about 45 min on one thread instead of about 9. Their gain there is small (test AP of one class:
 * 87.3 at C = 1, 87.5 at C = 10). Pass `costs: REFERENCE_COSTS` for the reference's exact grid.
 */
export const DEFAULT_COSTS: readonly number[] = REFERENCE_COSTS.filter((c) => c <= 1);

export interface SvmSolverOptions {
  /** C_i = C·posWeight for positives (default 2), C·negWeight for negatives (default 1). */
  posWeight?: number;
  negWeight?: number;
  /** Solver tolerance (default 1e-4) and outer-iteration cap (default 2000), as the reference. */
  tol?: number;
  maxIter?: number;
  /** Constant feature value (default 1). */
  interceptScaling?: number;
  /** L2-normalise features first (default true). */
  normalize?: boolean;
  /** Worker threads (default: available cores; 1 trains inline). */
  threads?: number;
  seed?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface SvmProtocolOptions extends SvmSolverOptions {
  /** Costs to cross-validate (default {@link DEFAULT_COSTS}). */
  costs?: readonly number[];
  /** Cross-validation folds (default 3). */
  folds?: number;
}

export interface SvmProtocolResult {
  classes: number[];
  costs: number[];
  /** [class][cost] mean cross-validated AP (scikit-learn's AP, as the reference's cost choice). */
  cvAp: number[][];
  /** Per class, the cost with the best mean CV AP (the first on ties, as numpy's argmax). */
  chosenCost: number[];
  /** Per class, VOC AP on the test set of the SVM refitted at the chosen cost (NaN: no test positive). */
  ap: number[];
  /** Mean of the finite per-class APs. */
  map: number;
  fits: number;
  /** Fits stopped by maxIter (scikit-learn would warn ConvergenceWarning). */
  notConverged: number;
  threads: number;
  seconds: number;
}

export function checkCosts(costs: readonly number[]): number[] {
  if (costs.length === 0) throw new ConfigError('Expected at least one SVM cost');
  for (const c of costs) if (!(c > 0 && Number.isFinite(c))) throw new ConfigError(`Expected positive finite SVM costs but received ${c}`);
  return [...costs];
}

export function meanOfFinite(xs: number[]): number {
  const f = xs.filter(Number.isFinite);
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : Number.NaN;
}

/**
 * Runs the full protocol.
 * @param train features [n, d] with class labels [n]
 * @param test features [m, d] with class labels [m]
 */
export async function svmProtocol(train: LabelledFeatures, test: LabelledFeatures, o: SvmProtocolOptions = {}): Promise<SvmProtocolResult> {
  const t0 = performance.now();
  const costs = checkCosts(o.costs ?? DEFAULT_COSTS);
  const k = o.folds ?? 3;
  const solver = { posWeight: o.posWeight ?? 2, negWeight: o.negWeight ?? 1, tol: o.tol ?? 1e-4, maxIter: o.maxIter ?? 2000 };
  const seed = o.seed ?? 0;
  const setup = setUpSvm(train, test, o);
  const { pool, nTrain, nTest, classes, labels } = setup;
  const total = classes.length * costs.length * k + classes.length;
  let done = 0;
  let notConverged = 0;
  const track = <T extends { converged: boolean }>(r: T): T => {
    if (!r.converged) notConverged++;
    o.onProgress?.(++done, total);
    return r;
  };
  try {
    // step 1: per class, cost and fold, train on the other folds and score the held-out fold
    const jobs: { ci: number; ki: number; f: number; task: SvmTask }[] = [];
    for (let ci = 0; ci < classes.length; ci++) {
      const y = Int8Array.from(labels.subarray(0, nTrain), (l) => (l === classes[ci] ? 1 : -1));
      const folds = stratifiedKFold(y, k);
      for (let f = 0; f < k; f++) {
        const { train: trainRows, test: evalRows } = foldRows(folds, f);
        for (let ki = 0; ki < costs.length; ki++) {
          jobs.push({ ci, ki, f, task: { positive: classes[ci], trainRows, evalRows, c: costs[ki], ...solver, seed: mixSeed(seed, ci, ki, f), scoring: 'sklearn' } });
        }
      }
    }
    // the largest costs take longest: start them first so the threads finish together
    jobs.sort((a, b) => b.task.c - a.task.c);
    const foldAp = classes.map(() => costs.map(() => new Array<number>(k).fill(0)));
    await Promise.all(jobs.map(async (j) => {
      foldAp[j.ci][j.ki][j.f] = track(await pool.run(j.task)).ap;
    }));
    const cvAp = foldAp.map((row) => row.map((aps) => aps.reduce((a, b) => a + b, 0) / k));

    // step 2: choose the cost per class; step 3: refit on all training rows and test
    const chosen = cvAp.map((row) => row.indexOf(Math.max(...row)));
    const all = rowRange(0, nTrain);
    const evalRows = rowRange(nTrain, nTrain + nTest);
    const ap = await Promise.all(classes.map(async (cls, ci) => {
      const task: SvmTask = { positive: cls, trainRows: all, evalRows, c: costs[chosen[ci]], ...solver, seed: mixSeed(seed, ci, chosen[ci], k), scoring: 'voc' };
      return track(await pool.run(task)).ap;
    }));
    return {
      classes, costs, cvAp, chosenCost: chosen.map((i) => costs[i]), ap, map: meanOfFinite(ap),
      fits: total, notConverged, threads: pool.threads, seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await pool.close();
  }
}
