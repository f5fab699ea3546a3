/**
 * Linear SVM, L2-regularised squared hinge loss, trained by dual coordinate descent exactly as
 * liblinear's `solve_l2r_l1l2_svc` (L2-loss case), i.e. what scikit-learn's
 * `LinearSVC(penalty='l2', loss='squared_hinge', dual=True)` runs:
 *
 *   min_w ½‖w‖² + Σ_i C_i max(0, 1 − y_i wᵀx̂_i)²,   x̂_i = [x_i, interceptScaling]
 *
 * solved in the dual with D_ii = 1/(2 C_i) added to Q_ii, no upper bound on α, shrinking, a fresh
 * random permutation of the active set per outer iteration, and the projected-gradient stopping rule
 * max PG − min PG ≤ tol. The intercept is the weight of the constant feature (so it is regularised,
 * as in liblinear). liblinear draws its permutations with its own `rand()`, so the iterates differ
 * from scikit-learn's; the optimum is unique, and both reach it within `tol`.
 * [0]: Hsieh et al., A Dual Coordinate Descent Method for Large-scale Linear SVM, ICML 2008.
 *
 * Features live in an {@link SvmData}: float32 rows padded to a multiple of 8 with the constant
 * feature in the padding, in a shared WebAssembly memory (so worker threads train on the same copy);
 * the inner products run in the SIMD kernels of `svm_kernels.ts`, everything else here.
 */
import { makeRng } from '../data/rng.ts';
import { ConfigError } from '../tensor/errors.ts';
import { type SvmKernels, sharedMemory, svmKernels, type WasmMemory } from './svm_kernels.ts';

/** Dense row-major features: row i occupies data[i*d, (i+1)*d). */
export interface FeatureMatrix {
  readonly data: Float32Array | Float64Array;
  readonly n: number;
  readonly d: number;
}

/** What a worker thread needs to rebuild an {@link SvmData} over the same memory. */
export interface SvmDataParts {
  memory: WasmMemory;
  n: number;
  d: number;
  interceptScaling: number;
  slots: number;
  normsSq: SharedArrayBuffer;
}

/**
 * Features prepared for the solver. Layout of `memory`: n rows of `stride` float32 (x_i, then
 * interceptScaling, then zeros), followed by `slots` weight vectors of `stride` float64 — one
 * scratch w per thread that trains on this data (slot 0: the main thread).
 */
export class SvmData {
  readonly memory: WasmMemory;
  readonly n: number;
  readonly d: number;
  readonly stride: number;
  readonly interceptScaling: number;
  readonly slots: number;
  /** ‖x̂_i‖² = ‖x_i‖² + interceptScaling². */
  readonly normsSq: Float64Array;
  /** The padded rows: [n, stride] float32. */
  readonly rows: Float32Array;

  constructor(p: SvmDataParts) {
    this.memory = p.memory;
    this.n = p.n;
    this.d = p.d;
    this.stride = Math.ceil((p.d + 1) / 8) * 8;
    this.interceptScaling = p.interceptScaling;
    this.slots = p.slots;
    this.normsSq = new Float64Array(p.normsSq);
    this.rows = new Float32Array(p.memory.buffer, 0, p.n * this.stride);
  }

