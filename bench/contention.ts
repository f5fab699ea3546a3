/**
 * `npm run bench:contention`: ODC training speed on a machine shared with another CPU-bound
 * process. odc and the PyTorch peer (../shared/peer/odc_ref.py) each train one short epoch alone,
 * then while a busy loop occupies one core (a second process that never sleeps, as a neighbour's
 * job would), with the same threads. odc runs as the `odc` command does by default, and with the
 * other OpenMP wait policy (ODC_BENCH_POLICIES) for comparison. Prints one JSON line with img/s and
 * the contended/alone ratio of each.
 *
 * Options (env): ODC_BENCH_N (2000 images), ODC_BENCH_WIDTH (16), ODC_BENCH_THREADS (2),
 * ODC_BENCH_POLICIES ('default,PASSIVE'; 'default' leaves OMP_WAIT_POLICY as it is).
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
const policies = (process.env.ODC_BENCH_POLICIES ?? 'default,PASSIVE').split(',');
const log = (l: string) => process.stderr.write(`${l}\n`);
checkPeer();

/** A process spinning on one core until killed. */
function busyLoop(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

async function measure<T extends { img_per_s: number }>(what: string, contended: boolean, fn: () => T): Promise<number> {
  const hog = contended ? busyLoop() : undefined;
  try {
    if (hog) await new Promise((r) => setTimeout(r, 500));
    const r = fn();
    log(`${what}${contended ? ', contended' : ''}: ${r.img_per_s.toFixed(1)} img/s`);
    return Number(r.img_per_s.toFixed(1));
  } finally {
    hog?.kill('SIGKILL');
  }
}

const withPolicy = (p: string): EpochSettings => ({ ...base, env: p === 'default' ? {} : { OMP_WAIT_POLICY: p } });
const rows: Record<string, { alone: number; contended: number; ratio: number }> = {};
const row = (alone: number, contended: number) => ({ alone, contended, ratio: Number((contended / alone).toFixed(3)) });

rows.pytorch = row(await measure('pytorch', false, () => runPeer(base)), await measure('pytorch', true, () => runPeer(base)));
for (const p of policies) {
  const s = withPolicy(p);
  rows[`odc_${p}`] = row(await measure(`odc (${p})`, false, () => runOdc(s)), await measure(`odc (${p})`, true, () => runOdc(s)));
}
console.log(JSON.stringify({ bench: 'contention', cores: availableParallelism(), images: base.images, width: base.width, threads: base.threads, busy_loops: 1, img_per_s: rows }));
