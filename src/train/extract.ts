/** Features of a whole image set from a frozen model (eval mode, no grad, extraction pipeline). */
import type { AugmentConfig } from '../data/augment.ts';
import { batchSource, type ImageSet } from '../data/image_set.ts';
import { shardOf } from '../distributed/data_parallel.ts';
import { empty } from '../tensor/creation.ts';
import { keep, noGrad, tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';

export interface ExtractLoopOptions {
  batchSize?: number;
  workers?: number;
  onBatch?: (done: number) => void;
  /** Only this rank's contiguous shard of the store (shardOf); offsets are then within the shard. */
  part?: { rank: number; worldSize: number };
  /** Streamed sets: where skipped images are reported. */
  warn?: (line: string) => void;
}

/**
 * Feeds every image (in store order, extraction pipeline) to `sink(images, offset)` under no-grad
 * inside a tidy scope: what the sink allocates and does not keep is freed after each batch.
 */
export async function forEachBatch(store: ImageSet, cfg: AugmentConfig, sink: (images: Tensor, offset: number) => void, o: ExtractLoopOptions = {}): Promise<void> {
  const maker = batchSource(store, cfg, o.workers ?? 1, o.warn);
  const { start, end } = shardOf(store.n, o.part?.rank ?? 0, o.part?.worldSize ?? 1);
  const order = Int32Array.from({ length: end - start }, (_, i) => start + i);
  let done = 0;
  try {
    for await (const b of maker.batches(order, { batchSize: o.batchSize ?? 256, seeds: [0], extract: true })) {
      noGrad(() => tidy(() => sink(b.images, done)));
      done += b.rows.length;
      b.images.dispose();
      b.index.dispose();
      o.onBatch?.(done);
    }
  } finally {
    await maker.close();
  }
}

/**
 * Runs `fn` over every image (in store order) and gathers its [B, D] outputs into one [N, D]
 * float32 tensor (kept: the caller disposes it); with `part`, over this rank's shard only
 * ([shard size, D]). The model's train/eval mode is the caller's.
 */
export async function extractFeatures(store: ImageSet, cfg: AugmentConfig, fn: (images: Tensor) => Tensor, o: ExtractLoopOptions = {}): Promise<Tensor> {
  let out: Tensor | undefined;
  const { start, end } = shardOf(store.n, o.part?.rank ?? 0, o.part?.worldSize ?? 1);
  const order = { length: end - start };
  await forEachBatch(
    store, cfg,
    (images, offset) => {
      const f = fn(images).flatten(1);
      if (out === undefined) out = keep(empty([order.length, f.size(1)]));
      out.narrow(0, offset, f.size(0)).copy_(f);
    },
    o,
  );
  return out as Tensor;
}
