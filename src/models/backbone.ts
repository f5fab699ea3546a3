/** What every backbone offers: intermediate feature taps for layer-wise evaluation and a pooled feature. */
import type { Module } from '../nn/module.ts';
import type { Tensor } from '../tensor/tensor.ts';

/** conv1..conv5: the five stages (ResNet: stem and the four residual stages; AlexNet: the five convs). */
export type Tap = 'conv1' | 'conv2' | 'conv3' | 'conv4' | 'conv5' | 'pool';
export const CONV_TAPS: readonly Tap[] = ['conv1', 'conv2', 'conv3', 'conv4', 'conv5'];

export interface Backbone extends Module {
  /** Channels of each tap's feature map, and the size of the pooled feature. */
  readonly tapChannels: Record<Exclude<Tap, 'pool'>, number>;
  readonly featureDim: number;
  /** The requested taps of one forward pass ('pool' is the pooled feature the neck consumes). */
  forwardTaps(x: Tensor, taps: readonly Tap[]): Map<Tap, Tensor>;
  /** The pooled feature [N, featureDim] (no classifier). */
  pooled(x: Tensor): Tensor;
}
