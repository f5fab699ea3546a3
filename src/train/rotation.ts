/**
 * Rotation prediction (Gidaris et al., ICLR 2018, "Unsupervised representation learning by
 * predicting image rotations"): every image is shown at 0, 90, 180 and 270 degrees and a linear
 * head on the pooled backbone feature predicts which. The paper's Table 4 fine-tunes such a model.
 */
import type { Batch } from '../data/loader.ts';
import * as F from '../nn/functional.ts';
import { arange, cat } from '../tensor/creation.ts';
import { ShapeError } from '../tensor/errors.ts';
import { tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { AlgorithmContext, StepResult } from './algorithm.ts';
import { PretextAlgorithm } from './pretext.ts';

/** The classes: 0, 90, 180, 270 degrees counter-clockwise. */
export const ROTATIONS = 4;

/** `x` [B, C, S, S] turned k quarter turns counter-clockwise (torch.rot90(x, k, (2, 3))). */
export function rot90(x: Tensor, k: number): Tensor {
  return tidy(() => {
    const q = ((k % 4) + 4) % 4;
    if (q === 0) return x.clone();
    if (q === 2) return x.flip(2, 3);
    return q === 1 ? x.flip(3).transpose(2, 3).contiguous() : x.transpose(2, 3).flip(3);
  });
}

/** The batch at the four rotations, [4B, C, S, S] grouped by rotation, and its targets [4B] (0..3). */
export function rotationBatch(x: Tensor): { images: Tensor; target: Tensor } {
  const [b, , h, w] = x.shape;
  if (h !== w) throw new ShapeError(`rotation: images must be square to be rotated by 90 degrees, got [${x.shape}]`);
  return tidy(() => ({
    images: cat([0, 1, 2, 3].map((k) => rot90(x, k))),
    target: arange(0, ROTATIONS * b).div(b, 'floor').long(),
  }));
}

export class RotationAlgorithm extends PretextAlgorithm {
  step(ctx: AlgorithmContext, batch: Batch): StepResult {
    const { images, target } = rotationBatch(batch.images);
    const logits = ctx.model.forward(images);
    return { loss: F.crossEntropy(logits, target), target, logits };
  }
}
