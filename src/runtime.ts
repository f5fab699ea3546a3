/** Process-wide engine settings: intra-op threads, devices, build information. */
import { defaultThreads, native } from './native/binding.ts';

/**
 * Sets libtorch's intra-op threads. Debian's build starts at 1 thread, so the engine applies
 * `ODC_THREADS` or the machine's available cores when it loads.
 */
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
};

export function buildInfo(): { torchVersion: string; config: string; parallel: string; cxx11Abi: boolean } {
  return native.buildInfo();
}
