/**
 * DeepCluster's Sobel input filter: a fixed grayscale conversion (1x1 conv, weights 1/3; identity for
 * one-channel input) followed by the two fixed 3x3 Sobel kernels, giving a 2-channel edge image.
 * Not trainable; applied inside the model (also at feature extraction).
 */
import * as F from '../nn/functional.ts';
import { Module } from '../nn/module.ts';
import { tensor } from '../tensor/creation.ts';
import type { Tensor } from '../tensor/tensor.ts';

export class Sobel extends Module {
  readonly gray: Tensor | undefined;
  readonly kernels: Tensor;
  constructor(readonly inChannels: number) {
    super();
    this.gray = inChannels === 1 ? undefined : this.registerBuffer('gray', tensor(new Float32Array(inChannels).fill(1 / 3), { shape: [1, inChannels, 1, 1] }));
    this.kernels = this.registerBuffer(
      'kernels',
      tensor([[[[1, 0, -1], [2, 0, -2], [1, 0, -1]]], [[[1, 2, 1], [0, 0, 0], [-1, -2, -1]]]]),
    );
  }
  forward(x: Tensor): Tensor {
    const g = this.gray === undefined ? x : F.conv2d(x, this.gray);
    return F.conv2d(g, this.kernels, undefined, { padding: 1 });
  }
}
