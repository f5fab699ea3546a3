/**
 * augment.ts's augmentation as tensor ops over a whole batch, on the run's device: the crop, flip
 * and rotation as one affine warp per image (affine_grid + grid_sample, the crop box folded into the
 * rotation's matrix), then the colour jitter in each image's own order, the random grayscale and
 * the normalisation; and the extraction's resize and centre crop. It computes what augment.ts's
 * per-pixel loops compute, on the engine's threads or a GPU instead of a JavaScript worker, so that
 * a GPU training on small in-memory images never waits for them (`BatchMaker`'s `onDevice`).
 */

import { tensorFromIndices } from '../cluster/tensor_util.ts';
import * as F from '../nn/functional.ts';
import { tensor, where } from '../tensor/creation.ts';
import { tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { AugmentConfig, ImageParams } from './augment.ts';

type Jitter = Pick<ImageParams, 'jitter' | 'gray'>;

/** Per-image factors as a [B, 1, 1, 1] tensor. */
const perImage = (v: number[]): Tensor => tensor(Float32Array.from(v), { shape: [v.length, 1, 1, 1] });

/** Luma of [B, 3, S, S] images: [B, 1, S, S]. */
function luma(x: Tensor): Tensor {
  return x.select(1, 0).mul(0.299).add(x.select(1, 1).mul(0.587)).add(x.select(1, 2).mul(0.114)).unsqueeze(1);
}

/**
 * Each image's crop box resampled to S x S, flipped and rotated about its centre, as augmentImage
 * maps output pixels to source pixels: the rotation (inverse map) first, then the flip, then the
 * box (pixel centres, align_corners false). Zero where the rotated frame leaves the output; the
 * source's edges clamped (border padding), as the per-pixel bilinear clamps them.
 */
function warp(x: Tensor, params: ImageParams[], size: number): Tensor {
  const [b, c, h, w] = x.shape;
  const rotation = tensor(
    Float32Array.from(params.flatMap((p) => {
      const r = (p.angle * Math.PI) / 180;
      return [Math.cos(r), Math.sin(r), 0, -Math.sin(r), Math.cos(r), 0];
    })),
    { shape: [b, 2, 3] },
  );
  // The rotated output grid in normalised coordinates, [B, S, S, 2] (x, y).
  const turned = F.affineGrid(rotation, [b, c, size, size], false);
  const inside = turned.abs().max(3)[0].le(1).unsqueeze(1);
  // The box: x_source = (cw / W) * (±x) + (2 left + cw) / W − 1, and likewise for y.
  const scale = tensor(Float32Array.from(params.flatMap((p) => [(p.crop[3] / w) * (p.flip ? -1 : 1), p.crop[2] / h])), { shape: [b, 1, 1, 2] });
  const shift = tensor(Float32Array.from(params.flatMap((p) => [(2 * p.crop[1] + p.crop[3]) / w - 1, (2 * p.crop[0] + p.crop[2]) / h - 1])), { shape: [b, 1, 1, 2] });
  return F.gridSample(x, turned.mul(scale).add(shift), { padding: 'border', alignCorners: false }).mul(inside.float());
}

/**
 * torchvision's hue shift (RGB → HSV, hue + shift mod 1, → RGB) with whole-batch ops. The hue of a
 * pixel whose largest channel is c is ((next channel − the one after) / (max − min) + 2c) / 6; back
 * to RGB, channel n is max − (max − min)·clamp(min(k, 4 − k), 0, 1) with k = (6·hue + 5, 3, 1) mod 6.
 * Grey pixels (max = min) come back unchanged from the same formula.
 */
function hueShift(x: Tensor, shift: Tensor): Tensor {
  const [max, at] = x.max(1, true);
  const d = max.sub(x.min(1, true)[0]);
  const safe = d.add(d.eq(0).float());
  const ahead = (k: number) => x.roll(-k, 1).gather(1, at);
  let h = ahead(1).sub(ahead(2)).div(safe).add(at.float().mul(2));
  h = h.div(6).add(shift);
  h = h.sub(h.floor()).mul(6);
  const k = h.add(tensor(Float32Array.of(5, 3, 1), { shape: [1, 3, 1, 1] })).remainder(6);
  return max.sub(d.mul(k.minimum(k.neg().add(4)).clamp(0, 1)));
}

/** One jitter operation (0 brightness, 1 contrast, 2 saturation, 3 hue) on images [G, C, S, S] with their own factors. */
function jitterOp(y: Tensor, op: number, ps: Jitter[]): Tensor {
  const c = y.size(1);
  if (op === 0) return ps.every((p) => p.jitter.b === 1) ? y : y.mul(perImage(ps.map((p) => p.jitter.b))).clamp(0, 1);
  if (op === 1) {
    if (ps.every((p) => p.jitter.c === 1)) return y;
    const mean = (c === 3 ? luma(y) : y).mean([1, 2, 3], true);
    const f = perImage(ps.map((p) => p.jitter.c));
    return y.mul(f).add(mean.mul(f.neg().add(1))).clamp(0, 1);
  }
  if (c !== 3) return y; // saturation and hue need colour
  if (op === 2) {
    if (ps.every((p) => p.jitter.s === 1)) return y;
    const f = perImage(ps.map((p) => p.jitter.s));
    return y.mul(f).add(luma(y).mul(f.neg().add(1))).clamp(0, 1);
  }
  return ps.every((p) => p.jitter.h === 0) ? y : hueShift(y, perImage(ps.map((p) => p.jitter.h)));
}

/**
 * x: [B, C, H, W] images in [0, 1] (uint8 / 255, on any device) and each image's drawn parameters:
 * the augmented, normalised batch [B, C, S, S] (augment.ts's augmentImage, image by image).
 */
export function augmentTensor(x: Tensor, params: ImageParams[], cfg: Pick<AugmentConfig, 'size' | 'mean' | 'std'>): Tensor {
  return tidy(() => normalize(colour(warp(x, params, cfg.size), params), cfg));
}

/**
 * The extraction pipeline on [B, C, S, S] images in [0, 1]: bilinear resize to S/0.875 (pixel
 * centres, edges clamped), centre crop S, normalisation: augment.ts's extractBatch as tensor ops.
 */
export function extractTensor(x: Tensor, cfg: Pick<AugmentConfig, 'size' | 'mean' | 'std'>): Tensor {
  return tidy(() => {
    const s = cfg.size;
    const big = Math.round(s / 0.875);
    const off = Math.floor((big - s) / 2);
    const y = F.interpolate(x, [big, big], 'bilinear', false).narrow(2, off, s).narrow(3, off, s);
    return normalize(y, cfg);
  });
}

function normalize(y: Tensor, cfg: Pick<AugmentConfig, 'mean' | 'std'>): Tensor {
  const c = y.size(1);
  const mean = tensor(Float32Array.from({ length: c }, (_, i) => cfg.mean[i] ?? cfg.mean[0]), { shape: [1, c, 1, 1] });
  const std = tensor(Float32Array.from({ length: c }, (_, i) => cfg.std[i] ?? cfg.std[0]), { shape: [1, c, 1, 1] });
  return y.sub(mean).div(std);
}

/** The jitter operations in each image's order, then its grayscale draw. `x` is the warp's output, written in place. */
function colour(x: Tensor, params: Jitter[]): Tensor {
  return tidy(() => {
    const c = x.size(1);
    let y = x;
    // Each image applies its four operations in its own order. Position by position, the images
    // whose operation there is the same are done together: at most 4 x 4 batched operations per
    // batch, whatever the mix of orders (grouping by whole order made up to 24 x 4 small ones).
    for (let slot = 0; slot < 4; slot++) {
      const byOp = new Map<number, number[]>();
      for (const [i, p] of params.entries()) byOp.set(p.jitter.order[slot], [...(byOp.get(p.jitter.order[slot]) ?? []), i]);
      for (const [op, ix] of byOp) {
        const ps = ix.map((i) => params[i]);
        if (ix.length === params.length) {
          y = jitterOp(y, op, ps);
          continue;
        }
        const rows = tensorFromIndices(ix);
        const done = jitterOp(y.indexSelect(0, rows), op, ps);
        y.indexCopy_(0, rows, done);
      }
    }
    if (c === 3 && params.some((p) => p.gray)) y = where(perImage(params.map((p) => (p.gray ? 1 : 0))).gt(0), luma(y).expandAs(y), y);
    return y;
  });
}
