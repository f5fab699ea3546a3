/** tidy/keep/dispose free native tensors deterministically; the collector frees dropped ones. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dispose, keep, memory, ones, type Tensor, tidy } from '../src/index.ts';
import { withLeakCheck } from './helpers.ts';

describe('tensor lifetime', () => {
  it('tidy frees temporaries and returns results to the enclosing scope', () => {
    const before = memory().numTensors;
    const y = tidy(() => ones([4]).mul(2).add(1));
    assert.equal(memory().numTensors, before + 1);
    assert.deepEqual(y.toArray(), [3, 3, 3, 3]);
    y.dispose();
    assert.equal(memory().numTensors, before);
  });

  it('nested scopes move results outward and free them with the outer scope', () => withLeakCheck(() => {
    let inner: Tensor | undefined;
    tidy(() => {
      inner = tidy(() => ones([2]).add(1));
      assert.ok(!inner.isDisposed);
    });
    assert.ok(inner?.isDisposed);
  }));

  it('keeps tensors in returned objects, arrays and maps', () => withLeakCheck(() => {
    const r = tidy(() => ({ a: ones([1]), list: [ones([1]), ones([1])], map: new Map([['k', ones([1])]]) }));
    assert.equal(r.list.length, 2);
    dispose(r);
  }));

  it('keep() exempts a tensor from every scope', () => withLeakCheck(() => {
    let kept: Tensor | undefined;
    tidy(() => {
      kept = keep(ones([3]));
    });
    assert.ok(kept && !kept.isDisposed);
    kept?.dispose();
  }));

  it('frees everything when the function throws, and refuses async functions', async () => {
    const before = memory().numTensors;
    assert.throws(() => tidy(() => {
      ones([2]);
      throw new Error('boom');
    }), /boom/);
    assert.equal(memory().numTensors, before);
    assert.throws(() => tidy(async () => ones([1])), /returned a Promise/);
    assert.equal(memory().numTensors, before);
  });

  it('reports host bytes to V8 and gives them back on dispose', () => {
    const before = memory().numBytes;
    const t = ones([1024, 256]);
    assert.equal(memory().numBytes - before, 1024 * 256 * 4);
    const view = t.narrow(0, 0, 10); // views own no new memory
    assert.equal(memory().numBytes - before, 1024 * 256 * 4);
    view.dispose();
    t.dispose();
    assert.equal(memory().numBytes, before);
  });

  it('the FinalizationRegistry frees tensors dropped without dispose', { skip: typeof globalThis.gc !== 'function' && 'needs --expose-gc' }, async () => {
    const before = memory().numTensors;
    (() => {
      for (let i = 0; i < 100; i++) ones([10]);
    })();
    for (let i = 0; i < 10 && memory().numTensors > before; i++) {
      (globalThis.gc as () => void)();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(memory().numTensors, before);
    assert.ok(memory().collectedWithoutDispose >= 100);
  });
});
