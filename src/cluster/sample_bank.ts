/**
 * A bank of one unit-length feature per image, updated by momentum: what ODC's samples memory
 * holds beside its labels (paper Eq. 2) and what NPID's memory bank is (Wu et al., 2018, the
 * origin of ODC's samples memory). Both store it as `memory.features` in checkpoints.
 */
import { arange, randn, zeros } from '../tensor/creation.ts';
import type { Device } from '../tensor/dtype.ts';
import { ConfigError } from '../tensor/errors.ts';
import type { Generator } from '../tensor/random.ts';
import { keep, noGrad, tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';

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
 * For a batch of sample indices [B] (int64) that may repeat: the batch row of each entry's last
 * occurrence, `last` [B] int64, and whether a row is that occurrence, `isLast` [B] bool. Made by
 * tensor ops (a B x B comparison), so nothing is read back from the device: writing
 * `x.indexSelect(0, last)` at `index` makes every repeat write the last one's value, and sums
 * weighted by `isLast` count each sample once.
 */
export function lastOccurrence(index: Tensor): { last: Tensor; isLast: Tensor } {
  return tidy(() => {
    const row = arange(index.numel, undefined, 1, { device: index.device as Device });
    // same[i, j] * j is largest at the last j holding i's index (j = i at least, and every j >= 0)
    const last = index.unsqueeze(1).eq(index.unsqueeze(0)).long().mul(row.unsqueeze(0)).max(1)[0];
    return { last, isLast: last.eq(row) };
  });
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
        this.features.indexCopy_(0, index, fresh.indexSelect(0, lastOccurrence(index).last));
      }),
    );
  }

  dispose(): void {
    this.features.dispose();
  }
}
