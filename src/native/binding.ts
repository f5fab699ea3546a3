/** Loads the compiled libtorch addon and types its raw surface once (the only place that names it). */
import { availableParallelism } from 'node:os';
import { loadAddon } from './load_addon.ts';

/** An opaque native handle (a type-tagged napi External). */
export type Handle = object & { readonly __handle: unique symbol };
export type GeneratorHandle = object & { readonly __generator: unique symbol };
/** A device event marking the end of an asynchronous copy to host memory. */
export type EventHandle = object & { readonly __event: unique symbol };
/** A c10d rendezvous store (TCPStore or FileStore). */
export type StoreHandle = object & { readonly __store: unique symbol };
/** A c10d process group (Gloo). */
export type ProcessGroupHandle = object & { readonly __processGroup: unique symbol };
/** Reductions Gloo implements (average is a sum divided in TypeScript). */
export type NativeReduceOp = 'sum' | 'product' | 'min' | 'max';
/** What autocastEnter replaced, for autocastExit to restore. */
export interface AutocastState {
  enabled: boolean;
  dtype: string;
}
/** What a dispatched operator can return. */
export type RawResult = Handle | number | boolean | string | undefined | RawResult[];

export interface NativeBinding {
  resolveOp(name: string, overload: string): number;
  callOp(id: number, args: unknown[]): RawResult;
  callOpInPlace(id: number, args: unknown[]): void;
  opSchema(id: number): string;

  fromBuffer(data: ArrayBufferView, dtype: number, shape: number[], pinned?: boolean): Handle;
  toBuffer(h: Handle): ArrayBuffer;
  meta(h: Handle): [number[], number, string, boolean];
  strides(h: Handle): number[];
  free(h: Handle): void;
  isAlive(h: Handle): boolean;
  sameStorage(a: Handle, b: Handle): boolean;

  backward(h: Handle, grad?: Handle, retainGraph?: boolean): void;
  grad(h: Handle): Handle | undefined;
  setGrad(h: Handle, grad: Handle | undefined): void;
  setRequiresGrad(h: Handle, flag: boolean): void;
  isLeaf(h: Handle): boolean;
  setGradEnabled(flag: boolean): boolean;
  isGradEnabled(): boolean;
  autocastEnter(device: 'cpu' | 'cuda', dtype: 'bfloat16' | 'float16'): AutocastState;
  autocastExit(device: 'cpu' | 'cuda', prev: AutocastState): void;
  isAutocastEnabled(device: 'cpu' | 'cuda'): boolean;
  setData(h: Handle, source: Handle): void;

  setNumThreads(n: number): void;
  getNumThreads(): number;
  setNumInteropThreads(n: number): void;
  manualSeed(seed: number | bigint): void;
  newGenerator(seed: number | bigint, device?: string): GeneratorHandle;
  defaultGenerator(device?: string): GeneratorHandle;
  generatorState(g: GeneratorHandle): Handle;
  setGeneratorState(g: GeneratorHandle, state: Handle): void;
  generatorSeed(g: GeneratorHandle): bigint;
  cudaAvailable(): boolean;
  cudaDeviceCount(): number;
  setTf32(matmul: boolean, cudnn: boolean): void;
  getTf32(): [boolean, boolean];
  liveTensors(): number;
  reportedBytes(): number;
  buildInfo(): { torchVersion: string; config: string; parallel: string; cxx11Abi: boolean };
  tuneAllocator(): boolean;
  /** Bytes malloc has handed out and not had back (glibc's mallinfo2); -1 where unknown. */
  heapBytesInUse(): number;
  /** A host copy of the tensor; from a device, pinned and asynchronous, complete when the event is. */
  copyToHostAsync(h: Handle): [Handle, EventHandle | null];
  eventQuery(e: EventHandle): boolean;
  eventWait(e: EventHandle): void;
  setErrorClass(ctor: new (op: string, message: string, inputs: string[]) => Error): void;

  /** Whether c10d was compiled in (Gloo's or NCCL's headers were found at build time). */
  distributedAvailable(): boolean;
  /** Whether the NCCL process group was compiled in (a CUDA libtorch with nccl.h at build time). */
  ncclAvailable(): boolean;
  tcpStore(o: { host: string; port: number; isMaster: boolean; worldSize: number; timeoutMs: number; prefix?: string }): StoreHandle;
  fileStore(o: { path: string; worldSize: number; timeoutMs: number }): StoreHandle;
  closeStore(s: StoreHandle): void;
  storeSet(s: StoreHandle, key: string, value: string): void;
  /** Whether every key is set (does not wait). */
  storeCheck(s: StoreHandle, keys: string[]): boolean;
  processGroupGloo(
    s: StoreHandle,
    o: { rank: number; worldSize: number; timeoutMs: number; hostname?: string; interface?: string; threads?: number },
  ): ProcessGroupHandle;
  /** The NCCL group of GPU cuda:<device> (made this thread's current device). */
  processGroupNccl(s: StoreHandle, o: { rank: number; worldSize: number; timeoutMs: number; device: number }): ProcessGroupHandle;
  destroyProcessGroup(g: ProcessGroupHandle): void;
  allreduce(g: ProcessGroupHandle, h: Handle, op: NativeReduceOp): void;
  allgather(g: ProcessGroupHandle, h: Handle): Handle;
  broadcast(g: ProcessGroupHandle, h: Handle, root: number): void;
  barrier(g: ProcessGroupHandle): void;
  differentiableAllreduce(g: ProcessGroupHandle, h: Handle): Handle;
  /** loss.backward() with the gradients of `params` averaged over the group; returns ms spent waiting after backward. */
  backwardAllreduce(g: ProcessGroupHandle, loss: Handle, params: Handle[], o: { bucketBytes: number; overlap: boolean }): number;
}

/** Every key of NativeBinding, checked against the loaded addon by a test so C++ and TS cannot drift. */
export const NATIVE_KEYS: readonly (keyof NativeBinding)[] = [
  'resolveOp', 'callOp', 'callOpInPlace', 'opSchema',
  'fromBuffer', 'toBuffer', 'meta', 'strides', 'free', 'isAlive', 'sameStorage',
  'backward', 'grad', 'setGrad', 'setRequiresGrad', 'isLeaf', 'setGradEnabled', 'isGradEnabled', 'autocastEnter', 'autocastExit', 'isAutocastEnabled', 'setData',
  'setNumThreads', 'getNumThreads', 'setNumInteropThreads', 'manualSeed', 'newGenerator', 'defaultGenerator',
  'generatorState', 'setGeneratorState', 'generatorSeed', 'cudaAvailable', 'cudaDeviceCount', 'setTf32', 'getTf32',
  'liveTensors', 'reportedBytes', 'buildInfo', 'tuneAllocator', 'heapBytesInUse', 'setErrorClass', 'copyToHostAsync', 'eventQuery', 'eventWait',
  'distributedAvailable', 'tcpStore', 'fileStore', 'closeStore', 'storeSet', 'storeCheck', 'processGroupGloo', 'processGroupNccl', 'ncclAvailable', 'destroyProcessGroup',
  'allreduce', 'allgather', 'broadcast', 'barrier', 'differentiableAllreduce', 'backwardAllreduce',
];

export const native: NativeBinding = loadAddon<NativeBinding>('odc_torch');

/** ODC_THREADS, else the machine's available cores (Debian's libtorch would otherwise start at 1). */
export function defaultThreads(): number {
  const env = process.env.ODC_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`ODC_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  return availableParallelism();
}
