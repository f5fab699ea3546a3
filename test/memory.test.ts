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
  it('4,400 SGD steps of a small ResNet leave no live tensor behind and no upward trend in heap or RSS', async (t) => {
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
    // Node-API finalizers run. The first 2,000 steps grow V8's heap and the allocators towards a
    // steady state; how much further the resident set grows after that differs between machines
    // (+6 MiB here, +29 MiB on another CPU over the same steps), and with the heap left untrimmed it
    // only ever shows the high-water mark, under which a leak hides. So the test reads, after a full
    // GC, the bytes malloc has handed out and not had back (which fall when memory is freed) and the
    // resident set at the end of eight windows of 300 steps, and asks for no trend: the median
    // window may grow the heap in use by at most 1 MiB and the resident set by at most 1.5 MiB.
    // A leak of one 8 KiB activation per step grows every window by 2.3 MiB; a one-off allocator
    // jump moves one window.
    const gc = (globalThis as { gc?: () => void }).gc;
    assert.ok(gc, 'the test command runs node with --expose-gc');
    const MiB = 2 ** 20;
    const read = () => {
      gc();
      return { inUse: memory().heapBytesInUse / MiB, rss: process.memoryUsage().rss / MiB };
    };
    for (let i = 0; i < 2000; i++) {
      step();
      await new Promise(setImmediate);
    }
    const handles = memory().numTensors;
    const reads = [read()];
    let last = 0;
    for (let w = 0; w < 8; w++) {
      for (let i = 0; i < 300; i++) {
        last = step();
        await new Promise(setImmediate);
      }
      reads.push(read());
    }
    assert.equal(memory().numTensors, handles, 'live tensor handles changed');
    const trend = (key: 'inUse' | 'rss') => {
      const growth = reads.slice(1).map((r, w) => r[key] - reads[w][key]);
      const median = [...growth].sort((a, b) => a - b)[growth.length >> 1];
      return { median, text: `${growth.map((g) => g.toFixed(2)).join(', ')} MiB per 300 steps` };
    };
    const rss = trend('rss');
    t.diagnostic(`resident set: ${rss.text}`);
    if (reads[0].inUse >= 0) {
      const inUse = trend('inUse');
      t.diagnostic(`heap in use: ${inUse.text}`);
      assert.ok(inUse.median < 1, `heap in use grows steadily: ${inUse.text}`);
    }
    assert.ok(rss.median < 1.5, `resident set grows steadily: ${rss.text}`);
    assert.ok(Number.isFinite(last));
    opt.dispose();
    net.dispose();
    x.dispose();
    y.dispose();
    setNumThreads(threads);
  });
});
