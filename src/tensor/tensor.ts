/**
 * Tensor: a typed face of an ATen tensor. Every method is one ATen operator (PyTorch names in
 * camelCase; in-place methods end in `_` and return `this`). Shapes, dtype and device are read
 * once from the native side and cached.
 */

import type { Handle, RawResult } from '../native/binding.ts';
import { native } from '../native/binding.ts';
import { callInPlace, callRaw, opId } from './aten.ts';
import type { AnyTypedArray, Device, DType } from './dtype.ts';
import { dtypeCode, dtypeName, typedView } from './dtype.ts';
import { TorchError } from './errors.ts';
import type { Disposable, Scope } from './scope.ts';
import { track, untrack } from './scope.ts';

export type MemoryFormat = 'contiguous' | 'channelsLast' | 'preserve';
const MEMORY_FORMATS: Record<MemoryFormat, number> = { contiguous: 0, preserve: 1, channelsLast: 2 };
export function memoryFormatCode(f: MemoryFormat): number {
  return MEMORY_FORMATS[f];
}

type Op = (...args: unknown[]) => RawResult;
/** A lazily resolved operator: the schema lookup happens on the first call only. */
export function aten(name: string, overload = ''): Op {
  let id = -1;
  return (...args: unknown[]) => {
    if (id < 0) id = opId(name, overload);
    return callRaw(id, args);
  };
}
/** A lazily resolved in-place operator (no result handle). */
export function atenInPlace(name: string, overload = ''): (...args: unknown[]) => void {
  let id = -1;
  return (...args: unknown[]) => {
    if (id < 0) id = opId(name, overload);
    callInPlace(id, args);
  };
}

/** Wraps raw results: handles become Tensors, arrays are mapped, other values pass through. */
export function wrap(r: RawResult): any {
  if (Array.isArray(r)) return r.map(wrap);
  if (r !== null && typeof r === 'object') return new Tensor(r as Handle);
  return r;
}
const T = (r: RawResult): Tensor => wrap(r) as Tensor;

type Scalarish = number | boolean;
type TensorOrScalar = Tensor | Scalarish;
const isTensor = (x: unknown): x is Tensor => x instanceof Tensor;

