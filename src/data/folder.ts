/**
 * A folder of images (JPEG/PNG/WebP/GIF/TIFF), decoded with sharp and resized (cover + centre crop)
 * to one size. Labels come from first-level sub-folder names when every image sits in one.
 * Unreadable files are reported by path and skipped, or fail the load (`onError: 'fail'`).
 */
import { constants } from 'node:buffer';
import { readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { DataError } from './errors.ts';
import type { ImageStore } from './store.ts';

/** The file name extensions of images a folder dataset reads. */
export const IMAGE_FILES: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff']);
/**
 * The files with one of `extensions` under `dir`, in a sorted walk (sub-folders in name order, as
 * torchvision's ImageFolder); `onFolder` sees every folder visited, `dir` first.
 */
export function walkImages(dir: string, extensions: ReadonlySet<string> = IMAGE_FILES, onFolder?: (folder: string) => void): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    onFolder?.(d);
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (extensions.has(extname(e.name).toLowerCase())) out.push(p);
    }
  };
  walk(dir);
  return out;
}

export function listImages(dir: string): string[] {
  return walkImages(dir);
}

export interface FolderOptions {
  /** Side of the square images after resizing (default: the images' median shorter side, at most 64). */
  size?: number;
  /** 3 (RGB, default) or 1 (grayscale). */
  channels?: 1 | 3;
  onError?: 'skip' | 'fail';
  /** Called for each skipped file. */
  warn?: (message: string) => void;
  concurrency?: number;
  /**
   * Most bytes the decoded images may take (default and upper bound: the longest Uint8Array this
   * Node can allocate, `buffer.constants.MAX_LENGTH`, 4 GiB on Node 20).
   */
  maxBytes?: number;
}

/** The longest Uint8Array (one byte per pixel value) this Node can allocate. */
export const MAX_PIXEL_BYTES: number = constants.MAX_LENGTH;

const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;

/**
 * Throws a DataError, before anything is decoded, when `images` images of `channels`×`size`×`size`
 * uint8 values would not fit in one pixel store of at most `limit` bytes.
 */
export function checkDecodedSize(dir: string, images: number, channels: number, size: number, limit: number = MAX_PIXEL_BYTES): void {
  const bytes = images * channels * size * size;
  if (bytes <= limit) return;
  const fits = Math.floor(Math.sqrt(limit / (images * channels)));
  const side = fits >= 8 ? `a smaller --image-size (${fits} px at most for ${images} images)` : 'a smaller --image-size';
  throw new DataError(
    dir,
    `${images} images decoded at ${channels}x${size}x${size} need ${bytes} bytes (${gib(bytes)}), more than the ${limit} bytes (${gib(limit)}) ` +
      `one typed array can hold; use ${side}, or fewer images: --subset applies after decoding, so point --dataset at a folder holding a subset of them`,
  );
}

/** Largest side a folder's images are resized to by default (a CPU-sized input; larger: --image-size). */
export const MAX_DEFAULT_SIDE = 64;

/**
 * The side images are resized to when none is given: the median shorter side of up to 64 of the n
 * images (spread over the set; read from the headers, not decoded), between 8 and `max` px. Small
 * images (28 px, 32 px) keep their own size instead of being enlarged.
 */
export async function medianShorterSide(n: number, input: (i: number) => Promise<string | Buffer>, max: number): Promise<number> {
  const { default: sharp } = await import('sharp');
  const step = Math.max(1, Math.floor(n / 64));
  const sides: number[] = [];
  for (let i = 0; i < n && sides.length < 64; i += step) {
    try {
      const m = await sharp(await input(i)).metadata();
      if (m.width && m.height) sides.push(Math.min(m.width, m.height));
    } catch {
      // An unreadable file is reported (or fails the load) when it is decoded.
    }
  }
  if (sides.length === 0) return max;
  sides.sort((a, b) => a - b);
  return Math.min(max, Math.max(8, sides[Math.floor(sides.length / 2)]));
}

export async function loadFolder(dir: string, o: FolderOptions = {}): Promise<ImageStore> {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch {
    throw new DataError(dir, 'dataset folder does not exist');
  }
  if (!st.isDirectory()) throw new DataError(dir, 'not a folder');
  const channels = o.channels ?? 3;
  const files = listImages(dir);
  if (files.length === 0) throw new DataError(dir, `no image files (${[...IMAGE_FILES].join(', ')}) in this folder`);
  // Loaded here, not at import: libvips is needed only by folder datasets.
  const { default: sharp } = await import('sharp');
  const size = o.size ?? (await medianShorterSide(files.length, async (i) => files[i], MAX_DEFAULT_SIDE));
  checkDecodedSize(dir, files.length, channels, size, Math.min(o.maxBytes ?? MAX_PIXEL_BYTES, MAX_PIXEL_BYTES));
  const decoded: (Uint8Array | undefined)[] = new Array(files.length);
  const plane = size * size;
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      try {
        let img = sharp(files[i], { failOn: 'error' }).resize(size, size, { fit: 'cover' }).removeAlpha();
        img = channels === 1 ? img.grayscale() : img.toColourspace('srgb');
        const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
        if (info.channels !== channels) throw new Error(`decoded ${info.channels} channels`);
        const chw = new Uint8Array(channels * plane);
        for (let p = 0; p < plane; p++) for (let c = 0; c < channels; c++) chw[c * plane + p] = data[p * channels + c];
        decoded[i] = chw;
      } catch (e) {
        const msg = `${files[i]}: unreadable image (${(e as Error).message})`;
        if ((o.onError ?? 'skip') === 'fail') throw new DataError(files[i], `unreadable image (${(e as Error).message})`);
        (o.warn ?? console.warn)(`skipping ${msg}`);
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 4 }, worker));
  const keep = files.map((_, i) => i).filter((i) => decoded[i] !== undefined);
  if (keep.length === 0) throw new DataError(dir, 'no readable image in this folder');
  const pixels = new Uint8Array(keep.length * channels * plane);
  for (const [r, i] of keep.entries()) pixels.set(decoded[i] as Uint8Array, r * channels * plane);
  const paths = keep.map((i) => files[i]);
  const { labels, classNames } = folderLabels(dir, paths);
  return { pixels, n: keep.length, channels, height: size, width: size, labels, classNames, paths, source: `folder:${dir}` };
}

/** Labels from first-level sub-folder names (sorted, as torchvision's ImageFolder) when every image sits in one. */
export function folderLabels(dir: string, paths: readonly string[]): { labels?: Int32Array; classNames?: string[] } {
  const rel = paths.map((p) => relative(dir, p).split(sep));
  if (!rel.every((parts) => parts.length >= 2)) return {};
  const classNames = [...new Set(rel.map((parts) => parts[0]))].sort();
  const id = new Map(classNames.map((c, k) => [c, k]));
  return { labels: Int32Array.from(rel, (parts) => id.get(parts[0]) as number), classNames };
}
