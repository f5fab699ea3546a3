/** Small helpers shared by the clustering code. */
import { tensor } from '../tensor/creation.ts';
import type { Tensor } from '../tensor/tensor.ts';

export type { Tensor };

/** An int64 index tensor from JS numbers. */
export function tensorFromIndices(ix: ArrayLike<number>): Tensor {
  return tensor(BigInt64Array.from(Array.from(ix, (v) => BigInt(v))));
}