const O = {
  add: aten('add', 'Tensor'), addS: aten('add', 'Scalar'), add_: atenInPlace('add_', 'Tensor'), addS_: atenInPlace('add_', 'Scalar'),
  sub: aten('sub', 'Tensor'), subS: aten('sub', 'Scalar'), sub_: atenInPlace('sub_', 'Tensor'), subS_: atenInPlace('sub_', 'Scalar'),
  rsubS: aten('rsub', 'Scalar'),
  mul: aten('mul', 'Tensor'), mulS: aten('mul', 'Scalar'), mul_: atenInPlace('mul_', 'Tensor'), mulS_: atenInPlace('mul_', 'Scalar'),
  div: aten('div', 'Tensor'), divS: aten('div', 'Scalar'), div_: atenInPlace('div_', 'Tensor'), divS_: atenInPlace('div_', 'Scalar'),
  divMode: aten('div', 'Tensor_mode'), remS: aten('remainder', 'Scalar'), rem: aten('remainder', 'Tensor'),
  powS: aten('pow', 'Tensor_Scalar'), pow: aten('pow', 'Tensor_Tensor'),
  neg: aten('neg'), abs: aten('abs'), sqrt: aten('sqrt'), rsqrt: aten('rsqrt'), exp: aten('exp'), log: aten('log'),
  sign: aten('sign'), floor: aten('floor'), ceil: aten('ceil'), round: aten('round'), sigmoid: aten('sigmoid'),
  tanh: aten('tanh'), sin: aten('sin'), cos: aten('cos'), square: aten('square'), reciprocal: aten('reciprocal'),
  clamp: aten('clamp'), clamp_: atenInPlace('clamp_'), clampMin: aten('clamp_min'), clampMax: aten('clamp_max'),
  maximum: aten('maximum'), minimum: aten('minimum'),
  eq: aten('eq', 'Tensor'), eqS: aten('eq', 'Scalar'), ne: aten('ne', 'Tensor'), neS: aten('ne', 'Scalar'),
  lt: aten('lt', 'Tensor'), ltS: aten('lt', 'Scalar'), le: aten('le', 'Tensor'), leS: aten('le', 'Scalar'),
  gt: aten('gt', 'Tensor'), gtS: aten('gt', 'Scalar'), ge: aten('ge', 'Tensor'), geS: aten('ge', 'Scalar'),
  logicalAnd: aten('logical_and'), logicalOr: aten('logical_or'), logicalNot: aten('logical_not'),
  isnan: aten('isnan'), isfinite: aten('isfinite'),
  sum: aten('sum'), sumDim: aten('sum', 'dim_IntList'), mean: aten('mean'), meanDim: aten('mean', 'dim'),
  max: aten('max'), maxDim: aten('max', 'dim'), min: aten('min'), minDim: aten('min', 'dim'),
  argmax: aten('argmax'), argmin: aten('argmin'), topk: aten('topk'), bincount: aten('bincount'),
  var: aten('var', 'correction'), std: aten('std', 'correction'), prod: aten('prod'), cumsum: aten('cumsum'),
  all: aten('all'), any: aten('any'), sort: aten('sort'), argsort: aten('argsort'), norm: aten('linalg_vector_norm'),
  logsumexp: aten('logsumexp'), countNonzero: aten('count_nonzero', 'dim_IntList'), nonzero: aten('nonzero'),
  view: aten('view'), reshape: aten('reshape'), permute: aten('permute'), transpose: aten('transpose', 'int'),
  t: aten('t'), contiguous: aten('contiguous'), flatten: aten('flatten', 'using_ints'), squeeze: aten('squeeze', 'dim'),
  squeezeAll: aten('squeeze'), unsqueeze: aten('unsqueeze'), expand: aten('expand'), expandAs: aten('expand_as'),
  repeat: aten('repeat'), narrow: aten('narrow'), slice: aten('slice', 'Tensor'), select: aten('select', 'int'),
  indexSelect: aten('index_select'), gather: aten('gather'), scatter: aten('scatter', 'src'),
  scatterV: aten('scatter', 'value'), scatterAdd: aten('scatter_add'), scatterAdd_: atenInPlace('scatter_add_'),
  indexAdd: aten('index_add'), indexAdd_: atenInPlace('index_add_'), indexCopy_: atenInPlace('index_copy_'),
  indexFill_: atenInPlace('index_fill_', 'int_Scalar'), index: aten('index', 'Tensor'), indexPut_: atenInPlace('index_put_'),
  maskedFill: aten('masked_fill', 'Scalar'), maskedFill_: atenInPlace('masked_fill_', 'Scalar'),
  maskedSelect: aten('masked_select'), split: aten('split', 'Tensor'), splitSizes: aten('split_with_sizes'),
  chunk: aten('chunk'), flip: aten('flip'), roll: aten('roll'),
  toDtype: aten('to', 'dtype'), toDevice: aten('to', 'device'), isPinned: aten('is_pinned'), clone: aten('clone'), detach: aten('detach'),
  copy_: atenInPlace('copy_'), fill_: atenInPlace('fill_', 'Scalar'), zero_: atenInPlace('zero_'),
  uniform_: atenInPlace('uniform_'), normal_: atenInPlace('normal_'), bernoulli_: atenInPlace('bernoulli_', 'float'),
  matmul: aten('matmul'), mm: aten('mm'), bmm: aten('bmm'), addmm: aten('addmm'),
  relu: aten('relu'), relu_: atenInPlace('relu_'), softmax: aten('softmax', 'int'), logSoftmax: aten('log_softmax', 'int'),
  item: aten('item'), lerp_: atenInPlace('lerp_', 'Scalar'), addcmul_: atenInPlace('addcmul_'),
};

/** Normalises a possibly negative dimension against a rank (for JS-side bookkeeping only). */
function dimOf(d: number, rank: number): number {
  return d < 0 ? d + rank : d;
}

