/**
 * The streamed batches' JPEG cropper (native/jpeg_crop.cc) against torchvision's pipeline computed by
 * PIL (test/fixtures/jpeg_crops.json, scripts/gen_jpeg_crop_fixture.py): crop, bilinear resize,
 * flip, for colour, grayscale and progressive JPEGs, boxes enlarged and reduced (decoded at 1/2
 * scale); damaged files and boxes outside the image fail with a message; CMYK JPEGs and other
 * formats go through libvips.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { presetFor } from '../src/data/augment.ts';
import { makeRng } from '../src/data/rng.ts';
import { trainCrop } from '../src/data/stream/decode.ts';
import { isJpeg, image as jpeg } from '../src/data/stream/image_native.ts';

interface Fixture {
  images: Record<string, string>;
  crops: { image: string; box: [number, number, number, number]; size: number; flip: boolean; hwc: string }[];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/jpeg_crops.json', import.meta.url), 'utf8')) as Fixture;
const bytes = (name: string) => new Uint8Array(Buffer.from(fixture.images[name], 'base64'));

describe('JPEG crops (libjpeg-turbo)', () => {
  it('reads the size from the header', () => {
    assert.deepEqual(jpeg.jpegSize(bytes('colour')), [120, 100]);
    assert.deepEqual(jpeg.jpegSize(bytes('gray')), [90, 70]);
    assert.ok(isJpeg(bytes('progressive')));
  });

  for (const c of fixture.crops) {
    const [top, left, h, w] = c.box;
    // Decoded at 1/2 scale when the box is at least twice the output each way: the DCT's scaling
    // stands in for the first halving of PIL's filter, which moves values more at sharp edges
    // (here up to a mean of 2.6 levels, 39 at the worst pixel, on a picture of hard-edged discs and noise).
    const scaled = h >= 2 * c.size && w >= 2 * c.size;
    it(`${c.image} [${c.box}] to ${c.size}${c.flip ? ', flipped' : ''}: PIL's crop within ${scaled ? 'a mean of 3.5 levels' : '2 levels'}`, () => {
      const ours = jpeg.cropJpeg(bytes(c.image), top, left, h, w, c.size, c.flip);
      const want = Buffer.from(c.hwc, 'base64');
      const plane = c.size * c.size;
      assert.equal(ours.length, 3 * plane);
      let sum = 0;
      let max = 0;
      for (let p = 0; p < plane; p++) {
        for (let ch = 0; ch < 3; ch++) {
          const d = Math.abs(ours[ch * plane + p] - want[p * 3 + ch]);
          sum += d;
          max = Math.max(max, d);
        }
      }
      const mean = sum / (3 * plane);
      if (scaled) assert.ok(mean < 3.5 && max <= 48, `mean ${mean.toFixed(3)}, max ${max}`);
      else assert.ok(mean < 0.5 && max <= 2, `mean ${mean.toFixed(3)}, max ${max}`);
    });
  }

  it('a damaged or truncated file, or a box outside the image, fails with a message', () => {
    const good = bytes('colour');
    assert.throws(() => jpeg.jpegSize(good.subarray(0, 200)), /^Error: JPEG: /);
    assert.throws(() => jpeg.cropJpeg(good.subarray(0, good.length - 400), 0, 0, 100, 120, 32, false), /^Error: JPEG: .*(end|ended|premature)/i);
    assert.throws(() => jpeg.cropJpeg(good, 50, 60, 60, 70, 32, false), /box \[50, 60, 60, 70\] outside the 120x100 image/);
    assert.throws(() => jpeg.cropJpeg(good, 0, 0, 0, 10, 32, false), /out of range/);
    assert.throws(() => jpeg.jpegSize('not bytes' as unknown as Uint8Array), /Uint8Array of JPEG bytes/);
  });

  it('CMYK JPEGs and PNGs are cropped by libvips', async () => {
    const rgb = Buffer.from(bytes('colour'));
    const cmyk = await sharp(rgb).toColourspace('cmyk').jpeg().toBuffer();
    assert.equal(jpeg.jpegSize(cmyk), null);
    const png = await sharp(rgb).png().toBuffer();
    const cfg = presetFor(3, 32);
    for (const buf of [cmyk, png, rgb]) {
      const r = await trainCrop(buf, cfg, makeRng(1, 2));
      assert.equal(r.pixels.length, 3 * 32 * 32);
      assert.ok(r.pixels.some((v) => v > 0));
    }
  });
});
