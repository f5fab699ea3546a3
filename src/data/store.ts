/**
 * In-memory image store: uint8 pixels [N, C, H, W] with optional integer labels. The sample index
 * (the row in this store) travels with every image, because the ODC memories are indexed by it.
 */
import { ConfigError } from '../tensor/errors.ts';
import { makeRng, type Rng, shuffleInPlace } from './rng.ts';

export interface ImageStore {
  /** Pixels, sample-major: image i occupies [i*C*H*W, (i+1)*C*H*W). */
  readonly pixels: Uint8Array;
  readonly n: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** Ground-truth class per image when the source has labels (never used for training). */
  readonly labels?: Int32Array;
  readonly classNames?: readonly string[];
  /** Where each image came from (file paths for folders; `source#i` otherwise). */
  readonly source: string;
  readonly paths?: readonly string[];
}

export function imageSize(s: ImageStore): number {
  return s.channels * s.height * s.width;
}

/** The store restricted to the given rows (copied, in that order). */
export function selectRows(s: ImageStore, rows: ArrayLike<number>, source = s.source): ImageStore {
  const size = imageSize(s);
  const pixels = new Uint8Array(rows.length * size);
  const labels = s.labels ? new Int32Array(rows.length) : undefined;
  const paths = s.paths ? new Array<string>(rows.length) : undefined;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    pixels.set(s.pixels.subarray(r * size, (r + 1) * size), i * size);
    if (labels && s.labels) labels[i] = s.labels[r];
    if (paths && s.paths) paths[i] = s.paths[r];
  }
  return { ...s, pixels, n: rows.length, labels, paths, source };
}

/** The rows of a seeded random subset of `size` of n images (sorted by index, so order stays stable). */
export function subsetRows(n: number, size: number, seed: number): Int32Array {
  if (!Number.isInteger(size) || size < 1) throw new ConfigError(`Expected positive integer for subset size but received ${size}`);
  const all = Int32Array.from({ length: n }, (_, i) => i);
  shuffleInPlace(all, makeRng(seed));
  return all.subarray(0, Math.min(size, n)).sort();
}

/** A seeded random subset of `size` images (sorted by original index, so order stays stable). */
export function randomSubset(s: ImageStore, size: number, seed: number): ImageStore {
  const rows = subsetRows(s.n, size, seed);
  if (size >= s.n) return s;
  return selectRows(s, rows, `${s.source} (random subset of ${size}, seed ${seed})`);
}

/**
 * The rows of a long-tailed subsample (the paper's Figure 6): class sizes decay geometrically from
 * the largest to the smallest so that largest/smallest = `ratio` (1..64). Needs labels.
 */
export function longTailRows(s: Pick<ImageStore, 'n' | 'labels' | 'classNames' | 'source'>, ratio: number, seed: number): number[] {
  if (!s.labels || !s.classNames) throw new ConfigError(`long-tail subsampling needs labelled data; ${s.source} has no labels`);
  if (!(ratio >= 1 && ratio <= 64)) throw new ConfigError(`Expected long-tail ratio in [1, 64] but received ${ratio}`);
  const k = s.classNames.length;
  const byClass: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < s.n; i++) byClass[s.labels[i]].push(i);
  const largest = Math.min(...byClass.map((c) => c.length));
  const rng: Rng = makeRng(seed);
  const order = Int32Array.from({ length: k }, (_, i) => i);
  shuffleInPlace(order, rng); // which class gets which size is random
  const rows: number[] = [];
  for (let r = 0; r < k; r++) {
    const c = order[r];
    const keep = Math.max(1, Math.round(largest * ratio ** (-r / Math.max(1, k - 1))));
    const members = Int32Array.from(byClass[c]);
    shuffleInPlace(members, rng);
    rows.push(...members.subarray(0, keep));
  }
  return rows.sort((a, b) => a - b);
}

/** A long-tailed subsample of a labelled store (longTailRows). */
export function longTail(s: ImageStore, ratio: number, seed: number): ImageStore {
  return selectRows(s, longTailRows(s, ratio, seed), `${s.source} (long tail ${ratio}:1, seed ${seed})`);
}
