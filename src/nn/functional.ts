/** Stateless neural-network functions (torch.nn.functional), each one ATen operator unless noted. */
import { assert, ShapeError } from '../tensor/errors.ts';
import { aten, type Tensor, wrap } from '../tensor/tensor.ts';

type Pair = number | [number, number];
const REDUCTIONS = { none: 0, mean: 1, sum: 2 } as const;
export type Reduction = keyof typeof REDUCTIONS;

const conv2dOp = aten('conv2d');
const linearOp = aten('linear');
const batchNormOp = aten('batch_norm');
const dropoutOp = aten('dropout');
const maxPool2dOp = aten('max_pool2d');
const avgPool2dOp = aten('avg_pool2d');
const adaptiveAvgPool2dOp = aten('adaptive_avg_pool2d');
const crossEntropyOp = aten('cross_entropy_loss');
const nllLossOp = aten('nll_loss');
const mseLossOp = aten('mse_loss');
const upsampleBilinearOp = aten('upsample_bilinear2d', 'vec');
const upsampleNearestOp = aten('upsample_nearest2d', 'vec');
const gridSamplerOp = aten('grid_sampler');
const affineGridOp = aten('affine_grid_generator');
const padOp = aten('constant_pad_nd');
const oneHotOp = aten('one_hot');

/** 2-D convolution. x: [N, C, H, W], weight: [O, C/groups, kH, kW]. */
export function conv2d(
  x: Tensor, weight: Tensor, bias?: Tensor,
  o: { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number } = {},
): Tensor {
  return wrap(conv2dOp(x, weight, bias, o.stride ?? 1, o.padding ?? 0, o.dilation ?? 1, o.groups ?? 1));
}

/** y = x Wᵀ + b. x: [..., in], weight: [out, in]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  return wrap(linearOp(x, weight, bias));
}

/**
 * Batch normalisation. In training mode it normalises with batch statistics and updates the running
 * buffers in place (running = (1 - momentum) * running + momentum * batch, unbiased variance).
 */
export function batchNorm(
  x: Tensor, runningMean: Tensor | undefined, runningVar: Tensor | undefined,
  o: { weight?: Tensor; bias?: Tensor; training: boolean; momentum?: number; eps?: number },
): Tensor {
  return wrap(batchNormOp(x, o.weight, o.bias, runningMean, runningVar, o.training, o.momentum ?? 0.1, o.eps ?? 1e-5, true));
}

/** Zeroes each element with probability p and scales the rest by 1/(1-p) when training. */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  assert(p >= 0 && p <= 1, () => `dropout: p must be in [0, 1], got ${p}`);
  return wrap(dropoutOp(x, p, training));
}

export function relu(x: Tensor): Tensor {
  return x.relu();
}

export function maxPool2d(x: Tensor, kernel: Pair, o: { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean } = {}): Tensor {
  return wrap(maxPool2dOp(x, kernel, o.stride ?? kernel, o.padding ?? 0, o.dilation ?? 1, o.ceilMode ?? false));
}

export function avgPool2d(
  x: Tensor, kernel: Pair,
  o: { stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {},
): Tensor {
  return wrap(avgPool2dOp(x, kernel, o.stride ?? kernel, o.padding ?? 0, o.ceilMode ?? false, o.countIncludePad ?? true, undefined));
}

export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  return wrap(adaptiveAvgPool2dOp(x, outputSize));
}

export function softmax(x: Tensor, dim: number): Tensor {
  return x.softmax(dim);
}
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return x.logSoftmax(dim);
}

/**
 * Cross-entropy of logits [N, C] against class indices [N] (int64). With per-class `weight` and mean
 * reduction it is Σ w_y·CE / Σ w_y, as torch.nn.CrossEntropyLoss.
 */
export function crossEntropy(
  logits: Tensor, target: Tensor,
  o: { weight?: Tensor; reduction?: Reduction; ignoreIndex?: number; labelSmoothing?: number } = {},
): Tensor {
  return wrap(crossEntropyOp(logits, target, o.weight, REDUCTIONS[o.reduction ?? 'mean'], o.ignoreIndex ?? -100, o.labelSmoothing ?? 0));
}

export function nllLoss(logProbs: Tensor, target: Tensor, o: { weight?: Tensor; reduction?: Reduction; ignoreIndex?: number } = {}): Tensor {
  return wrap(nllLossOp(logProbs, target, o.weight, REDUCTIONS[o.reduction ?? 'mean'], o.ignoreIndex ?? -100));
}

export function mseLoss(x: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return wrap(mseLossOp(x, target, REDUCTIONS[reduction]));
}

/**
 * Rows divided by their p-norm, x / max(‖x‖_p, eps) along `dim` (torch.nn.functional.normalize).
 * Composed of ATen ops, so autograd differentiates it; a finite-difference test covers it.
 */
export function normalize(x: Tensor, o: { p?: number; dim?: number; eps?: number } = {}): Tensor {
  const norm = x.norm(o.p ?? 2, o.dim ?? 1, true);
  const clamped = norm.clampMin(o.eps ?? 1e-12);
  const denom = clamped.expandAs(x);
  const y = x.div(denom);
  norm.dispose();
  clamped.dispose();
  denom.dispose();
  return y;
}

/** One-hot encoding of int64 class indices. */
export function oneHot(x: Tensor, numClasses = -1): Tensor {
  return wrap(oneHotOp(x, numClasses));
}

/** Resizes [N, C, H, W] images (bilinear or nearest). */
export function interpolate(x: Tensor, size: [number, number], mode: 'bilinear' | 'nearest' = 'bilinear', alignCorners = false): Tensor {
  if (x.ndim !== 4) throw new ShapeError(`interpolate expects [N, C, H, W], got [${x.shape}]`);
  return wrap(mode === 'bilinear' ? upsampleBilinearOp(x, size, alignCorners, undefined) : upsampleNearestOp(x, size, undefined));
}

/** Sampling grid [N, H, W, 2] for a batch of 2x3 affine matrices theta [N, 2, 3]. */
export function affineGrid(theta: Tensor, size: [number, number, number, number], alignCorners = false): Tensor {
  return wrap(affineGridOp(theta, size, alignCorners));
}

const GRID_MODES = { bilinear: 0, nearest: 1, bicubic: 2 } as const;
const GRID_PADDING = { zeros: 0, border: 1, reflection: 2 } as const;
/** Samples x at grid locations in [-1, 1] (torch.nn.functional.grid_sample). */
export function gridSample(
  x: Tensor, grid: Tensor,
  o: { mode?: keyof typeof GRID_MODES; padding?: keyof typeof GRID_PADDING; alignCorners?: boolean } = {},
): Tensor {
  return wrap(gridSamplerOp(x, grid, GRID_MODES[o.mode ?? 'bilinear'], GRID_PADDING[o.padding ?? 'zeros'], o.alignCorners ?? false));
}

/** Constant padding; `pad` lists (before, after) pairs from the last dimension backwards. */
export function pad(x: Tensor, padding: number[], value = 0): Tensor {
  return wrap(padOp(x, padding, value));
}
