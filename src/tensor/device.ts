/** Device names from the command line and configs, checked against what this libtorch can reach. */
import { cuda } from '../runtime.ts';
import type { Device } from './dtype.ts';
import { ConfigError } from './errors.ts';

/**
 * `spec` ('cpu', 'cuda', 'cuda:N') as a Device, or a ConfigError naming `flag` when this process
 * cannot use it: a libtorch without CUDA (the addon was built against a CPU libtorch; LIBTORCH=
 * selects another, README), no GPU visible, or an index past the last GPU.
 */
export function checkDevice(spec: string | undefined, flag: string): Device {
  const d = spec ?? 'cpu';
  const m = /^(cpu|cuda)(?::(\d+))?$/.exec(d);
  if (m === null || (m[1] === 'cpu' && m[2] !== undefined)) throw new ConfigError(`${flag} ${d}: expected cpu, cuda or cuda:N`);
  if (m[1] === 'cpu') return 'cpu';
  if (!cuda.isAvailable()) {
    throw new ConfigError(`${flag} ${d}: no CUDA device is usable here (this addon's libtorch has no CUDA support, or no GPU is visible); build against a CUDA libtorch with LIBTORCH=<torch>/ (README, "The engine")`);
  }
  const index = Number(m[2] ?? 0);
  const count = cuda.deviceCount();
  if (index >= count) throw new ConfigError(`${flag} ${d}: this machine has ${count} CUDA device${count === 1 ? '' : 's'} (cuda:0${count > 1 ? `..cuda:${count - 1}` : ''})`);
  return d as Device;
}

/**
 * The device of one process of a group: plain `cuda` under several processes is the GPU of the
 * process's local rank (one process per GPU, as with torchrun); anything else stays as given.
 */
export function rankDevice(d: Device, group: { worldSize: number; localRank: number }): Device {
  if (d !== 'cuda' || group.worldSize === 1) return d;
  return checkDevice(`cuda:${group.localRank}`, `--device cuda (local rank ${group.localRank})`);
}
