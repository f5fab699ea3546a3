/**
 * `npm run bench:dist`: data-parallel training on this machine, and what it implies at the paper's
 * scale. Prints one JSON line:
 * - train: one ODC epoch as 1 process x 2 threads, and as 2 processes x 1 thread (`--nproc 2`) with
 *   the gradient allreduce overlapped with backward and sent after it: iterations/s of the training
 *   loop, the share of it spent in collectives, and the ratio to 1 x 2;
 * - pytorch: the same epoch by ../shared/peer/odc_ref.py under DistributedDataParallel
 *   (bench/peer_odc_ddp.py), 1 x 2 and 2 x 1, and odc's img/s over the peer's;
 * - gloo: allreduce bandwidth on loopback by message size, and the two ways of keeping ODC's
 *   samples memory in step (bench/dist_worker.ts);
 * - paper_scale: bytes each rank sends per iteration for ResNet-50 ODC (the paper's model: neck,
 *   10,000-cluster head; global batch 512) on 8 and 64 ranks, and the scaling efficiency they imply
 *   on a 100 Gb/s network at a stated per-GPU training speed.
 *
 * Each variant runs ODC_BENCH_ROUNDS times (2), alternating odc and the peer; the fastest run of
 * each is reported (this machine's neighbours slow single runs by up to 2x).
 *
 * Options (env): ODC_BENCH_N (2000 images), ODC_BENCH_WIDTH (16), ODC_BENCH_GPU_IMG_S (1200: a
 * V100's ResNet-50 mixed-precision training speed), ODC_BENCH_GBIT (100).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/distributed/launch.ts';
import { ClusterModel } from '../src/models/cluster_model.ts';
import { readMetrics } from '../src/report/run_dir.ts';
import { checkPeer, root } from './odc_runs.ts';
import { PYTHON } from './peer.ts';

const images = Number(process.env.ODC_BENCH_N ?? 2000);
const width = Number(process.env.ODC_BENCH_WIDTH ?? 16);
const batch = 64;
const tmp = mkdtempSync(join(tmpdir(), 'odc-bench-dist-'));
const log = (l: string) => process.stderr.write(`${l}\n`);

interface TrainFigures {
  iters_per_s: number;
  comm_share: number;
}

function trainEpoch(name: string, args: string[], config: Record<string, unknown> = {}): TrainFigures & { img_per_s: number } {
  const out = join(tmp, name);
  const cfgFile = join(tmp, `${name}.json`);
  writeFileSync(cfgFile, JSON.stringify(config));
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'train', '--subset', String(images), '--epochs', '1', '--width', String(width),
    '--clusters', '20', '--batch-size', String(batch), '--seed', '0', '--label-warmup', '0', '--crop-min', '0.08', '--log-every', '1000', '--no-tensorboard',
    '--config', cfgFile, '--out', out, ...args], { encoding: 'utf8', cwd: root });
  if (r.status !== 0) throw new Error(`${name} failed:\n${r.stderr}\n${r.stdout}`);
  const ep = readMetrics(join(out, 'metrics.jsonl')).find((x) => x.type === 'epoch') as unknown as { loop_s: number; comm_s?: number };
  const iters = Math.ceil(images / batch);
  const f = {
    iters_per_s: Number((iters / ep.loop_s).toFixed(3)), img_per_s: Number((images / ep.loop_s).toFixed(1)), comm_share: Number(((ep.comm_s ?? 0) / ep.loop_s).toFixed(3)),
  };
  log(`${name}: ${f.iters_per_s} it/s, ${(f.comm_share * 100).toFixed(1)} % in collectives`);
  return f;
}

checkPeer();
const peerDir = join(root, '..', 'shared', 'peer');

/** Runs `world` ranks of one command (each with RANK, WORLD_SIZE and `env`); every rank's stdout, or an error naming the rank that failed. */
async function runRanks(name: string, world: number, cmd: string, args: string[], o: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string[]> {
  const results = await Promise.all(Array.from({ length: world }, (_, rank) => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const c = spawn(cmd, args, { cwd: o.cwd, env: { ...process.env, ...o.env, RANK: String(rank), WORLD_SIZE: String(world) } });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    c.on('exit', (code) => resolve({ code, out, err }));
  })));
  for (const [rank, r] of results.entries()) if (r.code !== 0) throw new Error(`${name} rank ${rank} failed:\n${r.err}`);
  return results.map((r) => r.out);
}

/** The PyTorch peer (bench/peer_odc_ddp.py: odc_ref.py under DDP) as `world` processes of `threads` threads. */
async function peerEpoch(name: string, world: number, threads: number): Promise<{ img_per_s: number }> {
  const out = join(tmp, `${name}.json`);
  await runRanks(name, world, PYTHON, [join(root, 'bench', 'peer_odc_ddp.py'), '--peer-dir', peerDir, '--limit', String(images), '--width', String(width), '--batch-size', String(batch),
    '--num-classes', '20', '--threads', String(threads), '--json-out', out], { cwd: tmp, env: { MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(await freePort()) } });
  const r = JSON.parse(readFileSync(out, 'utf8')) as { img_per_s: number };
  log(`${name}: ${r.img_per_s.toFixed(1)} img/s`);
  return { img_per_s: Number(r.img_per_s.toFixed(1)) };
}

