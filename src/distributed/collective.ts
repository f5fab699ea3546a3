/**
 * What training needs from a group of processes, so that one loop serves one process and many:
 * a ProcessGroup (c10d) implements it, and `singleProcess` is the group of one, where every
 * collective is the identity. Shapes and results are the same either way.
 */
import { noGrad } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';

export type CollectiveReduceOp = 'sum' | 'avg' | 'product' | 'min' | 'max';

export interface Collective {
  readonly rank: number;
  readonly worldSize: number;
  /** Processes on this machine (threads are divided among them). */
  readonly localWorldSize: number;
  /** This process's index among them (its GPU under `--device cuda`). */
  readonly localRank: number;
  /** Milliseconds this process has spent in collectives (for the communication share of a run). */
  readonly commMs: number;
  /** Reduces `t` in place over the group; returns `t`. */
  allReduce(t: Tensor, op?: CollectiveReduceOp): Tensor;
  /** Every rank's `t` stacked along a new first dimension (a new tensor). */
  allGatherStacked(t: Tensor): Tensor;
  /** Overwrites `t` with rank `root`'s; returns `t`. */
  broadcast(t: Tensor, root?: number): Tensor;
  barrier(): void;
  /** The sum of `t` over the group as a new tensor whose gradient is summed over the group too. */
  sumDifferentiable(t: Tensor): Tensor;
  /**
   * loss.backward(), leaving in each parameter's gradient the mean over the group (in buckets of
   * `bucketBytes`, sent while backward runs when `overlap`). Returns ms waited after backward.
   */
  backwardAveraged(loss: Tensor, params: Tensor[], o?: { bucketBytes?: number; overlap?: boolean }): number;
}

/** The group of one process: every collective is the identity (allGatherStacked adds the leading 1). */
export const singleProcess: Collective = {
  rank: 0,
  worldSize: 1,
  localWorldSize: 1,
  localRank: 0,
  commMs: 0,
  allReduce: (t) => t,
  allGatherStacked: (t) => noGrad(() => t.detach().unsqueeze(0).clone()),
  broadcast: (t) => t,
  barrier: () => {},
  sumDifferentiable: (t) => t,
  backwardAveraged: (loss) => {
    loss.backward();
    return 0;
  },
};
