/** Tensor creation: from JS data, constant fills, ranges, and seeded random draws. */
import { native } from '../native/binding.ts';
import type { Device, DType } from './dtype.ts';
import { dtypeCode, dtypeOfArray, elementSize } from './dtype.ts';
import { ShapeError } from './errors.ts';
import type { Generator } from './random.ts';
import { aten, full, type Tensor, wrap } from './tensor.ts';

export { full };

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}
export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

const code = (d?: DType) => (d === undefined ? undefined : dtypeCode(d));

/**
 * Where creation functions put tensors when no `device` is given: 'cpu' unless set. Process-wide
 * (like torch.set_default_device): `train()` and `evaluate()` set it to their `device` for their
 * duration, so the methods, memories and k-means create their tensors there without a device
 * argument at every call. Tensors made from JS data are copied there.
 */
let defaultDevice: Device = 'cpu';

export function getDefaultDevice(): Device {
  return defaultDevice;
}

/** Sets the default device; returns the previous one (to restore). */
export function setDefaultDevice(d: Device): Device {
  const before = defaultDevice;
  defaultDevice = d;
  return before;
}

/** Runs `fn` with `d` as the default device (restored after, also when `fn` throws or its promise rejects). */
export async function withDefaultDevice<T>(d: Device, fn: () => Promise<T>): Promise<T> {
  const before = setDefaultDevice(d);
  try {
    return await fn();
  } finally {
    setDefaultDevice(before);
  }
}

const dev = (o: { device?: Device }): Device | undefined => {
  const d = o.device ?? defaultDevice;
  return d === 'cpu' ? undefined : d;
};

/** Seeded draws are made on their generator's device (the CPU) and then moved: the same values on every device. */
const drawn = (o: RandomOptions, draw: (device: Device | undefined) => Tensor): Tensor =>
  o.generator === undefined ? draw(dev(o)) : onDevice(draw(undefined), o.device ?? defaultDevice);
const finish = (t: Tensor, o: CreateOptions): Tensor => (o.requiresGrad ? t.requiresGrad_(true) : t);
const onDevice = (t: Tensor, device?: Device): Tensor => {
  if (device === undefined || device === 'cpu') return t;
  const moved = t.to({ device });
  t.dispose();
  return moved;
};

/**
 * `host` (in pinned memory) copied to a GPU without waiting for the copy: the batches and indices
 * made on the host go on queuing while the device still runs the previous step. Freeing the pinned
 * tensor at once is safe: libtorch's pinned-memory cache holds the block until the copy is done.
 */
const toGpu = (host: Tensor, device: Device): Tensor => {
  const moved = host.to({ device, nonBlocking: true });
  host.dispose();
  return moved;
};

function flatten(data: unknown, shape: number[], depth: number, out: number[]): void {
  if (Array.isArray(data)) {
    if (shape.length === depth) shape.push(data.length);
    else if (shape[depth] !== data.length) {
      throw new ShapeError(`tensor(): ragged nested array: expected length ${shape[depth]} at depth ${depth}, got ${data.length}`);
    }
    for (const d of data) flatten(d, shape, depth + 1, out);
  } else if (typeof data === 'number' || typeof data === 'boolean') {
    if (shape.length !== depth) throw new ShapeError(`tensor(): ragged nested array at depth ${depth}`);
    out.push(Number(data));
  } else {
    throw new TypeError(`tensor(): unsupported element ${String(data)}`);
  }
}

/**
 * A tensor from a TypedArray (copied; `shape` defaults to 1-D) or nested number arrays.
 *
 * ```ts
 * const x = tensor([[1, 2], [3, 4]]);                        // float32 [2, 2]
 * const y = tensor(new Int32Array([1, 2, 3]), { dtype: 'int64' });
 * ```
 */
export function tensor(data: ArrayBufferView | unknown[] | number, o: CreateOptions & { shape?: number[] } = {}): Tensor {
  let t: Tensor;
  if (ArrayBuffer.isView(data)) {
    const own = dtypeOfArray(data);
    const n = data.byteLength / elementSize(own);
    const shape = o.shape ?? [n];
    const want = shape.reduce((a, b) => a * b, 1);
    if (want !== n) throw new ShapeError(`tensor(): ${n} elements do not fill shape [${shape}]`);
    const target = o.device ?? defaultDevice;
    t = wrap(native.fromBuffer(data, dtypeCode(own), shape, target !== 'cpu'));
    if (target !== 'cpu') t = toGpu(t, target);
    if (o.dtype !== undefined && o.dtype !== own) {
      const cast = t.to(o.dtype);
      t.dispose();
      t = cast;
    }
  } else {
    const shape: number[] = [];
    const flat: number[] = [];
    flatten(data, shape, 0, flat);
    const dtype = o.dtype ?? 'float32';
    const f64 = Float64Array.from(flat);
    const base = wrap(native.fromBuffer(f64, dtypeCode('float64'), shape)) as Tensor;
    t = base.to(dtype);
    if (t !== base) base.dispose();
  }
  if (o.shape !== undefined && !ArrayBuffer.isView(data)) {
    const r = t.reshape(...o.shape);
    t.dispose();
    t = r;
  }
  // (typed arrays were copied to the device above)
  return finish(ArrayBuffer.isView(data) ? t : onDevice(t, o.device ?? defaultDevice), o);
}

