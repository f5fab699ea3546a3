/**
 * Training from streamed datasets (`stream:DIR`, `shards:PATH`): the same features and labels as
 * the in-memory folder over the same images, undecodable shard members named and skipped.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { presetFor } from '../src/data/augment.ts';
import { DataError } from '../src/data/errors.ts';
import { batchSource, type ImageSet, type StreamedSet } from '../src/data/image_set.ts';
import { FASHION_MNIST_DIR, loadDataset, loadImageSet } from '../src/data/spec.ts';
import { imageSize, randomSubset } from '../src/data/store.ts';
import { packFolder } from '../src/data/stream/pack.ts';
import { getNumThreads, setNumThreads } from '../src/index.ts';
import { mergeConfig, readConfigFile, resolveConfig, type TrainConfigInput } from '../src/train/config.ts';
import { train } from '../src/train/trainer.ts';
import { writeTar } from './helpers.ts';

const skip = !existsSync(FASHION_MNIST_DIR) && 'dataset-fashion-mnist not installed';
const tmp = mkdtempSync(join(tmpdir(), 'odc-stream-train-'));
const folder = join(tmp, 'pngs');

/** 96 Fashion-MNIST test images as 28-px grayscale PNGs under class folders (lossless: both paths decode the same pixels). */
async function writePngFolder(): Promise<void> {
  const store = randomSubset(await loadDataset('fashion-mnist', 'test'), 96, 3);
  const size = imageSize(store);
  for (let i = 0; i < store.n; i++) {
    const dir = join(folder, `class${(store.labels as Int32Array)[i]}`);
    mkdirSync(dir, { recursive: true });
    const png = await sharp(Buffer.from(store.pixels.subarray(i * size, (i + 1) * size)), { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
    writeFileSync(join(dir, `${String(i).padStart(3, '0')}.png`), png);
  }
}

async function allBatches(set: ImageSet, extract: boolean, cfg = presetFor(3, set.height)): Promise<Float32Array> {
  const maker = batchSource(set, cfg, 0);
  const parts: Float32Array[] = [];
  try {
    const order = Int32Array.from({ length: set.n }, (_, i) => i);
    for await (const b of maker.batches(order, { batchSize: 40, seeds: [5, 0], extract })) {
      parts.push(b.images.toArray() as unknown as Float32Array);
      b.images.dispose();
      b.index.dispose();
    }
  } finally {
    await maker.close();
  }
  return Float32Array.from(parts.flatMap((p) => Array.from(p)));
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** Augmentation that changes nothing: whole-image crop, no flip, rotation, jitter or grayscale. */
const identity = { scale: [1, 1], ratio: [1, 1], flip: 0, rotation: 0, brightness: 0, contrast: 0, saturation: 0, hue: 0, grayscale: 0 } as const;

async function trainOneThread(cfg: TrainConfigInput): Promise<void> {
  const threads = getNumThreads();
  try {
    await train(resolveConfig({ ...cfg, threads: 1 }), { log: () => {} });
  } finally {
    setNumThreads(threads);
  }
}

describe('training from streamed datasets', { skip }, () => {
  before(writePngFolder);
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('stream:DIR reads the in-memory folder\'s images: the same size, labels, extraction inputs and (identity-augmented) training batches', async () => {
    const inMemory = await loadImageSet(`folder:${folder}`);
    const streamed = await loadImageSet(`stream:${folder}`);
    assert.equal(streamed.n, 96);
    assert.equal(streamed.height, inMemory.height);
    assert.equal(streamed.height, 28);
    assert.deepEqual(streamed.labels, inMemory.labels);
    const ex = maxAbsDiff(await allBatches(streamed, true), await allBatches(inMemory, true));
    assert.ok(ex < 1e-4, `extraction inputs differ by ${ex}`);
    const cfg = presetFor(3, 28, identity as never);
    const tr = maxAbsDiff(await allBatches(streamed, false, cfg), await allBatches(inMemory, false, cfg));
    assert.ok(tr < 1e-4, `identity-augmented training batches differ by ${tr}`);
  });

  it('an ODC run over stream:DIR gives the losses and labels of the same run over folder:DIR', async () => {
    const base: TrainConfigInput = {
      width: 4, clusters: 4, batchSize: 32, budget: '6it', workers: 0, logEvery: 1, augment: identity as never,
      memory: { minCluster: 2 }, evalFeatures: false, checkpointEvery: 1000,
    };
    await trainOneThread({ ...base, dataset: `folder:${folder}`, out: join(tmp, 'mem') });
    await trainOneThread({ ...base, dataset: `stream:${folder}`, out: join(tmp, 'stream') });
    const labels = (dir: string) => new Int32Array(readFileSync(join(dir, 'labels.npy')).buffer.slice(-96 * 4));
    const a = labels(join(tmp, 'mem'));
    const b = labels(join(tmp, 'stream'));
    const same = a.filter((v, i) => v === b[i]).length / a.length;
    assert.ok(same >= 0.95, `only ${(same * 100).toFixed(1)} % of the labels agree`);
    // The same losses, iteration by iteration (float rounding of the two pipelines grows a little through the steps).
    const losses = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'iter').map((r) => r.loss as number);
    const la = losses(join(tmp, 'mem'));
    const lb = losses(join(tmp, 'stream'));
    assert.equal(la.length, 6);
    for (const [i, v] of la.entries()) assert.ok(Math.abs(v - lb[i]) <= 2e-3 * Math.abs(v), `iteration ${i + 1}: loss ${lb[i]} streamed, ${v} in memory`);
    const cfg = JSON.parse(readFileSync(join(tmp, 'stream', 'config.json'), 'utf8'));
    assert.equal(cfg.imageSize, 28);
  });

  it('a shard with a corrupt image: training names the shard and key and goes on, or fails with onBadImage: fail', async () => {
    const dir = join(tmp, 'bad-shards');
    mkdirSync(dir);
    const src = (await loadImageSet(`stream:${folder}`)) as StreamedSet;
    const members: [string, Buffer | string][] = [];
    for (let i = 0; i < 24; i++) members.push([`k${i}.png`, await src.stream.read(i)], [`k${i}.cls`, String((src.labels as Int32Array)[i])]);
    const good = members[10][1] as Buffer;
    members[10] = ['k5.png', Buffer.concat([good.subarray(0, 60), Buffer.alloc(80, 7)])];
    await writeTar(join(dir, 'part-000000.tar'), members);
    const lines: string[] = [];
    const base: TrainConfigInput = { dataset: `shards:${dir}`, width: 4, clusters: 3, batchSize: 8, budget: '3it', workers: 0, logEvery: 1000, evalFeatures: false, memory: { minCluster: 1 } };
    const threads = getNumThreads();
    try {
      await train(resolveConfig({ ...base, threads: 1, out: join(tmp, 'bad-skip') }), { log: (l) => lines.push(l) });
      assert.ok(lines.some((l) => l.startsWith(`skipping ${join(dir, 'part-000000.tar')}:k5: unreadable image`)), lines.join('\n'));
      await assert.rejects(
        train(resolveConfig({ ...base, threads: 1, onBadImage: 'fail', out: join(tmp, 'bad-fail') }), { log: () => {} }),
        (e) => e instanceof DataError && e.message.startsWith(`${join(dir, 'part-000000.tar')}:k5: unreadable image`),
      );
    } finally {
      setNumThreads(threads);
    }
  });

  it('resident memory does not grow with the number of streamed images: 100,000 within 10 % of 10,000', async (t) => {
    // One shard of 10,000 members (the 96 PNGs over and over), and ten copies of it for 100,000.
    const src = (await loadImageSet(`stream:${folder}`)) as StreamedSet;
    const pngs = await Promise.all(Array.from({ length: src.n }, (_, i) => src.stream.read(i)));
    const small = join(tmp, 'rss-10k');
    const large = join(tmp, 'rss-100k');
    mkdirSync(small);
    mkdirSync(large);
    await writeTar(join(small, 'part-000000.tar'), Array.from({ length: 10_000 }, (_, i) => [`k${i}.png`, pngs[i % pngs.length]] as [string, Buffer]));
    for (let s = 0; s < 10; s++) copyFileSync(join(small, 'part-000000.tar'), join(large, `part-${String(s).padStart(6, '0')}.tar`));
    const peak = async (dir: string): Promise<{ peak: number; after: number }> => {
      // The rotation method keeps no per-image state, so what grows with N is the data path alone.
      const cfg = { dataset: `shards:${dir}`, method: 'rotation', imageSize: 16, width: 4, batchSize: 32, budget: '1000it', maxIterations: 4, workers: 0, logEvery: 1000, out: join(dir, 'run') };
      const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(new URL('./rss_worker.ts', import.meta.url))], {
        env: { ...process.env, ODC_RSS_CONFIG: JSON.stringify(cfg) }, stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      const code = await new Promise((res) => child.on('close', res));
      assert.equal(code, 0, out);
      const m = /maxrss (\d+) rss (\d+)/.exec(out);
      assert.ok(m, out);
      return { peak: Number(m[1]) / 1024, after: Number(m[2]) / 1024 };
    };
    // Three runs of each, interleaved, compared by their medians: one process's resident size
    // varies by about 20 MiB from run to run here (allocator and thread pools), more than the index.
    const runs: { peak: number; after: number }[][] = [[], []];
    for (let r = 0; r < 3; r++) for (const [k, d] of [small, large].entries()) runs[k].push(await peak(d));
    const median = (xs: { after: number }[]) => xs.map((x) => x.after).sort((p, q) => p - q)[1];
    const [a, b] = runs.map(median);
    t.diagnostic(`resident size after the run (3 runs each): ${runs[0].map((x) => x.after.toFixed(0)).join(', ')} MiB (10,000 images), ${runs[1].map((x) => x.after.toFixed(0)).join(', ')} MiB (100,000)`);
    // After the run, with the garbage collected: the peak also counts V8's young generation, which
    // grows with the allocation rate while the shards are indexed (tens of MiB, not per image).
    assert.ok(b <= a * 1.1, `median resident size ${b.toFixed(0)} MiB with 100,000 images against ${a.toFixed(0)} MiB with 10,000`);
  });

  it("the paper's ImageNet configs run on a user's folder (stream:) or shards (here at 32 px, 4 clusters, 2 iterations)", async () => {
    const shards = join(tmp, 'packed');
    await packFolder(folder, shards, { perShard: 40 });
    for (const [name, dataset] of [['imagenet-odc-r50', `stream:${folder}`], ['imagenet-dc-r50', `shards:${shards}`]]) {
      const path = fileURLToPath(new URL(`../configs/${name}.yaml`, import.meta.url));
      const small = { dataset, imageSize: 32, clusters: 4, batchSize: 8, maxIterations: 2, workers: 0, evalFeatures: false, tensorboard: false, memory: { minCluster: 2 }, out: join(tmp, name) };
      const cfg = resolveConfig(mergeConfig(readConfigFile(path), small), path);
      assert.equal(cfg.arch, 'resnet50');
      assert.equal(cfg.width, 64);
      assert.equal(cfg.stem, 'imagenet');
      const lines: string[] = [];
      const threads = getNumThreads();
      try {
        await train({ ...cfg, threads: 1 }, { log: (l) => lines.push(l) });
      } finally {
        setNumThreads(threads);
      }
      assert.ok(lines.some((l) => l.includes('(streamed: decoded and cropped per batch)')), lines.join('\n'));
      assert.ok(existsSync(join(tmp, name, 'latest.safetensors')));
    }
  });
});
