/**
 * ResNet-18/34/50 (He et al., 2016) with torchvision's structure and state-dict keys, an ImageNet stem
 * (7x7/2 conv + 3x3/2 max-pool) or a CIFAR stem (3x3/1 conv, no max-pool), any number of input
 * channels, and a width option (64 = standard) for small CPU runs.
 */

import * as F from '../nn/functional.ts';
import { constant_, kaimingNormal_ } from '../nn/init.ts';
import { BatchNorm2d, Conv2d, Linear, MaxPool2d, Sequential } from '../nn/layers.ts';
import { Module } from '../nn/module.ts';
import { ConfigError } from '../tensor/errors.ts';
import type { Generator } from '../tensor/random.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { Backbone, Tap } from './backbone.ts';

export type ResNetDepth = 18 | 34 | 50;

export interface ResNetOptions {
  depth: ResNetDepth;
  stem?: 'imagenet' | 'cifar';
  inChannels?: number;
  /** Classes of the final fc layer; 0 (default) builds a headless backbone. */
  numClasses?: number;
  /** Channels of the first stage (64 in the paper); later stages double it. */
  width?: number;
  /** Zero the last BN of each block so blocks start as identities. */
  zeroInitResidual?: boolean;
  /**
   * Activation layout. 'channelsLast' trains 10-20 % faster on CPU (oneDNN), but libtorch 1.13's
   * channels-last backward through the first stage is inaccurate with more than one thread: on the
   * parity fixture the first conv's weight gradient is 2.4 % off a float64 reference in PyTorch 1.13
   * itself (3.7e-6 with one thread, 1.5e-6 in NCHW, 2e-6 with only the first stage in NCHW; every
   * other checked gradient agrees to 1e-4), so 'contiguous' is the default.
   */
  memoryFormat?: 'channelsLast' | 'contiguous';
  generator?: Generator;
}

const LAYOUT: Record<ResNetDepth, { block: 'basic' | 'bottleneck'; blocks: [number, number, number, number] }> = {
  18: { block: 'basic', blocks: [2, 2, 2, 2] },
  34: { block: 'basic', blocks: [3, 4, 6, 3] },
  50: { block: 'bottleneck', blocks: [3, 4, 6, 3] },
};

const conv3x3 = (i: number, o: number, stride = 1) => new Conv2d(i, o, 3, { stride, padding: 1, bias: false });
const conv1x1 = (i: number, o: number, stride = 1) => new Conv2d(i, o, 1, { stride, bias: false });

// JS handles to intermediates are released as soon as they are consumed: autograd keeps what backward
// needs and frees it during backward, so peak memory matches PyTorch's instead of holding every
// activation until the end of the step.
function convBn(conv: Conv2d, bn: BatchNorm2d, x: Tensor, consumeInput = false): Tensor {
  const c = conv.forward(x);
  if (consumeInput) x.dispose();
  const y = bn.forward(c);
  c.dispose();
  return y;
}
function convBnRelu(conv: Conv2d, bn: BatchNorm2d, x: Tensor, consumeInput = false): Tensor {
  return convBn(conv, bn, x, consumeInput).relu_();
}
function addShortcut(out: Tensor, shortcut: Tensor, input: Tensor): Tensor {
  out.add_(shortcut);
  if (shortcut !== input) shortcut.dispose();
  return out.relu_();
}

abstract class Block extends Module {
  abstract readonly lastBn: BatchNorm2d;
  declare readonly downsample: Sequential | undefined;
  protected shortcut(x: Tensor): Tensor {
    return this.downsample === undefined ? x : this.downsample.forward(x);
  }
}

class BasicBlock extends Block {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  override readonly downsample: Sequential | undefined;
  constructor(inPlanes: number, planes: number, stride: number, downsample?: Sequential) {
    super();
    this.conv1 = this.registerModule('conv1', conv3x3(inPlanes, planes, stride));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.downsample = downsample && this.registerModule('downsample', downsample);
  }
  get lastBn(): BatchNorm2d {
    return this.bn2;
  }
  forward(x: Tensor): Tensor {
    const out = convBnRelu(this.conv1, this.bn1, x);
    return addShortcut(convBn(this.conv2, this.bn2, out, true), this.shortcut(x), x);
  }
}

/** torchvision's v1.5 bottleneck: the stride sits on the 3x3 conv. */
class Bottleneck extends Block {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  override readonly downsample: Sequential | undefined;
  constructor(inPlanes: number, planes: number, stride: number, downsample?: Sequential) {
    super();
    this.conv1 = this.registerModule('conv1', conv1x1(inPlanes, planes));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes, stride));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.conv3 = this.registerModule('conv3', conv1x1(planes, planes * 4));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(planes * 4));
    this.downsample = downsample && this.registerModule('downsample', downsample);
  }
  get lastBn(): BatchNorm2d {
    return this.bn3;
  }
  forward(x: Tensor): Tensor {
    const a = convBnRelu(this.conv1, this.bn1, x);
    const b = convBnRelu(this.conv2, this.bn2, a, true);
    return addShortcut(convBn(this.conv3, this.bn3, b, true), this.shortcut(x), x);
  }
}

export class ResNet extends Module implements Backbone {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly maxpool: MaxPool2d | undefined;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;
  readonly fc: Linear | undefined;
  readonly tapChannels: Record<'conv1' | 'conv2' | 'conv3' | 'conv4' | 'conv5', number>;
  readonly featureDim: number;
  readonly options: Readonly<Required<Omit<ResNetOptions, 'generator'>>>;
  #channelsLast: boolean;

