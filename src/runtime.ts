/** Process-wide engine settings: intra-op threads, devices, build information. */
import { defaultThreads, native } from './native/binding.ts';

/** Sets libtorch's intra-op threads (see `configureProcess` for the default the CLI applies). */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}
/** Inter-op threads: accepted once, before any parallel work. */
export function setNumInteropThreads(n: number): void {
  native.setNumInteropThreads(n);
}

export { defaultThreads };

export const cuda = {
  isAvailable: (): boolean => native.cudaAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
  /**
   * Whether float32 matrix products (cuBLAS) and convolutions (cuDNN) may use TF32 on GPUs that
   * have it: process-wide, as torch.backends.cuda.matmul.allow_tf32 / torch.backends.cudnn.allow_tf32.
   */
  setTf32: (o: { matmul: boolean; cudnn: boolean }): void => native.setTf32(o.matmul, o.cudnn),
  getTf32: (): { matmul: boolean; cudnn: boolean } => {
    const [matmul, cudnn] = native.getTf32();
    return { matmul, cudnn };
  },
};

export function buildInfo(): { torchVersion: string; config: string; parallel: string; cxx11Abi: boolean } {
  return native.buildInfo();
}

export interface ProcessSettings {
  /** libtorch intra-op threads; default `ODC_THREADS` or the machine's available cores. */
  threads?: number;
  /**
   * Keep large tensor buffers in glibc's heap instead of one mmap per block (default true;
   * `ODC_MALLOC=default` turns it off): about 20 % of a training step on 2 cores, and a flat
   * resident size. It changes the whole process's allocator, hence opt-in.
   */
  tuneAllocator?: boolean;
}

/**
 * The process-wide settings the `odc` command applies at start. Importing odc changes nothing in
 * the host process; a program that trains with the library calls this once to run as fast as the
 * command does. Returns what is in effect.
 */
export function configureProcess(settings: ProcessSettings = {}): { threads: number; allocatorTuned: boolean } {
  native.setNumThreads(settings.threads ?? defaultThreads());
  const allocatorTuned = settings.tuneAllocator === false ? false : native.tuneAllocator();
  return { threads: native.getNumThreads(), allocatorTuned };
}
