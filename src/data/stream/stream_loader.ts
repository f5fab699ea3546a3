/**
 * Batches from an ImageSource without ever holding the decoded set: each batch's images are read,
 * decoded, cropped, flipped, rotated, jittered and normalised per sample by a pool of worker threads
 * (`workers`; 0: inline), with `prefetch` batches in flight, so that the main thread only wraps the
 * batch in a tensor (extraction: resize and centre crop as tensor ops). Yields the same `Batch` as
 * the in-memory BatchMaker.
 *
 * Image k of a global batch draws its augmentation from makeRng(...seeds, step, k): a batch is the
 * same whatever the number of workers or processes making it. An image that cannot be decoded is
 * reported by where it is (file, or shard and key) and its slot takes the batch's first good image,
 * or the batch fails (`onError: 'fail'`).
 */
import { Worker } from 'node:worker_threads';
import { tensor } from '../../tensor/creation.ts';
import { tidy } from '../../tensor/scope.ts';
import type { Tensor } from '../../tensor/tensor.ts';
import type { AugmentConfig } from '../augment.ts';
import { DataError } from '../errors.ts';
import type { Batch } from '../loader.ts';
import { extractTensor } from '../tensor_augment.ts';
import { type ChunkJob, type ChunkResult, makeChunk } from './chunk.ts';
import type { ImageSource } from './sources.ts';

export interface StreamOptions {
  workers?: number;
  onError?: 'skip' | 'fail';
  warn?: (message: string) => void;
}

export class StreamBatchMaker {
  readonly #workers: Worker[] = [];
  readonly #pending = new Map<number, { resolve: (r: ChunkResult) => void; reject: (e: Error) => void }>();
  #next = 0;
  /** Milliseconds the consumer waited for a batch. */
  waitMs = 0;
  /** Images reported as undecodable so far. */
  skipped = 0;

  constructor(readonly source: ImageSource, readonly cfg: AugmentConfig, readonly o: StreamOptions = {}) {
    const ts = import.meta.url.endsWith('.ts');
    const entry = new URL(ts ? './stream_worker.ts' : './stream_worker.js', import.meta.url);
    const url = ts ? new URL('../ts_worker_boot.mjs', import.meta.url) : entry;
    for (let i = 0; i < (o.workers ?? 1); i++) {
      const w = new Worker(url, { workerData: { __entry: entry.href } });
      w.on('message', (m: { id: number } & ChunkResult) => {
        this.#pending.get(m.id)?.resolve(m);
        this.#pending.delete(m.id);
      });
      w.on('error', (err) => {
        for (const p of this.#pending.values()) p.reject(err);
        this.#pending.clear();
      });
      this.#workers.push(w);
    }
  }

  #chunk(worker: number, job: ChunkJob): Promise<ChunkResult> {
    if (this.#workers.length === 0) return makeChunk(job);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#workers[worker].postMessage({ id, job });
    });
  }

  /** This process's rows of a global batch: `positions` within the batch, split into one chunk per worker. */
  async #make(rows: Int32Array, first: number, seeds: number[], extract: boolean): Promise<Uint8Array | Float32Array> {
    const per = 3 * this.cfg.size * this.cfg.size;
    const chunks = Math.max(1, Math.min(this.#workers.length, rows.length));
    const size = Math.ceil(rows.length / chunks);
    // The workers write the batch in place: one shared array, nothing copied back.
    const bytes = rows.length * per * (extract ? 1 : 4);
    const memory = this.#workers.length > 0 ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
    const parts = await Promise.all(
      Array.from({ length: chunks }, (_, c) => {
        const ix = Array.from(rows.subarray(c * size, (c + 1) * size));
        return this.#chunk(c, {
          locs: ix.map((i) => this.source.locate(i)), seeds, positions: ix.map((_, k) => first + c * size + k), cfg: this.cfg, extract, out: memory, offset: c * size * per,
        });
      }),
    );
    const out = extract ? new Uint8Array(memory) : new Float32Array(memory);
    const bad: number[] = [];
    for (const [c, r] of parts.entries()) {
      for (const f of r.failed) {
        const at = c * size + f.k;
        const where = this.source.where(rows[at]);
        if (this.o.onError === 'fail') throw new DataError(where, `unreadable image (${f.message})`);
        (this.o.warn ?? console.warn)(`skipping ${where}: unreadable image (${f.message})`);
        bad.push(at);
      }
    }
    this.skipped += bad.length;
    const good = Array.from({ length: rows.length }, (_, i) => i).find((i) => !bad.includes(i));
    if (good === undefined && rows.length > 0) throw new DataError(this.source.source, `no readable image in a batch of ${rows.length}`);
    for (const b of bad) out.copyWithin(b * per, (good as number) * per, ((good as number) + 1) * per);
    return out;
  }

  /** The batch [B, 3, S, S] as the network's input: the workers' (training), or the crops resized, centre-cropped and normalised (extraction). */
  #finish(data: Uint8Array | Float32Array, extract: boolean): Tensor {
    const s = this.cfg.size;
    const shape = [data.length / (3 * s * s), 3, s, s];
    if (!extract) return tensor(data, { shape });
    return tidy(() => extractTensor(tensor(data, { shape }).float().div(255), this.cfg));
  }

  /**
   * The batches of `order` in chunks of `batchSize` from batch `fromStep` on (see BatchMaker.batches):
   * with `part`, this process's contiguous slice of each global batch.
   */
  async *batches(
    order: Int32Array,
    o: { batchSize: number; seeds: number[]; fromStep?: number; extract?: boolean; prefetch?: number; minBatch?: number; part?: { rank: number; worldSize: number } },
  ): AsyncGenerator<Batch> {
    const steps = Math.ceil(order.length / o.batchSize);
    const slice = (s: number): [Int32Array, number] => {
      const rows = order.subarray(s * o.batchSize, Math.min(order.length, (s + 1) * o.batchSize));
      const w = o.part?.worldSize ?? 1;
      const r = o.part?.rank ?? 0;
      const per = Math.floor(rows.length / w);
      const start = r * per;
      return [rows.subarray(start, r === w - 1 ? rows.length : start + per), start];
    };
    const inFlight: Promise<Uint8Array | Float32Array>[] = [];
    let ahead = o.fromStep ?? 0;
    const fill = () => {
      while (ahead < steps && inFlight.length < (o.prefetch ?? 2)) {
        const [rows, first] = slice(ahead);
        const made = this.#make(Int32Array.from(rows), first, [...o.seeds, ahead], o.extract ?? false);
        made.catch(() => {}); // awaited in order below; this keeps a rejection from being reported as unhandled first
        inFlight.push(made);
        ahead++;
      }
    };
    fill();
    for (let s = o.fromStep ?? 0; s < steps; s++) {
      const t0 = performance.now();
      const made = await (inFlight.shift() as Promise<Uint8Array | Float32Array>);
      fill();
      this.waitMs += performance.now() - t0;
      const [rows] = slice(s);
      if (rows.length < (o.minBatch ?? 1)) continue;
      const images = this.#finish(made, o.extract ?? false);
      yield { step: s, rows, index: tensor(BigInt64Array.from(rows, (r) => BigInt(r))), images };
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
