/**
 * One member of a process group, for test/distributed.test.ts. Reads ODC_TEST_SCENARIO and
 * torchrun's variables (or ODC_TEST_STORE_FILE), says "ready" on its IPC channel once libtorch is
 * loaded, joins the group when the parent says "go" (so the members' start-up times do not eat
 * into a short timeout), runs the scenario and writes one JSON line to stdout. ODC_TEST_BACKEND
 * picks the group's backend (default gloo), ODC_TEST_DEVICE the device of the scenario's tensors.
 */
import assert from 'node:assert/strict';
import { initProcessGroup, type ProcessGroup } from '../src/distributed/process_group.ts';
import { setNumThreads } from '../src/runtime.ts';
import { setDefaultDevice, tensor, zeros } from '../src/tensor/creation.ts';
import type { Device } from '../src/tensor/dtype.ts';
import { TorchError } from '../src/tensor/errors.ts';
import { tidy } from '../src/tensor/scope.ts';

const scenario = process.env.ODC_TEST_SCENARIO;
const timeoutMs = Number(process.env.ODC_TEST_TIMEOUT_MS ?? 20000);
const backend = (process.env.ODC_TEST_BACKEND ?? 'gloo') as 'gloo' | 'nccl';
// Plain 'cuda': the GPU of this process's local rank.
const device = (process.env.ODC_TEST_DEVICE ?? 'cpu').replace(/^cuda$/, `cuda:${process.env.LOCAL_RANK ?? 0}`) as Device;
setNumThreads(1);

function report(result: unknown): never {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

/** allreduce (sum, avg, max, int64, a strided view), allgather, broadcast, barrier. */
function collectives(pg: ProcessGroup): unknown {
  const { rank, worldSize } = pg;
  return tidy(() => {
    const t = tensor([rank + 1, 10 * (rank + 1)]);
    pg.allReduce(t);
    const sum = t.toArray();
    const avg = pg.allReduce(tensor([rank + 1]), 'avg').toArray();
    const max = pg.allReduce(tensor([rank, -rank]), 'max').toArray();
    const ints = pg.allReduce(tensor(new BigInt64Array([BigInt(rank) + 2n ** 40n])), 'sum').toArray();
    const strided = zeros([3, 2]).add(rank + 1).t(); // a [2,3] view that is not contiguous
    pg.allReduce(strided, 'sum');
    const gathered = pg.allGather(tensor([rank, rank + 0.5])).map((g) => g.toArray());
    const stackedShape = pg.allGatherStacked(zeros([2, 3])).shape;
    const fromRoot = pg.broadcast(rank === 0 ? tensor([7, 8, 9]) : zeros([3]), 0).toArray();
    const fromLast = pg.broadcast(tensor([rank]), worldSize - 1).toArray();
    pg.barrier();
    // Results stay where the inputs were, whichever device the backend works on.
    const devices = [t.device, strided.device, pg.allGatherStacked(zeros([1])).device];
    return { rank, sum, avg, max, ints, strided: strided.toArray(), gathered, stackedShape, fromRoot, fromLast, devices };
  });
}

/** Rank 1 leaves after the barrier; rank 0's allreduce must fail, not hang, and not abort. */
function peerExits(pg: ProcessGroup): unknown {
  pg.barrier();
  if (pg.rank !== 0) process.exit(0);
  return afterFailure(pg);
}

/** Rank 1 stays alive but joins no collective; rank 0's allreduce must fail after the timeout. */
function peerSilent(pg: ProcessGroup): unknown {
  pg.barrier();
  if (pg.rank !== 0) {
    setTimeout(() => process.exit(0), 4 * pg.timeoutMs); // the parent ends it sooner
    return undefined;
  }
  return afterFailure(pg);
}

function afterFailure(pg: ProcessGroup): unknown {
  const start = Date.now();
  let error: unknown;
  try {
    pg.allReduce(tensor([1, 2, 3]));
  } catch (e) {
    error = e;
  }
  const ms = Date.now() - start;
  assert.ok(error instanceof TorchError, `allReduce threw ${String(error)}`);
  const again = Date.now();
  let second: unknown;
  try {
    pg.barrier();
  } catch (e) {
    second = e;
  }
  const secondMs = Date.now() - again;
  pg.destroy();
  return { message: error.message, ms, second: second instanceof Error ? second.message : 'no error', secondMs };
}

function run(): void {
  const pg = process.env.ODC_TEST_STORE_FILE
    ? initProcessGroup({ store: 'file', path: process.env.ODC_TEST_STORE_FILE, timeoutMs, backend })
    : initProcessGroup({ timeoutMs, backend });
  let result: unknown;
  setDefaultDevice(device);
  if (scenario === 'collectives') result = collectives(pg);
  else if (scenario === 'peer-exits') result = peerExits(pg);
  else if (scenario === 'peer-silent') result = peerSilent(pg);
  else throw new Error(`unknown scenario ${scenario}`);
  if (result === undefined) return;
  pg.destroy();
  report(result);
}

// Started by the test (an IPC channel): join once every member is ready. By a launcher: at once.
if (process.send === undefined) run();
else {
  process.on('message', (msg) => {
    if (msg === 'go') run();
  });
  process.send('ready');
}
