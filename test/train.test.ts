/** End-to-end training on real Fashion-MNIST slices: learning signals, both methods, exact resume after a stop or a kill. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FASHION_MNIST_DIR } from '../src/data/spec.ts';
import { dispose, getNumThreads, setNumThreads, type Tensor, tidy } from '../src/index.ts';
import { loadSafetensors, saveSafetensors } from '../src/io/safetensors.ts';
import { eventFiles, readEvents, readScalars } from '../src/report/tfevents.ts';
import { loadCheckpoint } from '../src/train/checkpoint.ts';
import { resolveConfig, type TrainConfigInput } from '../src/train/config.ts';
import { type IterationInfo, train } from '../src/train/trainer.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const skip = !existsSync(FASHION_MNIST_DIR) && 'dataset-fashion-mnist not installed';
const tmp = mkdtempSync(join(tmpdir(), 'odc-train-'));
const records = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

/** A small, fast setting: 600 images, ResNet-18 at width 8, 6 clusters of at least 20. */
const small = { subset: 600, width: 8, clusters: 6, batchSize: 50, logEvery: 1000, workers: 1 };

/** Fields of metrics records that measure time or speed: they differ between any two runs. */
const TIMING = new Set(['img_per_s', 'wall_s', 'loop_s', 'data_wait_s', 'memory_s', 'extract_s', 'kmeans_s']);
const untimed = (dir: string) => records(dir).map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !TIMING.has(k))));

/** The final checkpoint's progress, ODC splits counter and cluster labels of a run directory. */
function checkpointState(dir: string): { iteration: number; splits: number; labels: number[] } {
  const ck = loadCheckpoint(join(dir, 'latest.safetensors'));
  try {
    const labels = ck.memory.get('memory.labels') ?? ck.rest.get('dc.labels');
    assert.ok(labels && ck.progress);
    return { iteration: ck.progress.iteration, splits: ck.memory.get('memory.splits')?.item() ?? 0, labels: labels.toArray() };
  } finally {
    ck.dispose();
  }
}

/**
 * `train` on one libtorch thread (the setting is process-wide: restored after). On a shared 2-core
 * machine, two threads made these tiny runs 2-4 times slower.
 */
async function trainOneThread(cfg: TrainConfigInput, resume = false): Promise<void> {
  const threads = getNumThreads();
  try {
    await train(resolveConfig({ ...cfg, threads: 1 }), { resume, log: () => {} });
  } finally {
    setNumThreads(threads);
  }
}

/**
 * Trains `cfg` uninterrupted into `<tmp>/<name>-full`, and into `<tmp>/<name>-resumed` stopped after
 * each of `stops` iterations in total (`maxIterations`: a checkpoint, then return, as a kill right
 * after a checkpoint) and resumed, the last time to the end. Returns the state at each stop.
 */
async function stopAndResume(name: string, cfg: TrainConfigInput, stops: number[]) {
  const full = join(tmp, `${name}-full`);
  const resumed = join(tmp, `${name}-resumed`);
  await trainOneThread({ ...cfg, out: full });
  const states: ReturnType<typeof checkpointState>[] = [];
  for (const [i, maxIterations] of stops.entries()) {
    await trainOneThread({ ...cfg, out: resumed, maxIterations }, i > 0);
    states.push(checkpointState(resumed));
  }
  await trainOneThread({ ...cfg, out: resumed }, true);
  return { full, resumed, stops: states };
}

/**
 * Asserts that two runs ended identically: every tensor of their final checkpoints bit for bit
 * (model, SGD momentum, memories and ODC split state or DeepCluster labels, generator state), the
 * progress and method counters, labels.npy, summary.json, and every metrics record and TensorBoard
 * scalar that is not a time or a speed.
 */
