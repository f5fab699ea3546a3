/**
 * ODC neck: fc-bn-relu-dropout-fc-relu, mapping the backbone's pooled feature to the compact
 * 256-d feature the memories hold (the released NonLinearNeckV0 / ODCNeck: BN momentum 0.001,
 * no affine parameters, dropout 0.5, non-negative output).
 */

import { constant_, kaimingNormal_, normal_ } from '../nn/init.ts';
import { BatchNorm1d, Dropout, Linear } from '../nn/layers.ts';
import { Module } from '../nn/module.ts';
import type { Generator } from '../tensor/random.ts';
import type { Tensor } from '../tensor/tensor.ts';

export interface OdcNeckOptions {
  inChannels: number;
  hidChannels?: number;
  outChannels?: number;
  dropout?: number;
  generator?: Generator;
}

export class OdcNeck extends Module {
  readonly fc0: Linear;
  readonly bn0: BatchNorm1d;
  readonly dropout: Dropout;
  readonly fc1: Linear;
  readonly outChannels: number;
  constructor(o: OdcNeckOptions) {
    super();
    const hid = o.hidChannels ?? 512;
    this.outChannels = o.outChannels ?? 256;
    this.fc0 = this.registerModule('fc0', new Linear(o.inChannels, hid));
    this.bn0 = this.registerModule('bn0', new BatchNorm1d(hid, { momentum: 0.001, affine: false }));
    this.dropout = this.registerModule('dropout', new Dropout(o.dropout ?? 0.5));
    this.fc1 = this.registerModule('fc1', new Linear(hid, this.outChannels));
    // The released code: kaiming-normal (fan_in, relu) linear weights, zero bias.
    for (const fc of [this.fc0, this.fc1]) {
      kaimingNormal_(fc.weight, { mode: 'fan_in', nonlinearity: 'relu', generator: o.generator });
      if (fc.bias) constant_(fc.bias, 0);
    }
  }
  /** x: [N, inChannels] pooled backbone feature → [N, outChannels], non-negative. */
  forward(x: Tensor): Tensor {
    const h = this.dropout.forward(this.bn0.forward(this.fc0.forward(x)).relu_());
    return this.fc1.forward(h).relu_();
  }
}

/** The linear classifier over the clusters; re-initialised N(0, 0.01²), zero bias, as the released ClsHead. */
export class ClsHead extends Module {
  readonly fc: Linear;
  constructor(readonly inChannels: number, readonly numClasses: number, generator?: Generator) {
    super();
    this.fc = this.registerModule('fc', new Linear(inChannels, numClasses));
    this.reset(generator);
  }
  reset(generator?: Generator): void {
    normal_(this.fc.weight, 0, 0.01, generator);
    if (this.fc.bias) constant_(this.fc.bias, 0);
  }
  forward(x: Tensor): Tensor {
    return this.fc.forward(x);
  }
}
