/** `odc eval` of a run takes the model and input settings from the run's config.json: a folder run at a non-default image size. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { makeRng } from '../src/data/rng.ts';
import { loadEvalModel, resolveEvalSettings, runConfigOf } from '../src/eval/eval_model.ts';
import { evaluate } from '../src/eval/evaluate.ts';
import { memory } from '../src/index.ts';
import { resolveConfig } from '../src/train/config.ts';
import { train } from '../src/train/trainer.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'odc-eval-run-'));
const data = join(tmp, 'images');
const run = join(tmp, 'run');
const checkpoint = join(run, 'latest.safetensors');
/** Above 64 px, so the 'auto' stem is ImageNet's (7x7 conv): evaluating at the old default 64 px built a CIFAR stem. */
const SIZE = 72;

/** 20 noisy reddish and 20 noisy bluish 24x24 PNGs in two class folders. */
async function writeImages(): Promise<void> {
  const rng = makeRng(3);
  for (const [c, cls] of ['red', 'blue'].entries()) {
    mkdirSync(join(data, cls), { recursive: true });
    for (let i = 0; i < 20; i++) {
      const px = Buffer.alloc(24 * 24 * 3);
      for (let p = 0; p < 24 * 24; p++) {
        const hi = 150 + Math.floor(100 * rng.next());
        const lo = Math.floor(100 * rng.next());
        px[3 * p] = c === 0 ? hi : lo;
        px[3 * p + 1] = Math.floor(120 * rng.next());
        px[3 * p + 2] = c === 0 ? lo : hi;
      }
      writeFileSync(join(data, cls, `${i}.png`), await sharp(px, { raw: { width: 24, height: 24, channels: 3 } }).png().toBuffer());
    }
  }
}

describe('evaluating a folder run at a non-default image size', () => {
  before(async () => {
    await writeImages();
    await train(
      resolveConfig({
        dataset: `folder:${data}`, imageSize: SIZE, width: 8, clusters: 4, batchSize: 10, epochs: 1, logEvery: 2, workers: 0,
        evalFeatures: false, tensorboard: false, memory: { minCluster: 2, warmupEpochs: 0 }, out: run,
      }),
      { log: () => {} },
    );
  });

  it("reads the dataset, image size and stem from the run's config.json", () => {
    const s = resolveEvalSettings({}, runConfigOf(checkpoint));
    assert.equal(s.dataset, `folder:${data}`);
    assert.equal(s.imageSize, SIZE);
    assert.equal(s.trainedSize, SIZE);
    assert.deepEqual(s.arch, { arch: 'resnet18', width: 8, stem: 'auto', sobel: false });
    // Flags override the run.
    const o = resolveEvalSettings({ imageSize: 96, arch: { width: 16 } }, runConfigOf(checkpoint));
    assert.equal(o.imageSize, 96);
    assert.equal(o.trainedSize, SIZE);
    assert.equal(o.arch.width, 16);
    assert.throws(() => resolveEvalSettings({ imageSize: 4 }), /--image-size/);
  });

  it('loads the checkpoint and scores kNN and clustering; a wrong stem names the shapes and the flags', async () => {
    const lines: string[] = [];
    const n0 = memory().numTensors;
    const r = await evaluate({ checkpoint, protocols: ['knn', 'cluster'], knnKs: [5], cache: false, log: (l) => lines.push(l) });
    assert.equal(memory().numTensors, n0);
    assert.equal(r.dataset, `folder:${data}`);
    assert.equal(r.imageSize, SIZE);
    assert.match(r.features, /imagenet stem/);
    const knn = r.protocols.knn as { rows: { k: number; weighted: number }[] };
    assert.equal(knn.rows[0].k, 5);
    assert.ok(knn.rows[0].weighted >= 0 && knn.rows[0].weighted <= 1);
    const cluster = r.protocols.cluster as { kmeans: { images: number; nmi: number }; run_labels?: { images: number } };
    assert.equal(cluster.kmeans.images, 40);
    assert.equal(cluster.run_labels?.images, 40, lines.join('\n'));
    assert.throws(
      () => loadEvalModel(checkpoint, { arch: { stem: 'cifar' }, inChannels: 3, height: SIZE }),
      /'conv1\.weight' has shape \[8,3,7,7\] in the checkpoint, \[8,3,3,3\] in the model, built as resnet18 \(width 8, cifar stem.*--image-size/,
    );
    assert.equal(memory().numTensors, n0);
  });

  it('odc eval --image-size overrides the run and keeps its stem', async () => {
    const out = join(tmp, 'eval-80.json');
    const args = ['--import', 'tsx', 'src/cli/main.ts', 'eval', '--checkpoint', checkpoint, '--image-size', '80', '--knn-k', '5', '--no-cache', '--threads', '1', '--out', out];
    const p = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    p.stdout.on('data', (d) => (text += d));
    p.stderr.on('data', (d) => (text += d));
    const code = await new Promise<number>((res) => p.on('exit', (c) => res(c ?? -1)));
    assert.equal(code, 0, text);
    assert.match(text, /input: 3x80x80 \(the run trained at 72 px\)/);
    const r = JSON.parse(readFileSync(out, 'utf8'));
    assert.equal(r.imageSize, 80);
    assert.match(r.features, /imagenet stem/);
    assert.deepEqual(Object.keys(r.protocols).sort(), ['cluster', 'knn']);
  });
});
