/** Augmentation statistics: crop scales and ratios in range, flips at p, jitter ranges, normalisation, determinism. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { augmentBatch, cropParams, drawParams, extractBatch, presetFor } from '../src/data/augment.ts';
import { makeRng } from '../src/data/rng.ts';

const gradient = (c: number, h: number, w: number) => ({
  pixels: Uint8Array.from({ length: c * h * w }, (_, i) => (i % w) * Math.floor(255 / (w - 1))),
  channels: c, height: h, width: w,
});

describe('augmentation', () => {
  it('RandomResizedCrop parameters respect scale and ratio (torchvision procedure)', () => {
    const rng = makeRng(0);
    const areas: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const [top, left, h, w] = cropParams(28, 28, [0.08, 1], [3 / 4, 4 / 3], rng);
      assert.ok(top >= 0 && left >= 0 && top + h <= 28 && left + w <= 28);
      areas.push((h * w) / 784);
    }
    const mean = areas.reduce((a, b) => a + b, 0) / areas.length;
    assert.ok(Math.min(...areas) >= 0.05 && Math.max(...areas) <= 1);
    assert.ok(mean > 0.4 && mean < 0.6, `mean crop area ${mean}`);
  });

  it('draws flips at p = 0.5, rotations within ±2°, jitter factors in range, grayscale at p = 0.2', () => {
    const rng = makeRng(1);
    const cfg = presetFor(3, 32);
    const ps = Array.from({ length: 4000 }, () => drawParams(gradient(3, 32, 32), cfg, rng));
    const rate = (f: (p: (typeof ps)[0]) => boolean) => ps.filter(f).length / ps.length;
    assert.ok(Math.abs(rate((p) => p.flip) - 0.5) < 0.03);
    assert.ok(Math.abs(rate((p) => p.gray) - 0.2) < 0.03);
    assert.ok(ps.every((p) => Math.abs(p.angle) <= 2));
    assert.ok(ps.every((p) => p.jitter.b >= 0.6 && p.jitter.b <= 1.4 && p.jitter.s >= 0 && p.jitter.s <= 2 && Math.abs(p.jitter.h) <= 0.5));
    assert.ok(ps.every((p) => [...p.jitter.order].sort().join() === '0,1,2,3'));
  });

  it('a full-image crop without flip, rotation or jitter reproduces the normalised image', () => {
    const src = gradient(1, 8, 8);
    const cfg = { ...presetFor(1, 8), scale: [1, 1] as [number, number], ratio: [1, 1] as [number, number], flip: 0, rotation: 0, brightness: 0, contrast: 0, grayscale: 0 };
    const out = augmentBatch(src, [0], cfg, makeRng(2));
    for (let i = 0; i < 64; i++) assert.ok(Math.abs(out[i] - (src.pixels[i] / 255 - 0.286) / 0.353) < 1e-5);
  });

  it('a flip mirrors the image', () => {
    const src = gradient(1, 8, 8);
    const base = { ...presetFor(1, 8), scale: [1, 1] as [number, number], ratio: [1, 1] as [number, number], rotation: 0, brightness: 0, contrast: 0 };
    const flipped = augmentBatch(src, [0], { ...base, flip: 1 }, makeRng(3));
    const plain = augmentBatch(src, [0], { ...base, flip: 0 }, makeRng(3));
    for (let x = 0; x < 8; x++) assert.ok(Math.abs(flipped[x] - plain[7 - x]) < 1e-5);
  });

  it('batches are deterministic per seed, differ across seeds, and keep normalised statistics', () => {
    const src = { pixels: Uint8Array.from({ length: 50 * 784 }, (_, i) => (i * 7919) % 256), channels: 1, height: 28, width: 28 };
    const rows = Array.from({ length: 50 }, (_, i) => i);
    const cfg = presetFor(1, 28);
    const a = augmentBatch(src, rows, cfg, makeRng(5, 0, 1));
    const b = augmentBatch(src, rows, cfg, makeRng(5, 0, 1));
    const c = augmentBatch(src, rows, cfg, makeRng(5, 0, 2));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.ok(a.every(Number.isFinite));
    const min = (0 - 0.286) / 0.353;
    const max = (1 - 0.286) / 0.353;
    assert.ok(a.every((v) => v >= min - 1e-5 && v <= max + 1e-5));
  });

  it('extraction resizes by 1/0.875 and centre-crops (a constant image stays constant)', () => {
    const src = { pixels: new Uint8Array(3 * 32 * 32).fill(128), channels: 3, height: 32, width: 32 };
    const out = extractBatch(src, [0], presetFor(3, 32));
    assert.equal(out.length, 3 * 32 * 32);
    assert.ok(Math.abs(out[0] - (128 / 255 - 0.4914) / 0.247) < 1e-5);
  });
});
