/**
 * NPID's neck: one linear map from the pooled backbone feature to the 128-d embedding the memory
 * bank holds (the released LinearNeck: weights N(0, 0.01²), zero bias). The caller L2-normalises.
 */
import { constant_, normal_ } from '../nn/init.ts';
import { Linear } from '../nn/layers.ts';
import { Module } from '../nn/module.ts';
import type { Generator } from '../tensor/random.ts';
import type { Tensor } from '../tensor/tensor.ts';

export class LinearNeck extends Module {
  readonly fc: Linear;
  constructor(readonly inChannels: number, readonly outChannels: number, generator?: Generator) {
    super();
    this.fc = this.registerModule('fc', new Linear(inChannels, outChannels));
    normal_(this.fc.weight, 0, 0.01, generator);
    if (this.fc.bias) constant_(this.fc.bias, 0);
  }
  forward(x: Tensor): Tensor {
    return this.fc.forward(x);
  }
}
