/** Resolves ATen operators by schema name once and calls them through the native dispatcher. */

import type { Handle, RawResult } from '../native/binding.ts';
import { native } from '../native/binding.ts';
import { TorchError } from './errors.ts';

native.setErrorClass(TorchError);

/** Anything that owns a native handle (Tensor implements it). */
export interface HasHandle {
  readonly handle: Handle;
}

const resolved = new Map<string, number>();

/** The operator id of `aten::name.overload`, resolved on first use. */
export function opId(name: string, overload = ''): number {
  const key = `${name}.${overload}`;
  let id = resolved.get(key);
  if (id === undefined) {
    id = native.resolveOp(`aten::${name}`, overload);
    resolved.set(key, id);
  }
  return id;
}

/** The schema text of an operator, e.g. for documentation or debugging. */
export function opSchema(name: string, overload = ''): string {
  return native.opSchema(opId(name, overload));
}

function toRaw(a: unknown): unknown {
  if (a !== null && typeof a === 'object') {
    if ('handle' in a) return (a as HasHandle).handle;
    if (Array.isArray(a)) return a.map((e) => (e !== null && typeof e === 'object' && 'handle' in e ? (e as HasHandle).handle : e));
  }
  return a;
}

/** Converts arguments (tensors to handles) and calls the operator; results stay raw. */
export function callRaw(id: number, args: unknown[]): RawResult {
  const raw = new Array(args.length);
  for (let i = 0; i < args.length; i++) raw[i] = toRaw(args[i]);
  return native.callOp(id, raw);
}

/** Calls an in-place operator (its result is its mutated first argument: no new handle is made). */
export function callInPlace(id: number, args: unknown[]): void {
  const raw = new Array(args.length);
  for (let i = 0; i < args.length; i++) raw[i] = toRaw(args[i]);
  native.callOpInPlace(id, raw);
}
