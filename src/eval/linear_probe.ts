/**
 * Linear probe on frozen features (the paper's Tables 1-2 protocol, scaled to small data): features
 * standardised with the training set's per-dimension mean and standard deviation (the released
 * heads put a BatchNorm without affine parameters before the classifier; at convergence that is
 * this standardisation), one linear layer (weights N(0, 0.01²), zero bias), SGD with Nesterov
 * momentum 0.9, batch 256, weight decay, learning rate divided by 10 at the milestones; top-1 on the
 * test split after the last epoch (as the released multi-head benchmark reports).
 */
import { makeRng, shuffleInPlace } from '../data/rng.ts';
import * as F from '../nn/functional.ts';
import { Linear } from '../nn/layers.ts';
import { SGD } from '../optim/sgd.ts';
import { tensor } from '../tensor/creation.ts';
import { ShapeError } from '../tensor/errors.ts';
import { Generator } from '../tensor/random.ts';
import { keep, noGrad, tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';

export interface LinearProbeOptions {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  /** Epoch fractions at which the lr drops 10x (default 0.6 and 0.8 of the epochs). */
  milestones?: number[];
  seed?: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

export interface LinearProbeResult {
  top1: number;
  top5: number;
  trainLoss: number;
  epochs: number;
  dims: number;
}

/** Per-dimension mean and 1/std over the rows of x (any float dtype), in float32, chunked. */
function standardiser(x: Tensor, chunk = 8192): { mean: Tensor; invStd: Tensor } {
  return tidy(() => {
    const n = x.size(0);
    let sum = x.narrow(0, 0, 0).float().sum(0).double();
    let sq = sum.clone();
    for (let i = 0; i < n; i += chunk) {
      const b = x.narrow(0, i, Math.min(chunk, n - i)).double();
      sum = sum.add(b.sum(0));
      sq = sq.add(b.square().sum(0));
    }
    const mean = sum.div(n);
    const variance = sq.div(n).sub(mean.square()).clampMin(0);
    return { mean: keep(mean.float()), invStd: keep(variance.add(1e-5).rsqrt().float()) };
  });
}

function batchOf(x: Tensor, rows: Tensor, mean: Tensor, invStd: Tensor): Tensor {
  return x.indexSelect(0, rows).float().sub(mean).mul(invStd);
}

/** Top-1 and top-5 accuracy of `classify` over (x, y) in chunks. */
export function accuracy(x: Tensor, y: Int32Array, classify: (xb: Tensor) => Tensor, chunk = 2048): { top1: number; top5: number } {
  let c1 = 0;
  let c5 = 0;
  for (let i = 0; i < x.size(0); i += chunk) {
    const n = Math.min(chunk, x.size(0) - i);
    noGrad(() =>
      tidy(() => {
        const logits = classify(x.narrow(0, i, n));
        const k = Math.min(5, logits.size(1));
        const top = logits.topk(k, 1)[1].data<BigInt64Array>();
        for (let r = 0; r < n; r++) {
          const truth = BigInt(y[i + r]);
          if (top[r * k] === truth) c1++;
          for (let j = 0; j < k; j++) if (top[r * k + j] === truth) c5++;
        }
      }),
    );
  }
  return { top1: c1 / x.size(0), top5: c5 / x.size(0) };
}

/**
 * Trains a linear classifier on (trainX, trainY) and reports accuracy on (testX, testY). Features
 * may be float16 (converted per batch).
 */
export function linearProbe(trainX: Tensor, trainY: Int32Array, testX: Tensor, testY: Int32Array, numClasses: number, o: LinearProbeOptions = {}): LinearProbeResult {
  const n = trainX.size(0);
  const d = trainX.size(1);
  if (trainY.length !== n) throw new ShapeError(`linear probe: ${n} training features but ${trainY.length} labels`);
  if (testX.size(1) !== d) throw new ShapeError(`linear probe: training features have ${d} dims, test features ${testX.size(1)}`);
  const epochs = o.epochs ?? 10;
  const batchSize = o.batchSize ?? 256;
  const milestones = (o.milestones ?? [0.6, 0.8]).map((f) => Math.round(f * epochs));
  const { mean, invStd } = standardiser(trainX);
  const gen = new Generator(o.seed ?? 0);
  const fc = new Linear(d, numClasses, { generator: gen });
  noGrad(() => {
    fc.weight.normal_(0, 0.01, gen);
    fc.bias?.zero_();
  });
  const opt = new SGD([{ params: fc.namedParameters() }], { lr: o.lr ?? 0.01, momentum: o.momentum ?? 0.9, nesterov: true, weightDecay: o.weightDecay ?? 1e-4 });
  const labels = tensor(trainY, { dtype: 'int64' });
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const rng = makeRng(o.seed ?? 0);
  let lastLoss = Number.NaN;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      opt.setLrFactor(0.1 ** milestones.filter((m) => epoch >= m).length);
      shuffleInPlace(order, rng);
      let sum = 0;
      let batches = 0;
      for (let i = 0; i < n; i += batchSize) {
        const rowsArr = order.subarray(i, Math.min(n, i + batchSize));
        const loss = tidy(() => {
          const rows = tensor(rowsArr, { dtype: 'int64' });
          const l = F.crossEntropy(fc.forward(batchOf(trainX, rows, mean, invStd)), labels.indexSelect(0, rows));
          opt.zeroGrad();
          l.backward();
          opt.step();
          return l.item();
        });
        sum += loss;
        batches++;
      }
      lastLoss = sum / batches;
      o.onEpoch?.(epoch + 1, lastLoss);
    }
    const acc = accuracy(testX, testY, (xb) => fc.forward(xb.float().sub(mean).mul(invStd)));
    return { ...acc, trainLoss: lastLoss, epochs, dims: d };
  } finally {
    opt.zeroGrad();
    opt.dispose();
    fc.dispose();
    for (const t of [mean, invStd, labels]) t.dispose();
  }
}
