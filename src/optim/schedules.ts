/** Learning-rate schedules as pure functions of training progress, returning a factor of the initial lr. */

/** Progress in epochs: 2.5 is the middle of the third epoch. */
export type Schedule = (epoch: number) => number;

/** 1 throughout. */
export const constantLr = (): Schedule => () => 1;

/** gamma^k after the k-th milestone (epochs), as torch MultiStepLR (the reference: steps [400], gamma 0.4). */
export function stepLr(milestones: number[], gamma = 0.1): Schedule {
  const sorted = [...milestones].sort((a, b) => a - b);
  return (epoch) => gamma ** sorted.filter((m) => Math.floor(epoch) >= m).length;
}

/** Half-cosine from 1 to `minFactor` over `total` epochs (per iteration when given fractional epochs). */
export function cosineLr(total: number, minFactor = 0, warmupEpochs = 0): Schedule {
  return (epoch) => {
    if (epoch < warmupEpochs) return (epoch + 1e-9) / warmupEpochs;
    const t = Math.min(1, (epoch - warmupEpochs) / Math.max(1e-9, total - warmupEpochs));
    return minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * t));
  };
}
