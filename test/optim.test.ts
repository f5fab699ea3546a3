/** SGD follows PyTorch's update rule step by step; schedules give the documented factors. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, constantLr, cosineLr, SGD, stepLr, type Tensor, tensor, tidy } from '../src/index.ts';

function run(o: { momentum?: number; weightDecay?: number; nesterov?: boolean; dampening?: number }, grads: number[][]): number[] {
  return tidy(() => {
    const p = tensor([1, -2]).requiresGrad_();
    const opt = new SGD([{ params: [['p', p]] }], { lr: 0.1, ...o });
    for (const g of grads) {
      p.grad = tensor(g);
      opt.step();
    }
    const out = p.toArray();
    opt.dispose();
    return out;
  });
}

/** The rule written out in scalars (torch.optim.SGD documentation). */
function reference(o: { momentum?: number; weightDecay?: number; nesterov?: boolean; dampening?: number }, grads: number[][]): number[] {
  const p = [1, -2];
  const buf: number[] = [];
  const m = o.momentum ?? 0;
  const damp = o.dampening ?? 0;
  grads.forEach((g, step) => {
    for (let i = 0; i < 2; i++) {
      let d = g[i] + (o.weightDecay ?? 0) * p[i];
      if (m !== 0) {
        buf[i] = step === 0 ? d : m * buf[i] + (1 - damp) * d;
        d = o.nesterov ? d + m * buf[i] : buf[i];
      }
      p[i] -= 0.1 * d;
    }
  });
  return p;
}

const close = (a: number[], b: number[]) => {
  for (const [i, v] of a.entries()) assert.ok(Math.abs(v - b[i]) < 1e-6, `${a} vs ${b}`);
};
const grads = [[0.5, -1], [0.25, 2], [-1, 0.1]];

describe('SGD', () => {
  it('plain, momentum, dampening, weight decay and Nesterov match the scalar rule', () => {
    for (const o of [{}, { momentum: 0.9 }, { momentum: 0.9, dampening: 0.5 }, { momentum: 0.9, weightDecay: 0.01 }, { momentum: 0.9, weightDecay: 1e-4, nesterov: true }]) {
      close(run(o, grads), reference(o, grads));
    }
  });

  it('groups have their own hyper-parameters (a head without momentum) and skip params without grad', () => tidy(() => {
    const a = tensor([1]).requiresGrad_();
    const b = tensor([1]).requiresGrad_();
    const c = tensor([1]).requiresGrad_();
    const opt = new SGD([{ params: [['a', a], ['c', c]] }, { params: [['head.b', b]], momentum: 0 }], { lr: 1, momentum: 0.5 });
    for (let i = 0; i < 2; i++) {
      a.grad = tensor([1]);
      b.grad = tensor([1]);
      opt.step();
    }
    assert.deepEqual(a.toArray(), [1 - 1 - 1.5]);
    assert.deepEqual(b.toArray(), [-1]);
    assert.deepEqual(c.toArray(), [1]);
    assert.deepEqual([...opt.stateDict().keys()], ['a.momentum_buffer']);
    opt.setLrFactor(0.1);
    assert.deepEqual(opt.groups.map((g) => g.lr), [0.1, 0.1]);
    opt.zeroGrad();
    assert.equal(a.grad, undefined);
    opt.dispose();
  }));

  it('momentum state round-trips through stateDict and is validated', () => tidy(() => {
    const p = tensor([1, 2]).requiresGrad_();
    const opt = new SGD([{ params: [['w', p]] }], { lr: 0.1, momentum: 0.9 });
    p.grad = tensor([1, 1]);
    opt.step();
    const other = new SGD([{ params: [['w', p]] }], { lr: 0.1, momentum: 0.9 });
    other.loadStateDict(opt.stateDict());
    assert.deepEqual((other.momentumBuffers.get('w') as Tensor).toArray(), [1, 1]);
    assert.throws(() => other.loadStateDict(new Map([['x.momentum_buffer', tensor([1])]])), /names no parameter/);
    assert.throws(() => new SGD([{ params: [['w', p]] }], { lr: -1 }), ConfigError);
    assert.throws(() => new SGD([{ params: [['w', p]] }], { lr: 1, nesterov: true }), /Nesterov/);
    opt.dispose();
    other.dispose();
  }));
});

describe('LR schedules', () => {
  it('step, cosine and constant', () => {
    const s = stepLr([400], 0.4);
    assert.equal(s(0), 1);
    assert.equal(s(399.9), 1);
    assert.equal(s(400), 0.4);
    const m = stepLr([30, 60, 90], 0.1);
    assert.ok(Math.abs(m(95) - 0.001) < 1e-12);
    const c = cosineLr(100, 0.01);
    assert.equal(c(0), 1);
    assert.ok(Math.abs(c(50) - (0.01 + 0.99 * 0.5)) < 1e-12);
    assert.ok(Math.abs(c(100) - 0.01) < 1e-12);
    assert.ok(cosineLr(10, 0, 2)(1) < 1);
    assert.equal(constantLr()(123), 1);
  });
});
