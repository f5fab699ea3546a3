/**
 * What training and extraction read images from: an in-memory ImageStore (IDX, CIFAR, a small
 * folder decoded whole) or a streamed set (an ImageFolder tree or tar shards, decoded per batch and
 * never held whole). Both give the same batches interface, so the training loop, the methods and
 * the extraction passes do not know which one they read.
 */
import type { AugmentConfig } from './augment.ts';
import { type Batch, BatchMaker } from './loader.ts';
import { type ImageStore, longTail, longTailRows, randomSubset, selectRows, subsetRows } from './store.ts';
import { type ImageSource, selectSource } from './stream/sources.ts';
import { StreamBatchMaker } from './stream/stream_loader.ts';

/** A streamed image set: every image is cropped to `height` x `width` (= the training size) on the fly. */
export interface StreamedSet {
  readonly stream: ImageSource;
  readonly n: number;
  readonly channels: 3;
  readonly height: number;
  readonly width: number;
  readonly labels?: Int32Array;
  readonly classNames?: readonly string[];
  readonly source: string;
  /** Undecodable images: skipped with a report naming them (their slot takes another image of the batch), or fatal. */
  readonly onError: 'skip' | 'fail';
}

export type ImageSet = ImageStore | StreamedSet;

export function isStreamed(d: ImageSet): d is StreamedSet {
  return 'stream' in d;
}

export interface BatchOptions {
  batchSize: number;
  seeds: number[];
  fromStep?: number;
  extract?: boolean;
  prefetch?: number;
  minBatch?: number;
  part?: { rank: number; worldSize: number };
}

/** Batches of an image set (BatchMaker or StreamBatchMaker). */
export interface BatchSource {
  batches(order: Int32Array, o: BatchOptions): AsyncGenerator<Batch>;
  /** Milliseconds the consumer waited for data. */
  readonly waitMs: number;
  close(): Promise<void>;
}

/**
 * The batch maker for `data`: `workers` threads decode (streamed) or augment (in memory) ahead of
 * the consumer; `onDevice`: an in-memory set is augmented on the default device instead.
 */
export function batchSource(data: ImageSet, cfg: AugmentConfig, workers: number, warn?: (line: string) => void, onDevice = false): BatchSource {
  if (!isStreamed(data)) return new BatchMaker(data, cfg, workers, onDevice);
  return new StreamBatchMaker(data.stream, cfg, { workers, onError: data.onError, warn });
}

/** The set over `rows` of `d` (in that order), in memory or streamed. */
export function rowsOf(d: ImageSet, rows: ArrayLike<number>, source: string): ImageSet {
  return isStreamed(d) ? selectStreamed(d, rows, source) : selectRows(d, rows, source);
}

function selectStreamed(d: StreamedSet, rows: ArrayLike<number>, source: string): StreamedSet {
  const stream = selectSource(d.stream, rows, source);
  return { ...d, stream, n: stream.n, labels: stream.labels, source };
}

/** A seeded random subset of `size` images: the same rows whether the set is in memory or streamed. */
export function subsetOf(d: ImageSet, size: number, seed: number): ImageSet {
  if (!isStreamed(d)) return randomSubset(d, size, seed);
  const rows = subsetRows(d.n, size, seed);
  return size >= d.n ? d : selectStreamed(d, rows, `${d.source} (random subset of ${size}, seed ${seed})`);
}

/** A long-tailed subsample (the paper's Figure 6), in memory or streamed. */
export function longTailOf(d: ImageSet, ratio: number, seed: number): ImageSet {
  if (!isStreamed(d)) return longTail(d, ratio, seed);
  return selectStreamed(d, longTailRows(d, ratio, seed), `${d.source} (long tail ${ratio}:1, seed ${seed})`);
}
