/**
 * c10d across processes: two workers (test/distributed_worker.ts, one libtorch thread each) meet
 * over a TCPStore on a free loopback port, or over a FileStore, and run the collectives; a member
 * that leaves or goes silent makes the other's collective throw a JS error naming the collective
 * and the rank, within the timeout, and the process carries on.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { distributedEnv, launcherStorePrefix } from '../src/distributed/env.ts';
import { freePort } from '../src/distributed/launch.ts';
import { initProcessGroup } from '../src/distributed/process_group.ts';
import { native } from '../src/native/binding.ts';
import { cuda } from '../src/runtime.ts';
import { tensor } from '../src/tensor/creation.ts';
import { ConfigError } from '../src/tensor/errors.ts';
import { tidy } from '../src/tensor/scope.ts';

const WORKER = fileURLToPath(new URL('./distributed_worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORLD = 2;

interface Exit {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs one worker per rank; once every worker has loaded libtorch ("ready"), tells them all to
 * join the group ("go"). `stopAfter(rank)`: end the others once this rank has exited.
 */
async function runGroup(scenario: string, env: Record<string, string>, opts: { stopAfter?: number } = {}): Promise<Exit[]> {
  const children: ChildProcess[] = [];
  const exits: Promise<Exit>[] = [];
  let ready = 0;
  for (let rank = 0; rank < WORLD; rank++) {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...env, ODC_THREADS: '1', ODC_TEST_SCENARIO: scenario, RANK: String(rank), WORLD_SIZE: String(WORLD), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(WORLD) },
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => { stdout += d; });
    child.stderr?.on('data', (d) => { stderr += d; });
    child.on('message', (m) => {
      if (m === 'ready' && ++ready === WORLD) for (const c of children) c.send('go');
    });
    exits.push(new Promise((resolve) => child.on('exit', (code, signal) => resolve({ rank, code, signal, stdout, stderr }))));
  }
  const watchdog = setTimeout(() => { for (const c of children) c.kill('SIGKILL'); }, 25_000);
  if (opts.stopAfter !== undefined) {
    exits[opts.stopAfter].then(() => { for (const c of children) if (c.exitCode === null) c.kill('SIGTERM'); });
  }
  const done = await Promise.all(exits);
  clearTimeout(watchdog);
  return done;
}

/** The JSON line a worker reported, after checking that it exited cleanly. */
function result(e: Exit): Record<string, unknown> {
  assert.equal(e.signal, null, `rank ${e.rank} was killed by ${e.signal}\n${e.stderr}`);
  assert.equal(e.code, 0, `rank ${e.rank} exited with ${e.code}\n${e.stderr}`);
  const line = e.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line);
}

/** What the 'collectives' scenario reports on each rank, its tensors on `device`. */
const expectedCollectives = (rank: number, device = 'cpu') => ({
  rank,
  sum: [3, 30],
  avg: [1.5],
  max: [1, 0],
  ints: [2 ** 41 + 1],
  strided: [3, 3, 3, 3, 3, 3],
  gathered: [[0, 0.5], [1, 1.5]],
  stackedShape: [2, 2, 3],
  fromRoot: [7, 8, 9],
  fromLast: [1],
  devices: [device, device, device],
});

const tcpEnv = async () => ({ MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(await freePort()) });

