/** Seeded random number generators (libtorch's Philox/MT engines), whose state can be saved and restored. */

import type { GeneratorHandle } from '../native/binding.ts';
import { native } from '../native/binding.ts';
import type { Device } from './dtype.ts';
import { Tensor } from './tensor.ts';

/**
 * A random generator the user seeds; pass it to rand/randn/randint/randperm and in-place samplers.
 * Same seed, same sequence: `randn([3], {generator: new Generator(42)})` equals torch's
 * `torch.randn(3, generator=torch.Generator().manual_seed(42))`.
 */
export class Generator {
  readonly handle: GeneratorHandle;
  constructor(seed: number | bigint = 0, device: Device = 'cpu') {
    this.handle = native.newGenerator(seed, device);
  }
  /** @internal wraps an existing native generator (the default one). */
  static fromHandle(h: GeneratorHandle): Generator {
    const g = Object.create(Generator.prototype) as Generator;
    (g as { handle: GeneratorHandle }).handle = h;
    return g;
  }
  get seed(): bigint {
    return native.generatorSeed(this.handle);
  }
  /** A uint8 snapshot of the full state (for checkpoints). */
  getState(): Tensor {
    return new Tensor(native.generatorState(this.handle));
  }
  setState(state: Tensor): void {
    native.setGeneratorState(this.handle, state.handle);
  }
}

/** Seeds the default generators (CPU and every CUDA device): dropout and unseeded rand* draw from them. */
export function manualSeed(seed: number | bigint): void {
  native.manualSeed(seed);
}

/** The process-wide default generator of a device (what dropout uses). */
export function defaultGenerator(device: Device = 'cpu'): Generator {
  return Generator.fromHandle(native.defaultGenerator(device));
}
