/**
 * Multi-process collectives on libtorch's c10d: a rendezvous (TCPStore across machines, FileStore
 * on one), a Gloo process group (host buffers) or an NCCL one (one GPU per process, where the addon
 * was built against a CUDA libtorch), and allReduce, allGather, broadcast and barrier. A collective
 * takes tensors on any device: those not where the backend works (a CUDA tensor for Gloo, a CPU
 * one for NCCL) go through a copy there and back.
 *
 * Every call is synchronous: it blocks this process's JavaScript thread until all members have
 * joined the collective and it has finished, or until it fails. A member that died makes the
 * others' next collective throw at once; one that never joins makes it throw after `timeoutMs`.
 * Failures are TorchErrors named after the collective and the rank: `allreduce on rank 0 of 2: …`.
 * A group that failed is not usable any more: destroy it (and, in practice, end the run).
 */
import { native, type ProcessGroupHandle, type StoreHandle } from '../native/binding.ts';
import { isFloating } from '../tensor/dtype.ts';
import { ConfigError, TorchError } from '../tensor/errors.ts';
import { noGrad } from '../tensor/scope.ts';
import { type Tensor, wrap } from '../tensor/tensor.ts';
import type { Collective } from './collective.ts';
import { type DistributedEnv, launcherStorePrefix, readEnv } from './env.ts';

/** 'avg' is a sum divided by the world size (floating-point tensors only; Gloo has no average). */
export type ReduceOp = 'sum' | 'avg' | 'product' | 'min' | 'max';
const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'avg', 'product', 'min', 'max'];

/** PyTorch's default for process groups: 30 minutes. */
export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;

export type Backend = 'gloo' | 'nccl';

interface GroupOptions {
  /** 'gloo' (default; host buffers, CPU or CUDA tensors) or 'nccl' (GPU buffers; needs ncclAvailable()). */
  backend?: Backend;
  /** NCCL: the index of this process's GPU (default localRank). */
  device?: number;
  /** Default RANK from the environment. */
  rank?: number;
  /** Default WORLD_SIZE from the environment. */
  worldSize?: number;
  /** Default LOCAL_RANK, else rank mod localWorldSize. */
  localRank?: number;
  /** Default LOCAL_WORLD_SIZE, else worldSize. */
  localWorldSize?: number;
  /** Bounds the rendezvous and every collective (default 30 minutes, as in PyTorch). */
  timeoutMs?: number;
  /**
   * The network interface Gloo binds to (default GLOO_SOCKET_IFNAME); else `hostname`'s address;
   * else 127.0.0.1 when the rendezvous is local (a FileStore, or a loopback masterAddr); else the
   * address this machine's hostname resolves to (libtorch's default).
   */
  interface?: string;
  hostname?: string;
  /** Gloo's worker threads (default 2). */
  threads?: number;
}

/** Whether this addon has NCCL's process group (built against a CUDA libtorch with nccl.h). */
export const ncclAvailable = (): boolean => native.ncclAvailable();

/** Rendezvous through a TCPStore served by rank 0 (torchrun's MASTER_ADDR and MASTER_PORT by default). */
export interface TcpInitOptions extends GroupOptions {
  store?: 'tcp';
  masterAddr?: string;
  masterPort?: number;
  /**
   * Join a store the launcher serves (every member a client) under this key prefix. Default: what
   * torchrun's environment says (TORCHELASTIC_USE_AGENT_STORE, TORCHELASTIC_RESTART_COUNT), else
   * none, and rank 0 serves the store.
   */
  launcherStorePrefix?: string;
}

/** Rendezvous through a file every member can open: a path that does not exist yet, fresh per run. */
export interface FileInitOptions extends GroupOptions {
  store: 'file';
  path: string;
}

export type InitProcessGroupOptions = TcpInitOptions | FileInitOptions;

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host);

/** A set of processes that run collectives together; made by initProcessGroup. */
export class ProcessGroup implements Collective, Disposable {
  readonly backend: Backend;
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly localWorldSize: number;
  readonly timeoutMs: number;
  /** Milliseconds spent in this group's collectives so far. */
  commMs = 0;
  #group: ProcessGroupHandle | undefined;
  #store: StoreHandle | undefined;

  /** @internal Use initProcessGroup. */
  constructor(
    group: ProcessGroupHandle,
    store: StoreHandle,
    info: { backend: Backend; rank: number; worldSize: number; localRank: number; localWorldSize: number; timeoutMs: number },
  ) {
    this.backend = info.backend;
    this.#group = group;
    this.#store = store;
    this.rank = info.rank;
    this.worldSize = info.worldSize;
    this.localRank = info.localRank;
    this.localWorldSize = info.localWorldSize;
    this.timeoutMs = info.timeoutMs;
  }

  get isDestroyed(): boolean {
    return this.#group === undefined;
  }

