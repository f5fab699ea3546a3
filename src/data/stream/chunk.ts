/** Makes the images of one chunk of a batch, one after the other (in a worker thread, or inline). */
import type { AugmentConfig } from '../augment.ts';
import { makeRng } from '../rng.ts';
import { extractCrop, type Located, readLocated, trainImage } from './decode.ts';

export interface ChunkJob {
  locs: Located[];
  /** The batch's seeds; image k of the chunk draws from makeRng(...seeds, positions[k]). */
  seeds: number[];
  /** Each image's position in the global batch: its augmentation does not depend on who makes it. */
  positions: number[];
  cfg: AugmentConfig;
  extract: boolean;
  /**
   * The batch's memory (shared with the thread that asked, so nothing is copied back), and the
   * element where this chunk's images start: [images, 3, S, S] uint8 crops (extraction) or the
   * augmented, normalised float32 input (training).
   */
  out: SharedArrayBuffer | ArrayBuffer;
  offset: number;
}

export interface ChunkResult {
  /** Images that could not be decoded: their slot is left zero and named here. */
  failed: { k: number; message: string }[];
}

export async function makeChunk(job: ChunkJob): Promise<ChunkResult> {
  const per = 3 * job.cfg.size * job.cfg.size;
  const data = job.extract ? new Uint8Array(job.out) : new Float32Array(job.out);
  const failed: ChunkResult['failed'] = [];
  // Every file is asked for at once: the thread decodes while the next ones are read.
  const reads = job.locs.map((loc) => readLocated(loc));
  for (const r of reads) r.catch(() => {}); // (each is awaited below, in order)
  for (const [k, read] of reads.entries()) {
    try {
      const buf = await read;
      const at = job.offset + k * per;
      if (job.extract) data.set(await extractCrop(buf, job.cfg.size), at);
      else await trainImage(buf, job.cfg, makeRng(...job.seeds, job.positions[k]), data as Float32Array, at);
    } catch (e) {
      failed.push({ k, message: (e as Error).message.split('\n')[0] });
    }
  }
  return { failed };
}
