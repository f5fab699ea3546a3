/** The native surface matches its TypeScript declaration; threads default to the machine's cores. */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { buildInfo, cuda, getNumThreads, opSchema, setNumThreads } from '../src/index.ts';
import { NATIVE_KEYS, native } from '../src/native/binding.ts';

describe('native binding', () => {
  it('exports exactly the declared functions', () => {
    assert.deepEqual(Object.keys(native).sort(), [...NATIVE_KEYS].sort());
  });

  it('defaults intra-op threads to the available cores (or ODC_THREADS) and can change them', () => {
    const expected = process.env.ODC_THREADS ? Number(process.env.ODC_THREADS) : availableParallelism();
    assert.equal(getNumThreads(), expected);
    setNumThreads(1);
    assert.equal(getNumThreads(), 1);
    setNumThreads(expected);
    assert.throws(() => setNumThreads(0), /positive integer/);
  });

  it('reports its libtorch build and resolves operator schemas', () => {
    const info = buildInfo();
    assert.match(info.torchVersion, /^\d+\.\d+/);
    assert.equal(typeof cuda.isAvailable(), 'boolean');
    assert.match(opSchema('conv2d'), /^aten::conv2d\(Tensor input, Tensor weight/);
    assert.throws(() => opSchema('no_such_op'), /aten::no_such_op: no such operator/);
  });
});