/** A 0-d tensor holding one number. */
export function scalar(value: number, o: CreateOptions = {}): Tensor {
  return finish(full([], value, { dtype: o.dtype ?? 'float32', device: o.device ?? defaultDevice }), o);
}

const zerosOp = aten('zeros');
const onesOp = aten('ones');
const emptyOp = aten('empty', 'memory_format');
const arangeOp = aten('arange', 'start_step');
const linspaceOp = aten('linspace');
const eyeOp = aten('eye');
const zerosLikeOp = aten('zeros_like');
const onesLikeOp = aten('ones_like');
const fullLikeOp = aten('full_like');
const randOp = aten('rand', 'generator');
const randnOp = aten('randn', 'generator');
const randintOp = aten('randint', 'low_generator');
const randpermOp = aten('randperm', 'generator');
const catOp = aten('cat');
const stackOp = aten('stack');
const whereOp = aten('where', 'self');

export function zeros(shape: number[], o: CreateOptions = {}): Tensor {
  return finish(wrap(zerosOp(shape, code(o.dtype), undefined, dev(o))), o);
}
export function ones(shape: number[], o: CreateOptions = {}): Tensor {
  return finish(wrap(onesOp(shape, code(o.dtype), undefined, dev(o))), o);
}
/** Uninitialised memory (contents arbitrary). */
export function empty(shape: number[], o: CreateOptions = {}): Tensor {
  return finish(wrap(emptyOp(shape, code(o.dtype), undefined, dev(o))), o);
}
/** Values start, start+step, ... below end (int64 when all three are integers, like torch.arange). */
export function arange(start: number, end?: number, step = 1, o: CreateOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  return finish(wrap(arangeOp(s, e, step, code(o.dtype), undefined, dev(o))), o);
}
export function linspace(start: number, end: number, steps: number, o: CreateOptions = {}): Tensor {
  return finish(wrap(linspaceOp(start, end, steps, code(o.dtype), undefined, dev(o))), o);
}
export function eye(n: number, o: CreateOptions = {}): Tensor {
  return finish(wrap(eyeOp(n, code(o.dtype), undefined, dev(o))), o);
}
export function zerosLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return finish(wrap(zerosLikeOp(t, code(o.dtype), undefined, o.device)), o);
}
export function onesLike(t: Tensor, o: CreateOptions = {}): Tensor {
  return finish(wrap(onesLikeOp(t, code(o.dtype), undefined, o.device)), o);
}
export function fullLike(t: Tensor, value: number, o: CreateOptions = {}): Tensor {
  return finish(wrap(fullLikeOp(t, value, code(o.dtype), undefined, o.device)), o);
}

/** Uniform samples in [0, 1). */
export function rand(shape: number[], o: RandomOptions = {}): Tensor {
  return finish(drawn(o, (d) => wrap(randOp(shape, o.generator?.handle, code(o.dtype), undefined, d))), o);
}
/** Standard normal samples. */
export function randn(shape: number[], o: RandomOptions = {}): Tensor {
  return finish(drawn(o, (d) => wrap(randnOp(shape, o.generator?.handle, code(o.dtype), undefined, d))), o);
}
/** Integers uniform in [low, high) (int64 by default). */
export function randint(low: number, high: number, shape: number[], o: RandomOptions = {}): Tensor {
  return finish(drawn(o, (d) => wrap(randintOp(low, high, shape, o.generator?.handle, code(o.dtype ?? 'int64'), undefined, d))), o);
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, o: RandomOptions = {}): Tensor {
  return finish(drawn(o, (d) => wrap(randpermOp(n, o.generator?.handle, code(o.dtype ?? 'int64'), undefined, d))), o);
}

/** Concatenates along an existing dimension. */
export function cat(tensors: Tensor[], dim = 0): Tensor {
  return wrap(catOp(tensors, dim));
}
/** Stacks along a new dimension. */
export function stack(tensors: Tensor[], dim = 0): Tensor {
  return wrap(stackOp(tensors, dim));
}
/** Elementwise `cond ? a : b`. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  return wrap(whereOp(cond, a, b));
}
