/**
 * The labelled images an evaluation fits on and scores on: a dataset's train and test splits, or
 * for a folder or streamed set (which have no test split) a seeded 80/20 hold-out.
 */
import { type ImageSet, rowsOf, subsetOf } from '../data/image_set.ts';
import { makeRng, shuffleInPlace } from '../data/rng.ts';
import { isStreamSpec, loadImageSet } from '../data/spec.ts';
import { ConfigError } from '../tensor/errors.ts';
import type { EvalSettings } from './eval_model.ts';

export interface Splits {
  train: ImageSet;
  test: ImageSet;
  trainY: Int32Array;
  testY: Int32Array;
  numClasses: number;
  note?: string;
}

export async function loadSplits(settings: EvalSettings, seed: number, log: (l: string) => void, sub: { train?: number; test?: number } = {}): Promise<Splits> {
  const spec = settings.dataset;
  const folder = { size: settings.imageSize, onError: settings.onBadImage, warn: log };
  let train = await loadImageSet(spec, 'train', folder);
  let test: ImageSet | undefined;
  let note: string | undefined;
  if (spec.startsWith('folder:') || isStreamSpec(spec)) {
    // A folder (or shards) has no test split: hold out a seeded 20 % of it.
    const order = Int32Array.from({ length: train.n }, (_, i) => i);
    shuffleInPlace(order, makeRng(seed, 7));
    const cut = Math.round(train.n * 0.8);
    test = rowsOf(train, order.slice(cut).sort(), `${train.source} (held-out 20 %)`);
    train = rowsOf(train, order.slice(0, cut).sort(), `${train.source} (80 %)`);
    note = `${isStreamSpec(spec) ? 'streamed' : 'folder'} dataset: seeded 80/20 train/test split`;
  } else {
    test = await loadImageSet(spec, 'test', folder);
  }
  if (sub.train !== undefined) train = subsetOf(train, sub.train, seed);
  if (sub.test !== undefined) test = subsetOf(test, sub.test, seed);
  if (!train.labels || !test.labels) throw new ConfigError(`--dataset ${spec}: the evaluation protocols need true labels and ${train.source} has none`);
  const numClasses = train.classNames?.length ?? Math.max(...train.labels) + 1;
  return { train, test, trainY: train.labels, testY: test.labels, numClasses, note };
}
