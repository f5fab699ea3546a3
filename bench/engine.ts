/**
 * `npm run bench:engine`: one SGD training step of ResNet-18 (CIFAR stem, batch 128, 100 classes),
 * odc against PyTorch (../shared/peer/train_step.py, Debian's python3-torch on the same libtorch and
 * thread count), measured alternately in the same run, in three variants (3x32x32, 1x28x28,
 * 3x32x32 channels-last). Prints one JSON line with both figures, their ratio, and the GFLOP/s
 * achieved against this machine's peak.
 *
 * Options (env): BENCH_STEPS (default 12), BENCH_ROUNDS (default 3), BENCH_THREADS (default: cores).
 * Each side's figure is the median of its rounds (the machine is shared; single runs vary by ±10 %).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePeer, PYTHON } from './peer.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const peer = resolve(root, '..', 'shared', 'peer', 'train_step.py');
const steps = Number(process.env.BENCH_STEPS ?? 12);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const threads = Number(process.env.BENCH_THREADS ?? availableParallelism());

function lastJson(out: string): Record<string, unknown> {
  const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (line === undefined) throw new Error(`no JSON line in output:\n${out}`);
  return JSON.parse(line);
}

function run(side: 'odc' | 'pytorch', args: string[]): Record<string, unknown> {
  const [cmd, argv] = side === 'odc'
    ? [process.execPath, ['--import', 'tsx', join(root, 'bench', 'train_step.ts'), ...args]]
    : [PYTHON, [peer, ...args]];
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
  if (r.status !== 0) throw new Error(`${side} failed (${r.status}):\n${r.stderr}`);
  return lastJson(r.stdout);
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** FP32 peak: cores × clock × FLOPs per cycle per core from the vector units this CPU reports. */
function machinePeak(): { gflops: number; how: string } {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(info)?.[1] ?? 0);
  const flags = /flags\s*:(.*)/.exec(info)?.[1] ?? '';
  const amd = /AuthenticAMD/.test(info);
  const avx512 = /\bavx512f\b/.test(flags);
  const fma = /\bfma\b/.test(flags);
  // Two FMA pipes per core: 512-bit on Intel AVX-512 (64 FLOP/cycle), 256-bit on AMD Zen 4 even for
  // AVX-512 (32), 256-bit AVX2 (32); without FMA, 16.
  const perCycle = avx512 ? (amd ? 32 : 64) : fma ? 32 : 16;
  const gflops = (threads * mhz * perCycle) / 1000;
  return {
    gflops,
    how: `${threads} cores x ${mhz} MHz (nominal, /proc/cpuinfo) x ${perCycle} FP32 FLOP/cycle (${avx512 ? 'AVX-512' : fma ? 'AVX2+FMA' : 'SSE'}${amd ? ', AMD' : ''}); turbo clocks and Winograd convolutions can put effective figures above it`,
  };
}

ensurePeer({ scripts: [peer], modules: ['torch', 'torchvision'] });
const peak = machinePeak();
const variants = [
  { name: 'resnet18-cifar-3x32x32', args: ['--channels', '3', '--size', '32'] },
  { name: 'resnet18-cifar-1x28x28', args: ['--channels', '1', '--size', '28'] },
  { name: 'resnet18-cifar-3x32x32-channels-last', args: ['--channels', '3', '--size', '32', '--channels-last'] },
];
const common = ['--arch', 'resnet18', '--stem', 'cifar', '--batch', '128', '--classes', '100', '--steps', String(steps), '--threads', String(threads)];
const results: Record<string, unknown>[] = [];
for (const v of variants) {
  const ours: number[] = [];
  const theirs: number[] = [];
  let gflopPerStep = 0;
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first, so drift on a shared machine hits both alike.
    const order: ('odc' | 'pytorch')[] = r % 2 === 0 ? ['odc', 'pytorch'] : ['pytorch', 'odc'];
    for (const side of order) {
      const out = run(side, [...common, ...v.args]);
      (side === 'odc' ? ours : theirs).push(Number(out.img_per_s));
      if (side === 'odc') gflopPerStep = Number(out.gflop_per_step);
      console.error(`${v.name} ${side}: ${out.img_per_s} img/s`);
    }
  }
  const odc = median(ours);
  const pytorch = median(theirs);
  const gflops = (gflopPerStep * odc) / 128;
  results.push({
    variant: v.name, odc_img_per_s: odc, pytorch_img_per_s: pytorch, ratio: Number((odc / pytorch).toFixed(3)),
    odc_gflop_per_s: Number(gflops.toFixed(1)), pytorch_gflop_per_s: Number(((gflopPerStep * pytorch) / 128).toFixed(1)),
    odc_peak_fraction: Number((gflops / peak.gflops).toFixed(3)), odc_runs: ours, pytorch_runs: theirs,
  });
}
console.log(JSON.stringify({
  bench: 'engine', steps, rounds, threads, peak_gflop_per_s: Number(peak.gflops.toFixed(1)), peak_how: peak.how,
  flops_how: 'forward MACs counted from conv/linear output shapes; training FLOPs = 3 x 2 x MACs per step',
  min_ratio: Math.min(...results.map((r) => Number(r.ratio))), variants: results,
}));
