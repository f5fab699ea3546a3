/**
 * Exact nearest-centroid assignment against many centroids on a CPU, at about half the cost of a
 * float32 score matrix.
 *
 * Scores are first computed in bfloat16 (twice the float32 matrix-product rate on CPUs with
 * AVX512-BF16 or AMX) against the centroids shifted by their mean: the shift adds the same x·μ to
 * every score of a row, so no argmax changes, and it shrinks the values and hence their rounding.
 * A per-row bound on the bfloat16 error (input rounding, accumulation, output rounding) keeps every
 * centroid that could still be the best; only those are re-scored in float32, and the best of them
 * wins (ties to the lowest index, as argmax). The answer is the argmax of float32 scores,
 * whatever the bfloat16 kernel rounds; when too many candidates survive (near-identical
 * centroids) the batch falls back to the float32 product.
 */
import { readFileSync } from 'node:fs';
import { cat, fullLike, tensor, zeros } from '../tensor/creation.ts';
import { keep, noGrad, tidy } from '../tensor/scope.ts';
import { aten, type Tensor, wrap } from '../tensor/tensor.ts';

import type { AssignRule } from './odc_memory.ts';

const amaxOp = aten('amax');
const amax = (t: Tensor, dim: number): Tensor => wrap(amaxOp(t, [dim], false)) as Tensor;

/** bfloat16 unit roundoff: 8 significant bits, round to nearest, relative error ≤ 2^-8. */
const U_BF16 = 2 ** -8;
/** Scores are screened in blocks of this many centroids: one pass over the score matrix finds each block's maximum. */
const BLOCK = 16;
/** Candidates per row beyond which the float32 product is cheaper than re-scoring. */
const MAX_CANDIDATES_PER_ROW = 48;

/** Whether this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX); Linux only. */
export function cpuHasBf16(): boolean {
  try {
    const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
    return /\b(avx512_bf16|amx_bf16)\b/.test(flags);
  } catch {
    return false;
  }
}

/** The float32 reference: scores against every centroid, argmax per row. */
export function nearestFloat32(x: Tensor, centroids: Tensor, rule: AssignRule): Tensor {
  return tidy(() => {
    const scores = x.mm(centroids.t());
    if (rule === 'dot') return scores.argmax(1);
    return scores.sub(centroids.square().sum(1).mul(0.5).unsqueeze(0)).argmax(1);
  });
}

export interface CheckedAssignStats {
  /** Batches scored by bfloat16 + re-check, and by the float32 fall-back. */
  checked: number;
  fallback: number;
  /** Mean number of re-scored candidates per row over the checked batches. */
  meanCandidates: number;
}

/**
 * Holds the bfloat16 copy of a set of centroids (rebuilt by `setCentroids` whenever they change)
 * and assigns batches of float32 rows to their exact best centroid.
 */
export class CheckedAssigner {
  #c: Tensor | undefined; // [K, D] float32 centroids: the caller's tensor when it is contiguous float32 (call setCentroids again after changing it)
  #ownsC = false;
  #shiftedBf16: Tensor | undefined; // [Kp, D] bfloat16 of (C − μ), zero rows padding K to a whole number of blocks
  #bias: Tensor | undefined; // [1, Kp] float32: −‖C_k‖²/2 (euclidean) or 0 (dot), −∞ on the padding; none for dot without padding
  #shiftedNorm = 0; // S = max ‖s_k‖, s_k = C_k − μ
  #shiftedRound = 0; // max ‖s_k − bf(s_k)‖
  #shiftedBf16Norm = 0; // max ‖bf(s_k)‖
  #slack = 0; // per unit ‖x‖: float32 rounding of the shift and of adding the bias
  #checked = 0;
  #fallback = 0;
  #candidates = 0;
  #rows = 0;

  constructor(readonly rule: AssignRule) {}

