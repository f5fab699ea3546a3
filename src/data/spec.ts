/**
 * Dataset specs on the command line: fashion-mnist | mnist | idx:DIR | cifar:DIR | folder:DIR (all
 * decoded into memory) | stream:DIR (an ImageFolder tree) | shards:PATH (tar shards), both streamed.
 */
import { existsSync } from 'node:fs';
import { ConfigError } from '../tensor/errors.ts';
import { loadCifarDir } from './cifar.ts';
import { type FolderOptions, loadFolder, medianShorterSide } from './folder.ts';
import { loadIdxDir, type Split } from './idx.ts';
import type { ImageSet, StreamedSet } from './image_set.ts';
import type { ImageStore } from './store.ts';
import { openSource } from './stream/sources.ts';

/** Debian's dataset-fashion-mnist package puts the IDX files here. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const MNIST_DIR = '/usr/share/datasets/mnist';

export async function loadDataset(spec: string, split: Split = 'train', folder: FolderOptions = {}): Promise<ImageStore> {
  if (spec === 'fashion-mnist' || spec === 'fmnist') {
    if (!existsSync(FASHION_MNIST_DIR)) {
      throw new ConfigError(`--dataset fashion-mnist: ${FASHION_MNIST_DIR} is missing; run scripts/setup.sh (installs dataset-fashion-mnist)`);
    }
    return loadIdxDir(FASHION_MNIST_DIR, split);
  }
  if (spec === 'mnist') return loadIdxDir(MNIST_DIR, split);
  const m = /^(idx|cifar|folder):(.+)$/.exec(spec);
  if (m === null) {
    if (isStreamSpec(spec)) throw new ConfigError(`--dataset ${spec}: a streamed dataset, read batch by batch by 'odc train'; this command needs one decoded into memory (folder:DIR)`);
    throw new ConfigError(`Expected --dataset fashion-mnist, mnist, idx:DIR, cifar:DIR, folder:DIR, stream:DIR or shards:PATH but received '${spec}'`);
  }
  const [, kind, dir] = m;
  if (kind === 'idx') return loadIdxDir(dir, split);
  if (kind === 'cifar') return loadCifarDir(dir, split);
  return loadFolder(dir, folder);
}

/** Largest side a streamed set's images are cropped to by default (the paper's ImageNet size). */
export const MAX_STREAM_DEFAULT_SIDE = 224;

export const isStreamSpec = (spec: string): boolean => /^(stream|shards):./.test(spec);

/**
 * Any dataset spec: the in-memory ones as loadDataset loads them, `stream:DIR` and `shards:PATH` as
 * streamed sets (the file list or the shards' index is read now; images are decoded per batch),
 * cropped to `folder.size` px (default: the median shorter side, at most 224).
 */
export async function loadImageSet(spec: string, split: Split = 'train', folder: FolderOptions = {}): Promise<ImageSet> {
  if (!isStreamSpec(spec)) return loadDataset(spec, split, folder);
  const stream = openSource(spec.startsWith('stream:') ? `folder:${spec.slice('stream:'.length)}` : spec);
  const side = folder.size ?? (await medianShorterSide(stream.n, (i) => stream.read(i), MAX_STREAM_DEFAULT_SIDE));
  const set: StreamedSet = {
    stream, n: stream.n, channels: 3, height: side, width: side, labels: stream.labels, classNames: stream.classNames,
    source: spec, onError: folder.onError ?? 'skip',
  };
  return set;
}
