/**
 * The batched tensor augmentation (rotation, jitter in each image's order, grayscale, normalisation)
 * against augment.ts's per-pixel path with the same drawn parameters, image by image.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { augmentImage, drawParams, type ImageParams, presetFor } from '../src/data/augment.ts';
import { makeRng } from '../src/data/rng.ts';
import { augmentTensor } from '../src/data/tensor_augment.ts';
import { tensor } from '../src/tensor/creation.ts';
import { tidy } from '../src/tensor/scope.ts';

function compare(channels: number, o: Partial<ReturnType<typeof presetFor>>, seed: number): number {
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
  return tidy(() => {
    const x = tensor(Float32Array.from(pixels, (v) => v / 255), { shape: [b, channels, s, s] });
    const got = augmentTensor(x, params, cfg).toArray() as number[];
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
    return worst;
  });
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
