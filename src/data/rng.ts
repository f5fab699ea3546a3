/** Seeded JS-side randomness for data order, subsets and augmentation parameters (not tensors). */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi] (both included). */
  int(lo: number, hi: number): number;
}

/** An Rng whose position in its stream can be saved and restored (for checkpoints). */
export interface StatefulRng extends Rng {
  /** The generator's state: four int32 words. */
  getState(): number[];
  /** Continues from a state returned by getState(). */
  setState(state: readonly number[]): void;
}

/** A reproducible generator; combine several integers (seed, epoch, batch) into one stream. */
export function makeRng(...seeds: number[]): StatefulRng {
  let h = 0x9e3779b9;
  for (const s of seeds) h = Math.imul(h ^ (s | 0) ^ Math.floor(s / 2 ** 32), 0x85ebca6b) ^ (h >>> 13);
  let g = xoroshiro128plus(h | 0);
  return {
    next: () => uniformFloat64(g),
    int: (lo, hi) => uniformInt(g, lo, hi),
    getState: () => [...g.getState()],
    setState: (state) => {
      g = xoroshiro128plusFromState(state);
    },
  };
}

/** Fisher-Yates shuffle. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(a: T, rng: Rng): T {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}