describe('distributed (Gloo, 2 processes)', { skip: native.distributedAvailable() ? false : 'addon built without c10d' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'odc-dist-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const expected = expectedCollectives;

  it('allreduce, allgather, broadcast and barrier over a TCPStore', async () => {
    const exits = await runGroup('collectives', await tcpEnv());
    for (const e of exits) assert.deepEqual(result(e), expected(e.rank));
  });

  it("the same over a store the launcher serves (torchrun's agent store: every member a client)", async () => {
    const env = await tcpEnv();
    // What torchrun's elastic agent does before it starts the workers: serve a TCPStore on MASTER_PORT.
    const agentStore = native.tcpStore({ host: '127.0.0.1', port: Number(env.MASTER_PORT), isMaster: true, worldSize: 1, timeoutMs: 20_000 });
    try {
      const exits = await runGroup('collectives', { ...env, TORCHELASTIC_USE_AGENT_STORE: 'True', TORCHELASTIC_RESTART_COUNT: '0' });
      for (const e of exits) assert.deepEqual(result(e), expected(e.rank));
    } finally {
      native.closeStore(agentStore);
    }
  });

  it('the same over a FileStore', async () => {
    const exits = await runGroup('collectives', { ODC_TEST_STORE_FILE: join(dir, 'store') });
    for (const e of exits) assert.deepEqual(result(e), expected(e.rank));
  });

  it('a member that exits makes the next collective throw at once, naming the collective and the rank', async (t) => {
    const exits = await runGroup('peer-exits', { ...(await tcpEnv()), ODC_TEST_TIMEOUT_MS: '3000' });
    assert.equal(exits[1].code, 0, exits[1].stderr);
    const r = result(exits[0]) as { message: string; ms: number; second: string; secondMs: number };
    t.diagnostic(`after ${r.ms} ms: ${r.message}; then after ${r.secondMs} ms: ${r.second}`);
    assert.match(r.message, /^allreduce on rank 0 of 2: /);
    assert.ok(r.ms < 3000, `failed after ${r.ms} ms (timeout 3000 ms)`);
    assert.match(r.second, /^barrier on rank 0 of 2: /);
    assert.ok(r.secondMs < 6000, `the collective after the failure took ${r.secondMs} ms`);
  });

  it('a member that joins no collective makes it throw after the timeout', async (t) => {
    const exits = await runGroup('peer-silent', { ...(await tcpEnv()), ODC_TEST_TIMEOUT_MS: '3000' }, { stopAfter: 0 });
    const r = result(exits[0]) as { message: string; ms: number; second: string; secondMs: number };
    t.diagnostic(`after ${r.ms} ms: ${r.message}; then after ${r.secondMs} ms: ${r.second}`);
    assert.match(r.message, /^allreduce on rank 0 of 2: .*[Tt]imed out/);
    assert.ok(r.ms >= 2900 && r.ms < 6000, `failed after ${r.ms} ms (timeout 3000 ms)`);
    assert.match(r.second, /^barrier on rank 0 of 2: /);
  });
});

const gpus = cuda.isAvailable() ? cuda.deviceCount() : 0;

describe('distributed with CUDA tensors', { skip: native.distributedAvailable() && gpus > 0 ? false : 'needs c10d and a GPU' }, () => {
  it('Gloo, 2 processes: CUDA tensors travel through the host and the results stay on the GPU', async () => {
    const exits = await runGroup('collectives', { ...(await tcpEnv()), ODC_TEST_DEVICE: 'cuda:0' });
    for (const e of exits) assert.deepEqual(result(e), expectedCollectives(e.rank, 'cuda:0'));
  });

  it('NCCL, a group of one: collectives on GPU and CPU tensors, averaged gradients', { skip: native.ncclAvailable() ? false : 'addon built without NCCL' }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'odc-nccl-'));
    const pg = initProcessGroup({ backend: 'nccl', store: 'file', path: join(dir, 'store'), rank: 0, worldSize: 1, timeoutMs: 60_000 });
    try {
      assert.equal(pg.backend, 'nccl');
      tidy(() => {
        for (const device of ['cuda:0', 'cpu'] as const) {
          const t = tensor([1, 2, 3], { device });
          assert.deepEqual(pg.allReduce(t, 'max').toArray(), [1, 2, 3]);
          assert.equal(t.device, device);
          const g = pg.allGatherStacked(tensor([[1, 2]], { device, dtype: 'int64' }));
          assert.deepEqual([g.shape, g.device, g.toArray()], [[1, 1, 2], device, [1, 2]]);
          assert.deepEqual(pg.broadcast(tensor([4, 5], { device }), 0).toArray(), [4, 5]);
        }
        pg.barrier();
        const w = tensor([1, -2], { device: 'cuda:0', requiresGrad: true });
        const waited = pg.backwardAveraged(pg.sumDifferentiable(w.mul(w)).sum(), [w]);
        assert.ok(waited >= 0);
        assert.deepEqual(w.grad?.toArray(), [2, -4]);
      });
    } finally {
      pg.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('NCCL, 2 processes on 2 GPUs', { skip: native.ncclAvailable() && gpus >= 2 ? false : 'needs NCCL and 2 GPUs' }, async () => {
    const exits = await runGroup('collectives', { ...(await tcpEnv()), ODC_TEST_BACKEND: 'nccl', ODC_TEST_DEVICE: 'cuda' });
    for (const e of exits) assert.deepEqual(result(e), expectedCollectives(e.rank, `cuda:${e.rank}`));
  });
});

/** Debian's python3-torch, whose torchrun launches the workers below (not installed by set-up). */
const torchrun = spawnSync('/usr/bin/python3', ['-c', 'import torch.distributed.run'], { stdio: 'ignore' }).status === 0;

