/** CIFAR-10 / CIFAR-100 binary batches: one label byte (two for CIFAR-100) and 3x32x32 planar RGB per record. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from './errors.ts';
import type { Split } from './idx.ts';
import type { ImageStore } from './store.ts';

const PIXELS = 3 * 32 * 32;

function readNames(dir: string, files: string[]): string[] | undefined {
  for (const f of files) {
    const p = join(dir, f);
    if (existsSync(p)) return readFileSync(p, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  }
  return undefined;
}

/** Loads CIFAR-10 (data_batch_1..5.bin, test_batch.bin) or CIFAR-100 (train.bin, test.bin; fine labels). */
export function loadCifarDir(dir: string, split: Split = 'train'): ImageStore {
  if (!existsSync(dir)) throw new DataError(dir, 'dataset folder does not exist');
  const cifar100 = existsSync(join(dir, 'train.bin')) || existsSync(join(dir, 'test.bin'));
  const names: string[] = cifar100
    ? [...(split !== 'test' ? ['train.bin'] : []), ...(split !== 'train' ? ['test.bin'] : [])]
    : [...(split !== 'test' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : []), ...(split !== 'train' ? ['test_batch.bin'] : [])];
  const labelBytes = cifar100 ? 2 : 1;
  const record = labelBytes + PIXELS;
  const chunks: Buffer[] = [];
  for (const name of names) {
    const p = join(dir, name);
    if (!existsSync(p)) throw new DataError(dir, `missing ${name} (expected CIFAR binary batches here)`);
    const buf = readFileSync(p);
    if (buf.length % record !== 0) throw new DataError(p, `size ${buf.length} is not a multiple of the ${record}-byte CIFAR record`);
    chunks.push(buf);
  }
  const n = chunks.reduce((a, b) => a + b.length / record, 0);
  const pixels = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  let i = 0;
  for (const buf of chunks) {
    for (let off = 0; off < buf.length; off += record, i++) {
      labels[i] = buf[off + labelBytes - 1]; // CIFAR-100: the fine label follows the coarse one
      pixels.set(buf.subarray(off + labelBytes, off + record), i * PIXELS);
    }
  }
  const classNames = cifar100
    ? (readNames(dir, ['fine_label_names.txt']) ?? Array.from({ length: 100 }, (_, k) => String(k)))
    : (readNames(dir, ['batches.meta.txt']) ?? Array.from({ length: 10 }, (_, k) => String(k)));
  return { pixels, n, channels: 3, height: 32, width: 32, labels, classNames, source: `cifar:${dir} (${split})` };
}
