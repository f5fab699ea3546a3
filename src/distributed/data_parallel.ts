/**
 * How work is split among the processes of a data-parallel run, the same way on every rank:
 * contiguous shards of a data set (extraction), contiguous slices of each global batch (training),
 * and gathering the shards' results back into one tensor.
 */
import type { Module } from '../nn/module.ts';
import { cat, zeros } from '../tensor/creation.ts';
import { noGrad, tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { Collective } from './collective.ts';

/** Rank `rank`'s contiguous share [start, end) of n items: ceil(n / W) each, the last ones shorter. */
export function shardOf(n: number, rank: number, worldSize: number): { start: number; end: number } {
  const per = Math.ceil(n / worldSize);
  const start = Math.min(n, rank * per);
  return { start, end: Math.min(n, start + per) };
}

/**
 * The rows of every rank's shard (`local`: [end - start, ...] of shardOf(n)) gathered in rank order
 * into one [n, ...] tensor on every rank. Shards are padded to one size for the all-gather.
 */
export function gatherShards(group: Collective, local: Tensor, n: number): Tensor {
  return noGrad(() =>
    tidy(() => {
      const per = Math.ceil(n / group.worldSize);
      const rows = local.size(0);
      const padded = rows === per ? local : cat([local, zeros([per - rows, ...local.shape.slice(1)], { dtype: local.dtype })]);
      const all = group.allGatherStacked(padded.contiguous());
      return all.reshape(group.worldSize * per, ...local.shape.slice(1)).narrow(0, 0, n).contiguous();
    }),
  );
}

/**
 * An epoch's sampling order padded (by repeating its head, as PyTorch's DistributedSampler) to a
 * multiple of the world size, so that every global batch splits into equal slices.
 */
export function padToMultiple(order: Int32Array, worldSize: number): Int32Array {
  const rem = order.length % worldSize;
  if (rem === 0) return order;
  const out = new Int32Array(order.length + worldSize - rem);
  out.set(order);
  for (let i = order.length; i < out.length; i++) out[i] = order[(i - order.length) % order.length];
  return out;
}

/** Makes every rank's parameters and buffers equal to rank 0's. */
export function broadcastModule(group: Collective, module: Module): void {
  if (group.worldSize === 1) return;
  noGrad(() => {
    for (const t of module.stateDict().values()) group.broadcast(t, 0);
  });
}