  /** Prepares the shifted bfloat16 form of the centroids [K, D] float32, and keeps a reference to them. */
  setCentroids(centroids: Tensor): void {
    this.#release();
    noGrad(() =>
      tidy(() => {
        const c = centroids.float().contiguous();
        this.#ownsC = c !== centroids;
        if (this.#ownsC) keep(c);
        const [K, D] = c.shape;
        const pad = (BLOCK - (K % BLOCK)) % BLOCK;
        const mu = c.mean(0, true);
        const shifted = c.sub(mu);
        const bf = shifted.to('bfloat16');
        const bfWide = bf.float();
        this.#shiftedNorm = shifted.norm(2, 1).max().item();
        this.#shiftedRound = shifted.sub(bfWide).norm(2, 1).max().item();
        this.#shiftedBf16Norm = bfWide.norm(2, 1).max().item();
        // The shift is rounded to float32 (≤ 2^-24 of ‖C‖ + ‖μ‖ per element) and the bias is added
        // to float32 estimates: a generous allowance for both.
        const muNorm = mu.norm().item();
        let slack = 1e-6 * (2 * muNorm + this.#shiftedNorm);
        let bias: Tensor | undefined;
        if (this.rule === 'euclidean') {
          bias = c.square().sum(1).mul(-0.5);
          slack += 1e-6 * (muNorm + this.#shiftedNorm) ** 2;
        } else if (pad > 0) {
          bias = zeros([K]);
        }
        this.#slack = slack;
        if (bias !== undefined) this.#bias = keep(pad > 0 ? cat([bias, fullLike(zeros([pad]), Number.NEGATIVE_INFINITY)]).unsqueeze(0) : bias.unsqueeze(0));
        this.#shiftedBf16 = keep(pad > 0 ? cat([bf, zeros([pad, D], { dtype: 'bfloat16' })]) : bf);
        this.#c = c;
      }),
    );
  }

  /** Exact best centroid [B] int64 for rows x [B, D] float32. */
  nearest(x: Tensor): Tensor {
    const c = this.#c;
    const bf = this.#shiftedBf16;
    if (c === undefined || bf === undefined) throw new Error('CheckedAssigner.nearest: setCentroids was not called');
    return noGrad(() =>
      tidy(() => {
        const xf = x.float().contiguous();
        const B = xf.size(0);
        const nb = bf.size(0) / BLOCK;
        const D = xf.size(1);
        const xb = xf.to('bfloat16');
        const xbWide = xb.float();
        const xbNorm = xbWide.norm(2, 1);
        // Error of an estimate bf(x)·bf(s) against x·s: operand rounding ≤ ‖x − bf(x)‖·‖s‖ +
        // ‖bf(x)‖·‖s − bf(s)‖, float32 accumulation of D products ≤ D·2^-23·‖bf(x)‖·‖bf(s)‖, plus
        // the bfloat16 output's rounding, ≤ U/(1 − U) of the estimate's magnitude.
        const operands = xf
          .sub(xbWide)
          .norm(2, 1)
          .mul(this.#shiftedNorm)
          .add(xbNorm.mul(this.#shiftedRound + D * 2 ** -23 * this.#shiftedBf16Norm))
          .add(xf.norm(2, 1).mul(this.#slack));
        const product = xb.mm(bf.t()); // [B, Kp] bfloat16
        const approx = this.#bias === undefined ? product.float() : this.#bias.add(product);
        // Block j holds the centroids j, j + nb, j + 2·nb, ...: the block maxima reduce over a
        // middle dimension, which vectorises along the contiguous one.
        const blocks = approx.view(B, BLOCK, nb);
        const blockMax = amax(blocks, 1); // [B, nb]
        const best = amax(blockMax, 1); // [B]: the best estimate m
        // The true best may sit one error under its estimate while the best estimate sits one error
        // over its true score: keep every estimate within W = e(true best) + e(best estimate).
        // Both estimates lie in [m − W, m]; for the dot rule they are the products themselves, so
        // their output rounding is ≤ U'·(|m| + W): W = 2·(operands + U'·|m|) / (1 − 2·U'). With the
        // euclidean bias the product is bounded by ‖bf(x)‖·max ‖bf(s)‖ instead.
        const u = (U_BF16 / (1 - U_BF16)) * 1.01;
        const window =
          this.rule === 'dot'
            ? operands.add(best.abs().mul(u)).mul(2 / (1 - 2 * u))
            : operands.add(xbNorm.mul(u * this.#shiftedBf16Norm * (1 + D * 2 ** -23))).mul(2);
        const threshold = best.sub(window.mul(1.01));
        const candBlocks = blockMax.ge(threshold.unsqueeze(1)).nonzero(); // [Pb, 2]: row, block
        const rowOfBlock = candBlocks.select(1, 0);
        const blockIx = candBlocks.select(1, 1);
        const inBlock = blocks
          .index([rowOfBlock, undefined, blockIx]) // [Pb, BLOCK]
          .ge(threshold.indexSelect(0, rowOfBlock).unsqueeze(1))
          .nonzero(); // [P, 2]: candidate block, position in it
        const P = inBlock.size(0);
        if (P > MAX_CANDIDATES_PER_ROW * B) {
          this.#fallback++;
          return nearestFloat32(xf, c, this.rule);
        }
        this.#checked++;
        this.#candidates += P;
        this.#rows += B;
        const which = inBlock.select(1, 0);
        const rows = rowOfBlock.indexSelect(0, which);
        const cols = inBlock.select(1, 1).mul(nb).add(blockIx.indexSelect(0, which));
        let exact = xf.indexSelect(0, rows).mul(c.indexSelect(0, cols)).sum(1);
        if (this.rule === 'euclidean' && this.#bias !== undefined) exact = exact.add(this.#bias.squeeze(0).indexSelect(0, cols));
        return bestPerRow(rows, cols, exact, B);
      }),
    );
  }

  stats(): CheckedAssignStats {
    return { checked: this.#checked, fallback: this.#fallback, meanCandidates: this.#rows ? this.#candidates / this.#rows : 0 };
  }

  #release(): void {
    for (const t of [this.#shiftedBf16, this.#bias, this.#ownsC ? this.#c : undefined]) t?.dispose();
    this.#c = this.#shiftedBf16 = this.#bias = undefined;
  }

  dispose(): void {
    this.#release();
  }
}

/**
 * Per row the candidate with the highest exact score, the lowest centroid index among equals (as
 * argmax). Every row has at least one candidate: its own best estimate.
 */
function bestPerRow(rows: Tensor, cols: Tensor, score: Tensor, B: number): Tensor {
  const r = rows.int().data<Int32Array>();
  const k = cols.int().data<Int32Array>();
  const e = score.data<Float32Array>();
  const bestCol = new Int32Array(B).fill(-1);
  const bestScore = new Float32Array(B);
  for (let i = 0; i < r.length; i++) {
    const row = r[i];
    const b = bestCol[row];
    if (b < 0 || e[i] > bestScore[row] || (e[i] === bestScore[row] && k[i] < b)) {
      bestScore[row] = e[i];
      bestCol[row] = k[i];
    }
  }
  return tidy(() => tensor(bestCol).long());
}
