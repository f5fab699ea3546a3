/**
 * `npm run bench:contention`: ODC training speed on a machine shared with another CPU-bound
 * process. odc and the PyTorch peer (../shared/peer/odc_ref.py) each train one short epoch alone,
 * then while a busy loop occupies one core (a second process that never sleeps, as a neighbour's
 * job would), with the same threads. Each runs with its own default OpenMP wait policy (odc's
 * command: PASSIVE; PyTorch: libgomp's, spin then sleep) and with the other one, so the policy's
 * share of the difference shows. Prints one JSON line with img/s and the contended/alone ratios.
 *
 * Options (env): ODC_BENCH_N (2000 images), ODC_BENCH_WIDTH (16), ODC_BENCH_THREADS (2).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { checkPeer, type EpochSettings, runOdc, runPeer } from './odc_runs.ts';

const base: EpochSettings = {
  images: Number(process.env.ODC_BENCH_N ?? 2000),
  width: Number(process.env.ODC_BENCH_WIDTH ?? 16),
  clusters: 20,
  batch: 64,
  threads: Number(process.env.ODC_BENCH_THREADS ?? 2),
};
const log = (l: string) => process.stderr.write(`${l}\n`);
checkPeer();

/** libgomp's behaviour when nothing is set (spin 300,000 times, then sleep), stated explicitly. */
const SPIN = { GOMP_SPINCOUNT: '300000' };
const PASSIVE = { OMP_WAIT_POLICY: 'PASSIVE' };
const variants: [string, (s: EpochSettings) => { img_per_s: number }, NodeJS.ProcessEnv][] = [
  ['odc', runOdc, {}],
  ['odc_spin', runOdc, SPIN],
  ['pytorch', runPeer, {}],
  ['pytorch_passive', runPeer, PASSIVE],
];

/** A process spinning on one core until killed. */
function busyLoop(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

async function measure(name: string, contended: boolean, fn: () => { img_per_s: number }): Promise<number> {
  const hog = contended ? busyLoop() : undefined;
  try {
    if (hog) await new Promise((r) => setTimeout(r, 500));
    const r = fn();
    log(`${name}${contended ? ', contended' : ''}: ${r.img_per_s.toFixed(1)} img/s`);
    return Number(r.img_per_s.toFixed(1));
  } finally {
    hog?.kill('SIGKILL');
  }
}

const rows: Record<string, { alone: number; contended: number; ratio: number }> = {};
for (const [name, run, env] of variants) {
  const s = { ...base, env };
  const alone = await measure(name, false, () => run(s));
  const contended = await measure(name, true, () => run(s));
  rows[name] = { alone, contended, ratio: Number((contended / alone).toFixed(3)) };
}
console.log(JSON.stringify({ bench: 'contention', cores: availableParallelism(), images: base.images, width: base.width, threads: base.threads, busy_loops: 1, img_per_s: rows }));