/** The fastest of the rounds (the one least disturbed by whatever else shares this machine). */
const best = <T extends { img_per_s: number }>(runs: T[]): T => runs.reduce((a, b) => (b.img_per_s > a.img_per_s ? b : a));
const rounds = Number(process.env.ODC_BENCH_ROUNDS ?? 2);
const runs: Record<string, (TrainFigures & { img_per_s: number })[]> = { one: [], overlapped: [], after: [] };
const peerRuns: Record<string, { img_per_s: number }[]> = { one: [], two: [] };
for (let r = 0; r < rounds; r++) {
  runs.one.push(trainEpoch(`1x2_${r}`, ['--threads', '2']));
  peerRuns.one.push(await peerEpoch(`pytorch_1x2_${r}`, 1, 2));
  runs.overlapped.push(trainEpoch(`2x1_overlapped_${r}`, ['--nproc', '2', '--threads', '1']));
  peerRuns.two.push(await peerEpoch(`pytorch_2x1_ddp_${r}`, 2, 1));
  runs.after.push(trainEpoch(`2x1_after_backward_${r}`, ['--nproc', '2', '--threads', '1'], { overlapGradients: false }));
}
const [one, overlapped, after] = [best(runs.one), best(runs.overlapped), best(runs.after)];
const [peerOne, peerTwo] = [best(peerRuns.one), best(peerRuns.two)];
const gloo = await runGlooPair();

/** Both ranks of bench/dist_worker.ts; rank 0's JSON line. */
async function runGlooPair(): Promise<Record<string, unknown>> {
  const outs = await runRanks('gloo', 2, process.execPath, ['--import', 'tsx', join(root, 'bench', 'dist_worker.ts')], { cwd: root, env: { ODC_BENCH_STORE: join(tmp, 'gloo-store') } });
  return JSON.parse(outs[0].trim().split('\n').pop() as string);
}

// The paper's model: ResNet-50 (ImageNet stem), ODC neck (2048 → 2048 → 256), 10,000-cluster head.
const r50 = new ClusterModel({ arch: 'resnet50', width: 64, stem: 'imagenet', inChannels: 3, numClasses: 10_000, neck: true });
const params = r50.numParameters();
r50.dispose();
const gpuImgS = Number(process.env.ODC_BENCH_GPU_IMG_S ?? 1200);
const linkBytesS = (Number(process.env.ODC_BENCH_GBIT ?? 100) * 1e9) / 8;
const paperBatch = 512;
const paperScale = [8, 64].map((w) => {
  const ring = (2 * (w - 1)) / w;
  const gradients = ring * 4 * params;
  // The batch's indices and 256-d features, every rank's slice to every rank (ring allgather).
  const gather = ((w - 1) / w) * paperBatch * (256 * 4 + 8);
  // The loss and accuracy (2 doubles) each iteration; cluster sizes (10,000 int64, max and min) every 20th.
  const small = ring * 16 + (ring * 2 * 10_000 * 8) / 20;
  const bytes = gradients + gather + small;
  const computeS = paperBatch / w / gpuImgS;
  const commS = bytes / linkBytesS;
  return {
    ranks: w, per_rank_batch: paperBatch / w, bytes_per_iteration: Math.round(bytes), gradient_bytes: Math.round(gradients), feature_gather_bytes: Math.round(gather),
    compute_ms: Number((computeS * 1000).toFixed(2)), comm_ms: Number((commS * 1000).toFixed(2)),
    efficiency_after_backward: Number((computeS / (computeS + commS)).toFixed(3)), efficiency_overlapped: Number((computeS / Math.max(computeS, commS + (gather + small) / linkBytesS)).toFixed(3)),
  };
});

console.log(JSON.stringify({
  bench: 'dist', cores: availableParallelism(), images, width, batch, rounds,
  train: {
    '1x2': one, '2x1_overlapped': overlapped, '2x1_after_backward': after,
    ratio_overlapped: Number((overlapped.iters_per_s / one.iters_per_s).toFixed(3)), ratio_after_backward: Number((after.iters_per_s / one.iters_per_s).toFixed(3)),
  },
  pytorch: {
    '1x2': peerOne, '2x1_ddp': peerTwo, ratio_2x1_to_1x2: Number((peerTwo.img_per_s / peerOne.img_per_s).toFixed(3)),
    odc_to_pytorch_1x2: Number((one.img_per_s / peerOne.img_per_s).toFixed(3)), odc_to_pytorch_2x1: Number((overlapped.img_per_s / peerTwo.img_per_s).toFixed(3)),
  },
  gloo,
  paper_scale: { model_parameters: params, gpu_img_per_s: gpuImgS, network_gbit_s: Number(process.env.ODC_BENCH_GBIT ?? 100), global_batch: paperBatch, runs: paperScale },
}));
