/**
 * scikit-learn's `StratifiedKFold(n_splits, shuffle=False)` fold assignment (version 1.2), the
 * splitter `cross_val_score(clf, X, y, cv=k)` uses for a classifier.
 */

/**
 * The test fold of every sample, exactly as `StratifiedKFold._make_test_folds`: classes numbered by
 * first appearance, per-fold class counts by dealing the class-sorted labels round-robin, then each
 * class's samples, in order, given to fold 0, 1, ... in blocks of those counts.
 * @returns [n] int32 fold in [0, k)
 */
export function stratifiedKFold(y: ArrayLike<number>, k: number): Int32Array {
  if (!(Number.isInteger(k) && k >= 2)) throw new RangeError(`Expected an integer number of folds >= 2 but received ${k}`);
  const n = y.length;
  const code = new Map<number, number>();
  const enc = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let c = code.get(y[i]);
    if (c === undefined) {
      c = code.size;
      code.set(y[i], c);
    }
    enc[i] = c;
  }
  const counts = new Int32Array(code.size);
  for (let i = 0; i < n; i++) counts[enc[i]]++;
  if (counts.every((c) => c < k)) throw new RangeError(`n_splits=${k} cannot be greater than the number of members in each class`);
  // allocation[f][c]: positions p of the class-sorted labels with p ≡ f (mod k) holding class c
  const allocation = Array.from({ length: k }, () => new Int32Array(code.size));
  let start = 0;
  for (let c = 0; c < code.size; c++) {
    for (let p = start; p < start + counts[c]; p++) allocation[p % k][c]++;
    start += counts[c];
  }
  const folds = new Int32Array(n);
  const fold = new Int32Array(code.size);
  const left = Int32Array.from({ length: code.size }, (_, c) => allocation[0][c]);
  for (let i = 0; i < n; i++) {
    const c = enc[i];
    while (left[c] === 0) left[c] = allocation[++fold[c]][c];
    folds[i] = fold[c];
    left[c]--;
  }
  return folds;
}

/** The train and test rows of fold `f` (ascending), as `StratifiedKFold.split` yields them. */
export function foldRows(folds: Int32Array, f: number, rows?: Int32Array): { train: Int32Array; test: Int32Array } {
  let nTest = 0;
  for (let i = 0; i < folds.length; i++) if (folds[i] === f) nTest++;
  const train = new Int32Array(folds.length - nTest);
  const test = new Int32Array(nTest);
  let a = 0;
  let b = 0;
  for (let i = 0; i < folds.length; i++) {
    const r = rows ? rows[i] : i;
    if (folds[i] === f) test[b++] = r;
    else train[a++] = r;
  }
  return { train, test };
}
