/** User mistakes surface as JS errors naming the op and inputs; the process keeps running. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { F, Linear, ones, ShapeError, TorchError, tensor, tidy, zeros } from '../src/index.ts';

describe('errors across the native boundary', () => {
  it('a shape mismatch names the op and the input shapes and dtypes', () => tidy(() => {
    const err = (() => {
      try {
        ones([2, 3]).mm(ones([2, 3]));
      } catch (e) {
        return e;
      }
    })() as TorchError;
    assert.ok(err instanceof TorchError);
    assert.equal(err.op, 'aten::mm');
    assert.deepEqual(err.inputs, ['[2,3] float32 cpu', '[2,3] float32 cpu']);
    assert.match(err.message, /cannot be multiplied \(2x3 and 2x3\)/);
  }));

  it('a conv with the wrong channel count fails with a TorchError', () => tidy(() => {
    assert.throws(() => F.conv2d(ones([1, 1, 8, 8]), ones([4, 3, 3, 3])), (e: unknown) => {
      assert.ok(e instanceof TorchError);
      assert.equal(e.op, 'aten::conv2d');
      assert.match(e.message, /\[1,1,8,8\] float32 cpu/);
      return true;
    });
  }));

  it('a wrong dtype fails cleanly (float indices, float class targets)', () => tidy(() => {
    assert.throws(() => ones([3]).indexSelect(0, tensor([0])), TorchError);
    assert.throws(() => F.crossEntropy(ones([2, 3]), tensor([0, 1])), /aten::cross_entropy_loss/);
  }));

  it('an out-of-range index throws instead of aborting', () => tidy(() => {
    assert.throws(() => ones([3]).indexSelect(0, tensor([5], { dtype: 'int64' })), /index out of range/);
    assert.throws(() => ones([3]).gather(0, tensor([9], { dtype: 'int64' })), TorchError);
    assert.throws(() => F.crossEntropy(ones([2, 3]), tensor([0, 7], { dtype: 'int64' })), TorchError);
    assert.throws(() => ones([2, 2]).select(0, 5), /out of range/);
  }));

  it('a disposed tensor cannot be used, and dispose is idempotent', () => {
    const t = ones([2]);
    t.dispose();
    t.dispose();
    assert.ok(t.isDisposed);
    assert.throws(() => t.add(1), /use of disposed tensor/);
    assert.throws(() => t.shape, /use of disposed tensor/);
    assert.throws(() => tidy(() => ones([2]).add(t)), /use of disposed tensor/);
  });

  it('bad argument kinds are rejected with the argument name', () => tidy(() => {
    assert.throws(() => ones([1.5]), /expects an integer/);
    assert.throws(() => ones([2]).view(-1, 3), /shape '\[-1, 3\]' is invalid/);
    assert.throws(() => new Linear(0, 2), /positive integer for Linear inFeatures/);
    assert.throws(() => F.dropout(ones([2]), 2), ShapeError);
    assert.throws(() => zeros([2]).backward(), /grad can be implicitly created only for scalar outputs|does not require grad/);
  }));

  it('the process is still healthy after all of the above', () => tidy(() => {
    assert.equal(ones([2, 2]).sum().item(), 4);
  }));
});
