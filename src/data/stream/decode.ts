/**
 * One encoded image → one network input, per sample (stream_loader.ts runs these in worker
 * threads): the random-resized crop and flip, then the rotation, colour jitter, grayscale and
 * normalisation in native code (image_native.ts; the same arithmetic as tensor_augment.ts's batched
 * version). The parameters are drawn as augment.ts draws them, so every path draws from the same
 * distributions.
 *
 * The random-resized crop of a JPEG is libjpeg-turbo's (image_native.ts): only the rows and columns
 * of the crop box are decoded, at 1/2, 1/4 or 1/8 scale (shrink-on-load) when the box is that much
 * larger than the output, and the box is resampled as torchvision's PIL pipeline does. Other formats
 * (and CMYK JPEGs) go through libvips (sharp): when the crop box is reduced by 2 or more, the whole
 * image is resized so that the box becomes S x S and the box is cut out; otherwise the box is cut
 * first and only its pixels are resampled.
 */
import { open, readFile } from 'node:fs/promises';
import type sharpType from 'sharp';
import { type AugmentConfig, drawParams, type ImageParams } from '../augment.ts';
import type { Rng } from '../rng.ts';
import { image, isJpeg } from './image_native.ts';

/** Where an encoded image is: a file, or a byte range of one (a tar shard member). */
export interface Located {
  path: string;
  offset?: number;
  size?: number;
}

let sharpModule: typeof sharpType | undefined;
async function sharp(): Promise<typeof sharpType> {
  if (sharpModule === undefined) {
    sharpModule = (await import('sharp')).default;
    // One libvips thread per image: the parallelism is the worker threads'.
    sharpModule.concurrency(1);
  }
  return sharpModule;
}

export async function readLocated(l: Located): Promise<Buffer> {
  if (l.offset === undefined || l.size === undefined) return readFile(l.path);
  const fh = await open(l.path, 'r');
  try {
    const b = Buffer.allocUnsafe(l.size);
    await fh.read(b, 0, l.size, l.offset);
    return b;
  } finally {
    await fh.close();
  }
}

/** CHW planes of an S x S RGB image from libvips' interleaved output. */
function planar(hwc: Buffer, s: number): Uint8Array {
  const plane = s * s;
  const out = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[c * plane + p] = hwc[p * 3 + c];
  return out;
}

/** What is applied to a decoded crop after it is cut (rotation, jitter, grayscale). */
export type PostParams = Pick<ImageParams, 'angle' | 'jitter' | 'gray'>;

/**
 * Random-resized crop and flip of one image: [3, S, S] uint8 planes, and the rest of its drawn
 * parameters (rotation, jitter, grayscale).
 */
export async function trainCrop(buf: Buffer, cfg: AugmentConfig, rng: Rng): Promise<{ pixels: Uint8Array; post: PostParams }> {
  const s = cfg.size;
  const dims = isJpeg(buf) ? image.jpegSize(buf) : null;
  if (dims !== null) {
    const [width, height] = dims;
    const p = drawParams({ pixels: new Uint8Array(0), channels: 3, height, width }, cfg, rng);
    const [top, left, ch, cw] = p.crop;
    return { pixels: image.cropJpeg(buf, top, left, ch, cw, s, p.flip), post: { angle: p.angle, jitter: p.jitter, gray: p.gray } };
  }
  const lib = await sharp();
  const input = lib(buf, { failOn: 'error' });
  const meta = await input.metadata();
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width < 1 || height < 1) throw new Error('no image dimensions in the header');
  const p = drawParams({ pixels: new Uint8Array(0), channels: 3, height, width }, cfg, rng);
  const [top, left, ch, cw] = p.crop;
  const fx = s / cw;
  const fy = s / ch;
  // Bilinear (libvips' linear kernel: a triangle filter widened when reducing, as PIL's), the
  // interpolation torchvision's RandomResizedCrop uses.
  const kernel = 'linear' as const;
  let img = input.removeAlpha().toColourspace('srgb');
  if (fx <= 0.5 && fy <= 0.5) {
    // Reduced by 2 or more: resizing the whole image lets libjpeg decode at 1/2, 1/4 or 1/8 scale.
    const rw = Math.max(s, Math.round(width * fx));
    const rh = Math.max(s, Math.round(height * fy));
    img = img
      .resize(rw, rh, { fit: 'fill', kernel })
      .extract({ left: Math.min(rw - s, Math.round(left * fx)), top: Math.min(rh - s, Math.round(top * fy)), width: s, height: s });
  } else {
    // Otherwise only the crop box is resampled.
    img = img.extract({ left, top, width: cw, height: ch }).resize(s, s, { fit: 'fill', kernel });
  }
  if (p.flip) img = img.flop();
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== s || info.height !== s) throw new Error(`decoded ${info.width}x${info.height}x${info.channels}`);
  return { pixels: planar(data, s), post: { angle: p.angle, jitter: p.jitter, gray: p.gray } };
}

/**
 * One training image as the network reads it: cropped, flipped, rotated, jittered, maybe gray,
 * normalised; [3, S, S] float32, written into `out` from element `offset` when given.
 */
export async function trainImage(buf: Buffer, cfg: AugmentConfig, rng: Rng, out?: Float32Array, offset = 0): Promise<Float32Array> {
  const { pixels, post } = await trainCrop(buf, cfg, rng);
  return image.augmentCrop(pixels, cfg.size, augmentParams(post, cfg), out, offset);
}

/** An image's draws and the normalisation as augmentCrop takes them: angle, b, c, s, h, order[4], gray, mean[3], std[3]. */
export function augmentParams(post: PostParams, cfg: Pick<AugmentConfig, 'mean' | 'std'>): Float64Array {
  const j = post.jitter;
  return Float64Array.of(
    post.angle, j.b, j.c, j.s, j.h, ...j.order, post.gray ? 1 : 0,
    ...[0, 1, 2].map((c) => cfg.mean[c] ?? cfg.mean[0]), ...[0, 1, 2].map((c) => cfg.std[c] ?? cfg.std[0]),
  );
}

/**
 * The extraction input: the image resized to S x S (cover: shorter side to S, centre crop; libvips
 * decodes JPEGs at 1/2 to 1/8 scale on load when that is enough), as a folder loaded into memory
 * stores it: [3, S, S] uint8 planes. The tensor stage then resizes by 1/0.875 and crops the centre
 * (extractTensor), as the in-memory extraction does, so both read the same features.
 */
export async function extractCrop(buf: Buffer, size: number): Promise<Uint8Array> {
  const lib = await sharp();
  const { data, info } = await lib(buf, { failOn: 'error' })
    .removeAlpha()
    .toColourspace('srgb')
    .resize(size, size, { fit: 'cover' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== size || info.height !== size) throw new Error(`decoded ${info.width}x${info.height}x${info.channels}`);
  return planar(data, size);
}
