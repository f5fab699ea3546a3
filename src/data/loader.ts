/**
 * Batches for training and extraction. Each batch's augmentation is seeded by (seed, epoch, batch),
 * so a batch is reproducible wherever it is made; a worker thread makes the next batches while the
 * engine trains on the current one (`workers: 0` makes them inline), or (`onDevice`) the batch's
 * stored images go to the run's device and are augmented there by tensor ops (tensor_augment.ts),
 * the same batches within float rounding. `waitMs` measures how long the training loop waited for data.
 */
import { Worker } from 'node:worker_threads';
import { tensor } from '../tensor/creation.ts';
import { tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { type AugmentConfig, augmentBatch, drawParams, extractBatch } from './augment.ts';
import { makeRng } from './rng.ts';
import { type ImageStore, selectRows } from './store.ts';
import { augmentTensor, extractTensor } from './tensor_augment.ts';

export interface Batch {
  /** Batch position within the epoch. */
  step: number;
  /** Sample indices [B] (int64): the memories are indexed by them. */
  index: Tensor;
  rows: Int32Array;
  /** [B, C, S, S] float32, normalised. */
  images: Tensor;
}

interface Job {
  /** The whole (global) batch. */
  rows: Int32Array;
  seeds: number[];
  extract: boolean;
  /** The rows of `rows` to make: this process's slice. */
  part: [number, number];
}

export class BatchMaker {
  readonly #store: ImageStore;
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, { resolve: (d: Float32Array) => void; reject: (e: Error) => void }>();
  #next = 0;
  #turn = 0;
  waitMs = 0;

  /**
   * `workers`: threads making the batches (0: inline). `onDevice`: augment on the run's default
   * device instead (no workers; for a GPU, whose batches of small images would wait for the CPU).
   */
  constructor(store: ImageStore, readonly cfg: AugmentConfig, workers = 1, readonly onDevice = false) {
    this.#store = store;
    if (workers > 0 && !onDevice) {
      const shared = new SharedArrayBuffer(store.pixels.byteLength);
      new Uint8Array(shared).set(store.pixels);
      const ts = import.meta.url.endsWith('.ts');
      const entry = new URL(ts ? './augment_worker.ts' : './augment_worker.js', import.meta.url);
      const url = ts ? new URL('./ts_worker_boot.mjs', import.meta.url) : entry;
      for (let i = 0; i < workers; i++) {
        const w = new Worker(url, {
          workerData: { pixels: shared, channels: store.channels, height: store.height, width: store.width, __entry: entry.href },
        });
        w.on('message', (m: { id: number; data: Float32Array }) => {
          this.#pending.get(m.id)?.resolve(m.data);
          this.#pending.delete(m.id);
        });
        w.on('error', (err) => {
          for (const p of this.#pending.values()) p.reject(err);
          this.#pending.clear();
        });
        this.#workers.push(w);
      }
    }
  }

  /** The stored images of `rows` as a [B, C, H, W] float tensor in [0, 1] on the default device. */
  #stored(rows: ArrayLike<number>): Tensor {
    const s = this.#store;
    return tensor(selectRows(s, rows).pixels, { shape: [rows.length, s.channels, s.height, s.width] }).float().div(255);
  }

  /** A batch made on the device: drawn as augmentBatch draws (every row of the global batch), made for `part`'s rows. */
  #onDevice(job: Job): Tensor {
    return tidy(() => {
      const x = this.#stored(job.rows.subarray(...job.part));
      if (job.extract) return extractTensor(x, this.cfg);
      const rng = makeRng(...job.seeds);
      const params = Array.from(job.rows.subarray(0, job.part[1]), () => drawParams(this.#store, this.cfg, rng));
      return augmentTensor(x, params.slice(job.part[0]), this.cfg);
    });
  }

  #make(job: Job): Promise<Float32Array> {
    if (this.#workers.length === 0) {
      const data = job.extract
        ? extractBatch(this.#store, job.rows.subarray(...job.part), this.cfg)
        : augmentBatch(this.#store, job.rows, this.cfg, makeRng(...job.seeds), job.part);
      return Promise.resolve(data);
    }
    const id = this.#next++;
    const w = this.#workers[this.#turn++ % this.#workers.length];
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      w.postMessage({ id, rows: job.rows, cfg: this.cfg, seeds: job.seeds, extract: job.extract, part: job.part });
    });
  }

  /**
   * Yields the batches of `order` (sample indices) in chunks of `batchSize`, starting at batch
   * `fromStep`, keeping `prefetch` batches in flight. Batches smaller than `minBatch` are dropped.
   * With `part`, each yielded batch is this process's slice of the global batch (`order`'s length
   * and `batchSize` multiples of `part.worldSize`), its images augmented as in the whole batch.
   */
  async *batches(
    order: Int32Array,
    o: { batchSize: number; seeds: number[]; fromStep?: number; extract?: boolean; prefetch?: number; minBatch?: number; part?: { rank: number; worldSize: number } },
  ): AsyncGenerator<Batch> {
    const steps = Math.ceil(order.length / o.batchSize);
    const inFlight: Promise<Float32Array>[] = [];
    const globalRowsOf = (s: number) => order.subarray(s * o.batchSize, Math.min(order.length, (s + 1) * o.batchSize));
    const partOf = (n: number): [number, number] => {
      const w = o.part?.worldSize ?? 1;
      const per = Math.floor(n / w);
      const r = o.part?.rank ?? 0;
      return [r * per, r === w - 1 ? n : (r + 1) * per];
    };
    const rowsOf = (s: number) => globalRowsOf(s).subarray(...partOf(globalRowsOf(s).length));
    let ahead = o.fromStep ?? 0;
    const jobOf = (s: number): Job => {
      const rows = globalRowsOf(s);
      return { rows: Int32Array.from(rows), seeds: [...o.seeds, s], extract: o.extract ?? false, part: partOf(rows.length) };
    };
    const fill = () => {
      while (!this.onDevice && ahead < steps && inFlight.length < (o.prefetch ?? 2)) inFlight.push(this.#make(jobOf(ahead++)));
    };
    fill();
    for (let s = o.fromStep ?? 0; s < steps; s++) {
      const rows = rowsOf(s);
      let images: Tensor;
      if (this.onDevice) {
        // (queued on the device behind the previous step: nothing to wait for on the host)
        if (rows.length < (o.minBatch ?? 1)) continue;
        images = this.#onDevice(jobOf(s));
      } else {
        // Waiting time: for the batch, and for queuing the next ones (inline preparation runs here).
        const t0 = performance.now();
        const data = await (inFlight.shift() as Promise<Float32Array>);
        fill();
        this.waitMs += performance.now() - t0;
        if (rows.length < (o.minBatch ?? 1)) continue;
        const size = this.cfg.size;
        images = tensor(data, { shape: [rows.length, this.#store.channels, size, size] });
      }
      yield { step: s, rows, index: tensor(BigInt64Array.from(rows, (r) => BigInt(r))), images };
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
