/**
 * Low-shot linear SVMs (the reference's VOC07 low-shot protocol, OpenSelfSup
 * `tools/prepare_data/create_voc_low_shot_challenge_samples.py` + `benchmarks/svm_tools/*low_shot*`),
 * for single-label datasets: for each shot count k and each of 5 independent samples, per class k
 * positives and (K − 1)·k negatives drawn from the other classes, one SVM per class and cost
 * (no cross-validation), VOC AP on the whole test set, mAP over classes. Per k the reported cost is
 * the one with the best mean test mAP over the samples (the reference selects it on the test set,
 * `aggregate_low_shot_svm_stats.py`), with the mean/min/max/std (population std, numpy's) of the
 * samples' mAP at that cost.
 */
import { makeRng, type Rng } from '../data/rng.ts';
import { ConfigError } from '../tensor/errors.ts';
import { type LabelledFeatures, mixSeed, rowRange, type SvmTask, setUpSvm } from './svm_pool.ts';
import { checkCosts, meanOfFinite, REFERENCE_COSTS, type SvmSolverOptions } from './svm_protocol.ts';

/** The reference's shot counts (`--k_values 1,2,4,8,16,32,64,96`). */
export const LOW_SHOTS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 96];

export interface LowShotOptions extends SvmSolverOptions {
  shots?: readonly number[];
  /** Independent samples per shot count (default 5). */
  samples?: number;
  /**
   * Costs (default {@link REFERENCE_COSTS}, all 19: the fits have at most 96·K rows; measured 2-4 s
   * per (sample, shot) for 10 classes x 19 costs on 60,000/10,000 x 512 features, 2 threads, so
   * 2-3 min for the 40 of them).
   */
  costs?: readonly number[];
}

export interface LowShotStats {
  shot: number;
  /** The cost with the best mean mAP over the samples. */
  cost: number;
  mean: number;
  min: number;
  max: number;
  std: number;
}

export interface LowShotResult {
  classes: number[];
  shots: number[];
  costs: number[];
  /** Test mAP [sample][shot][cost]. */
  map: number[][][];
  perShot: LowShotStats[];
  /** Mean over all shots and samples, at each shot's chosen cost. */
  average: number;
  fits: number;
  notConverged: number;
  threads: number;
  seconds: number;
}

/** `m` distinct elements of `pool` (Floyd's algorithm), ascending. */
export function sampleWithoutReplacement(pool: Int32Array, m: number, rng: Rng): Int32Array {
  if (m > pool.length) throw new RangeError(`cannot draw ${m} of ${pool.length} without replacement`);
  const picked = new Set<number>();
  for (let j = pool.length - m; j < pool.length; j++) {
    const t = rng.int(0, j);
    picked.add(picked.has(t) ? j : t);
  }
  return Int32Array.from(picked, (i) => pool[i]).sort();
}

/**
 * One low-shot sample: per class, `shot` rows of the class and (classes − 1)·shot rows of other
 * classes (the class's training rows, ascending).
 * @param labels class per training row
 */
export function lowShotSample(labels: ArrayLike<number>, classes: readonly number[], shot: number, rng: Rng): Int32Array[] {
  return classes.map((cls) => {
    const pos: number[] = [];
    const neg: number[] = [];
    for (let i = 0; i < labels.length; i++) (labels[i] === cls ? pos : neg).push(i);
    const nNeg = (classes.length - 1) * shot;
    if (shot > pos.length || nNeg > neg.length) {
      throw new ConfigError(`low-shot k=${shot} needs ${shot} rows of class ${cls} and ${nNeg} of the others; the training set has ${pos.length} and ${neg.length}`);
    }
    const rows = new Int32Array(shot + nNeg);
    rows.set(sampleWithoutReplacement(Int32Array.from(pos), shot, rng));
    rows.set(sampleWithoutReplacement(Int32Array.from(neg), nNeg, rng), shot);
    return rows.sort();
  });
}

function stats(xs: number[]): { mean: number; min: number; max: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { mean, min: Math.min(...xs), max: Math.max(...xs), std };
}

/** Runs the low-shot protocol on the training set (sampled) and the whole test set. */
export async function lowShotSvm(train: LabelledFeatures, test: LabelledFeatures, o: LowShotOptions = {}): Promise<LowShotResult> {
  const t0 = performance.now();
  const costs = checkCosts(o.costs ?? REFERENCE_COSTS);
  const shots = [...(o.shots ?? LOW_SHOTS)];
  for (const k of shots) if (!(Number.isInteger(k) && k >= 1)) throw new ConfigError(`Expected positive integer shot counts but received ${k}`);
  const nSamples = o.samples ?? 5;
  if (!(Number.isInteger(nSamples) && nSamples >= 1)) throw new ConfigError(`Expected positive integer for samples but received ${nSamples}`);
  const solver = { posWeight: o.posWeight ?? 2, negWeight: o.negWeight ?? 1, tol: o.tol ?? 1e-4, maxIter: o.maxIter ?? 2000 };
  const seed = o.seed ?? 0;
  const { pool, nTrain, nTest, classes, labels } = setUpSvm(train, test, o);
  try {
    const evalRows = rowRange(nTrain, nTrain + nTest);
    // apPer[sample][shot][cost][class]
    const apPer = Array.from({ length: nSamples }, () => shots.map(() => costs.map(() => new Array<number>(classes.length).fill(0))));
    const jobs: { s: number; si: number; ki: number; ci: number; task: SvmTask }[] = [];
    for (let s = 0; s < nSamples; s++) {
      for (let si = 0; si < shots.length; si++) {
        const rows = lowShotSample(labels.subarray(0, nTrain), classes, shots[si], makeRng(seed, s, shots[si]));
        for (let ci = 0; ci < classes.length; ci++) {
          for (let ki = 0; ki < costs.length; ki++) {
            const task: SvmTask = { positive: classes[ci], trainRows: rows[ci], evalRows, c: costs[ki], ...solver, seed: mixSeed(seed, s, shots[si], ci, ki), scoring: 'voc' };
            jobs.push({ s, si, ki, ci, task });
          }
        }
      }
    }
    jobs.sort((a, b) => b.task.c * b.task.trainRows.length - a.task.c * a.task.trainRows.length);
    let done = 0;
    let notConverged = 0;
    await Promise.all(jobs.map(async (j) => {
      const r = await pool.run(j.task);
      if (!r.converged) notConverged++;
      apPer[j.s][j.si][j.ki][j.ci] = r.ap;
      o.onProgress?.(++done, jobs.length);
    }));
    const map = apPer.map((bySample) => bySample.map((byShot) => byShot.map(meanOfFinite)));
    const perShot = shots.map((shot, si) => {
      const meanByCost = costs.map((_, ki) => map.reduce((a, m) => a + m[si][ki], 0) / nSamples);
      const best = meanByCost.indexOf(Math.max(...meanByCost));
      return { shot, cost: costs[best], ...stats(map.map((m) => m[si][best])) };
    });
    return {
      classes, shots, costs, map, perShot, average: perShot.reduce((a, p) => a + p.mean, 0) / shots.length,
      fits: jobs.length, notConverged, threads: pool.threads, seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await pool.close();
  }
}
