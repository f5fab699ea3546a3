/**
 * Average precision of scores against binary labels, in the two forms the reference SVM benchmark
 * uses (OpenSelfSup `benchmarks/svm_tools`), which differ:
 *
 * - {@link vocAveragePrecision}: `svm_helper.get_precision_recall` + `calculate_ap`, the VOC
 *   "all points" AP: precision made monotone (running max from the right), AP = Σ Δrecall × precision.
 *   The reference reports test AP this way (`test_svm.py`, `test_svm_low_shot.py`).
 * - {@link averagePrecisionScore}: scikit-learn's `average_precision_score`, the step integral
 *   Σ (R_t − R_{t−1}) P_t over distinct thresholds, without interpolation, so it is ≤ the VOC AP.
 *   The reference chooses costs with it (`cross_val_score(..., scoring='average_precision')`).
 */

type Labels = ArrayLike<number> | ArrayLike<boolean>;

/** Row indices by descending score; ties put the later row first, as numpy's `argsort(s)[::-1]` with a stable sort. */
function descendingOrder(scores: ArrayLike<number>): Int32Array {
  const order = new Int32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => scores[b] - scores[a] || b - a);
  return order;
}

function check(scores: ArrayLike<number>, positive: Labels): void {
  if (scores.length !== positive.length) throw new RangeError(`${scores.length} scores for ${positive.length} labels`);
  for (let i = 0; i < scores.length; i++) if (Number.isNaN(scores[i])) throw new RangeError(`score ${i} is NaN`);
}

/**
 * VOC all-points AP (reference test AP). NaN when there is no positive (as the reference's 0/0).
 * Tied scores are ranked later-row-first (numpy's order for small arrays; for large ones numpy's
 * unstable quicksort leaves it unspecified).
 * @param scores [n] decision values
 * @param positive [n] true / > 0 for the positives
 */
export function vocAveragePrecision(scores: ArrayLike<number>, positive: Labels): number {
  check(scores, positive);
  const n = scores.length;
  let numPos = 0;
  for (let i = 0; i < n; i++) if (Number(positive[i]) > 0) numPos++;
  if (numPos === 0) return Number.NaN;
  const order = descendingOrder(scores);
  // mrec = [0, R_1..R_n, 1], mpre = [0, P_1..P_n, 0]
  const mrec = new Float64Array(n + 2);
  const mpre = new Float64Array(n + 2);
  let tp = 0;
  for (let i = 0; i < n; i++) {
    if (Number(positive[order[i]]) > 0) tp++;
    mrec[i + 1] = tp / numPos;
    mpre[i + 1] = tp / (i + 1);
  }
  mrec[n + 1] = 1;
  for (let i = n; i >= 0; i--) if (mpre[i + 1] > mpre[i]) mpre[i] = mpre[i + 1];
  let ap = 0;
  for (let i = 1; i < n + 2; i++) if (mrec[i] !== mrec[i - 1]) ap += (mrec[i] - mrec[i - 1]) * mpre[i];
  return ap;
}

/**
 * scikit-learn's `average_precision_score` (version 1.2): tied scores form one threshold. 0 when
 * there is no positive (scikit-learn warns and returns 0).
 * @param scores [n] decision values
 * @param positive [n] true / > 0 for the positives
 */
export function averagePrecisionScore(scores: ArrayLike<number>, positive: Labels): number {
  check(scores, positive);
  const n = scores.length;
  let numPos = 0;
  for (let i = 0; i < n; i++) if (Number(positive[i]) > 0) numPos++;
  if (numPos === 0) return 0;
  const order = descendingOrder(scores);
  let tp = 0;
  let prevRecall = 0;
  let ap = 0;
  for (let i = 0; i < n; i++) {
    if (Number(positive[order[i]]) > 0) tp++;
    if (i + 1 < n && scores[order[i + 1]] === scores[order[i]]) continue;
    const recall = tp / numPos;
    ap += (recall - prevRecall) * (tp / (i + 1));
    prevRecall = recall;
  }
  return ap;
}
