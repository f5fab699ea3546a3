/**
 * The trainer's running means. Each iteration's loss, pseudo-label accuracy and label-change ratio
 * stay on the run's device until a logged iteration, a checkpoint or the epoch's end reads them together (on a GPU
 * each read waits for the queued work); they are added in iteration order, so that a run and its
 * resume give the same means.
 */
import type { Collective } from '../distributed/collective.ts';
import { stack } from '../tensor/creation.ts';
import { tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';

/** Sums over n iterations: loss, label-change ratio, pseudo-label accuracy, repaired clusters; images seen. */
export interface Sums {
  loss: number;
  change: number;
  acc: number;
  repaired: number;
  n: number;
  images: number;
}

const zeroSums = (): Sums => ({ loss: 0, change: 0, acc: 0, repaired: 0, n: 0, images: 0 });

/** The epoch's and the log window's sums at a mid-epoch checkpoint (continued on resume). */
export interface CarriedSums {
  epoch: Sums;
  window: Sums;
}

/** For checkpoint metadata: the sums without the image count (speeds restart with the resumed run); NaN as null. */
function writeSums(r: Sums): (number | null)[] {
  return [r.loss, r.change, r.acc, r.repaired, r.n].map((v) => (Number.isNaN(v) ? null : v));
}

/** The sums of a checkpoint's `meta.running`, or undefined when it has none (older checkpoints). */
export function readCarriedSums(v: unknown): CarriedSums | undefined {
  const one = (a: unknown): Sums | undefined => {
    if (!Array.isArray(a) || a.length !== 5) return undefined;
    const [loss, change, acc, repaired, n] = a.map((x) => (x === null ? Number.NaN : Number(x)));
    return { loss, change, acc, repaired, n, images: 0 };
  };
  const r = v as { epoch?: unknown; window?: unknown } | undefined;
  const epoch = one(r?.epoch);
  const window = one(r?.window);
  return epoch && window ? { epoch, window } : undefined;
}

export class StepStats {
  /** This epoch's sums (its record). */
  #epoch = zeroSums();
  /** The sums since the last logged iteration (the next 'iter' record), and when that window began. */
  #window = zeroSums();
  #windowStart = performance.now();
  /** Each iteration's [loss, accuracy, label-change ratio] (float64, on the device), not yet read. */
  readonly #unread: Tensor[] = [];
  /** What the progress hook shows between reads: the means of the last read window. */
  shown = { loss: Number.NaN, change: Number.NaN };

  constructor(private readonly group: Collective) {}

  /** A new epoch's sums: zero, or those a mid-epoch checkpoint carried. */
  startEpoch(carried?: CarriedSums): void {
    this.#epoch = { ...zeroSums(), ...carried?.epoch };
    this.#window = { ...zeroSums(), ...carried?.window };
    this.#windowStart = performance.now();
  }

  /** One iteration: its [loss, accuracy, change ratio] tensor (owned from here on), images (all ranks) and repairs. */
  push(stats: Tensor, images: number, repaired: number): void {
    this.#unread.push(stats);
    for (const s of [this.#epoch, this.#window]) {
      s.images += images;
      s.repaired += repaired;
    }
  }

  /**
   * Reads the iterations not yet read: the global batch's loss and accuracy (means of the ranks'
   * equal slices) and the change ratio (the same on every rank: each updates the whole batch).
   */
  read(): void {
    if (this.#unread.length === 0) return;
    const v = tidy(() => this.group.allReduce(stack(this.#unread), 'avg').toArray());
    for (const [k, u] of this.#unread.entries()) {
      for (const s of [this.#epoch, this.#window]) {
        s.loss += v[3 * k];
        s.acc += v[3 * k + 1];
        s.change += v[3 * k + 2];
        s.n += 1;
      }
      u.dispose();
    }
    this.#unread.length = 0;
    this.shown = { loss: this.#window.loss / this.#window.n, change: this.#window.change / this.#window.n };
  }

  /** Images per second since the last logged iteration. */
  windowSpeed(): number {
    return this.#window.images / ((performance.now() - this.#windowStart) / 1000);
  }

  /** The window's means for an 'iter' record (read first). */
  windowMeans(): { loss: number; change_ratio: number; acc_pseudo: number; repaired: number } {
    const w = this.#window;
    return { loss: this.shown.loss, change_ratio: this.shown.change, acc_pseudo: w.acc / w.n, repaired: w.repaired };
  }

  /** After a logged iteration: a new window. */
  resetWindow(): void {
    this.#window = zeroSums();
    this.#windowStart = performance.now();
  }

  /** The epoch's means (read first). */
  epochMeans(wallS: number): { loss: number; change_ratio: number; acc_pseudo: number; repaired: number; img_per_s: number } {
    const e = this.#epoch;
    const n = Math.max(1, e.n);
    return { loss: e.loss / n, change_ratio: e.change / n, acc_pseudo: e.acc / n, repaired: e.repaired, img_per_s: e.images / wallS };
  }

  /** What a mid-epoch checkpoint keeps (read first). */
  toMeta(): { epoch: (number | null)[]; window: (number | null)[] } {
    return { epoch: writeSums(this.#epoch), window: writeSums(this.#window) };
  }

  /** Frees what was never read (a failed loop). */
  dispose(): void {
    for (const u of this.#unread) u.dispose();
    this.#unread.length = 0;
  }
}
