/**
 * img/s of one SGD training step of a ResNet on the odc engine: the same workload and flags as
 * ../shared/peer/train_step.py (random N(0,1) input, random labels, cross-entropy, backward,
 * SGD lr 0.05 / momentum 0.9 / wd 1e-4, train mode). Prints one JSON line.
 *
 *   node --import tsx bench/train_step.ts --arch resnet18 --stem cifar --channels 3 --size 32 \
 *     --batch 128 --classes 100 --steps 20 --threads 2 [--channels-last]
 */
import { parseArgs } from 'node:util';
import { Conv2d, configureProcess, F, getNumThreads, Linear, manualSeed, ResNet, type ResNetDepth, randint, randn, SGD, type Tensor, tidy } from '../src/index.ts';

const { values: a } = parseArgs({
  options: {
    arch: { type: 'string', default: 'resnet18' },
    stem: { type: 'string', default: 'cifar' },
    channels: { type: 'string', default: '3' },
    size: { type: 'string', default: '32' },
    batch: { type: 'string', default: '128' },
    classes: { type: 'string', default: '100' },
    steps: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    'channels-last': { type: 'boolean', default: false },
  },
});
const n = (k: keyof typeof a) => Number(a[k]);
const depth = Number(String(a.arch).replace('resnet', '')) as ResNetDepth;

manualSeed(0);
configureProcess({ threads: n('threads') }); // as the odc command runs
const net = new ResNet({ depth, stem: a.stem as 'cifar' | 'imagenet', inChannels: n('channels'), numClasses: n('classes') });
net.train();
let x = randn([n('batch'), n('channels'), n('size'), n('size')]);
const y = randint(0, n('classes'), [n('batch')]);
if (a['channels-last']) {
  net.to({ memoryFormat: 'channelsLast' });
  const cl = x.contiguous('channelsLast');
  x.dispose();
  x = cl;
}
const opt = new SGD([{ params: net.namedParameters() }], { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });

/** Multiply-accumulates of one forward pass, counted from the conv and linear output shapes. */
function forwardMacs(): number {
  let macs = 0;
  const conv = Conv2d.prototype.forward;
  const lin = Linear.prototype.forward;
  Conv2d.prototype.forward = function (this: Conv2d, t: Tensor) {
    const out = conv.call(this, t);
    const [, , kh, kw] = this.weight.shape;
    macs += out.numel * (this.inChannels / this.options.groups) * kh * kw;
    return out;
  };
  Linear.prototype.forward = function (this: Linear, t: Tensor) {
    const out = lin.call(this, t);
    macs += out.numel * this.inFeatures;
    return out;
  };
  tidy(() => net.forward(x));
  Conv2d.prototype.forward = conv;
  Linear.prototype.forward = lin;
  return macs;
}
const macs = forwardMacs();

const step = () =>
  tidy(() => {
    opt.zeroGrad();
    const loss = F.crossEntropy(net.forward(x), y);
    loss.backward();
    opt.step();
    return loss.item();
  });

for (let i = 0; i < n('warmup'); i++) step();
const t0 = performance.now();
for (let i = 0; i < n('steps'); i++) step();
const dt = (performance.now() - t0) / 1000;
// Training ≈ 3 forward passes of arithmetic (forward, input gradient, weight gradient), 2 FLOPs per MAC.
const flopsPerStep = 3 * 2 * macs;
console.log(JSON.stringify({
  peer: 'odc', arch: a.arch, stem: a.stem, channels: n('channels'), size: n('size'), batch: n('batch'), classes: n('classes'),
  steps: n('steps'), threads: getNumThreads(), channels_last: a['channels-last'], seconds: Number(dt.toFixed(3)),
  img_per_s: Number(((n('batch') * n('steps')) / dt).toFixed(2)), gflop_per_step: Number((flopsPerStep / 1e9).toFixed(2)),
  gflop_per_s: Number(((flopsPerStep * n('steps')) / dt / 1e9).toFixed(2)),
}));
