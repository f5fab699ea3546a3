/**
 * The batched tensor augmentation (rotation, jitter in each image's order, grayscale, normalisation)
 * and the streamed workers' native one (image_native.ts) against augment.ts's per-pixel path with
 * the same drawn parameters, image by image.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { augmentImage, drawParams, type ImageParams, presetFor } from '../src/data/augment.ts';
import { makeRng } from '../src/data/rng.ts';
import { image } from '../src/data/stream/image_native.ts';
import { augmentTensor } from '../src/data/tensor_augment.ts';
import { tensor } from '../src/tensor/creation.ts';
import { tidy } from '../src/tensor/scope.ts';

type AugmentCfg = ReturnType<typeof presetFor>;
/** The augmented batch [b, C, s, s] of `pixels` (uint8) by one implementation. */
type Run = (pixels: Uint8Array, params: ImageParams[], cfg: AugmentCfg, shape: number[]) => ArrayLike<number>;

const byTensors: Run = (pixels, params, cfg, shape) =>
  tidy(() => augmentTensor(tensor(Float32Array.from(pixels, (v) => v / 255), { shape }), params, cfg).toArray() as number[]);

const natively: Run = (pixels, params, cfg, [b, , s]) => {
  const per = 3 * s * s;
  const out = new Float32Array(b * per);
  for (const [i, p] of params.entries()) {
    const v = Float64Array.of(p.angle, p.jitter.b, p.jitter.c, p.jitter.s, p.jitter.h, ...p.jitter.order, p.gray ? 1 : 0, ...cfg.mean, ...cfg.std);
    out.set(image.augmentCrop(pixels.subarray(i * per, (i + 1) * per), s, v), i * per);
  }
  return out;
};

function compare(channels: number, o: Partial<AugmentCfg>, seed: number, run: Run = byTensors): number {
  const s = 20;
  const b = 8;
  const cfg = presetFor(channels, s, o);
  const rng = makeRng(seed);
  const pixels = Uint8Array.from({ length: b * channels * s * s }, () => rng.int(0, 255));
  const src = { pixels, channels, height: s, width: s };
  const params: ImageParams[] = Array.from({ length: b }, () => drawParams(src, cfg, rng));
  const per = channels * s * s;
  const expected = new Float32Array(b * per);
  for (let i = 0; i < b; i++) augmentImage(src, i, { ...params[i], crop: [0, 0, s, s], flip: false }, cfg, expected, i * per);
  const got = run(pixels, params, cfg, [b, channels, s, s]);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
  return worst;
}

describe('augmentTensor', () => {
  it('equals the per-pixel path on colour images: rotation, the four jitters in each order, grayscale', () => {
    for (const seed of [1, 2, 3]) {
      const err = compare(3, { rotation: 15, grayscale: 0.3 }, seed);
      // Normalised values (divided by std ~0.25): 1e-4 is a 1/40,000 difference in [0, 1].
      assert.ok(err < 1e-4, `seed ${seed}: largest difference ${err}`);
    }
  });

  it('equals it on one channel (saturation and hue do nothing there) and with no rotation', () => {
    assert.ok(compare(1, { rotation: 10 }, 4) < 1e-4);
    assert.ok(compare(3, { rotation: 0 }, 5) < 1e-4);
  });
});

describe('the streamed workers\' native augmentation (augmentCrop)', () => {
  it('equals the per-pixel path on colour images: rotation, the four jitters in each order, grayscale', () => {
    for (const seed of [1, 2, 3]) {
      const err = compare(3, { rotation: 15, grayscale: 0.3 }, seed, natively);
      assert.ok(err < 1e-4, `seed ${seed}: largest difference ${err}`);
    }
    assert.ok(compare(3, { rotation: 0 }, 5, natively) < 1e-4);
  });

  it('refuses planes of the wrong size or a bad order, naming what it expected', () => {
    const v = Float64Array.of(0, 1, 1, 1, 0, 0, 1, 2, 3, 0, 0, 0, 0, 1, 1, 1);
    assert.throws(() => image.augmentCrop(new Uint8Array(10), 2, v), /10 bytes for size 2 \(expected 3 x size x size\)/);
    assert.throws(() => image.augmentCrop(new Uint8Array(12), 2, v.subarray(0, 5)), /5 parameters \(expected 16\)/);
    const bad = v.slice();
    bad[5] = 7;
    assert.throws(() => image.augmentCrop(new Uint8Array(12), 2, bad), /jitter order/);
  });
});
