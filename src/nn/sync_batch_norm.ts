/**
 * BatchNorm over the global batch of a data-parallel run (PyTorch's SyncBatchNorm): each process
 * sums its slice's per-channel count, Σx and Σx²; one differentiable all-reduce makes them the
 * global batch's, whose gradient is in turn summed over the processes in backward, so each
 * process's input gradient has every process's share. With the gradients then averaged over the
 * processes, one step equals that of one process on the whole global batch.
 */

import type { Collective } from '../distributed/collective.ts';
import { cat } from '../tensor/creation.ts';
import type { Device } from '../tensor/dtype.ts';
import { noGrad } from '../tensor/scope.ts';
import { full, type Tensor } from '../tensor/tensor.ts';

export interface BatchNormState {
  weight: Tensor | undefined;
  bias: Tensor | undefined;
  runningMean: Tensor | undefined;
  runningVar: Tensor | undefined;
  eps: number;
  momentum: number;
}

/** Training-mode batch normalisation of x ([N, C], [N, C, L] or [N, C, H, W]) with statistics over the group. */
export function syncBatchNorm(x: Tensor, bn: BatchNormState, group: Collective): Tensor {
  const c = x.size(1);
  const dims = [0, ...Array.from({ length: x.ndim - 2 }, (_, i) => i + 2)];
  const count = x.numel / c;
  const local = cat([x.sum(dims), x.square().sum(dims), full([1], count, { dtype: x.dtype, device: x.device as Device })]);
  const total = group.sumDifferentiable(local);
  const n = total.narrow(0, 2 * c, 1);
  const mean = total.narrow(0, 0, c).div(n);
  const variance = total.narrow(0, c, c).div(n).sub(mean.square()).clampMin(0);
  const shape = [1, c, ...Array.from({ length: x.ndim - 2 }, () => 1)];
  let y = x.sub(mean.reshape(...shape)).mul(variance.add(bn.eps).rsqrt().reshape(...shape));
  if (bn.weight !== undefined) y = y.mul(bn.weight.reshape(...shape));
  if (bn.bias !== undefined) y = y.add(bn.bias.reshape(...shape));
  if (bn.runningMean !== undefined && bn.runningVar !== undefined) {
    const { runningMean, runningVar } = bn;
    noGrad(() => {
      const m = bn.momentum;
      const total = n.item();
      runningMean.mul_(1 - m).add_(mean.detach(), m);
      runningVar.mul_(1 - m).add_(variance.detach().mul(total / Math.max(1, total - 1)), m);
    });
  }
  return y;
}
