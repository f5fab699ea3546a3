/**
 * Streaming data loading against PyTorch's DataLoader: JPEG decode + random-resized crop 224 +
 * flip + rotation + colour jitter + grayscale + normalisation, img/s from the generated JPEG set
 * (scripts/jpeg_fixture.ts, written once under DATA_FIXTURE, default runs/jpeg-fixture), for each
 * worker count, against torchvision with PIL (Debian's python3-torchvision) in the same run.
 * odc's batches count when their tensor is made (the main thread wraps the workers' batch in it).
 * DATA_IMAGES (1000), DATA_WORKERS ('1,2'), DATA_SOURCE ('folder' or 'shards').
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeJpegFixture } from '../scripts/jpeg_fixture.ts';
import { presetFor } from '../src/data/augment.ts';
import { openSource } from '../src/data/stream/sources.ts';
import { StreamBatchMaker } from '../src/data/stream/stream_loader.ts';
import { configureProcess } from '../src/runtime.ts';

configureProcess();
const fixture = process.env.DATA_FIXTURE ?? join('runs', 'jpeg-fixture');
const images = Number(process.env.DATA_IMAGES ?? 1000);
const workerCounts = (process.env.DATA_WORKERS ?? '1,2').split(',').map(Number);
const kind = process.env.DATA_SOURCE ?? 'folder';
if (!existsSync(join(fixture, 'classes.txt'))) {
  console.error(`writing ${images} JPEGs to ${fixture} (once)`);
  await writeJpegFixture(fixture, images, 250);
}
const source = openSource(kind === 'shards' ? `shards:${join(fixture, 'shards')}` : `folder:${join(fixture, 'train')}`);
const cfg = presetFor(3, 224, { scale: [0.08, 1] });
const ours: Record<number, number> = {};
for (const workers of workerCounts) {
  const maker = new StreamBatchMaker(source, cfg, { workers });
  const order = Int32Array.from({ length: Math.min(images, source.n) }, (_, i) => i);
  let t0 = 0;
  let n = 0;
  for await (const b of maker.batches(order, { batchSize: 32, seeds: [0, 0], minBatch: 32 })) {
    if (t0 === 0) t0 = performance.now(); // the first batch (worker start-up) is not timed
    else n += b.rows.length;
    b.images.dispose();
    b.index.dispose();
  }
  await maker.close();
  ours[workers] = n / ((performance.now() - t0) / 1000);
}
const peerOut = execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'peer_data.py'), join(fixture, 'train'), String(images), workerCounts.join(',')], { encoding: 'utf8' });
const peer = Object.fromEntries(peerOut.trim().split('\n').map((l) => JSON.parse(l)).map((r) => [r.workers, r.img_per_s]));
for (const w of workerCounts) {
  console.log(JSON.stringify({ bench: 'data', source: kind, images, workers: w, odc_img_per_s: ours[w], torchvision_img_per_s: peer[w], ratio: ours[w] / peer[w] }));
}
