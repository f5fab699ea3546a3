/**
 * Batched, seeded image augmentation on TypedArrays (no tensors, so it can run in a worker thread
 * while the engine trains): torchvision's RandomResizedCrop → RandomHorizontalFlip → RandomRotation
 * (fill 0) → ColorJitter (random order) → RandomGrayscale → Normalize, as in the ODC paper
 * (section 3.4) and its released pipeline, plus the extraction pipeline (resize by 1/0.875, centre crop).
 * Crop, flip and rotation are composed into one bilinear resampling per output pixel.
 */
import type { Rng } from './rng.ts';

export interface AugmentConfig {
  /** Output side in pixels. */
  size: number;
  /** RandomResizedCrop area fraction and aspect-ratio ranges. */
  scale: [number, number];
  ratio: [number, number];
  flip: number;
  /** Rotation range ±degrees. */
  rotation: number;
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
  grayscale: number;
  mean: number[];
  std: number[];
}

export interface PixelSource {
  pixels: Uint8Array;
  channels: number;
  height: number;
  width: number;
}

const FMNIST = { mean: [0.286], std: [0.353] };
const CIFAR = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/**
 * The paper's augmentation with the normalisation statistics that fit the data. Small images (up to
 * 64 px) crop at least 30 % of the area instead of 8 %: an 8 % crop of a 28-px image is 8x8 pixels,
 * and the milder crop learned better in the ablation (docs/odc.md).
 */
export function presetFor(channels: number, size: number, o: Partial<AugmentConfig> = {}): AugmentConfig {
  const stats = channels === 1 ? FMNIST : size >= 128 ? IMAGENET : CIFAR;
  return {
    size, scale: [size <= 64 ? 0.3 : 0.08, 1], ratio: [3 / 4, 4 / 3], flip: 0.5, rotation: 2,
    brightness: 0.4, contrast: 0.4, saturation: 1.0, hue: 0.5, grayscale: 0.2, ...stats, ...o,
  };
}

/** torchvision RandomResizedCrop.get_params: [top, left, height, width]. */
export function cropParams(h: number, w: number, scale: [number, number], ratio: [number, number], rng: Rng): [number, number, number, number] {
  const area = h * w;
  const lr0 = Math.log(ratio[0]);
  const lr1 = Math.log(ratio[1]);
  for (let t = 0; t < 10; t++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng.next());
    const aspect = Math.exp(lr0 + (lr1 - lr0) * rng.next());
    const cw = Math.round(Math.sqrt(target * aspect));
    const ch = Math.round(Math.sqrt(target / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) return [rng.int(0, h - ch), rng.int(0, w - cw), ch, cw];
  }
  const inRatio = w / h;
  let cw = w;
  let ch = h;
  if (inRatio < ratio[0]) ch = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) cw = Math.round(h * ratio[1]);
  return [Math.floor((h - ch) / 2), Math.floor((w - cw) / 2), ch, cw];
}