  /**
   * Copies the rows of `x` (or of several matrices, one after the other) in, optionally
   * L2-normalising each row as the reference does (x / (‖x‖ + 1e-5), computed in float64, stored as
   * float32). `slots`: how many threads will train on it (main thread + workers).
   */
  static from(x: FeatureMatrix | FeatureMatrix[], o: { interceptScaling?: number; normalize?: boolean; slots?: number } = {}): SvmData {
    const parts = Array.isArray(x) ? x : [x];
    const d = parts[0]?.d ?? 0;
    let n = 0;
    for (const p of parts) {
      if (p.d !== d) throw new RangeError(`feature matrices have ${d} and ${p.d} columns`);
      if (p.data.length < p.n * d) throw new RangeError(`feature buffer holds ${p.data.length} values, fewer than ${p.n} x ${d}`);
      n += p.n;
    }
    const bias = o.interceptScaling ?? 1;
    if (!(bias >= 0) || !Number.isFinite(bias)) throw new ConfigError(`Expected non-negative interceptScaling but received ${bias}`);
    if (!(n >= 1 && d >= 1)) throw new RangeError(`features [${n}, ${d}] are empty`);
    const slots = Math.max(1, o.slots ?? 1);
    const stride = Math.ceil((d + 1) / 8) * 8;
    const memory = sharedMemory(n * stride * 4 + slots * stride * 8);
    const out = new SvmData({ memory, n, d, interceptScaling: bias, slots, normsSq: new SharedArrayBuffer(n * 8) });
    const rows = out.rows;
    let i = 0;
    for (const { data, n: m } of parts) {
      for (let r = 0; r < m; r++, i++) {
        let ss = 0;
        for (let k = 0; k < d; k++) ss += data[r * d + k] * data[r * d + k];
        const scale = o.normalize ? 1 / (Math.sqrt(ss) + 1e-5) : 1;
        let stored = 0;
        for (let k = 0; k < d; k++) {
          const v = Math.fround(data[r * d + k] * scale);
          rows[i * stride + k] = v;
          stored += v * v;
        }
        rows[i * stride + d] = bias;
        out.normsSq[i] = stored + bias * bias;
      }
    }
    return out;
  }

  parts(): SvmDataParts {
    return { memory: this.memory, n: this.n, d: this.d, interceptScaling: this.interceptScaling, slots: this.slots, normsSq: this.normsSq.buffer as SharedArrayBuffer };
  }

  /** Byte offset of the scratch weight vector of `slot`. */
  slotOffset(slot: number): number {
    if (!(slot >= 0 && slot < this.slots)) throw new RangeError(`slot ${slot} outside [0, ${this.slots})`);
    return this.n * this.stride * 4 + slot * this.stride * 8;
  }
}

export interface LinearSvcOptions {
  /** The cost C (scikit-learn `C`). */
  c: number;
  /** C_i = c·posWeight for positives, c·negWeight for negatives (scikit-learn `class_weight={1: posWeight, -1: negWeight}`); default 1, 1. */
  posWeight?: number;
  negWeight?: number;
  /** Stopping tolerance on max PG − min PG (scikit-learn `tol`, default 1e-4). */
  tol?: number;
  /** Outer iterations at most (scikit-learn `max_iter`, default 2000). */
  maxIter?: number;
  /** Seed of the per-iteration permutations. */
  seed?: number;
  /** Which scratch weight vector of the data this thread uses (default 0). */
  slot?: number;
}

export interface LinearSvcModel {
  /** w: [d] float64. */
  readonly coef: Float64Array;
  /** interceptScaling · w_{d+1} (scikit-learn `intercept_`). */
  readonly intercept: number;
  /** Outer iterations run; `converged` is false when `maxIter` stopped the solver. */
  readonly iterations: number;
  readonly converged: boolean;
}

function checkPositive(v: number, name: string): void {
  if (!(v > 0) || !Number.isFinite(v)) throw new ConfigError(`Expected positive finite number for ${name} but received ${v}`);
}

/**
 * Trains one binary linear SVM.
 * @param x the prepared features
 * @param y label sign per row of `x` (> 0 positive, otherwise negative)
 * @param rows the training rows (default all n), in any order
 */
