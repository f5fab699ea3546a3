/**
 * The augmentation on the device (tensor_augment.ts: crop, flip and rotation as one warp, jitter in
 * each image's order, grayscale, normalisation), the BatchMaker that uses it, and the streamed
 * workers' native one (image_native.ts) against augment.ts's per-pixel path with the same drawn
 * parameters, image by image.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { augmentImage, drawParams, type ImageParams, presetFor } from '../src/data/augment.ts';
import { BatchMaker } from '../src/data/loader.ts';
import { makeRng } from '../src/data/rng.ts';
import { augmentParams } from '../src/data/stream/decode.ts';
import { image } from '../src/data/stream/image_native.ts';
import { augmentTensor } from '../src/data/tensor_augment.ts';
import { tensor } from '../src/tensor/creation.ts';
import { tidy } from '../src/tensor/scope.ts';

type AugmentCfg = ReturnType<typeof presetFor>;
const worstOf = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  assert.equal(got.length, want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  return worst;
};

/** Random images of `channels` x `h` x `w` (not square: the crop's two axes are told apart). */
function randomStore(n: number, channels: number, h: number, w: number, seed: number) {
  const rng = makeRng(seed);
  return { pixels: Uint8Array.from({ length: n * channels * h * w }, () => rng.int(0, 255)), n, channels, height: h, width: w, source: 'random' };
}

/** augmentTensor against augmentImage on a batch of 8: the largest difference of the normalised values. */
function compareOnDevice(channels: number, o: Partial<AugmentCfg>, seed: number): number {
  const store = randomStore(8, channels, 28, 24, seed);
  const cfg = presetFor(channels, 20, o);
  const rng = makeRng(seed, 1);
  const params: ImageParams[] = Array.from({ length: store.n }, () => drawParams(store, cfg, rng));
  const per = channels * 20 * 20;
  const expected = new Float32Array(store.n * per);
  for (let i = 0; i < store.n; i++) augmentImage(store, i, params[i], cfg, expected, i * per);
  const got = tidy(() => augmentTensor(tensor(Float32Array.from(store.pixels, (v) => v / 255), { shape: [store.n, channels, 28, 24] }), params, cfg).toArray() as number[]);
  return worstOf(got, expected);
}

/** The native augmentation of already-cropped images against augmentImage with a whole-image crop. */
function compareNative(o: Partial<AugmentCfg>, seed: number): number {
  const s = 20;
  const store = randomStore(8, 3, s, s, seed);
  const cfg = presetFor(3, s, o);
  const rng = makeRng(seed, 2);
  const per = 3 * s * s;
  const expected = new Float32Array(store.n * per);
  const got = new Float32Array(store.n * per);
  for (let i = 0; i < store.n; i++) {
    const p = drawParams(store, cfg, rng);
    augmentImage(store, i, { ...p, crop: [0, 0, s, s], flip: false }, cfg, expected, i * per);
    got.set(image.augmentCrop(store.pixels.subarray(i * per, (i + 1) * per), s, augmentParams(p, cfg)), i * per);
  }
  return worstOf(got, expected);
}

describe('augmentation on the device (augmentTensor)', () => {
  it('equals the per-pixel path on colour images: crop, flip, rotation, the four jitters in each order, grayscale', () => {
    for (const seed of [1, 2, 3]) {
      const err = compareOnDevice(3, { rotation: 15, grayscale: 0.3, scale: [0.2, 1] }, seed);
      // Normalised values (divided by std ~0.25): 1e-4 is a 1/40,000 difference in [0, 1].
      assert.ok(err < 1e-4, `seed ${seed}: largest difference ${err}`);
    }
  });

  it('equals it on one channel (saturation and hue do nothing there) and with no rotation', () => {
    assert.ok(compareOnDevice(1, { rotation: 10 }, 4) < 1e-4);
    assert.ok(compareOnDevice(3, { rotation: 0 }, 5) < 1e-4);
  });

  it("BatchMaker's onDevice batches are the workers' batches, a process's slice included", async () => {
    const store = randomStore(24, 3, 28, 24, 6);
    const cfg = presetFor(3, 20, { rotation: 10, grayscale: 0.3 });
    const order = Int32Array.from({ length: 24 }, (_, i) => (i * 7) % 24);
    for (const [part, extract] of [[undefined, false], [{ rank: 1, worldSize: 2 }, false], [undefined, true]] as const) {
      const batches = async (onDevice: boolean) => {
        const maker = new BatchMaker(store, cfg, 0, onDevice);
        const out: number[] = [];
        for await (const b of maker.batches(order, { batchSize: 8, seeds: [3, 1], part, extract })) {
          out.push(...(b.images.toArray() as number[]));
          b.images.dispose();
          b.index.dispose();
        }
        await maker.close();
        return out;
      };
      const err = worstOf(await batches(true), await batches(false));
      assert.ok(err < 1e-4, `part ${JSON.stringify(part)}, extract ${extract}: largest difference ${err}`);
    }
  });
});

describe('the streamed workers\' native augmentation (augmentCrop)', () => {
  it('equals the per-pixel path on colour images: rotation, the four jitters in each order, grayscale', () => {
    for (const seed of [1, 2, 3]) {
      const err = compareNative({ rotation: 15, grayscale: 0.3 }, seed);
      assert.ok(err < 1e-4, `seed ${seed}: largest difference ${err}`);
    }
    assert.ok(compareNative({ rotation: 0 }, 5) < 1e-4);
  });

  it('refuses planes of the wrong size or a bad order, naming what it expected', () => {
    const v = Float64Array.of(0, 1, 1, 1, 0, 0, 1, 2, 3, 0, 0, 0, 0, 1, 1, 1);
    assert.throws(() => image.augmentCrop(new Uint8Array(10), 2, v), /10 bytes for size 2 \(expected 3 x size x size\)/);
    assert.throws(() => image.augmentCrop(new Uint8Array(12), 2, v.subarray(0, 5)), /5 parameters \(expected 16\)/);
    const bad = v.slice();
    bad[5] = 7;
    assert.throws(() => image.augmentCrop(new Uint8Array(12), 2, bad), /jitter order/);
    // Written in place: the same values at the offset, the rest untouched; past the end refused.
    const planes = Uint8Array.from({ length: 12 }, (_, i) => 20 * i);
    const out = new Float32Array(30).fill(-7);
    assert.equal(image.augmentCrop(planes, 2, v, out, 10), out);
    assert.deepEqual(Array.from(out.subarray(10, 22)), Array.from(image.augmentCrop(planes, 2, v)));
    assert.ok(out.subarray(0, 10).every((x) => x === -7) && out.subarray(22).every((x) => x === -7));
    assert.throws(() => image.augmentCrop(planes, 2, v, out, 20), /offset 20 \+ 12 values past the end of out \(30\)/);
  });
});
