/** End-to-end training on real Fashion-MNIST slices: learning signals, both methods, kill + exact resume. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FASHION_MNIST_DIR } from '../src/data/spec.ts';
import { dispose } from '../src/index.ts';
import { loadSafetensors } from '../src/io/safetensors.ts';
import { eventFiles, readEvents, readScalars } from '../src/report/tfevents.ts';
import { resolveConfig } from '../src/train/config.ts';
import { type IterationInfo, train } from '../src/train/trainer.ts';
import { relErr } from './helpers.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const skip = !existsSync(FASHION_MNIST_DIR) && 'dataset-fashion-mnist not installed';
const tmp = mkdtempSync(join(tmpdir(), 'odc-train-'));
const records = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

/** A small, fast setting: 600 images, ResNet-18 at width 8, 6 clusters of at least 20. */
const small = { subset: 600, width: 8, clusters: 6, batchSize: 50, logEvery: 1000, workers: 1 };

function compareRuns(a: string, b: string, tol: number): void {
  for (const f of ['model.safetensors', 'memory.safetensors']) {
    if (!existsSync(join(a, f))) continue;
    const x = loadSafetensors(join(a, f)).tensors;
    const y = loadSafetensors(join(b, f)).tensors;
    assert.deepEqual([...x.keys()], [...y.keys()]);
    for (const [k, v] of x) {
      const w = y.get(k);
      assert.ok(w);
      if (v.dtype === 'int64') assert.deepEqual(v.toArray(), w.toArray(), `${f} ${k}`);
      else assert.ok(relErr(w, v) <= tol, `${f} ${k}: relative difference ${relErr(w, v)}`);
    }
    dispose([...x.values(), ...y.values()]);
  }
}

describe('odc train', { skip }, () => {
  it('a killed run resumed from its last checkpoint ends where an uninterrupted run ends', async () => {
    const args = ['--subset', '600', '--width', '8', '--clusters', '6', '--batch-size', '50', '--epochs', '2', '--checkpoint-every', '5', '--log-every', '1'];
    const full = join(tmp, 'full');
    const killed = join(tmp, 'killed');
    const cli = (out: string, extra: string[] = []) => spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', ...args, '--out', out, ...extra], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const done = (p: ReturnType<typeof cli>) => new Promise<number>((res) => p.on('exit', (code) => res(code ?? -1)));
    assert.equal(await done(cli(full)), 0);
    // Kill the second run with SIGKILL once it has passed its second checkpoint, mid-epoch.
    const victim = cli(killed);
    await new Promise<void>((res) => {
      const timer = setInterval(() => {
        const p = join(killed, 'metrics.jsonl');
        if (!existsSync(p)) return;
        const its = readFileSync(p, 'utf8').split('\n').filter((l) => l.includes('"type":"iter"')).length;
        if (its >= 13) {
          victim.kill('SIGKILL');
          clearInterval(timer);
          res();
        }
      }, 20);
    });
    assert.notEqual(await done(victim), 0);
    const resumed = cli(killed, ['--resume']);
    let out = '';
    resumed.stdout?.on('data', (d) => (out += d));
    assert.equal(await done(resumed), 0);
    const m = /resumed from .*latest\.safetensors at epoch [12], batch \d+, iteration (\d+)/.exec(out);
    assert.ok(m, out);
    assert.ok(Number(m[1]) >= 10 && Number(m[1]) < 24, `resumed at iteration ${m[1]}`); // a checkpoint (every 5 and at epoch ends) before the kill
    compareRuns(full, killed, 1e-5);
    const a = JSON.parse(readFileSync(join(full, 'summary.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(killed, 'summary.json'), 'utf8'));
    assert.equal(a.nmi_labels, b.nmi_labels);
    // TensorBoard: the resumed run appended a second event file, and the steps the killed run logged
    // after its checkpoint were cut, so each step appears once, as in the uninterrupted run.
    assert.equal(eventFiles(join(killed, 'tb')).length, 2);
    const steps = (dir: string, tag: string) => readScalars(join(dir, 'tb')).get(tag)?.map((p) => p.step);
    for (const tag of ['train/loss', 'epoch/loss']) assert.deepEqual(steps(killed, tag), steps(full, tag), tag);
    // metrics.jsonl likewise: the records past the checkpoint were dropped before resuming.
    const its = (dir: string) => records(dir).filter((x) => x.type === 'iter' || x.type === 'epoch').map((x) => `${x.type} ${x.iteration}`);
    assert.deepEqual(its(killed), its(full));
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
