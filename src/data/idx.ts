/** IDX files (MNIST, Fashion-MNIST), gzipped or not: ubyte images [N, H, W] and ubyte labels [N]. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DataError } from './errors.ts';
import type { ImageStore } from './store.ts';

const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

function readMaybeGz(path: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new DataError(path, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw);
    } catch (e) {
      throw new DataError(path, `corrupt gzip data (${(e as Error).message})`);
    }
  }
  return raw;
}

/** Parses one IDX file of unsigned bytes; returns its dimensions and data. */
export function parseIdx(path: string, buf: Buffer): { dims: number[]; data: Uint8Array } {
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) throw new DataError(path, 'not an IDX file (bad magic number)');
  if (buf[2] !== 0x08) throw new DataError(path, `IDX element type 0x${buf[2].toString(16)} is not unsigned byte (0x08)`);
  const rank = buf[3];
  if (buf.length < 4 + 4 * rank) throw new DataError(path, 'truncated IDX header');
  const dims = Array.from({ length: rank }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const start = 4 + 4 * rank;
  if (buf.length - start !== count) {
    throw new DataError(path, `IDX data has ${buf.length - start} bytes, dimensions [${dims}] need ${count}`);
  }
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + start, count) };
}

function find(dir: string, stems: string[]): string | undefined {
  for (const stem of stems) for (const ext of ['', '.gz']) if (existsSync(join(dir, stem + ext))) return join(dir, stem + ext);
  return undefined;
}

export type Split = 'train' | 'test' | 'all';

/** Loads the train and/or test split of an MNIST-layout folder. */
export function loadIdxDir(dir: string, split: Split = 'train'): ImageStore {
  if (!existsSync(dir)) throw new DataError(dir, 'dataset folder does not exist');
  const parts = split === 'all' ? (['train', 't10k'] as const) : split === 'train' ? (['train'] as const) : (['t10k'] as const);
  const images: Uint8Array[] = [];
  const labels: Uint8Array[] = [];
  let h = 0;
  let w = 0;
  for (const p of parts) {
    const imgPath = find(dir, [`${p}-images-idx3-ubyte`, `${p}-images.idx3-ubyte`]);
    if (imgPath === undefined) throw new DataError(dir, `no ${p}-images-idx3-ubyte[.gz] in this folder`);
    const img = parseIdx(imgPath, readMaybeGz(imgPath));
    if (img.dims.length !== 3) throw new DataError(imgPath, `expected images [N, H, W], got [${img.dims}]`);
    if (h && (img.dims[1] !== h || img.dims[2] !== w)) throw new DataError(imgPath, `image size ${img.dims[1]}x${img.dims[2]} differs from ${h}x${w}`);
    [, h, w] = img.dims;
    images.push(img.data);
    const labPath = find(dir, [`${p}-labels-idx1-ubyte`, `${p}-labels.idx1-ubyte`]);
    if (labPath !== undefined) {
      const lab = parseIdx(labPath, readMaybeGz(labPath));
      if (lab.dims[0] !== img.dims[0]) throw new DataError(labPath, `${lab.dims[0]} labels for ${img.dims[0]} images`);
      labels.push(lab.data);
    }
  }
  const n = images.reduce((a, b) => a + b.length, 0) / (h * w);
  const pixels = new Uint8Array(n * h * w);
  let off = 0;
  for (const im of images) {
    pixels.set(im, off);
    off += im.length;
  }
  let lab: Int32Array | undefined;
  if (labels.length === images.length) {
    lab = new Int32Array(n);
    let o = 0;
    for (const l of labels) for (const v of l) lab[o++] = v;
  }
  const classCount = lab ? Math.max(...lab) + 1 : 0;
  const classNames = lab ? (/fashion/i.test(dir) && classCount === 10 ? FASHION_CLASSES : classCount === 10 ? DIGITS : Array.from({ length: classCount }, (_, i) => String(i))) : undefined;
  return { pixels, n, channels: 1, height: h, width: w, labels: lab, classNames, source: `idx:${dir} (${split})` };
}