describe('launched by torchrun', { skip: native.distributedAvailable() && torchrun ? false : "needs c10d and Debian's python3-torch" }, () => {
  it('`torchrun --no_python ... node` starts two workers that meet on its store and run the collectives', async () => {
    const logs = mkdtempSync(join(tmpdir(), 'odc-torchrun-'));
    try {
      // --redirects/--tee: Debian's torch 1.13 under Python 3.11 fails on their defaults (its Std enum).
      const args = ['-m', 'torch.distributed.run', '--redirects', '2', '--tee', '1', '--log_dir', logs, '--no_python', '--nnodes', '1', '--nproc_per_node', '2',
        '--master_port', String(await freePort()), process.execPath, '--import', 'tsx', WORKER];
      const r = spawnSync('/usr/bin/python3', args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ODC_THREADS: '1', ODC_TEST_SCENARIO: 'collectives' } });
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
      for (const rank of [0, 1]) {
        const line = r.stdout.split('\n').find((l) => l.startsWith(`[default${rank}]:{`));
        assert.ok(line, `rank ${rank} reported nothing:\n${r.stdout}`);
        assert.deepEqual(JSON.parse(line.slice(line.indexOf('{'))), expectedCollectives(rank));
      }
    } finally {
      rmSync(logs, { recursive: true, force: true });
    }
  });
});

describe('process group options', () => {
  it('reads torchrun variables, naming the missing ones', () => {
    assert.deepEqual(distributedEnv({ RANK: '1', WORLD_SIZE: '4', MASTER_ADDR: 'node0', MASTER_PORT: '29500', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2' }), {
      rank: 1, worldSize: 4, localRank: 1, localWorldSize: 2, masterAddr: 'node0', masterPort: 29500,
    });
    assert.deepEqual(distributedEnv({ RANK: '3', WORLD_SIZE: '4', MASTER_ADDR: 'h', MASTER_PORT: '1' }), {
      rank: 3, worldSize: 4, localRank: 3, localWorldSize: 4, masterAddr: 'h', masterPort: 1,
    });
    assert.throws(() => distributedEnv({ RANK: '0' }), (e: unknown) => e instanceof ConfigError && /WORLD_SIZE, MASTER_ADDR, MASTER_PORT not set/.test(e.message));
    assert.throws(() => distributedEnv({ RANK: '2', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '1' }), /RANK must be an integer in \[0, 1\], got '2'/);
    assert.throws(() => distributedEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '70000' }), /MASTER_PORT/);
  });

  it("joins torchrun's agent store under the attempt's prefix when torchrun says so", () => {
    assert.equal(launcherStorePrefix({ TORCHELASTIC_USE_AGENT_STORE: 'True', TORCHELASTIC_RESTART_COUNT: '2' }), '/worker/attempt_2');
    assert.equal(launcherStorePrefix({ TORCHELASTIC_USE_AGENT_STORE: 'True' }), '/worker/attempt_0');
    assert.equal(launcherStorePrefix({ TORCHELASTIC_USE_AGENT_STORE: 'False' }), undefined);
    assert.equal(launcherStorePrefix({}), undefined);
  });

  it('checks the options before any rendezvous', () => {
    if (!native.ncclAvailable()) {
      assert.throws(() => initProcessGroup({ backend: 'nccl', rank: 0, worldSize: 1, masterAddr: 'h', masterPort: 1 }), /backend 'nccl' is not in this addon: build it against a CUDA libtorch/);
    }
    assert.throws(() => initProcessGroup({ backend: 'mpi' as 'gloo', rank: 0, worldSize: 1, masterAddr: 'h', masterPort: 1 }), /backend must be 'gloo' or 'nccl', got 'mpi'/);
    assert.throws(() => initProcessGroup({ device: -1, rank: 0, worldSize: 1, masterAddr: 'h', masterPort: 1 }), /device must be an integer in \[0, 1023\], got -1/);
    assert.throws(() => initProcessGroup({ rank: 2, worldSize: 2, masterAddr: '127.0.0.1', masterPort: 1 }), /rank must be an integer in \[0, 1\], got 2/);
    assert.throws(() => initProcessGroup({ store: 'file', path: '', rank: 0, worldSize: 1 }), /needs a path/);
  });

  it('a group of one runs every collective locally, and is unusable once destroyed', { skip: !native.distributedAvailable() }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'odc-dist-'));
    try {
      const pg = initProcessGroup({ store: 'file', path: join(dir, 'store'), rank: 0, worldSize: 1, timeoutMs: 5000 });
      assert.equal(pg.worldSize, 1);
      pg.barrier();
      pg.destroy();
      pg.destroy();
      assert.throws(() => pg.barrier(), /barrier on rank 0 of 1: the process group was destroyed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
