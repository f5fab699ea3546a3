/**
 * The parts of a training run, built from its config: the images, the model and its optimiser, the
 * method (ODC, DeepCluster or a pretext method) and the run's length. The trainer's loop only joins
 * them; the device, the precision and the data source are settled here.
 */
import { availableParallelism } from 'node:os';
import { type AugmentConfig, presetFor } from '../data/augment.ts';
import { type ImageSet, isStreamed, longTailOf, subsetOf } from '../data/image_set.ts';
import { loadImageSet } from '../data/spec.ts';
import type { Collective } from '../distributed/collective.ts';
import { ClusterModel } from '../models/cluster_model.ts';
import { useSyncBatchNorm } from '../nn/layers.ts';
import { LossScaler } from '../optim/loss_scaler.ts';
import { SGD } from '../optim/sgd.ts';
import { getNumThreads, setNumThreads } from '../runtime.ts';
import type { Device } from '../tensor/dtype.ts';
import { Generator, manualSeed } from '../tensor/random.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { AlgorithmContext, ClusterAlgorithm } from './algorithm.ts';
import { type Budget, parseBudget, type RunConfig, resolveRunConfig } from './budget.ts';
import { defaultLr, type TrainConfig } from './config.ts';
import { createAlgorithm, modelOptions } from './methods.ts';
import { RunLength } from './run_length.ts';

export interface TrainingRun {
  /** The config as given, with the number of worker threads settled. */
  cfg: TrainConfig;
  /** ... and with the number of clusters and epochs settled: what config.json and checkpoints hold. */
  rc: RunConfig;
  store: ImageSet;
  /** The batches' augmentation and the extraction passes' resize (one preset for the image size and channels). */
  augment: AugmentConfig;
  stem: 'cifar' | 'imagenet';
  model: ClusterModel;
  params: Tensor[];
  optimizer: SGD;
  /** The base learning rate (the schedule's factor multiplies it). */
  lr: number;
  /** fp16 only: float16 gradients underflow without it (bfloat16 has float32's range). */
  scaler: LossScaler | undefined;
  algo: ClusterAlgorithm;
  ctx: AlgorithmContext;
  budget: Budget;
  length: RunLength;
  group: Collective;
}

/** The configured dataset as training reads it: in memory, or streamed (`stream:DIR`, `shards:PATH`); subsampled. */
export async function loadTrainingSet(cfg: TrainConfig, log: (l: string) => void): Promise<ImageSet> {
  let set = await loadImageSet(cfg.dataset, cfg.split, { size: cfg.imageSize, onError: cfg.onBadImage, warn: log });
  if (cfg.longTail !== undefined) set = longTailOf(set, cfg.longTail, cfg.seed);
  if (cfg.subset !== undefined) set = subsetOf(set, cfg.subset, cfg.seed);
  return set;
}

/** Builds the run's parts on the current default device (sets the engine's threads and seeds its generator first). */
export async function buildRun(userCfg: TrainConfig, group: Collective, log: (l: string) => void): Promise<TrainingRun> {
  // On CPU, the cores are divided among the processes of this machine.
  const threads = userCfg.threads ?? (group.localWorldSize > 1 ? Math.max(1, Math.floor(availableParallelism() / group.localWorldSize)) : undefined);
  if (threads !== undefined) setNumThreads(threads);
  manualSeed(userCfg.seed);

  const store = await loadTrainingSet(userCfg, log);
  // Worker threads: in-memory sets, one when a core is free beyond the engine's threads; streamed
  // sets (decoding is the work), every core this process does not give the engine, at least one.
  const coresHere = Math.floor(availableParallelism() / group.localWorldSize);
  const workers = isStreamed(store) ? Math.max(1, coresHere - getNumThreads()) : coresHere > getNumThreads() ? 1 : 0;
  const cfg = { ...userCfg, workers: userCfg.workers ?? workers };
  const budget = parseBudget(cfg, store.n);
  const length = new RunLength(cfg, store.n, budget);
  const rc = resolveRunConfig(cfg, store, length.epochs);
  const stem = rc.stem === 'auto' ? (store.height <= 64 ? 'cifar' : 'imagenet') : rc.stem;
  const augment = presetFor(store.channels, store.height, Object.fromEntries(Object.entries(rc.augment).filter(([, v]) => v !== undefined)));
  const model = new ClusterModel(modelOptions(rc, { channels: store.channels, stem }, new Generator(rc.seed)));
  if (cfg.syncBn && group.worldSize > 1) useSyncBatchNorm(model, group);
  model.setPrecision(cfg.precision, cfg.device as Device);
  const lr = cfg.lr ?? defaultLr(cfg);
  const optimizer = new SGD(model.paramGroups(), { lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  const algo = createAlgorithm(rc);
  return {
    cfg, rc, store, augment, stem, model, params: model.parameters(), optimizer, lr, scaler: cfg.precision === 'fp16' ? new LossScaler() : undefined,
    algo, ctx: { store, model, extractCfg: augment, workers: cfg.workers ?? 0, log, group }, budget, length, group,
  };
}

/** The run's opening lines: the data, the model and method, the budget. */
export function describeRun(run: TrainingRun, log: (l: string) => void): void {
  const { cfg, rc, store, group } = run;
  log(`data: ${store.source}: ${store.n} images ${store.channels}x${store.height}x${store.width}${isStreamed(store) ? ' (streamed: decoded and cropped per batch)' : ''}${store.labels ? `, ${store.classNames?.length} true classes (evaluation only)` : ''}`);
  const perProcess = group.worldSize > 1 ? ` (${cfg.batchSize / group.worldSize} per process x ${group.worldSize} processes${cfg.syncBn ? ', synchronised BatchNorm' : ''})` : '';
  const clustersText = `${rc.clusters} ${rc.method === 'rotation' || rc.method === 'npid' ? 'clusters at the end' : 'clusters'}${cfg.clusters === undefined ? ' (default for this many images)' : ''}`;
  log(
    `model: ${cfg.arch} (${run.stem} stem, width ${cfg.width}${cfg.sobel ? ', Sobel' : ''}) ${(run.model.numParameters() / 1e6).toFixed(2)}M parameters; ${cfg.method}, ${clustersText}, ` +
      `batch ${cfg.batchSize}${perProcess}, lr ${run.lr}${cfg.device !== 'cpu' ? `, on ${cfg.device} (TF32 ${cfg.tf32 ? 'on' : 'off'})` : ''}${cfg.precision !== 'fp32' ? `, ${cfg.precision} autocast` : ''}${cfg.memoryFormat === 'channelsLast' ? ', channels-last' : ''}`,
  );
  log(`budget: ${run.budget.text}`);
}

/** Dropout draws differ between ranks (rank 0's generator is the one checkpointed): the other ranks reseed at `iteration`. */
export function reseedDropout(run: TrainingRun, iteration: number): void {
  const rank = run.group.rank;
  if (rank > 0) manualSeed(Number((BigInt(run.cfg.seed) * 1_000_003n + BigInt(rank) * 7_919n + BigInt(iteration)) % 2n ** 52n));
}

export function disposeRun(run: TrainingRun): void {
  run.algo.dispose();
  run.optimizer.dispose();
  run.model.dispose();
}
