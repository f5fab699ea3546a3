/**
 * Mixed precision as torch.autocast: inside `autocast`, convolutions and matrix products run in
 * bfloat16 or float16 on the given device, while the ops that need float32 (reductions, losses,
 * BatchNorm statistics) keep it. Outside, everything is float32.
 */
import { native } from '../native/binding.ts';
import type { Device } from '../tensor/dtype.ts';
import { ConfigError } from '../tensor/errors.ts';

/** fp32: no autocast; bf16: bfloat16 (CPU and CUDA); fp16: float16 with loss scaling (CUDA). */
export type Precision = 'fp32' | 'bf16' | 'fp16';

const kindOf = (device: Device): 'cpu' | 'cuda' => (device === 'cpu' ? 'cpu' : 'cuda');

/** Throws a ConfigError naming `flag` when `precision` is not available on `device`. */
export function checkPrecision(precision: Precision, device: Device, flag = '--precision'): void {
  if (precision === 'fp16' && device === 'cpu') throw new ConfigError(`${flag} fp16: float16 autocast needs a CUDA device; on the CPU use bf16 or fp32`);
}

/** Runs `fn` under autocast at `precision` on `device` (fp32: plainly), restoring the previous state after. */
export function autocast<T>(device: Device, precision: Precision, fn: () => T): T {
  if (precision === 'fp32') return fn();
  const kind = kindOf(device);
  const prev = native.autocastEnter(kind, precision === 'bf16' ? 'bfloat16' : 'float16');
  try {
    return fn();
  } finally {
    native.autocastExit(kind, prev);
  }
}

export function isAutocastEnabled(device: Device): boolean {
  return native.isAutocastEnabled(kindOf(device));
}
