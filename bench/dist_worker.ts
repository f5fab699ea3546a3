/**
 * One rank of bench/dist.ts's Gloo measurements (2 ranks over a FileStore, ODC_BENCH_STORE):
 * allreduce bandwidth by message size, and the per-iteration traffic of the two ways of keeping
 * ODC's samples memory in step (every rank updates its copy from the gathered batch, or rank 0
 * updates and broadcasts the batch's new rows). Rank 0 prints one JSON line.
 */
import { OdcMemory } from '../src/cluster/odc_memory.ts';
import { initProcessGroup } from '../src/distributed/process_group.ts';
import { setNumThreads } from '../src/runtime.ts';
import { randint, randn, zeros } from '../src/tensor/creation.ts';
import { tidy } from '../src/tensor/scope.ts';

setNumThreads(1);
const rank = Number(process.env.RANK);
const world = Number(process.env.WORLD_SIZE);
const group = initProcessGroup({ store: 'file', path: process.env.ODC_BENCH_STORE as string, rank, worldSize: world, timeoutMs: 120_000 });

/** Median milliseconds of `reps` calls (after 2 warm-up calls), the same on every rank. */
function time(reps: number, f: () => void): number {
  f();
  f();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    group.barrier();
    const t0 = performance.now();
    f();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

const allreduce: { bytes: number; ms: number; algbw_gb_s: number; busbw_gb_s: number }[] = [];
for (const bytes of [4 << 10, 64 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20]) {
  const t = zeros([bytes / 4]);
  const ms = time(bytes >= 16 << 20 ? 5 : 20, () => group.allReduce(t, 'sum'));
  t.dispose();
  const algbw = bytes / (ms / 1000) / 1e9;
  // A ring allreduce moves 2(W-1)/W of the buffer through each link (NCCL's "bus bandwidth").
  allreduce.push({ bytes, ms: Number(ms.toFixed(3)), algbw_gb_s: Number(algbw.toFixed(3)), busbw_gb_s: Number(((algbw * 2 * (world - 1)) / world).toFixed(3)) });
}

// ODC's samples memory, the default run's sizes: 60,000 x 256, 100 clusters, batch 64 (32 per rank).
const n = 60_000;
const dim = 256;
const batch = 64;
const memory = new OdcMemory({ length: n, featDim: dim, numClasses: 100, minCluster: 0, seed: 0 });
tidy(() => memory.init(randn([n, dim]), randint(0, 100, [n])));
const perRank = batch / world;
const localIndex = randint(0, n, [perRank]);
const localFeats = randn([perRank, dim]);
// Replica: gather the batch's indices and features, every rank updates its copy.
const gatherMs = time(50, () => tidy(() => {
  group.allGatherStacked(localIndex);
  group.allGatherStacked(localFeats);
}));
const index = randint(0, n, [batch]);
const feats = randn([batch, dim]);
const updateMs = time(50, () => memory.updateSamples(index, feats).dispose());
// Rank 0 updates alone, then broadcasts the batch's new feature rows and labels (the gather is still needed to update).
const rows = zeros([batch, dim + 1]);
const broadcastMs = time(50, () => group.broadcast(rows, 0));
if (rank === 0) {
  console.log(JSON.stringify({
    world, allreduce,
    memory_sync: {
      images: n, batch, gather_ms: Number(gatherMs.toFixed(3)), update_ms: Number(updateMs.toFixed(3)), broadcast_rows_ms: Number(broadcastMs.toFixed(3)),
      replica_ms: Number((gatherMs + updateMs).toFixed(3)), rank0_then_broadcast_ms: Number((gatherMs + updateMs + broadcastMs).toFixed(3)),
    },
  }));
}
group.destroy();