  constructor(o: ResNetOptions) {
    super();
    const layout = LAYOUT[o.depth];
    if (layout === undefined) throw new ConfigError(`Expected ResNet depth 18, 34 or 50 but received ${o.depth}`);
    const width = o.width ?? 64;
    const inChannels = o.inChannels ?? 3;
    const stem = o.stem ?? 'imagenet';
    if (!Number.isInteger(width) || width < 1) throw new ConfigError(`Expected positive integer for ResNet width but received ${width}`);
    if (stem !== 'imagenet' && stem !== 'cifar') throw new ConfigError(`Expected ResNet stem 'imagenet' or 'cifar' but received '${stem}'`);
    this.options = {
      depth: o.depth, stem, inChannels, numClasses: o.numClasses ?? 0, width, zeroInitResidual: o.zeroInitResidual ?? false, memoryFormat: o.memoryFormat ?? 'contiguous',
    };
    this.#channelsLast = this.options.memoryFormat === 'channelsLast';

    this.conv1 = this.registerModule(
      'conv1',
      stem === 'imagenet'
        ? new Conv2d(inChannels, width, 7, { stride: 2, padding: 3, bias: false })
        : new Conv2d(inChannels, width, 3, { stride: 1, padding: 1, bias: false }),
    );
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(width));
    this.maxpool = stem === 'imagenet' ? this.registerModule('maxpool', new MaxPool2d(3, { stride: 2, padding: 1 })) : undefined;

    const Kind = layout.block === 'basic' ? BasicBlock : Bottleneck;
    let inPlanes = width;
    const makeLayer = (planes: number, blocks: number, stride: number): Sequential => {
      const out = planes * Kind.expansion;
      const down = stride !== 1 || inPlanes !== out ? new Sequential(conv1x1(inPlanes, out, stride), new BatchNorm2d(out)) : undefined;
      const list: Block[] = [new Kind(inPlanes, planes, stride, down)];
      inPlanes = out;
      for (let i = 1; i < blocks; i++) list.push(new Kind(inPlanes, planes, 1));
      return new Sequential(...list);
    };
    this.layer1 = this.registerModule('layer1', makeLayer(width, layout.blocks[0], 1));
    this.layer2 = this.registerModule('layer2', makeLayer(width * 2, layout.blocks[1], 2));
    this.layer3 = this.registerModule('layer3', makeLayer(width * 4, layout.blocks[2], 2));
    this.layer4 = this.registerModule('layer4', makeLayer(width * 8, layout.blocks[3], 2));
    const e = Kind.expansion;
    this.tapChannels = { conv1: width, conv2: width * e, conv3: width * 2 * e, conv4: width * 4 * e, conv5: width * 8 * e };
    this.featureDim = width * 8 * e;
    this.fc = this.options.numClasses > 0 ? this.registerModule('fc', new Linear(this.featureDim, this.options.numClasses, { generator: o.generator })) : undefined;

    // torchvision's initialisation: conv kaiming-normal (fan_out, relu); BN weight 1, bias 0.
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d) kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu', generator: o.generator });
    }
    if (this.options.zeroInitResidual) {
      for (const [, m] of this.namedModules()) if (m instanceof Block && m.lastBn.weight) constant_(m.lastBn.weight, 0);
    }
    if (this.#channelsLast) this.to({ memoryFormat: 'channelsLast' });
  }

  /** The input in the layout the network runs in (a copy only when it differs). */
  #layout(x: Tensor): Tensor {
    if (!this.#channelsLast || x.ndim !== 4) return x;
    const s = x.strides;
    return s[1] === 1 && s[3] === x.size(1) ? x : x.contiguous('channelsLast');
  }

  forwardTaps(x: Tensor, taps: readonly Tap[]): Map<Tap, Tensor> {
    const want = new Set(taps);
    const out = new Map<Tap, Tensor>();
    const input = this.#layout(x);
    let y = convBnRelu(this.conv1, this.bn1, input, input !== x);
    const kept = new Set<Tensor>();
    const tap = (name: Tap, t: Tensor) => {
      out.set(name, t);
      kept.add(t);
    };
    if (want.has('conv1')) tap('conv1', y);
    if (this.maxpool !== undefined) {
      const p = this.maxpool.forward(y);
      if (!kept.has(y)) y.dispose();
      y = p;
    }
    const stages: [Tap, Sequential][] = [['conv2', this.layer1], ['conv3', this.layer2], ['conv4', this.layer3], ['conv5', this.layer4]];
    for (const [name, layer] of stages) {
      if (out.size === want.size) {
        if (!kept.has(y)) y.dispose();
        return out;
      }
      const next = layer.forward(y);
      if (!kept.has(y)) y.dispose();
      y = next;
      if (want.has(name)) tap(name, y);
    }
    if (want.has('pool')) {
      const pooled = F.adaptiveAvgPool2d(y, 1);
      out.set('pool', pooled.flatten(1));
      pooled.dispose();
    }
    if (!kept.has(y)) y.dispose();
    return out;
  }

  pooled(x: Tensor): Tensor {
    return this.forwardTaps(x, ['pool']).get('pool') as Tensor;
  }

  /** Logits when built with classes, else the pooled feature. */
  forward(x: Tensor): Tensor {
    const f = this.pooled(x);
    return this.fc === undefined ? f : this.fc.forward(f);
  }
}

export const resnet18 = (o: Omit<ResNetOptions, 'depth'> = {}) => new ResNet({ ...o, depth: 18 });
export const resnet34 = (o: Omit<ResNetOptions, 'depth'> = {}) => new ResNet({ ...o, depth: 34 });
export const resnet50 = (o: Omit<ResNetOptions, 'depth'> = {}) => new ResNet({ ...o, depth: 50 });