function assertSameRun(a: string, b: string): void {
  const x = loadCheckpoint(join(a, 'latest.safetensors'));
  const y = loadCheckpoint(join(b, 'latest.safetensors'));
  try {
    assert.deepEqual(y.progress, x.progress);
    const { config: _x, ...metaX } = x.meta;
    const { config: _y, ...metaY } = y.meta;
    assert.deepEqual(metaY, metaX);
    for (const part of ['model', 'optimizer', 'memory', 'rest'] as const) {
      assert.deepEqual([...y[part].keys()], [...x[part].keys()], part);
      for (const [k, v] of x[part]) {
        const w = y[part].get(k) as Tensor;
        assert.deepEqual(w.shape, v.shape, `${part} ${k}`);
        const diff = v.numel === 0 ? 0 : tidy(() => v.double().sub(w.double()).abs().max().item());
        assert.equal(diff, 0, `${part} ${k}: max difference ${diff}`);
      }
    }
  } finally {
    x.dispose();
    y.dispose();
  }
  assert.ok(readFileSync(join(b, 'labels.npy')).equals(readFileSync(join(a, 'labels.npy'))), 'labels.npy');
  const summary = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  assert.deepEqual(summary(b), summary(a));
  assert.deepEqual(untimed(b), untimed(a));
  const scalars = (dir: string) => [...readScalars(join(dir, 'tb'))].filter(([tag]) => !tag.endsWith('img_per_s')).map(([tag, ps]) => [tag, ps.map((p) => [p.step, p.value])]);
  assert.deepEqual(scalars(b), scalars(a));
}