  #handle(collective: string): ProcessGroupHandle {
    if (this.#group === undefined) {
      throw new TorchError(`${collective} on rank ${this.rank} of ${this.worldSize}`, 'the process group was destroyed');
    }
    return this.#group;
  }

  /** Reduces `t` in place across the group (every rank ends with the result); returns `t`. */
  allReduce(t: Tensor, op: ReduceOp = 'sum'): Tensor {
    const group = this.#handle('allreduce');
    if (!REDUCE_OPS.includes(op)) {
      throw new TorchError(`allreduce on rank ${this.rank} of ${this.worldSize}`, `op must be one of ${REDUCE_OPS.map((o) => `'${o}'`).join(', ')}, got '${op}'`);
    }
    if (op === 'avg') {
      if (!isFloating(t.dtype)) {
        throw new TorchError(`allreduce on rank ${this.rank} of ${this.worldSize}`, `'avg' needs a floating-point tensor, got ${t.dtype}`);
      }
      this.#timed(() => native.allreduce(group, t.handle, 'sum'));
      noGrad(() => t.div_(this.worldSize));
    } else {
      this.#timed(() => native.allreduce(group, t.handle, op));
    }
    return t;
  }

  /** Every rank's `t` (all of one shape and dtype), in rank order: new tensors, views of one buffer. */
  allGather(t: Tensor): Tensor[] {
    const stacked = this.allGatherStacked(t);
    const parts = Array.from({ length: this.worldSize }, (_, r) => stacked.select(0, r));
    stacked.dispose();
    return parts;
  }

  /** Every rank's `t` stacked along a new first dimension: shape [worldSize, ...t.shape]. */
  allGatherStacked(t: Tensor): Tensor {
    const group = this.#handle('allgather');
    return wrap(this.#timed(() => native.allgather(group, t.handle))) as Tensor;
  }

  /** Overwrites `t` on every rank with rank `root`'s (all of one shape and dtype); returns `t`. */
  broadcast(t: Tensor, root = 0): Tensor {
    const group = this.#handle('broadcast');
    this.#timed(() => native.broadcast(group, t.handle, root));
    return t;
  }

  /** Returns once every member of the group has called it. */
  barrier(): void {
    const group = this.#handle('barrier');
    this.#timed(() => native.barrier(group));
  }

  /** The sum of `t` over the group, as a new tensor whose gradient is the sum over the group of the gradients reaching it. */
  sumDifferentiable(t: Tensor): Tensor {
    const group = this.#handle('allreduce (differentiable)');
    return wrap(this.#timed(() => native.differentiableAllreduce(group, t.handle))) as Tensor;
  }

  /**
   * loss.backward(), then every parameter's gradient is the mean over the group of the ranks'
   * gradients. Gradients travel in buckets of about `bucketBytes` (default 25 MiB, as PyTorch DDP),
   * each sent as soon as backward has produced it when `overlap` (default), else all after
   * backward. Every rank passes the same parameters in the same order. Returns the milliseconds
   * spent waiting for the transfers after backward.
   */
  backwardAveraged(loss: Tensor, params: Tensor[], o: { bucketBytes?: number; overlap?: boolean } = {}): number {
    const group = this.#handle('allreduce (gradients)');
    const waited = native.backwardAllreduce(group, loss.handle, params.map((p) => p.handle), { bucketBytes: o.bucketBytes ?? 25 * 2 ** 20, overlap: o.overlap ?? true });
    this.commMs += waited;
    return waited;
  }

  #timed<T>(f: () => T): T {
    const t0 = performance.now();
    try {
      return f();
    } finally {
      this.commMs += performance.now() - t0;
    }
  }

  #diagnosed = false;

  /**
   * After a collective failed (once per group; later calls return ''): which members are gone,
   * as a clause to add to the error. Each member that calls it says so through the rendezvous
   * store, then waits up to `waitMs` for the others to say so too; those that do not have exited
   * or hang (or are still waiting out their own timeout). A store that no longer answers has lost
   * its server (rank 0, or torchrun's agent). `odc train` adds it to the error it prints.
   */
  diagnoseFailure(waitMs = 3000): string {
    const store = this.#store;
    if (store === undefined || this.worldSize === 1 || this.#diagnosed) return '';
    this.#diagnosed = true;
    const key = (r: number) => `odc/failed/${r}`;
    try {
      native.storeSet(store, key(this.rank), '1');
      const wait = Math.min(waitMs, this.timeoutMs);
      const deadline = performance.now() + wait;
      let silent = Array.from({ length: this.worldSize }, (_, r) => r).filter((r) => r !== this.rank);
      const pause = new Int32Array(new SharedArrayBuffer(4));
      while (silent.length > 0 && performance.now() < deadline) {
        silent = silent.filter((r) => !native.storeCheck(store, [key(r)]));
        if (silent.length > 0) Atomics.wait(pause, 0, 0, 100);
      }
      if (silent.length === 0) return '';
      const who = silent.length === 1 ? `rank ${silent[0]}` : `ranks ${silent.join(', ')}`;
      return `; ${who} of ${this.worldSize} did not report this failure within ${wait / 1000} s: exited or hung`;
    } catch {
      return '; the rendezvous store does not answer either: its server (rank 0, or the launcher) has probably exited';
    }
  }

  /** Closes the connections and releases the store. Idempotent. */
  destroy(): void {
    if (this.#group !== undefined) native.destroyProcessGroup(this.#group);
    if (this.#store !== undefined) native.closeStore(this.#store);
    this.#group = undefined;
    this.#store = undefined;
  }

  [Symbol.dispose](): void {
    this.destroy();
  }
}

/**
 * Joins a process group: blocks until all `worldSize` members have joined (or `timeoutMs`).
 * Without options, or for the fields left out, reads torchrun's variables (distributedEnv); on one
 * machine, `initProcessGroup({ store: 'file', path, rank, worldSize })` needs no port.
 */
export function initProcessGroup(options: InitProcessGroupOptions = {}): ProcessGroup {
  const backend = options.backend ?? 'gloo';
  if (backend !== 'gloo' && backend !== 'nccl') throw new ConfigError(`initProcessGroup: backend must be 'gloo' or 'nccl', got '${backend}'`);
  if (!native.distributedAvailable()) {
    throw new ConfigError('initProcessGroup: this odc addon was built without c10d (install libgloo-dev and rebuild the addon)');
  }
  if (backend === 'nccl' && !native.ncclAvailable()) {
    throw new ConfigError(`initProcessGroup: backend 'nccl' is not in this addon: build it against a CUDA libtorch with NCCL's headers (LIBTORCH=, README "Many GPUs and machines"), or use 'gloo'`);
  }
  const tcp = options.store === undefined || options.store === 'tcp';
  const o = options as TcpInitOptions & Partial<FileInitOptions>;
  const required = [
    o.rank === undefined ? 'RANK' : '',
    o.worldSize === undefined ? 'WORLD_SIZE' : '',
    tcp && o.masterAddr === undefined ? 'MASTER_ADDR' : '',
    tcp && o.masterPort === undefined ? 'MASTER_PORT' : '',
  ].filter((k) => k !== '');
  const env: Partial<DistributedEnv> = required.length > 0 ? readEnv(process.env, required) : {};
  const rank = o.rank ?? (env.rank as number);
  const worldSize = o.worldSize ?? (env.worldSize as number);
  const localWorldSize = o.localWorldSize ?? env.localWorldSize ?? worldSize;
  const localRank = o.localRank ?? env.localRank ?? rank % localWorldSize;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const bad = (name: string, v: number, lo: number, hi: number) =>
    !Number.isInteger(v) || v < lo || v > hi ? `${name} must be an integer in [${lo}, ${hi}], got ${v}` : undefined;
  const problems = [
    bad('worldSize', worldSize, 1, 2 ** 20),
    bad('rank', rank, 0, worldSize - 1),
    bad('localWorldSize', localWorldSize, 1, worldSize),
    bad('localRank', localRank, 0, localWorldSize - 1),
    bad('timeoutMs', timeoutMs, 1, 2 ** 31 - 1),
    o.device === undefined ? undefined : bad('device', o.device, 0, 1023),
  ].filter((p) => p !== undefined);
  if (problems.length > 0) throw new ConfigError(`initProcessGroup: ${problems.join('; ')}`);
  if (!tcp && (typeof o.path !== 'string' || o.path === '')) throw new ConfigError(`initProcessGroup: store 'file' needs a path`);
  const masterAddr = o.masterAddr ?? env.masterAddr ?? '';

  const iface = o.interface ?? (process.env.GLOO_SOCKET_IFNAME || undefined);
  if (iface?.includes(',')) throw new ConfigError(`initProcessGroup: one network interface only, got '${iface}'`);
  const local = !tcp || isLoopback(masterAddr);
  const hostname = iface === undefined ? (o.hostname ?? (local ? '127.0.0.1' : undefined)) : undefined;

  // Failures of either step read "rendezvous on rank R of W: <step>: <libtorch's message>".
  const rendezvous = `rendezvous on rank ${rank} of ${worldSize}`;
  let store: StoreHandle;
  const prefix = tcp ? (o.launcherStorePrefix ?? launcherStorePrefix()) : undefined;
  try {
    store = tcp
      ? native.tcpStore({ host: masterAddr, port: o.masterPort ?? (env.masterPort as number), isMaster: rank === 0 && prefix === undefined, worldSize, timeoutMs, prefix })
      : native.fileStore({ path: o.path as string, worldSize, timeoutMs });
  } catch (e) {
    throw e instanceof TorchError ? new TorchError(rendezvous, e.message) : e;
  }
  try {
    const group =
      backend === 'nccl'
        ? native.processGroupNccl(store, { rank, worldSize, timeoutMs, device: o.device ?? localRank })
        : native.processGroupGloo(store, { rank, worldSize, timeoutMs, hostname, interface: iface, threads: o.threads });
    return new ProcessGroup(group, store, { backend, rank, worldSize, localRank, localWorldSize, timeoutMs });
  } catch (e) {
    native.closeStore(store);
    if (!(e instanceof TorchError)) throw e;
    throw new TorchError(rendezvous, `connecting the ${worldSize} members (timeout ${timeoutMs} ms): ${e.message.replace(/^processGroup(Gloo|Nccl) on rank \d+ of \d+: /, '')}`);
  }
}