export function trainLinearSvc(x: SvmData, y: ArrayLike<number>, opts: LinearSvcOptions, rows?: Int32Array): LinearSvcModel {
  const cp = opts.c * (opts.posWeight ?? 1);
  const cn = opts.c * (opts.negWeight ?? 1);
  checkPositive(cp, 'C·posWeight');
  checkPositive(cn, 'C·negWeight');
  const eps = opts.tol ?? 1e-4;
  const maxIter = opts.maxIter ?? 2000;
  if (y.length !== x.n) throw new RangeError(`${y.length} labels for ${x.n} rows`);
  const l = rows ? rows.length : x.n;
  if (l === 0) throw new RangeError('no training rows');
  const kern: SvmKernels = svmKernels(x.memory);
  const n8 = x.stride / 8;
  const rowBytes = x.stride * 4;
  const wOff = x.slotOffset(opts.slot ?? 0);
  const w = new Float64Array(x.memory.buffer, wOff, x.stride);
  w.fill(0);

  // Per-sample state, indexed by the position in `rows`.
  const ys = new Float64Array(l);
  const diag = new Float64Array(l);
  const qd = new Float64Array(l);
  const xOff = new Float64Array(l);
  const alpha = new Float64Array(l);
  const index = new Int32Array(l);
  const dPos = 0.5 / cp;
  const dNeg = 0.5 / cn;
  for (let i = 0; i < l; i++) {
    const r = rows ? rows[i] : i;
    if (!(r >= 0 && r < x.n)) throw new RangeError(`row ${r} outside [0, ${x.n})`);
    const pos = y[r] > 0;
    ys[i] = pos ? 1 : -1;
    diag[i] = pos ? dPos : dNeg;
    qd[i] = diag[i] + x.normsSq[r];
    xOff[i] = r * rowBytes;
    index[i] = i;
  }

  const rng = makeRng(opts.seed ?? 0);
  let active = l;
  // liblinear also keeps PGmin_old, for α at its upper bound C; with the squared hinge the bound is ∞
  let pgMaxOld = Number.POSITIVE_INFINITY;
  let iter = 0;
  let converged = false;
  while (iter < maxIter) {
    let pgMaxNew = Number.NEGATIVE_INFINITY;
    let pgMinNew = Number.POSITIVE_INFINITY;
    for (let i = 0; i < active - 1; i++) {
      const j = rng.int(i, active - 1);
      const t = index[i];
      index[i] = index[j];
      index[j] = t;
    }
    for (let s = 0; s < active; s++) {
      const i = index[s];
      const yi = ys[i];
      const ai = alpha[i];
      // G = y_i wᵀx̂_i − 1 + D_ii α_i
      const g = yi * kern.dot(xOff[i], wOff, n8) - 1 + ai * diag[i];
      let pg = g;
      if (ai === 0) {
        if (g > pgMaxOld) {
          // shrink: α_i stays at its bound 0
          active--;
          index[s] = index[active];
          index[active] = i;
          s--;
          continue;
        }
        if (g > 0) pg = 0;
      }
      if (pg > pgMaxNew) pgMaxNew = pg;
      if (pg < pgMinNew) pgMinNew = pg;
      if (Math.abs(pg) > 1e-12) {
        const an = Math.max(ai - g / qd[i], 0);
        alpha[i] = an;
        kern.axpy(xOff[i], wOff, n8, (an - ai) * yi);
      }
    }
    iter++;
    if (pgMaxNew - pgMinNew <= eps) {
      if (active === l) {
        converged = true;
        break;
      }
      // converged on the active set: check again on all samples
      active = l;
      pgMaxOld = Number.POSITIVE_INFINITY;
      continue;
    }
    pgMaxOld = pgMaxNew <= 0 ? Number.POSITIVE_INFINITY : pgMaxNew;
  }
  return { coef: w.slice(0, x.d), intercept: w[x.d] * x.interceptScaling, iterations: iter, converged };
}

/**
 * wᵀx + b for the given rows (default all): from an {@link SvmData} (SIMD kernels, using scratch
 * `slot`) or from plain features.
 * @returns scores: [rows.length] float64
 */
export function decisionFunction(model: LinearSvcModel, x: SvmData | FeatureMatrix, rows?: Int32Array, slot = 0): Float64Array {
  const d = x.d;
  if (model.coef.length !== d) throw new RangeError(`model has ${model.coef.length} weights for ${d} features`);
  const m = rows ? rows.length : x.n;
  const out = new Float64Array(m);
  if (x instanceof SvmData) {
    const kern = svmKernels(x.memory);
    const wOff = x.slotOffset(slot);
    const w = new Float64Array(x.memory.buffer, wOff, x.stride);
    w.fill(0);
    w.set(model.coef);
    const rowBytes = x.stride * 4;
    for (let i = 0; i < m; i++) out[i] = kern.dot((rows ? rows[i] : i) * rowBytes, wOff, x.stride / 8) + model.intercept;
    return out;
  }
  const { data } = x;
  const w = model.coef;
  for (let i = 0; i < m; i++) {
    const o = (rows ? rows[i] : i) * d;
    let s = 0;
    for (let k = 0; k < d; k++) s += w[k] * data[o + k];
    out[i] = s + model.intercept;
  }
  return out;
}
