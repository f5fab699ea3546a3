/**
 * Module: parameters, buffers and named children with PyTorch's dotted state-dict keys
 * (`layer1.0.conv1.weight`), train/eval modes, strict state loading, device moves and disposal.
 */
import type { Device } from '../tensor/dtype.ts';
import { ShapeError } from '../tensor/errors.ts';
import { keep, noGrad } from '../tensor/scope.ts';
import type { MemoryFormat, Tensor } from '../tensor/tensor.ts';
import { setData } from '../tensor/tensor.ts';

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export abstract class Module {
  training = true;
  readonly #params = new Map<string, Tensor>();
  readonly #buffers = new Map<string, { t: Tensor; persistent: boolean }>();
  readonly #children = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  /** Registers a trainable leaf tensor under `name` (kept out of scopes; requires grad). */
  protected registerParameter(name: string, t: Tensor): Tensor {
    this.#checkName(name);
    keep(t);
    if (!t.requiresGrad) t.requiresGrad_(true);
    this.#params.set(name, t);
    return t;
  }

  /** Registers state that is saved but not trained (running statistics, counters). */
  protected registerBuffer(name: string, t: Tensor, persistent = true): Tensor {
    this.#checkName(name);
    keep(t);
    this.#buffers.set(name, { t, persistent });
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.#checkName(name);
    this.#children.set(name, m);
    return m;
  }

  #checkName(name: string): void {
    if (name === '' || name.includes('.')) throw new TypeError(`module member name '${name}' must be non-empty and contain no '.'`);
    if (this.#params.has(name) || this.#buffers.has(name) || this.#children.has(name)) {
      throw new TypeError(`'${name}' is already registered on ${this.constructor.name}`);
    }
  }

  /** Named children, in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.#children];
  }

  /** This module and every descendant with its dotted path ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this.#children) out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [n, p] of m.#params) out.push([path ? `${path}.${n}` : n, p]);
    }
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedBuffers(prefix = '', persistentOnly = false): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [n, b] of m.#buffers) {
        if (!persistentOnly || b.persistent) out.push([path ? `${path}.${n}` : n, b.t]);
      }
    }
    return out;
  }

  /** Sets training mode on this module and every descendant (BatchNorm and Dropout read it). */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * The live parameters and persistent buffers by PyTorch key, in PyTorch's order (each module's
   * parameters, then its buffers, then its children). The tensors belong to the module: do not dispose.
   */
  stateDict(prefix = ''): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const visit = (m: Module, path: string) => {
      const key = (n: string) => (path ? `${path}.${n}` : n);
      for (const [n, p] of m.#params) out.set(key(n), p);
      for (const [n, b] of m.#buffers) if (b.persistent) out.set(key(n), b.t);
      for (const [n, c] of m.#children) visit(c, key(n));
    };
    visit(this, prefix);
    return out;
  }

  /**
   * Copies values into the module's tensors. Shapes must match exactly; with `strict` (default)
   * missing or unexpected keys are an error naming them. Returns the keys that did not line up.
   */
  loadStateDict(state: Map<string, Tensor> | Record<string, Tensor>, o: { strict?: boolean } = {}): LoadResult {
    const src = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((k) => !src.has(k));
    const unexpectedKeys = [...src.keys()].filter((k) => !own.has(k));
    if ((o.strict ?? true) && (missingKeys.length || unexpectedKeys.length)) {
      throw new ShapeError(
        `loadStateDict into ${this.constructor.name}: ` +
          [missingKeys.length ? `missing keys: ${missingKeys.join(', ')}` : '', unexpectedKeys.length ? `unexpected keys: ${unexpectedKeys.join(', ')}` : '']
            .filter(Boolean)
            .join('; '),
      );
    }
    for (const [k, dst] of own) {
      const v = src.get(k);
      if (v === undefined) continue;
      const a = dst.shape;
      const b = v.shape;
      if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
        throw new ShapeError(`loadStateDict into ${this.constructor.name}: '${k}' has shape [${b}] in the checkpoint, [${a}] in the model`);
      }
    }
    noGrad(() => {
      for (const [k, dst] of own) {
        const v = src.get(k);
        if (v !== undefined) dst.copy_(v);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /**
   * Moves (or re-lays out) every parameter and buffer in place: JS references to them stay valid.
   * `channelsLast` applies to 4-D tensors only.
   */
  to(o: { device?: Device; memoryFormat?: MemoryFormat }): this {
    noGrad(() => {
      const all = [...this.parameters(), ...this.namedBuffers().map(([, b]) => b)];
      for (const t of all) {
        const fmt = o.memoryFormat !== undefined && t.ndim === 4 ? o.memoryFormat : undefined;
        if (o.device === undefined && fmt === undefined) continue;
        const moved = t.to({ device: o.device ?? (t.device as Device), memoryFormat: fmt });
        setData(t, moved);
        moved.dispose();
      }
    });
    return this;
  }

  /** Number of trainable scalars. */
  numParameters(): number {
    return this.parameters().reduce((a, p) => a + p.numel, 0);
  }

  /** Frees every parameter and buffer of this module and its descendants. */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const p of m.#params.values()) p.dispose();
      for (const b of m.#buffers.values()) b.t.dispose();
    }
  }
}
