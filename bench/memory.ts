/**
 * `npm run bench:memory`: the ODC memory operations alone at ImageNet scale — 1,281,167 x 256
 * samples memory, 10,000 clusters, batch 512 — per iteration: momentum update + re-assignment,
 * centroid refresh every 10 iterations, small-cluster handling, re-weighting. Measured in the same
 * run as bench/peer_memory.py, the released algorithm in PyTorch (a full label histogram every
 * iteration and a full centroid recompute every 10). Prints one JSON line; target < 20 ms/iter.
 *
 * Options (env): MEM_N, MEM_K, MEM_BATCH, MEM_ITERS (default 100), MEM_SCORING (auto | float32 |
 * checked: how re-assignment scores the centroids), MEM_PEER=0 to skip the peer.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OdcMemory, type ScoringMode } from '../src/cluster/odc_memory.ts';
import { configureProcess, Generator, randint, randn, tidy } from '../src/index.ts';
import { ensurePeer, PYTHON } from './peer.ts';

const N = Number(process.env.MEM_N ?? 1281167);
const K = Number(process.env.MEM_K ?? 10000);
const B = Number(process.env.MEM_BATCH ?? 512);
const D = 256;
const iters = Number(process.env.MEM_ITERS ?? 100);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
configureProcess(); // as the odc command runs
if (process.env.MEM_PEER !== '0') ensurePeer({ scripts: [join(root, 'bench', 'peer_memory.py')], modules: ['torch'] });

const g = new Generator(0);
const scoring = (process.env.MEM_SCORING ?? 'auto') as ScoringMode;
const memory = new OdcMemory({ length: N, featDim: D, numClasses: K, minCluster: 20, assign: 'dot', scoring });
tidy(() => memory.init(randn([N, D], { generator: g }).abs(), randint(0, K, [N], { generator: g })));

function iteration(it: number): { update: number; refresh: number; small: number; weights: number } {
  return tidy(() => {
    const index = randint(0, N, [B], { generator: g });
    const feats = randn([B, D], { generator: g }).abs();
    const t0 = performance.now();
    memory.updateSamples(index, feats);
    const t1 = performance.now();
    if (it % 10 === 0) memory.updateCentroids();
    const t2 = performance.now();
    memory.dealWithSmallClusters();
    const t3 = performance.now();
    memory.classWeights().dispose();
    const t4 = performance.now();
    return { update: t1 - t0, refresh: t2 - t1, small: t3 - t2, weights: t4 - t3 };
  });
}

for (let i = 1; i <= 10; i++) iteration(i); // warm-up
const sum = { update: 0, refresh: 0, small: 0, weights: 0 };
const t0 = performance.now();
for (let i = 1; i <= iters; i++) {
  const r = iteration(i);
  for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += r[k];
}
const ours = (performance.now() - t0) / iters;
const check = memory.verify();
const scoringUsed = memory.scoring;
const scoringStats = memory.scoringStats();
memory.dispose();

const peer = process.env.MEM_PEER === '0' ? undefined : spawnSync(PYTHON, [join(root, 'bench', 'peer_memory.py'), '--n', String(N), '--k', String(K), '--batch', String(B), '--iters', String(Math.min(iters, 50))], {
  encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' },
});
let peerMs: number | null = null;
if (peer === undefined) peerMs = null;
else if (peer.status === 0) peerMs = JSON.parse(peer.stdout.trim().split('\n').pop() as string).ms_per_iter;
else console.error(`peer failed: ${peer.stderr}`);

const per = (v: number) => Number((v / iters).toFixed(2));
console.log(JSON.stringify({
  bench: 'memory', n: N, k: K, batch: B, feat_dim: D, iters,
  scoring: scoringUsed, scoring_stats: scoringStats, odc_ms_per_iter: Number(ours.toFixed(2)), peer_ms_per_iter: peerMs, ratio: peerMs ? Number((peerMs / ours).toFixed(2)) : null,
  odc_split_ms: { update_and_reassign: per(sum.update), centroid_refresh: per(sum.refresh), small_clusters: per(sum.small), reweight: per(sum.weights) },
  incremental_vs_full_recompute: check, target_ms: 20,
}));
