/**
 * `npm run bench:odc`: ODC training iterations per second on Fashion-MNIST, odc against the PyTorch
 * port of the released code (../shared/peer/odc_ref.py), measured in the same run (the peer first,
 * then odc, then the peer again). Reports the training loop only (after the initial clustering), and
 * the share of the loop spent in memory operations. Prints one JSON line.
 *
 * Options (env): ODC_BENCH_N (5000 images), ODC_BENCH_WIDTH (32), ODC_BENCH_K (100), ODC_BENCH_BATCH (64).
 */
import { checkPeer, type EpochSettings, runOdc, runPeer } from './odc_runs.ts';

const s: EpochSettings = {
  images: Number(process.env.ODC_BENCH_N ?? 5000),
  width: Number(process.env.ODC_BENCH_WIDTH ?? 32),
  clusters: Number(process.env.ODC_BENCH_K ?? 100),
  batch: Number(process.env.ODC_BENCH_BATCH ?? 64),
  threads: 2,
};
checkPeer();

const p1 = runPeer(s);
console.error(`peer: ${p1.iters_per_s.toFixed(3)} it/s`);
const o = runOdc(s);
console.error(`odc: ${o.iters_per_s.toFixed(3)} it/s`);
const p2 = runPeer(s);
console.error(`peer: ${p2.iters_per_s.toFixed(3)} it/s`);
const peerIts = (p1.iters_per_s + p2.iters_per_s) / 2;
console.log(JSON.stringify({
  bench: 'odc', images: s.images, width: s.width, clusters: s.clusters, batch: s.batch, threads: s.threads,
  odc_iters_per_s: Number(o.iters_per_s.toFixed(3)), pytorch_iters_per_s: Number(peerIts.toFixed(3)),
  pytorch_runs: [p1.iters_per_s, p2.iters_per_s].map((v) => Number(v.toFixed(3))),
  ratio: Number((o.iters_per_s / peerIts).toFixed(3)), memory_share: Number(o.memory_share.toFixed(4)),
  odc_wall_iters_per_s: Number(o.wall_iters_per_s.toFixed(3)),
  pytorch_hook_share: Number(((p1.hook_share + p2.hook_share) / 2).toFixed(4)),
}));
