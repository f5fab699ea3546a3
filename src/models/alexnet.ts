/**
 * AlexNet with batch normalisation as in DeepCluster (Caron et al., 2018): five conv-BN-ReLU layers
 * (no Local Response Normalisation), three max-pools, two fc-ReLU layers with dropout, and an
 * optional `top_layer` classifier. State-dict keys follow DeepCluster's (`features.0.weight`,
 * `classifier.1.weight`, `top_layer.weight`). The 'cifar' stem (3x3/1 first conv, 2x2 pools) suits
 * 28-32 px images; an adaptive average pool fixes the classifier's input size for any image size.
 */

import { constant_, kaimingNormal_, normal_ } from '../nn/init.ts';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Linear, MaxPool2d, ReLU, Sequential } from '../nn/layers.ts';
import { Module } from '../nn/module.ts';
import { ConfigError } from '../tensor/errors.ts';
import type { Generator } from '../tensor/random.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { Backbone, Tap } from './backbone.ts';

export interface AlexNetOptions {
  stem?: 'imagenet' | 'cifar';
  inChannels?: number;
  /** Classes of `top_layer`; 0 (default) builds a headless backbone. */
  numClasses?: number;
  /** Multiplies every conv width (96, 256, 384, 384, 256). */
  widthFactor?: number;
  /** Width of the two fc layers (4096 in the paper). */
  hidden?: number;
  dropout?: number;
  generator?: Generator;
}

type ConvSpec = [channels: number, kernel: number, stride: number, padding: number];
const SPECS: Record<'imagenet' | 'cifar', { convs: ConvSpec[]; pool: [number, number]; grid: number }> = {
  imagenet: { convs: [[96, 11, 4, 2], [256, 5, 1, 2], [384, 3, 1, 1], [384, 3, 1, 1], [256, 3, 1, 1]], pool: [3, 2], grid: 6 },
  cifar: { convs: [[96, 3, 1, 1], [256, 3, 1, 1], [384, 3, 1, 1], [384, 3, 1, 1], [256, 3, 1, 1]], pool: [2, 2], grid: 3 },
};
/** Max-pools follow conv1, conv2 and conv5. */
const POOL_AFTER = new Set([0, 1, 4]);

export class AlexNet extends Module implements Backbone {
  readonly features: Sequential;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly classifier: Sequential;
  readonly topLayer: Linear | undefined;
  readonly tapChannels: Record<'conv1' | 'conv2' | 'conv3' | 'conv4' | 'conv5', number>;
  readonly featureDim: number;
  /** Index in `features` of each conv's ReLU (where the conv taps are read). */
  readonly #reluIndex: number[] = [];

  constructor(o: AlexNetOptions = {}) {
    super();
    const stem = o.stem ?? 'imagenet';
    const spec = SPECS[stem];
    if (spec === undefined) throw new ConfigError(`Expected AlexNet stem 'imagenet' or 'cifar' but received '${stem}'`);
    const factor = o.widthFactor ?? 1;
    const hidden = o.hidden ?? 4096;
    const layers: Module[] = [];
    let inC = o.inChannels ?? 3;
    const channels: number[] = [];
    spec.convs.forEach(([c, k, s, p], i) => {
      const out = Math.max(1, Math.round(c * factor));
      layers.push(new Conv2d(inC, out, k, { stride: s, padding: p }), new BatchNorm2d(out), new ReLU(true));
      this.#reluIndex.push(layers.length - 1);
      if (POOL_AFTER.has(i)) layers.push(new MaxPool2d(spec.pool[0], { stride: spec.pool[1] }));
      channels.push(out);
      inC = out;
    });
    this.features = this.registerModule('features', new Sequential(...layers));
    this.avgpool = new AdaptiveAvgPool2d(spec.grid); // parameter-free: not registered, keeps DeepCluster's keys
    const p = o.dropout ?? 0.5;
    this.classifier = this.registerModule(
      'classifier',
      new Sequential(new Dropout(p), new Linear(inC * spec.grid * spec.grid, hidden), new ReLU(true), new Dropout(p), new Linear(hidden, hidden), new ReLU(true)),
    );
    this.topLayer = (o.numClasses ?? 0) > 0 ? this.registerModule('top_layer', new Linear(hidden, o.numClasses as number)) : undefined;
    this.tapChannels = { conv1: channels[0], conv2: channels[1], conv3: channels[2], conv4: channels[3], conv5: channels[4] };
    this.featureDim = hidden;

    // DeepCluster's initialisation: conv N(0, 2/(k·k·out)), BN 1/0, linear N(0, 0.01) with zero bias.
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d) {
        kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu', generator: o.generator });
        if (m.bias) constant_(m.bias, 0);
      } else if (m instanceof Linear) {
        normal_(m.weight, 0, 0.01, o.generator);
        if (m.bias) constant_(m.bias, 0);
      }
    }
  }

  forwardTaps(x: Tensor, taps: readonly Tap[]): Map<Tap, Tensor> {
    const want = new Set(taps);
    const out = new Map<Tap, Tensor>();
    const names: Tap[] = ['conv1', 'conv2', 'conv3', 'conv4', 'conv5'];
    let y = x;
    this.features.layers.forEach((layer, i) => {
      if (out.size === want.size) return;
      y = layer.forward(y);
      const k = this.#reluIndex.indexOf(i);
      if (k >= 0 && want.has(names[k])) out.set(names[k], y);
    });
    if (want.has('pool') && out.size < want.size) {
      out.set('pool', this.classifier.forward(this.avgpool.forward(y).flatten(1)));
    }
    return out;
  }

  /** The 4096-d (hidden) classifier output: the feature DeepCluster clusters. */
  pooled(x: Tensor): Tensor {
    return this.forwardTaps(x, ['pool']).get('pool') as Tensor;
  }

  forward(x: Tensor): Tensor {
    const f = this.pooled(x);
    return this.topLayer === undefined ? f : this.topLayer.forward(f);
  }
}
