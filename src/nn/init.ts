/** Weight initialisations (torch.nn.init), in place and without autograd; each takes an optional generator. */
import type { Generator } from '../tensor/random.ts';
import { noGrad } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';

export type Nonlinearity = 'linear' | 'conv2d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu';
export type FanMode = 'fan_in' | 'fan_out';

/** fan_in = in_channels × receptive field, fan_out = out_channels × receptive field. */
export function fans(t: Tensor): { fanIn: number; fanOut: number } {
  const s = t.shape;
  if (s.length < 2) throw new RangeError(`fan in/out needs a tensor of at least 2 dimensions, got [${s}]`);
  const receptive = s.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: s[1] * receptive, fanOut: s[0] * receptive };
}

/** The recommended gain of a nonlinearity (torch.nn.init.calculate_gain). */
export function gain(nonlinearity: Nonlinearity, a = 0.01): number {
  switch (nonlinearity) {
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': return Math.sqrt(2 / (1 + a * a));
    case 'tanh': return 5 / 3;
    default: return 1;
  }
}

/**
 * In-place sampling with an optional (CPU) generator: a tensor on another device receives the
 * CPU draw, so a seeded model starts with the same weights on every device.
 */
function sampled_(t: Tensor, generator: Generator | undefined, draw: (x: Tensor) => Tensor): Tensor {
  return noGrad(() => {
    if (generator === undefined || t.device === 'cpu') return draw(t);
    const host = t.to({ device: 'cpu', copy: true });
    try {
      draw(host);
      t.copy_(host);
    } finally {
      host.dispose();
    }
    return t;
  });
}

interface KaimingOptions {
  a?: number;
  mode?: FanMode;
  nonlinearity?: Nonlinearity;
  generator?: Generator;
}

/** U(-b, b) with b = gain · sqrt(3 / fan). PyTorch's Linear/Conv default is a = sqrt(5), leaky_relu, fan_in. */
export function kaimingUniform_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  const fan = (o.mode ?? 'fan_in') === 'fan_in' ? fanIn : fanOut;
  const bound = gain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) * Math.sqrt(3 / fan);
  return sampled_(t, o.generator, (x) => x.uniform_(-bound, bound, o.generator));
}

/** N(0, std²) with std = gain / sqrt(fan). */
export function kaimingNormal_(t: Tensor, o: KaimingOptions = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  const fan = (o.mode ?? 'fan_in') === 'fan_in' ? fanIn : fanOut;
  const std = gain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(fan);
  return sampled_(t, o.generator, (x) => x.normal_(0, std, o.generator));
}

export function xavierUniform_(t: Tensor, o: { gain?: number; generator?: Generator } = {}): Tensor {
  const { fanIn, fanOut } = fans(t);
  const bound = (o.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return sampled_(t, o.generator, (x) => x.uniform_(-bound, bound, o.generator));
}

export function uniform_(t: Tensor, a = 0, b = 1, generator?: Generator): Tensor {
  return sampled_(t, generator, (x) => x.uniform_(a, b, generator));
}
export function normal_(t: Tensor, mean = 0, std = 1, generator?: Generator): Tensor {
  return sampled_(t, generator, (x) => x.normal_(mean, std, generator));
}
export function constant_(t: Tensor, value: number): Tensor {
  return noGrad(() => t.fill_(value));
}
export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}
export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/** PyTorch's default for Linear and Conv: kaiming-uniform(a = √5) weight, bias U(±1/√fan_in). */
export function defaultLayerInit_(weight: Tensor, bias: Tensor | undefined, generator?: Generator): void {
  kaimingUniform_(weight, { a: Math.sqrt(5), generator });
  if (bias !== undefined) {
    const bound = 1 / Math.sqrt(fans(weight).fanIn);
    uniform_(bias, -bound, bound, generator);
  }
}
