/** Modules: PyTorch state-dict keys and order, strict loading, modes, initialisation, device/layout moves. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AlexNet, BatchNorm1d, BatchNorm2d, Conv2d, Dropout, Flatten, Generator, Linear, ones, ReLU, randn, resnet18, resnet50, Sequential, ShapeError, tidy, zeros,
} from '../src/index.ts';
import { ClusterModel } from '../src/models/cluster_model.ts';
import { resolveRunConfig } from '../src/train/budget.ts';
import { resolveConfig } from '../src/train/config.ts';
import { modelOptions } from '../src/train/methods.ts';

describe('Module', () => {
  it('ResNet-18 has torchvision state-dict keys in torchvision order', () => {
    const net = resnet18({ numClasses: 1000 });
    const keys = [...net.stateDict().keys()];
    assert.equal(keys.length, 122);
    assert.deepEqual(keys.slice(0, 6), ['conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked']);
    assert.ok(keys.includes('layer2.0.downsample.0.weight'));
    assert.deepEqual(keys.slice(-2), ['fc.weight', 'fc.bias']);
    assert.equal(net.numParameters(), 11689512); // torchvision resnet18: 11,689,512
    net.dispose();
  });

  it('ResNet-50 matches torchvision parameter count; taps have the documented channels', () => tidy(() => {
    const net = resnet50({ numClasses: 1000 });
    assert.equal(net.numParameters(), 25557032); // torchvision resnet50
    assert.deepEqual(net.tapChannels, { conv1: 64, conv2: 256, conv3: 512, conv4: 1024, conv5: 2048 });
    net.dispose();
    const small = resnet18({ stem: 'cifar', inChannels: 1, width: 16 });
    small.eval();
    const taps = small.forwardTaps(zeros([2, 1, 28, 28]), ['conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'pool']);
    assert.deepEqual([...taps.values()].map((t) => t.shape), [[2, 16, 28, 28], [2, 16, 28, 28], [2, 32, 14, 14], [2, 64, 7, 7], [2, 128, 4, 4], [2, 128]]);
    small.dispose();
  }));

  it('AlexNet-BN has DeepCluster keys and five conv taps; ImageNet stem gives 6x6 conv5 at 224 px', () => tidy(() => {
    const net = new AlexNet({ numClasses: 10, hidden: 128, widthFactor: 0.25 });
    const keys = [...net.stateDict().keys()];
    assert.ok(keys.includes('features.0.weight') && keys.includes('features.1.running_var') && keys.includes('top_layer.weight'));
    assert.ok(keys.includes('classifier.1.weight') && keys.includes('classifier.4.weight'));
    net.eval();
    const taps = net.forwardTaps(zeros([1, 3, 224, 224]), ['conv1', 'conv5', 'pool']);
    assert.deepEqual(taps.get('conv1')?.shape, [1, 24, 55, 55]);
    assert.deepEqual(taps.get('conv5')?.shape, [1, 64, 13, 13]);
    assert.deepEqual(taps.get('pool')?.shape, [1, 128]);
    assert.deepEqual(net.forward(zeros([1, 3, 224, 224])).shape, [1, 10]);
    net.dispose();
  }));

  it('loadStateDict is strict about keys and shapes, and reports them', () => tidy(() => {
    const a = new Sequential(new Linear(3, 2), new ReLU(), new Linear(2, 1));
    const b = new Sequential(new Linear(3, 2), new ReLU(), new Linear(2, 1));
    b.loadStateDict(a.stateDict());
    assert.deepEqual(b.layers[0].stateDict().get('weight')?.toArray(), (a.layers[0] as Linear).weight.toArray());
    const partial = new Map(a.stateDict());
    partial.delete('2.bias');
    partial.set('9.weight', ones([1]));
    assert.throws(() => b.loadStateDict(partial), (e: unknown) => e instanceof ShapeError && /missing keys: 2\.bias; unexpected keys: 9\.weight/.test(e.message));
    assert.deepEqual(b.loadStateDict(partial, { strict: false }), { missingKeys: ['2.bias'], unexpectedKeys: ['9.weight'] });
    const wrong = new Map(a.stateDict());
    wrong.set('0.weight', ones([2, 4]));
    assert.throws(() => b.loadStateDict(wrong, { strict: false }), /'0\.weight' has shape \[2,4\] in the checkpoint, \[2,3\] in the model/);
    a.dispose();
    b.dispose();
  }));

  it('train/eval reaches every descendant; BN uses batch stats only in training; dropout only in training', () => tidy(() => {
    const net = new Sequential(new Linear(4, 4), new BatchNorm1d(4), new Dropout(0.5), new Flatten());
    net.eval();
    assert.ok(net.namedModules().every(([, m]) => !m.training));
    const x = randn([8, 4], { generator: new Generator(0) });
    assert.deepEqual(net.forward(x).toArray(), net.forward(x).toArray());
    net.train();
    const bn = net.layers[1] as BatchNorm1d;
    net.forward(x);
    assert.equal(bn.numBatchesTracked?.item(), 1);
    assert.notDeepEqual(bn.runningMean?.toArray(), [0, 0, 0, 0]);
    net.dispose();
  }));

  it('default initialisation matches PyTorch bounds (kaiming-uniform a=√5 → U(±1/√fan_in))', () => tidy(() => {
    const conv = new Conv2d(16, 32, 3, { generator: new Generator(1) });
    const bound = 1 / Math.sqrt(16 * 9);
    assert.ok(conv.weight.abs().max().item() <= bound + 1e-7);
    assert.ok(conv.weight.abs().max().item() > 0.95 * bound);
    assert.ok(Math.abs(conv.weight.var().item() - (bound * bound) / 3) < 0.1 * (bound * bound) / 3);
    const bn = new BatchNorm2d(4);
    assert.deepEqual(bn.weight?.toArray(), [1, 1, 1, 1]);
    const r = resnet18({ generator: new Generator(2) });
    const std = r.conv1.weight.std().item();
    assert.ok(Math.abs(std - Math.sqrt(2 / (64 * 49))) < 0.05 * Math.sqrt(2 / (64 * 49)), `kaiming fan_out std ${std}`);
    for (const m of [conv, bn, r]) m.dispose();
  }));

  it('to({memoryFormat: channelsLast}) relays parameters in place, keeping references and results', () => tidy(() => {
    const net = resnet18({ stem: 'cifar', width: 8, numClasses: 3 });
    net.eval();
    const w = net.conv1.weight;
    const x = randn([2, 3, 16, 16], { generator: new Generator(5) });
    const before = net.forward(x).toArray();
    net.to({ memoryFormat: 'channelsLast' });
    assert.equal(net.conv1.weight, w);
    assert.deepEqual(w.strides, [27, 1, 9, 3]);
    const after = net.forward(x.contiguous('channelsLast')).toArray();
    for (const [i, v] of after.entries()) assert.ok(Math.abs(v - before[i]) < 1e-4);
    net.dispose();
  }));

  it('a run config\'s memoryFormat reaches the backbone (channels-last weights; AlexNet refuses it)', () => tidy(() => {
    const cfg = resolveRunConfig(resolveConfig({ width: 8, clusters: 5, memoryFormat: 'channelsLast' }), { n: 100, height: 28 }, 1);
    const model = new ClusterModel(modelOptions(cfg, { channels: 1, stem: 'cifar' }, new Generator(1)));
    const conv1 = model.backbone.namedParameters().find(([k]) => k === 'conv1.weight')?.[1];
    assert.deepEqual(conv1?.strides, [9, 1, 3, 1]); // [8, 1, 3, 3] in NHWC
    model.train();
    const y = model.forward(randn([4, 1, 28, 28], { generator: new Generator(2) }));
    assert.deepEqual(y.shape, [4, 5]);
    model.dispose();
    assert.throws(() => new ClusterModel(modelOptions({ ...cfg, arch: 'alexnet' }, { channels: 1, stem: 'cifar' })), /--memory-format channels-last: ResNets only/);
  }));
});