/** Bilinear sample of plane `p` at (y, x) in pixel-centre coordinates, edges clamped. */
function bilinear(src: Uint8Array, base: number, h: number, w: number, y: number, x: number): number {
  const yc = Math.min(Math.max(y, 0), h - 1);
  const xc = Math.min(Math.max(x, 0), w - 1);
  const y0 = Math.floor(yc);
  const x0 = Math.floor(xc);
  const y1 = Math.min(y0 + 1, h - 1);
  const x1 = Math.min(x0 + 1, w - 1);
  const fy = yc - y0;
  const fx = xc - x0;
  const a = src[base + y0 * w + x0];
  const b = src[base + y0 * w + x1];
  const c = src[base + y1 * w + x0];
  const d = src[base + y1 * w + x1];
  return ((a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy) / 255;
}

/** Per-image random parameters, drawn in a fixed order so a seed reproduces a batch exactly. */
export interface ImageParams {
  crop: [number, number, number, number];
  flip: boolean;
  angle: number;
  /** Colour-jitter factors and the order of the four operations (0 brightness, 1 contrast, 2 saturation, 3 hue). */
  jitter: { b: number; c: number; s: number; h: number; order: number[] };
  gray: boolean;
}

export function drawParams(src: PixelSource, cfg: AugmentConfig, rng: Rng): ImageParams {
  const crop = cropParams(src.height, src.width, cfg.scale, cfg.ratio, rng);
  const flip = rng.next() < cfg.flip;
  const angle = (rng.next() * 2 - 1) * cfg.rotation;
  const order = [0, 1, 2, 3];
  for (let i = 3; i > 0; i--) {
    const j = rng.int(0, i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const u = (r: number) => 1 - r + 2 * r * rng.next();
  const jitter = { b: u(cfg.brightness), c: u(cfg.contrast), s: u(cfg.saturation), h: (rng.next() * 2 - 1) * cfg.hue, order };
  const gray = rng.next() < cfg.grayscale;
  return { crop, flip, angle, jitter, gray };
}

/** Writes one augmented, normalised image [C, S, S] into `out` at `offset`. */
export function augmentImage(src: PixelSource, row: number, p: ImageParams, cfg: AugmentConfig, out: Float32Array, offset: number): void {
  const { channels: C, height: H, width: W } = src;
  const S = cfg.size;
  const plane = S * S;
  const base = row * C * H * W;
  const [top, left, ch, cw] = p.crop;
  const rad = (p.angle * Math.PI) / 180;
  const cos = Math.cos(rad);
  const sin = Math.sin(rad);
  const mid = (S - 1) / 2;
  for (let oy = 0; oy < S; oy++) {
    for (let ox = 0; ox < S; ox++) {
      // Rotation about the centre of the output (inverse map), zero outside the rotated frame.
      const dx = ox - mid;
      const dy = oy - mid;
      let qx = cos * dx + sin * dy + mid;
      const qy = -sin * dx + cos * dy + mid;
      const o = offset + oy * S + ox;
      if (qx < -0.5 || qx > S - 0.5 || qy < -0.5 || qy > S - 0.5) {
        for (let c = 0; c < C; c++) out[o + c * plane] = 0;
        continue;
      }
      if (p.flip) qx = S - 1 - qx;
      // Resized-crop: output pixel centre → source pixel centre (align_corners = false).
      const sx = left + ((qx + 0.5) * cw) / S - 0.5;
      const sy = top + ((qy + 0.5) * ch) / S - 0.5;
      for (let c = 0; c < C; c++) out[o + c * plane] = bilinear(src.pixels, base + c * H * W, H, W, sy, sx);
    }
  }
  colorJitter(out, offset, C, plane, p);
  if (p.gray && C === 3) toGray(out, offset, plane);
  for (let c = 0; c < C; c++) {
    const m = cfg.mean[c] ?? cfg.mean[0];
    const s = cfg.std[c] ?? cfg.std[0];
    const o = offset + c * plane;
    for (let i = 0; i < plane; i++) out[o + i] = (out[o + i] - m) / s;
  }
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

function grayAt(x: Float32Array, offset: number, plane: number, i: number): number {
  return 0.299 * x[offset + i] + 0.587 * x[offset + plane + i] + 0.114 * x[offset + 2 * plane + i];
}

function toGray(x: Float32Array, offset: number, plane: number): void {
  for (let i = 0; i < plane; i++) {
    const g = grayAt(x, offset, plane, i);
    x[offset + i] = g;
    x[offset + plane + i] = g;
    x[offset + 2 * plane + i] = g;
  }
}

/** torchvision ColorJitter on [0, 1] floats; saturation and hue need colour and are no-ops on one channel. */
function colorJitter(x: Float32Array, offset: number, C: number, plane: number, p: ImageParams): void {
  const n = C * plane;
  for (const op of p.jitter.order) {
    if (op === 0 && p.jitter.b !== 1) {
      for (let i = 0; i < n; i++) x[offset + i] = clamp01(x[offset + i] * p.jitter.b);
    } else if (op === 1 && p.jitter.c !== 1) {
      let mean = 0;
      if (C === 3) for (let i = 0; i < plane; i++) mean += grayAt(x, offset, plane, i);
      else for (let i = 0; i < n; i++) mean += x[offset + i];
      mean /= C === 3 ? plane : n;
      const c = p.jitter.c;
      for (let i = 0; i < n; i++) x[offset + i] = clamp01(c * x[offset + i] + (1 - c) * mean);
    } else if (op === 2 && C === 3 && p.jitter.s !== 1) {
      const s = p.jitter.s;
      for (let i = 0; i < plane; i++) {
        const g = grayAt(x, offset, plane, i);
        for (let c = 0; c < 3; c++) x[offset + c * plane + i] = clamp01(s * x[offset + c * plane + i] + (1 - s) * g);
      }
    } else if (op === 3 && C === 3 && p.jitter.h !== 0) {
      shiftHue(x, offset, plane, p.jitter.h);
    }
  }
}

function shiftHue(x: Float32Array, offset: number, plane: number, shift: number): void {
  for (let i = 0; i < plane; i++) {
    const r = x[offset + i];
    const g = x[offset + plane + i];
    const b = x[offset + 2 * plane + i];
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const d = max - min;
    if (d === 0) continue; // grey pixels have no hue
    let h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
    h = h / 6 + shift;
    h -= Math.floor(h);
    const s = d / max;
    // HSV to RGB (no closures in this per-pixel loop: a transpiler may wrap each one in a call that names it).
    x[offset + i] = hsvChannel(5, h, s, max);
    x[offset + plane + i] = hsvChannel(3, h, s, max);
    x[offset + 2 * plane + i] = hsvChannel(1, h, s, max);
  }
}

/** One channel of HSV → RGB: n = 5 (red), 3 (green), 1 (blue). */
function hsvChannel(n: number, h: number, s: number, v: number): number {
  const k = (n + h * 6) % 6;
  return v - v * s * Math.max(0, Math.min(k, 4 - k, 1));
}

/**
 * Augments the images at `rows` into a new [B, C, S, S] Float32Array, drawing parameters from rng.
 * With `part` = [start, end), only those rows are made ([end - start, C, S, S]) while the
 * parameters of all rows are still drawn in order: a process of a data-parallel run makes its
 * slice of the global batch exactly as one process making the whole batch would.
 */
export function augmentBatch(src: PixelSource, rows: ArrayLike<number>, cfg: AugmentConfig, rng: Rng, part: [number, number] = [0, rows.length]): Float32Array {
  const size = src.channels * cfg.size * cfg.size;
  const [start, end] = part;
  const out = new Float32Array((end - start) * size);
  for (let b = 0; b < end; b++) {
    const p = drawParams(src, cfg, rng);
    if (b >= start) augmentImage(src, rows[b], p, cfg, out, (b - start) * size);
  }
  return out;
}

/**
 * The extraction pipeline used for clustering and evaluation: resize by 1/0.875 then centre-crop to
 * `size` (the reference's Resize(256) + CenterCrop(224)), then normalise. Deterministic.
 */
export function extractBatch(src: PixelSource, rows: ArrayLike<number>, cfg: Pick<AugmentConfig, 'size' | 'mean' | 'std'>): Float32Array {
  const { channels: C, height: H, width: W } = src;
  const S = cfg.size;
  const big = Math.round(S / 0.875);
  const off = Math.floor((big - S) / 2);
  const plane = S * S;
  const out = new Float32Array(rows.length * C * plane);
  for (let b = 0; b < rows.length; b++) {
    const base = rows[b] * C * H * W;
    for (let oy = 0; oy < S; oy++) {
      const sy = ((oy + off + 0.5) * H) / big - 0.5;
      for (let ox = 0; ox < S; ox++) {
        const sx = ((ox + off + 0.5) * W) / big - 0.5;
        for (let c = 0; c < C; c++) {
          const v = bilinear(src.pixels, base + c * H * W, H, W, sy, sx);
          out[b * C * plane + c * plane + oy * S + ox] = (v - (cfg.mean[c] ?? cfg.mean[0])) / (cfg.std[c] ?? cfg.std[0]);
        }
      }
    }
  }
  return out;
}
