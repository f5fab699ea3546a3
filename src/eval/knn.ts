/**
 * k-nearest-neighbour classification on frozen features: cosine similarity between L2-normalised
 * features, votes of the k most similar training images, either weighted by exp(sim / T) with
 * T = 0.07 (InstDisc; the released kNN benchmark) or a plain majority. Top-1 accuracy.
 */
import * as F from '../nn/functional.ts';
import { onesLike, tensor, zeros } from '../tensor/creation.ts';
import { ShapeError } from '../tensor/errors.ts';
import { keep, noGrad, tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';

export interface KnnOptions {
  ks?: number[];
  temperature?: number;
  /** Test rows per similarity block (a block is [chunk, N] floats). */
  chunk?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface KnnRow {
  k: number;
  weighted: number;
  majority: number;
}

/**
 * Top-1 accuracy of kNN over the test set for each k, weighted and majority voting. Ties in the
 * majority vote go to the lowest class index (argmax's first maximum).
 */
export function knnClassify(trainX: Tensor, trainY: Int32Array, testX: Tensor, testY: Int32Array, numClasses: number, o: KnnOptions = {}): KnnRow[] {
  const ks = o.ks ?? [20, 200];
  const t = o.temperature ?? 0.07;
  const n = trainX.size(0);
  if (trainY.length !== n) throw new ShapeError(`kNN: ${n} training features but ${trainY.length} labels`);
  if (testX.size(1) !== trainX.size(1)) throw new ShapeError(`kNN: training features have ${trainX.size(1)} dims, test features ${testX.size(1)}`);
  const kMax = Math.min(n, Math.max(...ks));
  const chunk = o.chunk ?? 1024;
  const bank = noGrad(() => tidy(() => keep(F.normalize(trainX.float(), { dim: 1 }).t().contiguous())));
  const bankLabels = tensor(trainY, { dtype: 'int64' });
  const correct = ks.map(() => ({ weighted: 0, majority: 0 }));
  try {
    for (let i = 0; i < testX.size(0); i += chunk) {
      const m = Math.min(chunk, testX.size(0) - i);
      noGrad(() =>
        tidy(() => {
          const q = F.normalize(testX.narrow(0, i, m).float(), { dim: 1 });
          const [sim, idx] = q.mm(bank).topk(kMax, 1);
          const neighbours = bankLabels.index([idx]) as Tensor; // [m, kMax] class of each neighbour
          const truth = tensor(testY.subarray(i, i + m), { dtype: 'int64' });
          ks.forEach((k0, j) => {
            const k = Math.min(k0, kMax);
            const lab = neighbours.narrow(1, 0, k);
            const w = sim.narrow(1, 0, k).div(t).exp();
            const weightedVotes = zeros([m, numClasses]).scatterAdd(1, lab, w);
            const counts = zeros([m, numClasses]).scatterAdd(1, lab, onesLike(w));
            correct[j].weighted += weightedVotes.argmax(1).eq(truth).sum().item();
            correct[j].majority += counts.argmax(1).eq(truth).sum().item();
          });
        }),
      );
      o.onProgress?.(i + m, testX.size(0));
    }
  } finally {
    bank.dispose();
    bankLabels.dispose();
  }
  return ks.map((k, j) => ({ k, weighted: correct[j].weighted / testX.size(0), majority: correct[j].majority / testX.size(0) }));
}
