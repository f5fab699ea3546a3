/**
 * Clustering quality against ground truth, from the contingency table: NMI (arithmetic-mean
 * normalisation, scikit-learn's default), ARI, ACC (best one-to-one cluster→class mapping by the
 * Hungarian algorithm) and purity; plus cluster-size statistics.
 */
import { munkres } from 'munkres';

type Labels = ArrayLike<number>;

function relabel(a: Labels): { ids: Int32Array; k: number } {
  const map = new Map<number, number>();
  const ids = new Int32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    let v = map.get(a[i]);
    if (v === undefined) {
      v = map.size;
      map.set(a[i], v);
    }
    ids[i] = v;
  }
  return { ids, k: map.size };
}

/** Contingency counts [clusters][classes] and the marginals. */
export function contingency(pred: Labels, truth: Labels): { table: Float64Array[]; rows: Float64Array; cols: Float64Array; n: number } {
  if (pred.length !== truth.length) throw new RangeError(`${pred.length} predictions for ${truth.length} labels`);
  const p = relabel(pred);
  const t = relabel(truth);
  const table = Array.from({ length: p.k }, () => new Float64Array(t.k));
  for (let i = 0; i < pred.length; i++) table[p.ids[i]][t.ids[i]]++;
  const rows = Float64Array.from(table, (r) => r.reduce((a, b) => a + b, 0));
  const cols = new Float64Array(t.k);
  for (const r of table) for (let j = 0; j < t.k; j++) cols[j] += r[j];
  return { table, rows, cols, n: pred.length };
}

const entropy = (m: Float64Array, n: number) => {
  let h = 0;
  for (const v of m) if (v > 0) h -= (v / n) * Math.log(v / n);
  return h;
};

/** Normalised mutual information, MI / mean(H(pred), H(truth)); 1 for identical partitions. */
export function nmi(pred: Labels, truth: Labels): number {
  const { table, rows, cols, n } = contingency(pred, truth);
  let mi = 0;
  table.forEach((r, i) => {
    r.forEach((v, j) => {
      if (v > 0) mi += (v / n) * Math.log((v * n) / (rows[i] * cols[j]));
    });
  });
  const hp = entropy(rows, n);
  const ht = entropy(cols, n);
  if (hp === 0 && ht === 0) return 1;
  const denom = (hp + ht) / 2;
  return denom > 0 ? Math.max(0, mi / denom) : 0;
}

/** Adjusted Rand index (Hubert & Arabie); 1 for identical partitions, ~0 for independent ones. */
export function ari(pred: Labels, truth: Labels): number {
  const { table, rows, cols, n } = contingency(pred, truth);
  const c2 = (x: number) => (x * (x - 1)) / 2;
  let index = 0;
  for (const r of table) for (const v of r) index += c2(v);
  const a = rows.reduce((s, v) => s + c2(v), 0);
  const b = cols.reduce((s, v) => s + c2(v), 0);
  const expected = (a * b) / c2(n);
  const max = (a + b) / 2;
  return max === expected ? 1 : (index - expected) / (max - expected);
}

/** Accuracy under the best one-to-one mapping of clusters to classes (unmapped clusters count as wrong). */
export function clusterAccuracy(pred: Labels, truth: Labels): number {
  const { table, n } = contingency(pred, truth);
  if (table.length === 0) return 0;
  const cols = table[0].length;
  const size = Math.max(table.length, cols);
  let max = 0;
  for (const r of table) for (const v of r) max = Math.max(max, v);
  const cost = Array.from({ length: size }, (_, i) => Array.from({ length: size }, (_, j) => max - (i < table.length && j < cols ? table[i][j] : 0)));
  let hit = 0;
  for (const [i, j] of munkres(cost)) if (i < table.length && j < cols) hit += table[i][j];
  return hit / n;
}

/** Fraction of images whose cluster's majority class is their class. */
export function purity(pred: Labels, truth: Labels): number {
  const { table, n } = contingency(pred, truth);
  return table.reduce((s, r) => s + Math.max(...r), 0) / n;
}

export interface ClusterSizeStats {
  clusters: number;
  empty: number;
  min: number;
  median: number;
  max: number;
  /** 0 for equal sizes, towards 1 when a few clusters hold everything. */
  gini: number;
}

/** Size statistics of a labelling into `k` clusters (labels in [0, k)). */
export function clusterSizes(labels: Labels, k: number): ClusterSizeStats {
  const counts = new Float64Array(k);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  const sorted = Array.from(counts).sort((a, b) => a - b);
  const total = sorted.reduce((a, b) => a + b, 0);
  let cum = 0;
  for (let i = 0; i < k; i++) cum += (i + 1) * sorted[i];
  const gini = total > 0 ? (2 * cum) / (k * total) - (k + 1) / k : 0;
  return { clusters: k, empty: sorted.filter((v) => v === 0).length, min: sorted[0], median: sorted[Math.floor(k / 2)], max: sorted[k - 1], gini };
}
