/** The standard layers (torch.nn), with PyTorch's parameter names, shapes and default initialisation. */

import type { Collective } from '../distributed/collective.ts';
import { empty, ones, zeros } from '../tensor/creation.ts';
import { ConfigError } from '../tensor/errors.ts';
import type { Generator } from '../tensor/random.ts';
import { noGrad } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import * as F from './functional.ts';
import { defaultLayerInit_ } from './init.ts';
import { Module } from './module.ts';
import { syncBatchNorm } from './sync_batch_norm.ts';

type Pair = number | [number, number];

function positiveInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`Expected positive integer for ${what} but received ${v}`);
  return v;
}

/** y = x Wᵀ + b; weight [out, in]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | undefined;
  constructor(readonly inFeatures: number, readonly outFeatures: number, o: { bias?: boolean; generator?: Generator } = {}) {
    super();
    positiveInt(inFeatures, 'Linear inFeatures');
    positiveInt(outFeatures, 'Linear outFeatures');
    this.weight = this.registerParameter('weight', empty([outFeatures, inFeatures]));
    this.bias = o.bias === false ? undefined : this.registerParameter('bias', empty([outFeatures]));
    defaultLayerInit_(this.weight, this.bias, o.generator);
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  generator?: Generator;
}

/** 2-D convolution; weight [out, in/groups, kH, kW]. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | undefined;
  readonly options: Required<Omit<Conv2dOptions, 'bias' | 'generator'>>;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: Pair, o: Conv2dOptions = {}) {
    super();
    positiveInt(inChannels, 'Conv2d inChannels');
    positiveInt(outChannels, 'Conv2d outChannels');
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    const groups = o.groups ?? 1;
    if (inChannels % groups || outChannels % groups) throw new ConfigError(`Conv2d: channels ${inChannels}→${outChannels} not divisible by groups ${groups}`);
    this.options = { stride: o.stride ?? 1, padding: o.padding ?? 0, dilation: o.dilation ?? 1, groups };
    this.weight = this.registerParameter('weight', empty([outChannels, inChannels / groups, kh, kw]));
    this.bias = o.bias === false ? undefined : this.registerParameter('bias', empty([outChannels]));
    defaultLayerInit_(this.weight, this.bias, o.generator);
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.options);
  }
}

export interface BatchNormOptions {
  eps?: number;
  /** Weight of the new batch statistic in the running average (PyTorch's convention). */
  momentum?: number;
  affine?: boolean;
  trackRunningStats?: boolean;
}

abstract class BatchNormBase extends Module {
  readonly weight: Tensor | undefined;
  readonly bias: Tensor | undefined;
  readonly runningMean: Tensor | undefined;
  readonly runningVar: Tensor | undefined;
  readonly numBatchesTracked: Tensor | undefined;
  readonly eps: number;
  readonly momentum: number;
  /** Set by useSyncBatchNorm: training-mode statistics over this group's global batch. */
  syncGroup: Collective | undefined;
  constructor(readonly numFeatures: number, o: BatchNormOptions = {}) {
    super();
    positiveInt(numFeatures, `${new.target.name} numFeatures`);
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum ?? 0.1;
    if (o.affine ?? true) {
      this.weight = this.registerParameter('weight', ones([numFeatures]));
      this.bias = this.registerParameter('bias', zeros([numFeatures]));
    }
    if (o.trackRunningStats ?? true) {
      this.runningMean = this.registerBuffer('running_mean', zeros([numFeatures]));
      this.runningVar = this.registerBuffer('running_var', ones([numFeatures]));
      this.numBatchesTracked = this.registerBuffer('num_batches_tracked', zeros([], { dtype: 'int64' }));
    }
  }
  protected abstract checkInput(x: Tensor): void;
  forward(x: Tensor): Tensor {
    this.checkInput(x);
    const useBatchStats = this.training || this.runningMean === undefined;
    if (this.training && this.numBatchesTracked !== undefined) noGrad(() => this.numBatchesTracked?.add_(1));
    if (this.training && this.syncGroup !== undefined) return syncBatchNorm(x, this, this.syncGroup);
    return F.batchNorm(x, this.runningMean, this.runningVar, {
      weight: this.weight, bias: this.bias, training: useBatchStats, momentum: this.momentum, eps: this.eps,
    });
  }
}

/** Makes every BatchNorm layer of `module` compute training statistics over the group's global batch. */
export function useSyncBatchNorm(module: Module, group: Collective): void {
  for (const [, m] of module.namedModules()) if (m instanceof BatchNormBase) m.syncGroup = group;
}

/** Batch normalisation over [N, C] or [N, C, L]. */
export class BatchNorm1d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 2 && x.ndim !== 3) throw new ConfigError(`BatchNorm1d expects [N, C] or [N, C, L], got [${x.shape}]`);
  }
}

/** Batch normalisation over [N, C, H, W]. */
export class BatchNorm2d extends BatchNormBase {
  protected checkInput(x: Tensor): void {
    if (x.ndim !== 4) throw new ConfigError(`BatchNorm2d expects [N, C, H, W], got [${x.shape}]`);
  }
}

export class ReLU extends Module {
  /** In place saves a buffer when the input is not needed afterwards (as torchvision's ReLU(inplace=True)). */
  constructor(readonly inplace = false) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.inplace ? x.relu_() : x.relu();
  }
}

export class MaxPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly o: { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean } = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.o);
  }
}

export class AvgPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly o: { stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {}) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.o);
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** Zeroes activations with probability p in training mode (scaling the rest by 1/(1-p)). */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new ConfigError(`Expected a probability in [0, 1] for Dropout p but received ${p}`);
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}

export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Children named '0', '1', ... applied in order (PyTorch's nn.Sequential keys). */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.registerModule(String(i), m));
  }
  /** Intermediate outputs are released as they are consumed (autograd keeps what backward needs). */
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) {
      const next = m.forward(y);
      if (y !== x && next !== y) y.dispose();
      y = next;
    }
    return y;
  }
}
