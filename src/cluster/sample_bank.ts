/**
 * A bank of one unit-length feature per image, updated by momentum: what ODC's samples memory
 * holds beside its labels (paper Eq. 2) and what NPID's memory bank is (Wu et al., 2018, the
 * origin of ODC's samples memory). Both store it as `memory.features` in checkpoints.
 */
import { randn, zeros } from '../tensor/creation.ts';
import { ConfigError } from '../tensor/errors.ts';
import type { Generator } from '../tensor/random.ts';
import { keep, noGrad, tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { tensorFromIndices } from './tensor_util.ts';

const EPS = 1e-10;

/** Rows divided by their L2 norm (+1e-10, as the released code). */
export function unitRows(x: Tensor): Tensor {
  return tidy(() => x.div(x.norm(2, 1, true).add(EPS)));
}

/**
 * Eq. 2: the bank rows `old` [B, D] moved towards the unit batch features by `momentum` (the weight
 * of the new feature: 0.5 in ODC and in NPID), re-normalised.
 */
export function blendFeatures(old: Tensor, feats: Tensor, momentum: number): Tensor {
  return tidy(() => unitRows(old.mul(1 - momentum).add(unitRows(feats), momentum)));
}

/**
 * For a batch of indices with repeats, the distinct indices and, for each, the batch row of its
 * last occurrence; [index, undefined] when there are no repeats (the common case).
 */
export function lastOccurrence(index: Tensor): [Tensor, Tensor | undefined] {
  const ix = index.toArray();
  const last = new Map<number, number>();
  for (const [row, v] of ix.entries()) last.set(v, row);
  if (last.size === ix.length) return [index, undefined];
  return [tensorFromIndices([...last.keys()]), tensorFromIndices([...last.values()])];
}

export class SampleBank {
  /** [N, D] float32, unit rows. */
  readonly features: Tensor;

  constructor(readonly length: number, readonly featDim: number, readonly momentum = 0.5) {
    if (!(momentum > 0 && momentum <= 1)) throw new ConfigError(`Expected memory momentum in (0, 1] but received ${momentum}`);
    this.features = keep(zeros([length, featDim]));
  }

  /** Random unit rows (NPID's start: a Gaussian draw, normalised). */
  fillRandom(generator?: Generator): void {
    noGrad(() => tidy(() => this.features.copy_(unitRows(randn([this.length, this.featDim], { generator })))));
  }

  /** Eq. 2 for the rows `index` [B] int64 with raw features [B, D]; repeated indices: the last one wins. */
  update(index: Tensor, feats: Tensor): void {
    noGrad(() =>
      tidy(() => {
        const fresh = blendFeatures(this.features.indexSelect(0, index), feats, this.momentum);
        const [uniq, rows] = lastOccurrence(index);
        this.features.indexCopy_(0, uniq, rows === undefined ? fresh : fresh.indexSelect(0, rows));
      }),
    );
  }

  dispose(): void {
    this.features.dispose();
  }
}
