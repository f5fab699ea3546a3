/** Autograd through the ops the engine composes, checked against central finite differences in float64. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { enableGrad, F, Generator, isGradEnabled, noGrad, ones, randn, tensor, tidy } from '../src/index.ts';
import { gradCheck } from './helpers.ts';

const g = new Generator(3);
const x64 = (shape: number[]) => randn(shape, { generator: g, dtype: 'float64' });

describe('gradients against finite differences', () => {
  it('normalize (composed in TypeScript)', () => tidy(() => {
    assert.ok(gradCheck((x) => F.normalize(x, { dim: 1 }), x64([3, 5])) < 1e-6);
  }));

  it('weighted cross-entropy (mean reduction is Σ w_y·CE / Σ w_y)', () => tidy(() => {
    const target = tensor([0, 2, 1, 2], { dtype: 'int64' });
    const weight = tensor([0.5, 1, 2], { dtype: 'float64' });
    assert.ok(gradCheck((x) => F.crossEntropy(x, target, { weight }), x64([4, 3])) < 1e-6);
    const logits = tensor([[1, 2, 3]], { dtype: 'float64' });
    const l = F.crossEntropy(logits, tensor([2], { dtype: 'int64' }), { weight }).item();
    assert.ok(Math.abs(l - (Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 3)) < 1e-12);
  }));

  it('conv2d + batch norm (train) + relu + pooling + linear', () => tidy(() => {
    const w = x64([2, 3, 3, 3]);
    const fc = x64([4, 2]);
    const f = (x: ReturnType<typeof x64>) => {
      const c = F.conv2d(x, w, undefined, { padding: 1 });
      const b = F.batchNorm(c, undefined, undefined, { training: true });
      const p = F.adaptiveAvgPool2d(F.maxPool2d(b.relu(), 2), 1).flatten(1);
      return F.linear(p, fc);
    };
    assert.ok(gradCheck(f, x64([2, 3, 6, 6])) < 1e-5);
  }));

  it('softmax/log_softmax, mm, indexSelect and gather', () => tidy(() => {
    const m = x64([4, 3]);
    const idx = tensor([2, 0, 2], { dtype: 'int64' });
    assert.ok(gradCheck((x) => x.logSoftmax(1).mm(m).indexSelect(0, idx), x64([5, 4])) < 1e-6);
    assert.ok(gradCheck((x) => x.softmax(0).gather(1, tensor([[0], [1], [0]], { dtype: 'int64' })), x64([3, 2])) < 1e-6);
  }));
});

describe('autograd controls', () => {
  it('backward accumulates into leaves; grad can be cleared', () => tidy(() => {
    const w = ones([2]).requiresGrad_();
    w.mul(3).sum().backward();
    w.mul(3).sum().backward();
    assert.deepEqual(w.grad?.toArray(), [6, 6]);
    w.grad = undefined;
    assert.equal(w.grad, undefined);
    assert.ok(w.isLeaf);
  }));

  it('noGrad records nothing and restores the mode, even on throw', () => tidy(() => {
    const w = ones([2]).requiresGrad_();
    const y = noGrad(() => w.mul(2));
    assert.equal(y.requiresGrad, false);
    assert.throws(() => noGrad(() => { throw new Error('x'); }));
    assert.equal(isGradEnabled(), true);
    noGrad(() => assert.equal(enableGrad(() => w.mul(2)).requiresGrad, true));
  }));
});
