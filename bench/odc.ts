/**
 * `npm run bench:odc`: ODC training iterations per second on Fashion-MNIST, odc against the PyTorch
 * port of the released code (../shared/peer/odc_ref.py), same backbone (CIFAR-stem ResNet-18), width,
 * batch, clusters, augmentation and assignment rule, measured in the same run (the peer first, then
 * odc, then the peer again). Reports the training loop only (after the initial clustering), and the
 * share of the loop spent in memory operations. Prints one JSON line.
 *
 * Options (env): ODC_BENCH_N (5000 images), ODC_BENCH_WIDTH (32), ODC_BENCH_K (100), ODC_BENCH_BATCH (64).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMetrics } from '../src/report/run_dir.ts';
import { ensurePeer, PYTHON } from './peer.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const peer = resolve(root, '..', 'shared', 'peer', 'odc_ref.py');
const n = process.env.ODC_BENCH_N ?? '5000';
const width = process.env.ODC_BENCH_WIDTH ?? '32';
const k = process.env.ODC_BENCH_K ?? '100';
const batch = process.env.ODC_BENCH_BATCH ?? '64';
const tmp = mkdtempSync(join(tmpdir(), 'odc-bench-'));
ensurePeer({ scripts: [peer], modules: ['numpy', 'torch'] });

function runPeer(tag: string): { iters_per_s: number; hook_share: number } {
  const out = join(tmp, `peer_${tag}.json`);
  const r = spawnSync(PYTHON, [peer, '--method', 'odc', '--limit', n, '--epochs', '1', '--test-limit', '100', '--width', width,
    '--batch-size', batch, '--num-classes', k, '--threads', '2', '--seed', '0', '--json-out', out], { encoding: 'utf8', cwd: tmp });
  if (r.status !== 0) throw new Error(`peer failed:\n${r.stderr}\n${r.stdout}`);
  const ep = JSON.parse(readFileSync(out, 'utf8')).epochs[0];
  return { iters_per_s: ep.iters / ep.loop_s, hook_share: ep.hook_s / ep.loop_s };
}

function runOdc(): { iters_per_s: number; memory_share: number; wall_iters_per_s: number } {
  const out = join(tmp, 'odc');
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'train', '--subset', n, '--epochs', '1', '--width', width,
    '--clusters', k, '--batch-size', batch, '--threads', '2', '--seed', '0', '--assign', 'dot', '--label-warmup', '0', '--crop-min', '0.08', '--out', out, '--log-every', '1000'],
  { encoding: 'utf8', cwd: root });
  if (r.status !== 0) throw new Error(`odc failed:\n${r.stderr}\n${r.stdout}`);
  const ep = readMetrics(join(out, 'metrics.jsonl')).find((x) => x.type === 'epoch') as { loop_s: number; memory_s: number; wall_s: number } | undefined;
  if (!ep) throw new Error(`odc: no epoch record in ${join(out, 'metrics.jsonl')}`);
  const iters = Math.ceil(Number(n) / Number(batch));
  // loop_s: step + memory work + waiting for data (logging and checkpoints excluded, as the peer's loop time).
  return { iters_per_s: iters / ep.loop_s, memory_share: ep.memory_s / ep.loop_s, wall_iters_per_s: iters / ep.wall_s };
}

const p1 = runPeer('a');
console.error(`peer: ${p1.iters_per_s.toFixed(3)} it/s`);
const o = runOdc();
console.error(`odc: ${o.iters_per_s.toFixed(3)} it/s`);
const p2 = runPeer('b');
console.error(`peer: ${p2.iters_per_s.toFixed(3)} it/s`);
const peerIts = (p1.iters_per_s + p2.iters_per_s) / 2;
console.log(JSON.stringify({
  bench: 'odc', images: Number(n), width: Number(width), clusters: Number(k), batch: Number(batch), threads: 2,
  odc_iters_per_s: Number(o.iters_per_s.toFixed(3)), pytorch_iters_per_s: Number(peerIts.toFixed(3)),
  pytorch_runs: [p1.iters_per_s, p2.iters_per_s].map((v) => Number(v.toFixed(3))),
  ratio: Number((o.iters_per_s / peerIts).toFixed(3)), memory_share: Number(o.memory_share.toFixed(4)),
  odc_wall_iters_per_s: Number(o.wall_iters_per_s.toFixed(3)),
  pytorch_hook_share: Number(((p1.hook_share + p2.hook_share) / 2).toFixed(4)),
}));
