/** Makes the images of one chunk of a batch, one after the other (in a worker thread, or inline). */
import type { AugmentConfig } from '../augment.ts';
import { makeRng } from '../rng.ts';
import { extractCrop, type Located, type PostParams, readLocated, trainCrop } from './decode.ts';

export interface ChunkJob {
  locs: Located[];
  /** The batch's seeds; image k of the chunk draws from makeRng(...seeds, positions[k]). */
  seeds: number[];
  /** Each image's position in the global batch: its augmentation does not depend on who makes it. */
  positions: number[];
  cfg: AugmentConfig;
  extract: boolean;
}

export interface ChunkResult {
  /** [images, 3, S, S] uint8 crops. */
  data: Uint8Array;
  /** Training: each image's rotation, jitter and grayscale draws, for the tensor stage. */
  post: (PostParams | undefined)[];
  /** Images that could not be decoded: their slot is left zero and named here. */
  failed: { k: number; message: string }[];
}

export async function makeChunk(job: ChunkJob): Promise<ChunkResult> {
  const per = 3 * job.cfg.size * job.cfg.size;
  const data = new Uint8Array(job.locs.length * per);
  const post: ChunkResult['post'] = [];
  const failed: ChunkResult['failed'] = [];
  for (const [k, loc] of job.locs.entries()) {
    try {
      const buf = await readLocated(loc);
      if (job.extract) data.set(await extractCrop(buf, job.cfg.size), k * per);
      else {
        const r = await trainCrop(buf, job.cfg, makeRng(...job.seeds, job.positions[k]));
        data.set(r.pixels, k * per);
        post[k] = r.post;
      }
    } catch (e) {
      failed.push({ k, message: (e as Error).message.split('\n')[0] });
    }
  }
  return { data, post, failed };
}
