/**
 * An ImageNet-like JPEG set made without network access, for the streaming-data tests and
 * `npm run bench:data`: Fashion-MNIST images enlarged to ImageNet's typical size (300-500 x 250-450
 * px, mean about 400 x 350), tinted with one of ten colours and textured with Gaussian noise, saved
 * at JPEG quality 90. 100 classes: the 10 garment classes x the 10 tints. Written in both layouts:
 *   <out>/train/<class>/<key>.jpg                    (ImageFolder, as torchvision and ImageNet's train set)
 *   <out>/shards/train-000000.tar, ...               (WebDataset: <key>.jpg + <key>.cls, the class index)
 * Generated, never committed. Usage: node --import tsx scripts/jpeg_fixture.ts OUT [IMAGES=10000] [PER_SHARD=1000]
 */
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import sharp from 'sharp';
import { pack } from 'tar-stream';
import { makeRng } from '../src/data/rng.ts';
import { loadDataset } from '../src/data/spec.ts';

const TINTS: [number, number, number][] = [
  [230, 80, 70], [240, 170, 60], [220, 220, 90], [110, 200, 90], [70, 190, 190],
  [80, 120, 230], [150, 90, 220], [230, 110, 190], [150, 120, 90], [190, 190, 200],
];

export interface JpegFixture {
  folder: string;
  shards: string[];
  images: number;
  classes: string[];
}

/** Writes `images` JPEGs (seeded) under `out` in both layouts; returns where. */
export async function writeJpegFixture(out: string, images = 10_000, perShard = 1000, seed = 0): Promise<JpegFixture> {
  const fm = await loadDataset('fashion-mnist', 'train');
  const garment = (fm.classNames ?? []).map((c) => c.toLowerCase().replace(/[^a-z0-9]+/g, '-'));
  const classes = garment.flatMap((g) => TINTS.map((_, t) => `${g}-t${t}`));
  const rng = makeRng(seed, 0x1e9);
  const folder = join(out, 'train');
  const shardDir = join(out, 'shards');
  for (const c of classes) mkdirSync(join(folder, c), { recursive: true });
  mkdirSync(shardDir, { recursive: true });
  const shards: string[] = [];
  let tar: ReturnType<typeof pack> | undefined;
  let written: Promise<void> | undefined;
  const size = fm.height * fm.width;
  for (let i = 0; i < images; i++) {
    if (i % perShard === 0) {
      if (tar) {
        tar.finalize();
        await written;
      }
      const path = join(shardDir, `train-${String(shards.length).padStart(6, '0')}.tar`);
      shards.push(path);
      tar = pack();
      written = pipeline(tar, createWriteStream(path));
    }
    const src = rng.int(0, fm.n - 1);
    const tint = rng.int(0, TINTS.length - 1);
    const cls = (fm.labels as Int32Array)[src] * TINTS.length + tint;
    const w = rng.int(300, 500);
    const h = rng.int(250, 450);
    const [r, g, b] = TINTS[tint];
    const noise = await sharp({ create: { width: w, height: h, channels: 3, background: { r: 0, g: 0, b: 0 }, noise: { type: 'gaussian', mean: 70, sigma: 50 } } }).png().toBuffer();
    const jpeg = await sharp(Buffer.from(fm.pixels.subarray(src * size, (src + 1) * size)), { raw: { width: fm.width, height: fm.height, channels: 1 } })
      .resize(w, h, { fit: 'fill', kernel: 'cubic' })
      .toColourspace('srgb')
      .tint({ r, g, b })
      .composite([{ input: noise, blend: 'screen' }])
      .jpeg({ quality: 90 })
      .toBuffer();
    const key = `img${String(i).padStart(6, '0')}`;
    writeFileSync(join(folder, classes[cls], `${key}.jpg`), jpeg);
    const t = tar as ReturnType<typeof pack>;
    t.entry({ name: `${key}.jpg` }, jpeg);
    t.entry({ name: `${key}.cls` }, `${cls}`);
  }
  tar?.finalize();
  await written;
  // Beside the shards, where a shard source looks for class names; at the top, the mark of a finished set.
  writeFileSync(join(shardDir, 'classes.txt'), `${classes.join('\n')}\n`);
  writeFileSync(join(out, 'classes.txt'), `${classes.join('\n')}\n`);
  return { folder, shards, images, classes };
}

if (process.argv[1]?.endsWith('jpeg_fixture.ts')) {
  const [out, n, per] = process.argv.slice(2);
  if (out === undefined) throw new Error('usage: scripts/jpeg_fixture.ts OUT [IMAGES=10000] [PER_SHARD=1000]');
  if (existsSync(join(out, 'classes.txt'))) console.log(`${out}: already written`);
  else {
    const t0 = performance.now();
    const f = await writeJpegFixture(out, Number(n ?? 10_000), Number(per ?? 1000));
    console.log(`${f.images} JPEGs in ${f.classes.length} classes: ${f.folder} and ${f.shards.length} shards in ${join(out, 'shards')} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
}
