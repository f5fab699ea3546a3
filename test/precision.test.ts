/**
 * Mixed precision: autocast regions (bfloat16 on the CPU; float16 is CUDA's), a model whose
 * forward runs under autocast and returns float32, dynamic loss scaling (skipped steps, scale
 * changes), and a short bf16 training run.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FASHION_MNIST_DIR } from '../src/data/spec.ts';
import { ClusterModel } from '../src/models/cluster_model.ts';
import { native } from '../src/native/binding.ts';
import { autocast, checkPrecision, isAutocastEnabled } from '../src/nn/autocast.ts';
import { LossScaler } from '../src/optim/loss_scaler.ts';
import { getNumThreads, setNumThreads } from '../src/runtime.ts';
import { randn } from '../src/tensor/creation.ts';
import { ConfigError } from '../src/tensor/errors.ts';
import { Generator } from '../src/tensor/random.ts';
import { tidy } from '../src/tensor/scope.ts';
import { resolveConfig } from '../src/train/config.ts';
import { train } from '../src/train/trainer.ts';
import { relErr } from './helpers.ts';

describe('mixed precision', () => {
  it('autocast runs matrix products in bfloat16 inside its region only, and restores the state after a throw', () => {
    tidy(() => {
      const a = randn([8, 16], { generator: new Generator(1) });
      const b = randn([16, 4], { generator: new Generator(2) });
      const inside = autocast('cpu', 'bf16', () => {
        assert.equal(isAutocastEnabled('cpu'), true);
        return a.matmul(b);
      });
      assert.equal(inside.dtype, 'bfloat16');
      assert.equal(isAutocastEnabled('cpu'), false);
      assert.equal(a.matmul(b).dtype, 'float32');
      assert.ok(relErr(inside.float(), a.matmul(b)) < 2e-2);
      assert.throws(() => autocast('cpu', 'bf16', () => { throw new Error('inside'); }), /inside/);
      assert.equal(isAutocastEnabled('cpu'), false);
      assert.equal(autocast('cpu', 'fp32', () => a.matmul(b)).dtype, 'float32');
    });
  });

  it('fp16 is refused on the CPU, by the flag check and by the engine', () => {
    assert.throws(() => checkPrecision('fp16', 'cpu'), (e) => e instanceof ConfigError && e.message.startsWith('--precision fp16: float16 autocast needs a CUDA device'));
    checkPrecision('bf16', 'cpu');
    assert.throws(() => native.autocastEnter('cpu', 'float16'), /bfloat16 only/);
    assert.equal(isAutocastEnabled('cpu'), false);
  });

  it("a bf16 model's features and logits are float32 and close to the fp32 model's", () => {
    tidy(() => {
      const model = new ClusterModel({ arch: 'resnet18', width: 8, stem: 'cifar', inChannels: 1, numClasses: 5, neck: true, generator: new Generator(3) });
      model.eval();
      const x = randn([4, 1, 28, 28], { generator: new Generator(4) });
      const f32 = model.forward(x);
      model.setPrecision('bf16', 'cpu');
      const bf = model.forward(x);
      assert.equal(bf.dtype, 'float32');
      assert.equal(model.feature(x).dtype, 'float32');
      assert.ok(relErr(bf, f32) < 5e-2, `relative error ${relErr(bf, f32)}`);
      model.dispose();
    });
  });

  it('loss scaling: unscaled gradients equal plain ones, an overflow skips the step and halves the scale, good steps grow it', () => {
    tidy(() => {
      const w = randn([3, 2], { generator: new Generator(5) }).requiresGrad_(true);
      const x = randn([6, 3], { generator: new Generator(6) });
      x.matmul(w).square().mean().backward();
      const plain = w.grad?.clone() as never;
      w.grad = undefined;
      const scaler = new LossScaler({ initScale: 1024, interval: 2 });
      scaler.scaleLoss(x.matmul(w).square().mean()).backward();
      assert.equal(scaler.unscale([w]), true);
      assert.ok(relErr(w.grad as never, plain) < 1e-6);
      assert.equal(scaler.scale, 1024);
      w.grad = undefined;
      scaler.scaleLoss(x.matmul(w).square().mean()).backward();
      (w.grad as never as { fill_(v: number): void }).fill_(Number.POSITIVE_INFINITY);
      assert.equal(scaler.unscale([w]), false);
      assert.deepEqual([scaler.scale, scaler.skipped, scaler.good], [512, 1, 0]);
      w.grad = undefined;
      for (let i = 0; i < 2; i++) {
        scaler.scaleLoss(x.matmul(w).square().mean()).backward();
        assert.equal(scaler.unscale([w]), true);
        w.grad = undefined;
      }
      assert.deepEqual(scaler.state(), { scale: 1024, good: 0 });
    });
  });

  it('a short bf16 training run learns with finite losses; fp16 on the CPU is refused before any work', { skip: !existsSync(FASHION_MNIST_DIR) && 'dataset-fashion-mnist not installed' }, async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'odc-precision-')), 'run');
    const base = { subset: 300, width: 8, clusters: 5, batchSize: 50, budget: '6it', logEvery: 1, workers: 0, evalFeatures: false, memory: { minCluster: 2 }, out };
    const lines: string[] = [];
    const threads = getNumThreads();
    try {
      const r = await train(resolveConfig({ ...base, precision: 'bf16', threads: 1 }), { log: (l) => lines.push(l) });
      assert.equal(r.summary.finished, true);
    } finally {
      setNumThreads(threads);
    }
    assert.ok(lines.some((l) => /^model: .*, bf16 autocast$/.test(l)), lines.join('\n'));
    const losses = lines.filter((l) => l.includes(' loss ')).map((l) => Number(/ loss ([\d.]+)/.exec(l)?.[1]));
    assert.ok(losses.length >= 6 && losses.every(Number.isFinite), lines.join('\n'));
    await assert.rejects(train(resolveConfig({ ...base, precision: 'fp16' }), { log: () => {} }), /--precision fp16: float16 autocast needs a CUDA device/);
  });
});
