/** Shared test helpers: numeric closeness, leak checks, fixtures, finite-difference gradients. */
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { pack } from 'tar-stream';
import { loadSafetensors, memory, noGrad, type Tensor, tensor, tidy } from '../src/index.ts';

export const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');

/** max|a − b| / max|b|: the relative error the parity tests bound. */
export function relErr(a: Tensor, b: Tensor): number {
  return tidy(() => {
    assert.deepEqual(a.shape, b.shape, `shape [${a.shape}] vs expected [${b.shape}]`);
    const diff = a.double().sub(b.double()).abs().max().item();
    const scale = Math.max(b.double().abs().max().item(), 1e-12);
    return diff / scale;
  });
}

export function assertClose(a: Tensor, b: Tensor, tol: number, what = 'tensor'): void {
  const e = relErr(a, b);
  assert.ok(e <= tol, `${what}: relative error ${e.toExponential(3)} exceeds ${tol}`);
}

/** Runs fn and asserts it leaves no live native tensor behind (tfjs container_test pattern). */
export function withLeakCheck<T>(fn: () => T): T {
  const before = memory().numTensors;
  const r = fn();
  assert.equal(memory().numTensors, before, `leaked ${memory().numTensors - before} tensors`);
  return r;
}

export function loadFixture(name: string): Map<string, Tensor> {
  return loadSafetensors(join(FIXTURES, `${name}.safetensors`)).tensors;
}

/** State-dict entries stored under `prefix.` with the prefix removed. */
export function withPrefix(m: Map<string, Tensor>, prefix: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of m) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}

/**
 * Compares autograd's gradient of sum(f(x) · w) (w random) with central finite differences, in
 * float64. Returns the worst relative error over all elements of x.
 */
export function gradCheck(f: (x: Tensor) => Tensor, x: Tensor, eps = 1e-6): number {
  return tidy(() => {
    const leaf = x.clone().requiresGrad_(true);
    const y0 = f(leaf);
    const w = y0.detach().clone().normal_(0, 1);
    y0.mul(w).sum().backward();
    const analytic = (leaf.grad as Tensor).data() as Float64Array;
    const base = x.data() as Float64Array;
    const probe = (i: number, delta: number) =>
      tidy(() => {
        const p = Float64Array.from(base);
        p[i] += delta;
        return f(tensor(p, { shape: x.shape })).mul(w).sum().item();
      });
    let worst = 0;
    noGrad(() => {
      for (let i = 0; i < base.length; i++) {
        const numeric = (probe(i, eps) - probe(i, -eps)) / (2 * eps);
        const scale = Math.max(1e-3, Math.abs(numeric), Math.abs(analytic[i]));
        worst = Math.max(worst, Math.abs(numeric - analytic[i]) / scale);
      }
    });
    return worst;
  });
}

/** A tar file of the given members (name, body), as tar-stream writes them. */
export async function writeTar(path: string, members: [string, Buffer | string][]): Promise<void> {
  const tar = pack();
  const done = pipeline(tar, createWriteStream(path));
  for (const [name, body] of members) tar.entry({ name }, body);
  tar.finalize();
  await done;
}