describe('odc train', { skip }, () => {
  it('ODC stopped mid-epoch, at an epoch end and mid-epoch again, each time resumed, ends exactly where an uninterrupted run ends', async () => {
    // 400 images, batch 50: 8 iterations per epoch. 8 clusters of at least 40 on 400 images: small
    // clusters are dissolved and re-created from the first iteration on.
    const cfg = {
      subset: 400, width: 8, clusters: 8, batchSize: 50, epochs: 2, logEvery: 3, checkpointEvery: 5, workers: 0, evalFeatures: false,
      memory: { minCluster: 40, warmupEpochs: 0 },
    };
    const { full, resumed, stops } = await stopAndResume('odc', cfg, [4, 8, 13]);
    assert.deepEqual(stops.map((x) => x.iteration), [4, 8, 13]);
    const splits = stops.map((x) => x.splits);
    assert.ok(splits[0] > 0 && splits[0] < splits[1] && splits[1] < splits[2], `splits at the stops ${splits}`);
    assertSameRun(full, resumed);
    const end = checkpointState(full);
    assert.ok(end.splits > splits[2], `splits ${end.splits}`);
    assert.equal(end.splits, checkpointState(resumed).splits);

    // A checkpoint written before the memory's sums, split counter and generator were saved still
    // resumes: sums recomputed, the counter taken from the repairs.
    const old = join(tmp, 'odc-old');
    mkdirSync(old);
    const ck = loadSafetensors(join(full, 'latest.safetensors'));
    const dropped = ['memory.sums', 'memory.splits', 'memory.split_rng'];
    saveSafetensors(join(old, 'latest.safetensors'), new Map([...ck.tensors].filter(([k]) => !dropped.includes(k))), ck.metadata);
    dispose([...ck.tensors.values()]);
    await trainOneThread({ ...cfg, out: old }, true);
    assert.equal(checkpointState(old).splits, end.splits);
  });

  it('DeepCluster stopped mid-epoch (initial and re-clustered labels) and at an epoch end, each time resumed, ends exactly where an uninterrupted run ends', async () => {
    // 300 images, batch 50: 6 iterations per epoch; re-clustering before epochs 2 and 3 (the one
    // before epoch 3 after resuming from the epoch-2 checkpoint) and after the last.
    const cfg = {
      method: 'deepcluster' as const, subset: 300, width: 8, clusters: 6, batchSize: 50, epochs: 3, pcaDim: 32, logEvery: 4, checkpointEvery: 5,
      workers: 0, evalFeatures: false,
    };
    const { full, resumed, stops } = await stopAndResume('dc', cfg, [4, 9, 12]);
    assert.deepEqual(stops.map((x) => x.iteration), [4, 9, 12]);
    // The labels at the mid-epoch-2 stop are epoch 2's clustering, not the initial one.
    assert.notDeepEqual(stops[1].labels, stops[0].labels);
    assertSameRun(full, resumed);
    assert.equal(records(resumed).filter((x) => x.type === 'cluster').length, 2);
  });

  it('odc train --resume continues a run killed (SIGKILL) after its first checkpoint and ends where an uninterrupted run ends', async () => {
    // 200 images, batch 50: 4 iterations per epoch, 8 in all; checkpoints at 3, 4, 6 and 8. The kill
    // lands anywhere after the checkpoint at 3, possibly mid-write of a later one or after the end;
    // every assertion below holds wherever it lands.
    const config = join(tmp, 'cli.json');
    writeFileSync(config, JSON.stringify({ subset: 200, width: 8, clusters: 4, batchSize: 50, epochs: 2, checkpointEvery: 3, logEvery: 1, workers: 1, evalFeatures: false, threads: 1 }));
    const args = ['--config', config];
    const full = join(tmp, 'cli-full');
    const killed = join(tmp, 'cli-killed');
    const cli = (out: string, extra: string[] = []) => spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', ...args, '--out', out, ...extra], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const done = (p: ReturnType<typeof cli>) => new Promise<{ code: number | null; signal: string | null }>((res) => p.on('exit', (code, signal) => res({ code, signal })));
    const victim = cli(killed);
    const victimDone = done(victim);
    const checkpoint = join(killed, 'latest.safetensors');
    await new Promise<void>((res) => {
      const timer = setInterval(() => {
        if (!existsSync(checkpoint)) return;
        victim.kill('SIGKILL');
        clearInterval(timer);
        res();
      }, 10);
      void victimDone.then(() => {
        clearInterval(timer);
        res();
      });
    });
    const v = await victimDone;
    assert.ok(v.signal === 'SIGKILL' || v.code === 0, `killed run: exit ${v.code} ${v.signal}`);
    assert.ok(existsSync(checkpoint));
    // The uninterrupted run after the killed one, so the two do not share the cores.
    assert.deepEqual(await done(cli(full)), { code: 0, signal: null });
    const resumed = cli(killed, ['--resume']);
    let out = '';
    resumed.stdout?.on('data', (d) => (out += d));
    assert.deepEqual(await done(resumed), { code: 0, signal: null });
    const m = /resumed from .*latest\.safetensors at epoch [123], batch \d+, iteration (\d+)/.exec(out);
    assert.ok(m, out);
    assert.ok([3, 4, 6, 8].includes(Number(m[1])), `resumed at iteration ${m[1]}`);
    assertSameRun(full, killed);
    // TensorBoard: the resumed run appended a second event file to the killed run's.
    assert.equal(eventFiles(join(killed, 'tb')).length, 2);
  });

  it('ODC learns on 1,000 Fashion-MNIST images: change ratio falls, label NMI rises above the random network\'s', async () => {
    const base = { subset: 1000, width: 8, clusters: 10, batchSize: 32, logEvery: 8 };
    const random = await train(resolveConfig({ ...base, epochs: 0, out: join(tmp, 'random') }), { log: () => {} });
    const r = await train(resolveConfig({ ...base, epochs: 8, out: join(tmp, 'odc') }), { log: () => {} });
    const recs = records(r.outDir);
    const init = recs.find((x) => x.type === 'init');
    const epochs = recs.filter((x) => x.type === 'epoch');
    assert.equal(epochs.length, 8);
    assert.equal(epochs[0].change_ratio, 0); // label warm-up epoch
    assert.ok(epochs[7].change_ratio < epochs[1].change_ratio - 0.1, `change ratio ${epochs[1].change_ratio} → ${epochs[7].change_ratio}`);
    assert.ok(epochs[7].nmi_labels > init.nmi_labels, `label NMI ${init.nmi_labels} (random network) → ${epochs[7].nmi_labels}`);
    const learned = r.summary.feature_kmeans as { nmi: number };
    const baseline = random.summary.feature_kmeans as { nmi: number };
    assert.ok(learned.nmi > baseline.nmi + 0.05, `features k-means NMI ${baseline.nmi} (random) → ${learned.nmi}`);
    assert.equal(recs.filter((x) => x.type === 'iter').length, 256 / 8); // one record per logged iteration
  });

  it('logs every logEvery iterations to metrics.jsonl, TensorBoard and the progress hooks; a resumed run appends', async () => {
    // 300 images, batch 50: 6 iterations per epoch, logged at 2, 4, 6, ...
    const cfg = { subset: 300, width: 8, clusters: 6, batchSize: 50, logEvery: 2, evalFeatures: false, out: join(tmp, 'tb') };
    const seen: IterationInfo[] = [];
    const starts: number[] = [];
    const lines: string[] = [];
    await train(resolveConfig({ ...cfg, epochs: 2 }), {
      log: (l) => lines.push(l), iterationLines: false, onIteration: (i) => seen.push(i), onEpochStart: (e) => starts.push(e.epoch),
    });
    assert.deepEqual(starts, [1, 2]);
    assert.deepEqual(seen.map((i) => i.iteration), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert.deepEqual(seen.filter((i) => i.logged).map((i) => i.step), [2, 4, 6, 2, 4, 6]);
    assert.ok(seen.every((i) => Number.isFinite(i.loss) && i.changeRatio !== undefined && i.imgPerS > 0 && i.lr === 0.06 && i.itersPerEpoch === 6));
    assert.ok(!lines.some((l) => / it \d+\/6 /.test(l)), 'no progress lines when iterationLines is false');
    let recs = records(cfg.out);
    const iters = recs.filter((x) => x.type === 'iter');
    assert.deepEqual(iters.map((x) => x.iteration), [2, 4, 6, 8, 10, 12]);
    assert.deepEqual(recs.filter((x) => x.type === 'epoch').map((x) => x.iteration), [6, 12]);

    const files = eventFiles(join(cfg.out, 'tb'));
    assert.equal(files.length, 1);
    const scalars = readScalars(join(cfg.out, 'tb'));
    for (const [tag, key] of [['train/loss', 'loss'], ['train/change_ratio', 'change_ratio'], ['train/lr', 'lr']]) {
      assert.deepEqual(scalars.get(tag)?.map((p) => [p.step, p.value]), iters.map((x) => [x.iteration, Math.fround(x[key])]), tag);
    }
    assert.equal(scalars.get('train/img_per_s')?.length, 6);
    const epochs = recs.filter((x) => x.type === 'epoch');
    for (const [tag, key] of [['epoch/loss', 'loss'], ['epoch/cluster_size_min', 'min'], ['epoch/cluster_size_median', 'median'], ['epoch/cluster_size_max', 'max'], ['epoch/small_clusters_repaired', 'repaired']]) {
      assert.deepEqual(scalars.get(tag)?.map((p) => [p.step, p.value]), [[0, Math.fround(recs[0][key])], ...epochs.map((x) => [x.iteration, Math.fround(x[key])])].filter(([, v]) => !Number.isNaN(v)), tag);
    }
    const histos = readEvents(files[0]).flatMap((e) => (e.summary?.value ?? []).filter((v) => v.histo).map((v) => ({ step: e.step, tag: v.tag, h: v.histo! })));
    assert.deepEqual(histos.map((x) => [x.tag, x.step]), [['epoch/cluster_sizes', 0], ['epoch/cluster_sizes', 6], ['epoch/cluster_sizes', 12]]);
    for (const x of histos) {
      assert.equal(x.h.num, 6); // one value per cluster: its size
      assert.equal(x.h.sum, 300);
      assert.equal(x.h.bucket.reduce((a, b) => a + b, 0), 6);
    }
    assert.equal(histos[2].h.min, epochs[1].min);
    assert.equal(histos[2].h.max, epochs[1].max);

    // A third epoch with --resume: a second event file, steps continuing without repeats.
    await train(resolveConfig({ ...cfg, epochs: 3 }), { resume: true, log: () => {} });
    assert.equal(eventFiles(join(cfg.out, 'tb')).length, 2);
    assert.deepEqual(readScalars(join(cfg.out, 'tb')).get('train/loss')?.map((p) => p.step), [2, 4, 6, 8, 10, 12, 14, 16, 18]);
    recs = records(cfg.out);
    assert.deepEqual(recs.filter((x) => x.type === 'iter').map((x) => x.iteration), [2, 4, 6, 8, 10, 12, 14, 16, 18]);
  });

  it('DeepCluster trains, re-clusters every epoch and writes labels', async () => {
    const cfg = resolveConfig({ ...small, method: 'deepcluster', epochs: 2, pcaDim: 32, tensorboard: false, out: join(tmp, 'dc') });
    const r = await train(cfg, { log: () => {} });
    assert.equal(r.labels.length, 600);
    const recs = records(r.outDir);
    assert.equal(recs.filter((x) => x.type === 'cluster').length, 1); // before epoch 2 (epoch 1 uses the initial clustering)
    assert.equal(recs.filter((x) => x.type === 'epoch').length, 2);
    assert.ok(existsSync(join(r.outDir, 'labels.npy')));
    assert.ok(!existsSync(join(r.outDir, 'tb')));
  });

  it('refuses more clusters than the data can fill, naming the largest valid count', async () => {
    const cfg = resolveConfig({ ...small, clusters: 40, out: join(tmp, 'bad') });
    await assert.rejects(train(cfg, { log: () => {} }), /40 clusters x minimum size 20 = 800 exceeds the 600 images; use at most 30 clusters/);
  });

  it('reports bad config keys by name', () => {
    assert.throws(() => resolveConfig({ clusters: -3, memory: { assign: 'cosine' }, bogus: 1 }), (e: unknown) => {
      const m = (e as Error).message;
      return /'clusters'/.test(m) && /'memory\.assign'/.test(m) && /bogus/.test(m);
    });
  });
});
