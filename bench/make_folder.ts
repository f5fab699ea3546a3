/**
 * A folder dataset for the small-data measurements: N images of Fashion-MNIST's test split (seeded
 * random subset) written as PNG files under one sub-folder per class, as a user's own photos would
 * be laid out. Usage: node --import tsx bench/make_folder.ts OUT_DIR [N=5000] [SEED=0]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadDataset } from '../src/data/spec.ts';
import { imageSize, randomSubset } from '../src/data/store.ts';

const [out, nArg, seedArg] = process.argv.slice(2);
if (out === undefined) throw new Error('usage: bench/make_folder.ts OUT_DIR [N=5000] [SEED=0]');
const store = randomSubset(await loadDataset('fashion-mnist', 'test'), Number(nArg ?? 5000), Number(seedArg ?? 0));
const size = imageSize(store);
const names = (store.classNames ?? []).map((c) => c.replace(/[^a-zA-Z0-9]+/g, '-'));
for (const name of names) mkdirSync(join(out, name), { recursive: true });
for (let i = 0; i < store.n; i++) {
  const px = Buffer.from(store.pixels.subarray(i * size, (i + 1) * size));
  const png = await sharp(px, { raw: { width: store.width, height: store.height, channels: store.channels as 1 } }).png().toBuffer();
  writeFileSync(join(out, names[(store.labels as Int32Array)[i]], `${String(i).padStart(5, '0')}.png`), png);
}
console.log(`${store.n} PNG images in ${out} (${names.length} class folders)`);
