/** A long training loop keeps native handles and the resident set flat. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
// The engine's own modules only: the package barrel also loads the report, server and their
// libraries, whose lazily grown heaps would blur what this test measures.
import { resnet18 } from '../src/models/resnet.ts';
import * as F from '../src/nn/functional.ts';
import { SGD } from '../src/optim/sgd.ts';
import { getNumThreads, setNumThreads } from '../src/runtime.ts';
import { randint, randn } from '../src/tensor/creation.ts';
import { Generator } from '../src/tensor/random.ts';
import { memory, tidy } from '../src/tensor/scope.ts';

describe('memory over thousands of steps', () => {
  it('4,500 SGD steps of a small ResNet leave no live tensor behind and RSS flat', async () => {
    // One thread: this network's ops are too small to share, and with the command's passive OpenMP
    // wait policy each parallel region would wake a sleeping thread (4x slower per step, measured).
    const threads = getNumThreads();
    setNumThreads(1);
    const g = new Generator(0);
    const net = resnet18({ stem: 'cifar', width: 4, inChannels: 1, numClasses: 10, generator: g });
    const opt = new SGD([{ params: net.namedParameters() }], { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
    const x = randn([8, 1, 8, 8], { generator: g });
    const y = randint(0, 10, [8], { generator: g });
    const step = () =>
      tidy(() => {
        opt.zeroGrad();
        const loss = F.crossEntropy(net.forward(x), y);
        loss.backward();
        opt.step();
        return loss.item();
      });
    // A training loop yields to the event loop every iteration (data loading), which is where
    // Node-API finalizers run; the first 2,500 steps grow V8's heap and the allocators to a steady state,
    // then 2,000 more are measured.
    for (let i = 0; i < 2500; i++) {
      step();
      await new Promise(setImmediate);
    }
    const handles = memory().numTensors;
    const rss0 = process.memoryUsage().rss;
    let last = 0;
    for (let i = 0; i < 2000; i++) {
      last = step();
      await new Promise(setImmediate);
    }
    const grown = (process.memoryUsage().rss - rss0) / 2 ** 20;
    assert.equal(memory().numTensors, handles, 'live tensor handles changed');
    assert.ok(grown < 25, `resident set grew by ${grown.toFixed(1)} MiB over 2,000 steps`);
    assert.ok(Number.isFinite(last));
    opt.dispose();
    net.dispose();
    x.dispose();
    y.dispose();
    setNumThreads(threads);
  });
});
