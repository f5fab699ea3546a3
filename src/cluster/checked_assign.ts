/**
 * Exact nearest-centroid assignment against many centroids on a CPU, at about half the cost of a
 * float32 score matrix.
 *
 * Scores are first computed in bfloat16 (twice the float32 matrix-product rate on CPUs with
 * AVX512-BF16 or AMX) against the centroids shifted by their mean: the shift adds the same x·μ to
 * every score of a row, so no argmax changes, and it shrinks the values and hence their rounding.
 * A per-row bound on the bfloat16 error (input rounding, accumulation, output rounding) keeps every
 * centroid that could still be the best; only those are re-scored in float32, and the best of them
 * wins (ties to the lowest index, as argmax). The answer is the float32 argmax, whatever the
 * bfloat16 kernel rounds; when too many candidates survive (near-identical centroids) the batch
 * falls back to the float32 product.
 */
import { readFileSync } from 'node:fs';
import { cat, fullLike, tensor, zeros } from '../tensor/creation.ts';
import { keep, noGrad, tidy } from '../tensor/scope.ts';
import { aten, type Tensor, wrap } from '../tensor/tensor.ts';

import type { AssignRule } from './odc_memory.ts';

const amaxOp = aten('amax');
const amax = (t: Tensor, dim: number): Tensor => wrap(amaxOp(t, [dim], false)) as Tensor;

/** bfloat16 unit roundoff (8 significant bits, round to nearest). */
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
  #scale = 0; // per unit ‖x‖: the bound on the error of a bfloat16 score
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
        const S = shifted.norm(2, 1).max().item(); // max ‖s_k‖, s_k = C_k − μ
        const muNorm = mu.norm().item();
        // Rounding to bfloat16 moves each element by at most 2^-9 of itself, so for a row x and a
        // shifted centroid s: |x·s − bf(x)·bf(s)| ≤ ‖x‖·S·(2^-9 + (1 + 2^-9)·2^-9); float32
        // accumulation of D products adds ≤ D·2^-23·‖bf(x)‖·‖bf(s)‖, and rounding the output to
        // bfloat16 ≤ U·|bf(x)·bf(s)|. The shift (float32, ≤ 2^-24 of ‖C‖ + ‖μ‖ per element) and the
        // addition of the bias take a generous allowance.
        const r = 1 + 2 ** -9;
        let scale = S * (2 ** -9 + r * 2 ** -9 + r * r * (D * 2 ** -23 + U_BF16 * (1 + D * 2 ** -23))) + 1e-6 * (2 * muNorm + S);
        let bias: Tensor | undefined;
        if (this.rule === 'euclidean') {
          bias = c.square().sum(1).mul(-0.5);
          scale += 1e-6 * (muNorm + S) ** 2;
        } else if (pad > 0) {
          bias = zeros([K]);
        }
        const bf = shifted.to('bfloat16');
        if (bias !== undefined) this.#bias = keep(pad > 0 ? cat([bias, fullLike(zeros([pad]), Number.NEGATIVE_INFINITY)]).unsqueeze(0) : bias.unsqueeze(0));
        this.#shiftedBf16 = keep(pad > 0 ? cat([bf, zeros([pad, D], { dtype: 'bfloat16' })]) : bf);
        this.#scale = scale * 1.01;
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
        // Twice the bound: the true best may sit one bound under its estimate, another one over.
        const window = xf.norm(2, 1).mul(2 * this.#scale);
        const product = xf.to('bfloat16').mm(bf.t()); // [B, Kp] bfloat16
        const approx = this.#bias === undefined ? product.float() : this.#bias.add(product);
        // Block j holds the centroids j, j + nb, j + 2·nb, ...: the block maxima reduce over a
        // middle dimension, which vectorises along the contiguous one.
        const blocks = approx.view(B, BLOCK, nb);
        const blockMax = amax(blocks, 1); // [B, nb]
        const threshold = amax(blockMax, 1).sub(window); // [B]
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
        return pickBest(rows.toArray(), cols.toArray(), exact.data<Float32Array>(), B);
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

/** Per row the candidate with the highest exact score; the lowest index among equals. */
function pickBest(rows: number[], cols: number[], score: Float32Array, B: number): Tensor {
  const bestCol = new BigInt64Array(B).fill(-1n);
  const bestScore = new Float32Array(B).fill(Number.NEGATIVE_INFINITY);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const col = BigInt(cols[i]);
    if (score[i] > bestScore[r] || bestCol[r] < 0n || (score[i] === bestScore[r] && col < bestCol[r])) {
      bestScore[r] = score[i];
      bestCol[r] = col;
    }
  }
  // Every row keeps at least its own approximate maximum, so no row is left without a candidate.
  return tensor(bestCol);
}
