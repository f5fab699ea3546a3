/**
 * The streamed training batches' per-image native work (build/Release/odc_image.node): a JPEG's
 * random-resized crop (native/image_jpeg.cc: libjpeg-turbo decodes only the rows and columns the crop
 * covers, at 1/2 to 1/8 scale when the crop allows, and the box is resampled with PIL's bilinear
 * filter), then the rest of its augmentation (native/image_augment.cc: rotation, colour jitter,
 * grayscale, normalisation). It holds no libtorch and no state, so every worker thread loads its own copy.
 */
import { loadAddon } from '../../native/load_addon.ts';

interface ImageAddon {
  /** [width, height] from the header; null for CMYK/YCCK images (left to libvips). */
  jpegSize(bytes: Uint8Array): [number, number] | null;
  /** The box (top, left, height, width) resampled to size x size, flipped if asked: [3, size, size] planes. */
  cropJpeg(bytes: Uint8Array, top: number, left: number, height: number, width: number, size: number, flip: boolean): Uint8Array;
  /**
   * [3, size, size] uint8 planes → [3, size, size] float32: rotation, jitter in the drawn order,
   * grayscale, normalisation. `params`: angle, brightness, contrast, saturation, hue, order[4], gray, mean[3], std[3].
   * With `out`, written there from element `offset` (and `out` returned).
   */
  augmentCrop(planes: Uint8Array, size: number, params: Float64Array, out?: Float32Array, offset?: number): Float32Array;
}

export const image: ImageAddon = loadAddon<ImageAddon>('odc_image');

/** Whether `bytes` start like a JPEG (SOI marker). */
export const isJpeg = (bytes: Uint8Array): boolean => bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
