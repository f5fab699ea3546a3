/**
 * One ODC training epoch measured two ways, for the benches that compare them: odc (`odc train`
 * from source) and the PyTorch port of the released code (../shared/peer/odc_ref.py), same backbone
 * (CIFAR-stem ResNet-18), width, batch, clusters, augmentation and assignment rule. Both report the
 * training loop only (after the initial clustering).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMetrics } from '../src/report/run_dir.ts';
import { ensurePeer, PYTHON } from './peer.ts';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const peerScript = resolve(root, '..', 'shared', 'peer', 'odc_ref.py');

export interface EpochSettings {
  images: number;
  width: number;
  clusters: number;
  batch: number;
  threads: number;
  /** Extra environment of the measured process (e.g. OMP_WAIT_POLICY). */
  env?: NodeJS.ProcessEnv;
}

const tmp = mkdtempSync(join(tmpdir(), 'odc-bench-'));
let runs = 0;

/** Checks the peer's script and Python modules (installing them when missing). */
export function checkPeer(): void {
  ensurePeer({ scripts: [peerScript], modules: ['numpy', 'torch'] });
}

export function runPeer(s: EpochSettings): { iters_per_s: number; img_per_s: number; hook_share: number } {
  const out = join(tmp, `peer_${runs++}.json`);
  const r = spawnSync(PYTHON, [peerScript, '--method', 'odc', '--limit', String(s.images), '--epochs', '1', '--test-limit', '100', '--width', String(s.width),
    '--batch-size', String(s.batch), '--num-classes', String(s.clusters), '--threads', String(s.threads), '--seed', '0', '--json-out', out],
  { encoding: 'utf8', cwd: tmp, env: { ...process.env, ...s.env } });
  if (r.status !== 0) throw new Error(`peer failed:\n${r.stderr}\n${r.stdout}`);
  const ep = JSON.parse(readFileSync(out, 'utf8')).epochs[0];
  return { iters_per_s: ep.iters / ep.loop_s, img_per_s: (ep.iters * s.batch) / ep.loop_s, hook_share: ep.hook_s / ep.loop_s };
}

export function runOdc(s: EpochSettings): { iters_per_s: number; img_per_s: number; memory_share: number; wall_iters_per_s: number } {
  const out = join(tmp, `odc_${runs++}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'train', '--subset', String(s.images), '--epochs', '1', '--width', String(s.width),
    '--clusters', String(s.clusters), '--batch-size', String(s.batch), '--threads', String(s.threads), '--seed', '0', '--assign', 'dot', '--label-warmup', '0', '--crop-min', '0.08',
    '--out', out, '--log-every', '1000'],
  { encoding: 'utf8', cwd: root, env: { ...process.env, ...s.env } });
  if (r.status !== 0) throw new Error(`odc failed:\n${r.stderr}\n${r.stdout}`);
  const ep = readMetrics(join(out, 'metrics.jsonl')).find((x) => x.type === 'epoch') as { loop_s: number; memory_s: number; wall_s: number } | undefined;
  if (!ep) throw new Error(`odc: no epoch record in ${join(out, 'metrics.jsonl')}`);
  const iters = Math.ceil(s.images / s.batch);
  // loop_s: step + memory work + waiting for data (logging and checkpoints excluded, as the peer's loop time).
  return { iters_per_s: iters / ep.loop_s, img_per_s: (iters * s.batch) / ep.loop_s, memory_share: ep.memory_s / ep.loop_s, wall_iters_per_s: iters / ep.wall_s };
}
