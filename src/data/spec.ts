/** Dataset specs on the command line: fashion-mnist | mnist | idx:DIR | cifar:DIR | folder:DIR. */
import { existsSync } from 'node:fs';
import { ConfigError } from '../tensor/errors.ts';
import { loadCifarDir } from './cifar.ts';
import { type FolderOptions, loadFolder } from './folder.ts';
import { loadIdxDir, type Split } from './idx.ts';
import type { ImageStore } from './store.ts';

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
  if (m === null) throw new ConfigError(`Expected --dataset fashion-mnist, mnist, idx:DIR, cifar:DIR or folder:DIR but received '${spec}'`);
  const [, kind, dir] = m;
  if (kind === 'idx') return loadIdxDir(dir, split);
  if (kind === 'cifar') return loadCifarDir(dir, split);
  return loadFolder(dir, folder);
}