export class Tensor implements Disposable {
  #handle: Handle | undefined;
  #meta: [number[], number, string, boolean] | undefined;
  /** @internal */ scope: Scope | undefined = undefined;
  /** @internal */ kept = false;

  /** @internal Use the creation functions (tensor, zeros, ...) instead. */
  constructor(handle: Handle) {
    this.#handle = handle;
    track(this, handle);
  }

  /** The native handle; throws once disposed. */
  get handle(): Handle {
    if (this.#handle === undefined) throw new TorchError('tensor', 'use of disposed tensor');
    return this.#handle;
  }

  get isDisposed(): boolean {
    return this.#handle === undefined;
  }

  /** Frees the native tensor now. Idempotent. */
  dispose(): void {
    if (this.#handle === undefined) return;
    native.free(this.#handle);
    this.#handle = undefined;
    untrack(this);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #info(): [number[], number, string, boolean] {
    if (this.#meta === undefined) this.#meta = native.meta(this.handle);
    return this.#meta;
  }

  get shape(): number[] {
    return this.#info()[0].slice();
  }
  get ndim(): number {
    return this.#info()[0].length;
  }
  get dtype(): DType {
    return dtypeName(this.#info()[1]);
  }
  get device(): string {
    return this.#info()[2];
  }
  get numel(): number {
    return this.#info()[0].reduce((a, b) => a * b, 1);
  }
  /** size(d): the extent of one dimension (negative counts from the end). */
  size(d: number): number {
    const s = this.#info()[0];
    return s[dimOf(d, s.length)];
  }
  get requiresGrad(): boolean {
    return native.meta(this.handle)[3];
  }
  get strides(): number[] {
    return native.strides(this.handle);
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }

  /** Marks this tensor as a leaf whose gradient autograd accumulates (in place; returns this). */
  requiresGrad_(flag = true): this {
    native.setRequiresGrad(this.handle, flag);
    return this;
  }
  /** The accumulated gradient (a new handle onto it), or undefined. */
  get grad(): Tensor | undefined {
    const g = native.grad(this.handle);
    return g === undefined ? undefined : new Tensor(g);
  }
  set grad(g: Tensor | undefined) {
    native.setGrad(this.handle, g?.handle);
  }
  /** Back-propagates from this tensor (a scalar unless `gradient` is given). */
  backward(gradient?: Tensor, retainGraph?: boolean): void {
    native.backward(this.handle, gradient?.handle, retainGraph);
  }

  /**
   * A copy of the elements in a TypedArray matching the dtype (BigInt64Array for int64); name the
   * array type when the dtype is known: `t.data<Float32Array>()`.
   */
  data<A extends AnyTypedArray = AnyTypedArray>(): A {
    return typedView(this.dtype, native.toBuffer(this.handle)) as A;
  }
  /** The elements as plain numbers (int64 converted; exact below 2^53). */
  toArray(): number[] {
    const d = this.data();
    return d instanceof BigInt64Array ? Array.from(d, Number) : Array.from(d as ArrayLike<number>);
  }
  /** The value of a one-element tensor. */
  item(): number {
    const v = O.item(this) as number | boolean;
    return typeof v === 'boolean' ? Number(v) : v;
  }
  toString(): string {
    return this.isDisposed ? 'Tensor(disposed)' : `Tensor([${this.shape}] ${this.dtype} ${this.device})`;
  }

  // ---- elementwise arithmetic (tensor or scalar operand) ----
  add(o: TensorOrScalar, alpha = 1): Tensor {
    return T(isTensor(o) ? O.add(this, o, alpha) : O.addS(this, o, alpha));
  }
  sub(o: TensorOrScalar, alpha = 1): Tensor {
    return T(isTensor(o) ? O.sub(this, o, alpha) : O.subS(this, o, alpha));
  }
  /** `s - this` for a scalar s. */
  rsub(s: number): Tensor {
    return T(O.rsubS(this, s));
  }
  mul(o: TensorOrScalar): Tensor {
    return T(isTensor(o) ? O.mul(this, o) : O.mulS(this, o));
  }
  div(o: TensorOrScalar, roundingMode?: 'trunc' | 'floor'): Tensor {
    if (roundingMode !== undefined) return T(O.divMode(this, isTensor(o) ? o : full([], o as number, { dtype: this.dtype }), roundingMode));
    return T(isTensor(o) ? O.div(this, o) : O.divS(this, o));
  }
  remainder(o: TensorOrScalar): Tensor {
    return T(isTensor(o) ? O.rem(this, o) : O.remS(this, o));
  }
  pow(o: TensorOrScalar): Tensor {
    return T(isTensor(o) ? O.pow(this, o) : O.powS(this, o));
  }
  add_(o: TensorOrScalar, alpha = 1): this {
    isTensor(o) ? O.add_(this, o, alpha) : O.addS_(this, o, alpha);
    return this;
  }
  sub_(o: TensorOrScalar, alpha = 1): this {
    isTensor(o) ? O.sub_(this, o, alpha) : O.subS_(this, o, alpha);
    return this;
  }
  mul_(o: TensorOrScalar): this {
    isTensor(o) ? O.mul_(this, o) : O.mulS_(this, o);
    return this;
  }
  div_(o: TensorOrScalar): this {
    isTensor(o) ? O.div_(this, o) : O.divS_(this, o);
    return this;
  }
  /** this += weight * (end - this) */
  lerp_(end: Tensor, weight: number): this {
    O.lerp_(this, end, weight);
    return this;
  }
  /** this += value * a * b */
  addcmul_(a: Tensor, b: Tensor, value = 1): this {
    O.addcmul_(this, a, b, value);
    return this;
  }
  neg(): Tensor { return T(O.neg(this)); }
  abs(): Tensor { return T(O.abs(this)); }
  sqrt(): Tensor { return T(O.sqrt(this)); }
  rsqrt(): Tensor { return T(O.rsqrt(this)); }
  exp(): Tensor { return T(O.exp(this)); }
  log(): Tensor { return T(O.log(this)); }
  sign(): Tensor { return T(O.sign(this)); }
  floor(): Tensor { return T(O.floor(this)); }
  ceil(): Tensor { return T(O.ceil(this)); }
  round(): Tensor { return T(O.round(this)); }
  sigmoid(): Tensor { return T(O.sigmoid(this)); }
  tanh(): Tensor { return T(O.tanh(this)); }
  sin(): Tensor { return T(O.sin(this)); }
  cos(): Tensor { return T(O.cos(this)); }
  square(): Tensor { return T(O.square(this)); }
  reciprocal(): Tensor { return T(O.reciprocal(this)); }
  relu(): Tensor { return T(O.relu(this)); }
  relu_(): this {
    O.relu_(this);
    return this;
  }
  clamp(min?: number, max?: number): Tensor { return T(O.clamp(this, min, max)); }
  clamp_(min?: number, max?: number): this {
    O.clamp_(this, min, max);
    return this;
  }
  clampMin(min: number): Tensor { return T(O.clampMin(this, min)); }
  clampMax(max: number): Tensor { return T(O.clampMax(this, max)); }
  maximum(o: Tensor): Tensor { return T(O.maximum(this, o)); }
  minimum(o: Tensor): Tensor { return T(O.minimum(this, o)); }

  // ---- comparisons and logic (bool results) ----
  eq(o: TensorOrScalar): Tensor { return T(isTensor(o) ? O.eq(this, o) : O.eqS(this, o)); }
  ne(o: TensorOrScalar): Tensor { return T(isTensor(o) ? O.ne(this, o) : O.neS(this, o)); }
  lt(o: TensorOrScalar): Tensor { return T(isTensor(o) ? O.lt(this, o) : O.ltS(this, o)); }
  le(o: TensorOrScalar): Tensor { return T(isTensor(o) ? O.le(this, o) : O.leS(this, o)); }
  gt(o: TensorOrScalar): Tensor { return T(isTensor(o) ? O.gt(this, o) : O.gtS(this, o)); }
  ge(o: TensorOrScalar): Tensor { return T(isTensor(o) ? O.ge(this, o) : O.geS(this, o)); }
  logicalAnd(o: Tensor): Tensor { return T(O.logicalAnd(this, o)); }
  logicalOr(o: Tensor): Tensor { return T(O.logicalOr(this, o)); }
  logicalNot(): Tensor { return T(O.logicalNot(this)); }
  isnan(): Tensor { return T(O.isnan(this)); }
  isfinite(): Tensor { return T(O.isfinite(this)); }

  // ---- reductions ----
  /** Sum of all elements, or over `dim` (a dimension or a list). */
  sum(dim?: number | number[], keepdim = false, dtype?: DType): Tensor {
    const dt = dtype === undefined ? undefined : dtypeCode(dtype);
    return T(dim === undefined ? O.sum(this, dt) : O.sumDim(this, dim, keepdim, dt));
  }
  mean(dim?: number | number[], keepdim = false): Tensor {
    return T(dim === undefined ? O.mean(this) : O.meanDim(this, dim, keepdim));
  }
  /** Maximum of all elements, or `[values, indices]` along `dim`. */
  max(): Tensor;
  max(dim: number, keepdim?: boolean): [Tensor, Tensor];
  max(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    return dim === undefined ? T(O.max(this)) : wrap(O.maxDim(this, dim, keepdim));
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): [Tensor, Tensor];
  min(dim?: number, keepdim = false): Tensor | [Tensor, Tensor] {
    return dim === undefined ? T(O.min(this)) : wrap(O.minDim(this, dim, keepdim));
  }
  argmax(dim?: number, keepdim = false): Tensor { return T(O.argmax(this, dim, keepdim)); }
  argmin(dim?: number, keepdim = false): Tensor { return T(O.argmin(this, dim, keepdim)); }
  /** The k largest (or smallest) entries along `dim`: `[values, indices]`. */
  topk(k: number, dim = -1, largest = true, sorted = true): [Tensor, Tensor] {
    return wrap(O.topk(this, k, dim, largest, sorted));
  }
  /** Counts of each non-negative integer value (1-D int tensor), at least `minlength` bins. */
  bincount(minlength = 0, weights?: Tensor): Tensor { return T(O.bincount(this, weights, minlength)); }
  /** Variance with Bessel's correction by default (correction = 1), like torch.var. */
  var(dim?: number | number[], keepdim = false, correction = 1): Tensor { return T(O.var(this, dim, correction, keepdim)); }
  std(dim?: number | number[], keepdim = false, correction = 1): Tensor { return T(O.std(this, dim, correction, keepdim)); }
  prod(): Tensor { return T(O.prod(this)); }
  cumsum(dim: number): Tensor { return T(O.cumsum(this, dim)); }
  all(): Tensor { return T(O.all(this)); }
  any(): Tensor { return T(O.any(this)); }
  sort(dim = -1, descending = false): [Tensor, Tensor] { return wrap(O.sort(this, dim, descending)); }
  argsort(dim = -1, descending = false): Tensor { return T(O.argsort(this, dim, descending)); }
  /** Vector p-norm over `dim` (all elements when omitted). */
  norm(p = 2, dim?: number | number[], keepdim = false): Tensor { return T(O.norm(this, p, dim, keepdim)); }
  logsumexp(dim: number | number[], keepdim = false): Tensor { return T(O.logsumexp(this, dim, keepdim)); }
  countNonzero(dim: number | number[]): Tensor { return T(O.countNonzero(this, Array.isArray(dim) ? dim : [dim])); }
  nonzero(): Tensor { return T(O.nonzero(this)); }

  // ---- shape and indexing ----
  view(...shape: number[]): Tensor { return T(O.view(this, shape)); }
  reshape(...shape: number[]): Tensor { return T(O.reshape(this, shape)); }
  permute(...dims: number[]): Tensor { return T(O.permute(this, dims)); }
  transpose(d0: number, d1: number): Tensor { return T(O.transpose(this, d0, d1)); }
  /** Transpose of a 2-D tensor. */
  t(): Tensor { return T(O.t(this)); }
  contiguous(format: MemoryFormat = 'contiguous'): Tensor { return T(O.contiguous(this, memoryFormatCode(format))); }
  flatten(startDim = 0, endDim = -1): Tensor { return T(O.flatten(this, startDim, endDim)); }
  squeeze(dim?: number): Tensor { return T(dim === undefined ? O.squeezeAll(this) : O.squeeze(this, dim)); }
  unsqueeze(dim: number): Tensor { return T(O.unsqueeze(this, dim)); }
  expand(...shape: number[]): Tensor { return T(O.expand(this, shape)); }
  expandAs(o: Tensor): Tensor { return T(O.expandAs(this, o)); }
  repeat(...times: number[]): Tensor { return T(O.repeat(this, times)); }
  /** A view of `length` entries from `start` along `dim`. */
  narrow(dim: number, start: number, length: number): Tensor { return T(O.narrow(this, dim, start, length)); }
  /** Python-style slice `[start:end:step]` along `dim` (a view). */
  slice(dim: number, start?: number, end?: number, step = 1): Tensor { return T(O.slice(this, dim, start, end, step)); }
  /** The sub-tensor at `index` along `dim`, with that dimension removed (a view). */
  select(dim: number, index: number): Tensor { return T(O.select(this, dim, index)); }
  indexSelect(dim: number, index: Tensor): Tensor { return T(O.indexSelect(this, dim, index)); }
  gather(dim: number, index: Tensor): Tensor { return T(O.gather(this, dim, index, false)); }
  /** out[index[i][j]][j] = src[i][j] (dim 0), on a copy. */
  scatter(dim: number, index: Tensor, src: Tensor | number): Tensor {
    return T(isTensor(src) ? O.scatter(this, dim, index, src) : O.scatterV(this, dim, index, src));
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor { return T(O.scatterAdd(this, dim, index, src)); }
  scatterAdd_(dim: number, index: Tensor, src: Tensor): this {
    O.scatterAdd_(this, dim, index, src);
    return this;
  }
  indexAdd(dim: number, index: Tensor, source: Tensor, alpha = 1): Tensor { return T(O.indexAdd(this, dim, index, source, alpha)); }
  indexAdd_(dim: number, index: Tensor, source: Tensor, alpha = 1): this {
    O.indexAdd_(this, dim, index, source, alpha);
    return this;
  }
  indexCopy_(dim: number, index: Tensor, source: Tensor): this {
    O.indexCopy_(this, dim, index, source);
    return this;
  }
  indexFill_(dim: number, index: Tensor, value: number): this {
    O.indexFill_(this, dim, index, value);
    return this;
  }
  /** Advanced indexing `this[i0, i1, ...]` with index tensors (undefined = take the whole dim). */
  index(indices: (Tensor | undefined)[]): Tensor { return T(O.index(this, indices)); }
  indexPut_(indices: (Tensor | undefined)[], values: Tensor, accumulate = false): this {
    O.indexPut_(this, indices, values, accumulate);
    return this;
  }
  maskedFill(mask: Tensor, value: number): Tensor { return T(O.maskedFill(this, mask, value)); }
  maskedFill_(mask: Tensor, value: number): this {
    O.maskedFill_(this, mask, value);
    return this;
  }
  maskedSelect(mask: Tensor): Tensor { return T(O.maskedSelect(this, mask)); }
  /** Pieces of `size` (or of the given sizes) along `dim`. */
  split(size: number | number[], dim = 0): Tensor[] {
    return wrap(Array.isArray(size) ? O.splitSizes(this, size, dim) : O.split(this, size, dim));
  }
  chunk(chunks: number, dim = 0): Tensor[] { return wrap(O.chunk(this, chunks, dim)); }
  flip(...dims: number[]): Tensor { return T(O.flip(this, dims)); }
  roll(shifts: number | number[], dims: number | number[]): Tensor {
    return T(O.roll(this, Array.isArray(shifts) ? shifts : [shifts], Array.isArray(dims) ? dims : [dims]));
  }

  // ---- conversion and copies ----
  /**
   * A tensor of another dtype, device and/or memory layout (this tensor's data unchanged when
   * nothing differs and `copy` is not set). `nonBlocking`: a copy from pinned host memory to a GPU
   * returns before it completes (ordered on the device's stream like any other op).
   */
  to(target: DType | Device | { dtype?: DType; device?: Device; memoryFormat?: MemoryFormat; copy?: boolean; nonBlocking?: boolean }): Tensor {
    const o = typeof target === 'string' ? (isDeviceName(target) ? { device: target } : { dtype: target as DType }) : target;
    const fmt = o.memoryFormat === undefined ? undefined : memoryFormatCode(o.memoryFormat);
    const dt = dtypeCode(o.dtype ?? this.dtype);
    if (o.device !== undefined) return T(O.toDevice(this, o.device, dt, o.nonBlocking ?? false, o.copy ?? false, fmt));
    return T(O.toDtype(this, dt, false, o.copy ?? false, fmt));
  }
  float(): Tensor { return this.to('float32'); }
  double(): Tensor { return this.to('float64'); }
  long(): Tensor { return this.to('int64'); }
  int(): Tensor { return this.to('int32'); }
  bool(): Tensor { return this.to('bool'); }
  cpu(): Tensor { return this.to({ device: 'cpu' }); }
  /** Whether the elements are in page-locked host memory (where `tensor()` stages host data bound for a GPU). */
  isPinned(): boolean { return O.isPinned(this) as boolean; }
  cuda(index = 0): Tensor { return this.to({ device: `cuda:${index}` }); }
  clone(format?: MemoryFormat): Tensor { return T(O.clone(this, format === undefined ? undefined : memoryFormatCode(format))); }
  /** A tensor sharing storage, cut off from the autograd graph. */
  detach(): Tensor { return T(O.detach(this)); }
  copy_(src: Tensor): this {
    O.copy_(this, src, false);
    return this;
  }
  fill_(value: number): this {
    O.fill_(this, value);
    return this;
  }
  zero_(): this {
    O.zero_(this);
    return this;
  }
  uniform_(from = 0, to = 1, generator?: { handle: object }): this {
    O.uniform_(this, from, to, generator?.handle);
    return this;
  }
  normal_(mean = 0, std = 1, generator?: { handle: object }): this {
    O.normal_(this, mean, std, generator?.handle);
    return this;
  }
  bernoulli_(p: number, generator?: { handle: object }): this {
    O.bernoulli_(this, p, generator?.handle);
    return this;
  }

  // ---- linear algebra and activations ----
  matmul(o: Tensor): Tensor { return T(O.matmul(this, o)); }
  mm(o: Tensor): Tensor { return T(O.mm(this, o)); }
  bmm(o: Tensor): Tensor { return T(O.bmm(this, o)); }
  /** beta * this + alpha * (a @ b) */
  addmm(a: Tensor, b: Tensor, beta = 1, alpha = 1): Tensor { return T(O.addmm(this, a, b, beta, alpha)); }
  softmax(dim: number): Tensor { return T(O.softmax(this, dim, undefined)); }
  logSoftmax(dim: number): Tensor { return T(O.logSoftmax(this, dim, undefined)); }
}

function isDeviceName(s: string): s is Device {
  return s === 'cpu' || s === 'cuda' || s.startsWith('cuda:');
}

// Defined here (not in creation.ts) because div() with a rounding mode needs a scalar tensor.
const fullOp = aten('full');
export function full(shape: number[], value: number, o: { dtype?: DType; device?: Device } = {}): Tensor {
  return T(fullOp(shape, value, o.dtype === undefined ? undefined : dtypeCode(o.dtype), undefined, o.device));
}

/** Replaces the data behind `t` with `source`'s, keeping `t`'s identity (PyTorch's `t.data = source`). */
export function setData(t: Tensor, source: Tensor): void {
  native.setData(t.handle, source.handle);
}
