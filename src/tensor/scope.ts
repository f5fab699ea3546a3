/**
 * Lifetime of native tensors: scopes free temporaries (tfjs-style `tidy`), `keep` exempts long-lived
 * tensors, `dispose` frees explicitly; a FinalizationRegistry frees what the program dropped.
 */

import type { Handle } from '../native/binding.ts';
import { native } from '../native/binding.ts';

/** What a scope needs from a tensor; implemented by Tensor (kept structural to avoid an import cycle). */
export interface Disposable {
  readonly isDisposed: boolean;
  dispose(): void;
  /** @internal the scope that will free this tensor, if any */
  scope: Scope | undefined;
  /** @internal set by keep(): never freed by a scope */
  kept: boolean;
}

export interface Scope {
  readonly name: string;
  readonly tracked: Set<Disposable>;
}

const stack: Scope[] = [];
let collectedWithoutDispose = 0;

/**
 * Frees a tensor whose JS wrapper was garbage-collected without dispose(). The held value is the
 * handle, so the native memory goes back as soon as the wrapper is collected.
 */
const registry = new FinalizationRegistry<Handle>((handle) => {
  if (native.isAlive(handle)) {
    collectedWithoutDispose++;
    native.free(handle);
  }
});

/** @internal called by the Tensor constructor */
export function track(t: Disposable, handle: Handle): void {
  registry.register(t, handle, t);
  const s = stack[stack.length - 1];
  if (s !== undefined) {
    s.tracked.add(t);
    t.scope = s;
  }
}

/** @internal called by Tensor.dispose */
export function untrack(t: Disposable): void {
  registry.unregister(t);
  t.scope?.tracked.delete(t);
  t.scope = undefined;
}

/** Collects every disposable reachable through arrays, plain objects, Maps and Sets in `value`. */
function collect(value: unknown, out: Set<Disposable>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isDisposable(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value) || value instanceof Set) {
    for (const v of value) collect(v, out, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, seen);
  }
}

function isDisposable(v: object): v is Disposable {
  return typeof (v as Disposable).dispose === 'function' && 'kept' in v && 'scope' in v;
}

/**
 * Runs `fn` in a new scope: every tensor created inside and not returned (nor kept) is freed when it
 * ends. Returned tensors move to the enclosing scope. `fn` must be synchronous.
 *
 * ```ts
 * const y = tidy(() => x.mul(2).add(1));   // the x.mul(2) temporary is freed here
 * ```
 */
export function tidy<T>(nameOrFn: string | (() => T), maybeFn?: () => T): T {
  const name = typeof nameOrFn === 'string' ? nameOrFn : 'tidy';
  const fn = typeof nameOrFn === 'function' ? nameOrFn : maybeFn;
  if (fn === undefined) throw new TypeError('tidy(name, fn): fn is required');
  const scope: Scope = { name, tracked: new Set() };
  stack.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) {
      throw new TypeError(`tidy('${name}'): fn returned a Promise; tensors cannot outlive a synchronous scope`);
    }
  } catch (err) {
    endScope(scope, new Set());
    throw err;
  }
  const keepers = new Set<Disposable>();
  collect(result, keepers);
  endScope(scope, keepers);
  return result;
}

function endScope(scope: Scope, keepers: Set<Disposable>): void {
  stack.pop();
  const parent = stack[stack.length - 1];
  for (const t of scope.tracked) {
    if (keepers.has(t)) {
      t.scope = parent;
      parent?.tracked.add(t);
    } else {
      t.scope = undefined;
      t.dispose();
    }
  }
  scope.tracked.clear();
}

/** Exempts a tensor from every scope (parameters, memories, optimizer state); free it with dispose(). */
export function keep<T extends Disposable>(t: T): T {
  t.scope?.tracked.delete(t);
  t.scope = undefined;
  t.kept = true;
  return t;
}

/** Disposes every tensor found in `container` (a tensor, or arrays/objects/Maps of them). */
export function dispose(container: unknown): void {
  const found = new Set<Disposable>();
  collect(container, found);
  for (const t of found) t.dispose();
}

/**
 * Native memory figures: live handles, bytes reported to V8, bytes the C library's malloc has handed
 * out and not had back (the whole process's; -1 where the C library does not say), handles freed
 * only by the collector.
 */
export function memory(): { numTensors: number; numBytes: number; heapBytesInUse: number; collectedWithoutDispose: number; scopeDepth: number } {
  return {
    numTensors: native.liveTensors(),
    numBytes: native.reportedBytes(),
    heapBytesInUse: native.heapBytesInUse(),
    collectedWithoutDispose,
    scopeDepth: stack.length,
  };
}

/** Runs `fn` with autograd recording off (like torch.no_grad()); restores the previous mode. */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

/** Runs `fn` with autograd recording on, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(true);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}
