/**
 * The training loop: epochs of batches, each one step of the method, a gradient step averaged over
 * the processes and the method's bookkeeping, with the run's records, progress hooks, checkpoints
 * and budget around them. What the run trains on, where and in what precision was settled when its
 * parts were built (`buildRun`): the loop is the same for all of them.
 */

import type { BatchSource } from '../data/image_set.ts';
import type { Batch } from '../data/loader.ts';
import { broadcastModule, padToMultiple } from '../distributed/data_parallel.ts';
import { nmi } from '../eval/cluster_metrics.ts';
import { scalar, stack } from '../tensor/creation.ts';
import { tidy } from '../tensor/scope.ts';
import type { Progress } from './checkpoint.ts';
import type { RunRecords } from './run_records.ts';
import type { TrainingRun } from './run_setup.ts';
import { saveRun } from './run_state.ts';
import { type CarriedSums, StepStats } from './step_stats.ts';
import type { EpochStart, TrainOptions } from './train_options.ts';

/** 42s, 3m07s, 1h05m. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

export interface LoopStart {
  progress: Progress;
  /** A mid-epoch checkpoint's running means. */
  carried?: CarriedSums;
  resumed: boolean;
  /** When the run was set up (a wall-time budget counts from it). */
  setupAt: number;
  /** Seconds the initial clustering took (a wall-time budget expects each DeepCluster epoch to re-cluster as long). */
  initS: number;
}

export class TrainLoop {
  progress: Progress;
  readonly #stats: StepStats;
  #itersThisRun = 0;
  #stopped = false;
  readonly #tStart = performance.now();

  constructor(
    private readonly run: TrainingRun,
    private readonly records: RunRecords,
    private readonly hooks: TrainOptions,
    private readonly log: (l: string) => void,
    /** Where checkpoints go. */
    private readonly checkpoint: string,
    private readonly start: LoopStart,
    /** Called when a wall-time budget has settled the run's length. */
    private readonly onLengthSettled: () => void,
  ) {
    this.progress = start.progress;
    this.#stats = new StepStats(run.group);
  }

  /** Trains the epochs left, until the run's length or `maxIterations`. */
  async train(source: BatchSource): Promise<void> {
    const { length } = this.run;
    try {
      for (let epoch = this.progress.epoch; epoch < length.epochs && !length.done(this.progress.iteration) && !this.#stopped; epoch++) await this.#epoch(epoch, source);
    } finally {
      // (only a failed loop leaves statistics unread)
      this.#stats.dispose();
    }
  }

  /** Checkpoints the run where it stands. */
  save(): void {
    saveRun(this.run, this.checkpoint, this.progress, this.#stats, this.hooks.onCheckpoint);
  }

  async #epoch(epoch: number, source: BatchSource): Promise<void> {
    const { algo, ctx, cfg, group, length, model } = this.run;
    const resumedHere = this.start.resumed && epoch === this.progress.epoch && this.progress.step > 0;
    const begun = await algo.beginEpoch(ctx, epoch, resumedHere);
    if (Object.keys(begun.info).length) {
      broadcastModule(group, model);
      this.records.other({ type: 'cluster', epoch: epoch + 1, ...begun.info, ...algo.clusterStats() });
    }
    const fromStep = epoch === this.progress.epoch ? this.progress.step : 0;
    // A run resumed mid-epoch continues the interrupted run's means (images and times restart: speeds are this run's).
    this.#stats.startEpoch(fromStep > 0 ? this.start.carried : undefined);
    // Time of the iterations themselves (step, memory work, waiting for data), without logging and checkpoints.
    let loopMs = 0;
    const waitBefore = source.waitMs;
    const commBefore = group.commMs;
    const epochStart = performance.now();
    const info: EpochStart = { epoch: epoch + 1, epochs: length.epochs, itersPerEpoch: length.itersPerEpoch, fromStep };
    this.hooks.onEpochStart?.(info);
    model.train();
    const order = padToMultiple(begun.order, group.worldSize);
    const part = { rank: group.rank, worldSize: group.worldSize };
    for await (const batch of source.batches(order, { batchSize: cfg.batchSize, seeds: [cfg.seed, epoch], fromStep, minBatch: 2, part })) {
      const tIter = performance.now();
      const lrFactor = this.#step(epoch, batch);
      loopMs += performance.now() - tIter;
      this.#report(epoch, info, lrFactor);
      if (this.#budgetStop(info)) break;
    }
    this.#endEpoch(epoch, epochStart, { loop_s: (loopMs + source.waitMs - waitBefore) / 1000, data_wait_s: (source.waitMs - waitBefore) / 1000, commMs: group.commMs - commBefore });
  }

  /** One iteration; returns its learning-rate factor. */
  #step(epoch: number, batch: Batch): number {
    const { algo, ctx, cfg, group, length, optimizer, params, scaler } = this.run;
    const lrFactor = length.schedule(epoch + batch.step / length.itersPerEpoch);
    optimizer.setLrFactor(lrFactor);
    const stats = tidy(() => {
      const s = algo.step(ctx, batch);
      optimizer.zeroGrad();
      group.backwardAveraged(scaler ? scaler.scaleLoss(s.loss) : s.loss, params, { bucketBytes: cfg.gradBucketMb * 2 ** 20, overlap: cfg.overlapGradients });
      // (fp16: a step whose gradients overflowed is skipped and the scale lowered)
      if (scaler === undefined || scaler.unscale(params)) optimizer.step();
      const change = s.changeRatio ?? scalar(Number.NaN, { dtype: 'float64' });
      return stack([s.loss.detach().double(), s.logits.argmax(1).eq(s.target).float().mean().double(), change.double()]);
    });
    batch.images.dispose();
    batch.index.dispose();
    this.progress = { iteration: this.progress.iteration + 1, epoch, step: batch.step + 1 };
    const after = algo.afterStep(ctx, this.progress.iteration);
    this.#itersThisRun++;
    this.#stats.push(stats, batch.rows.length * group.worldSize, after.repaired ?? 0);
    return lrFactor;
  }

  /** A logged iteration's record, line and TensorBoard scalars; the progress hook. */
  #report(epoch: number, info: EpochStart, lrFactor: number): void {
    const { algo, cfg, length, lr } = this.run;
    const { iteration, step } = this.progress;
    const logged = iteration % cfg.logEvery === 0;
    // (and the first iteration's, so that the progress hook has a loss to show from the start)
    if (logged || Number.isNaN(this.#stats.shown.loss)) this.#stats.read();
    if (!logged && !this.hooks.onIteration) return;
    const speed = this.#stats.windowSpeed();
    const left = Math.max(0, Math.min(length.total ?? Number.POSITIVE_INFINITY, cfg.maxIterations ?? Number.POSITIVE_INFINITY) - iteration);
    const eta = ((performance.now() - this.#tStart) / 1000 / this.#itersThisRun) * left;
    const { loss, change } = this.#stats.shown;
    if (logged) {
      // One record per logged iteration: means over the iterations since the previous one.
      const w = this.#stats.windowMeans();
      const rec = {
        type: 'iter', iteration, epoch: epoch + 1, loss: w.loss, change_ratio: w.change_ratio, acc_pseudo: w.acc_pseudo, lr: lr * lrFactor, repaired: w.repaired,
        img_per_s: speed, ...algo.clusterStats(),
      };
      this.records.iteration(rec);
      if (this.hooks.iterationLines ?? true) {
        this.log(
          `epoch ${epoch + 1}/${info.epochs} it ${step}/${length.itersPerEpoch} loss ${loss.toFixed(4)}` +
            `${cfg.method === 'odc' ? ` change ${change.toFixed(3)}` : ''} lr ${(lr * lrFactor).toPrecision(3)} ${speed.toFixed(1)} img/s eta ${formatDuration(eta)}`,
        );
      }
    }
    this.hooks.onIteration?.({ ...info, iteration, step, loss, changeRatio: cfg.method === 'odc' ? change : undefined, lr: lr * lrFactor, imgPerS: speed, etaS: eta, logged });
    if (logged) this.#stats.resetWindow();
  }

  /** A wall-time budget's calibration, the periodic checkpoint; whether the epoch ends here (the run's length or `maxIterations` reached). */
  #budgetStop(info: EpochStart): boolean {
    const { cfg, group, length, rc } = this.run;
    const { iteration } = this.progress;
    const perEpochExtraS = rc.method === 'deepcluster' ? this.start.initS : 0;
    const settled = length.calibrate(this.#itersThisRun, iteration, (performance.now() - this.start.setupAt) / 1000, perEpochExtraS, group);
    if (settled !== undefined) {
      info.epochs = length.epochs;
      this.log(settled);
      this.onLengthSettled();
    }
    const done = length.done(iteration);
    if (iteration % cfg.checkpointEvery === 0 && !done) this.save();
    if (done) return true;
    if (cfg.maxIterations !== undefined && iteration >= cfg.maxIterations) {
      this.#stopped = true;
      return true;
    }
    return false;
  }

  /** The epoch's record and line, and its checkpoint. */
  #endEpoch(epoch: number, epochStart: number, times: { loop_s: number; data_wait_s: number; commMs: number }): void {
    const { algo, group, length, rc, store } = this.run;
    this.#stats.read();
    const partial = this.#stopped && this.progress.step < length.itersPerEpoch;
    if (!partial) this.progress = { iteration: this.progress.iteration, epoch: epoch + 1, step: 0 };
    const labels = algo.labels();
    const wall = (performance.now() - epochStart) / 1000;
    const m = this.#stats.epochMeans(wall);
    const rec = {
      type: 'epoch', epoch: epoch + 1, iteration: this.progress.iteration, partial, loss: m.loss, change_ratio: m.change_ratio, acc_pseudo: m.acc_pseudo, repaired: m.repaired,
      wall_s: wall, img_per_s: m.img_per_s, loop_s: times.loop_s, data_wait_s: times.data_wait_s,
      ...(group.worldSize > 1 ? { processes: group.worldSize, comm_s: times.commMs / 1000 } : {}), ...algo.clusterStats(),
      ...(store.labels && labels ? { nmi_labels: nmi(labels, store.labels) } : {}),
    };
    this.records.clustering(rec, this.progress.iteration, labels, rc.clusters);
    this.hooks.onEpochEnd?.(rec);
    this.log(
      `epoch ${epoch + 1} done in ${formatDuration(wall)}: loss ${rec.loss.toFixed(4)}${rc.method === 'odc' ? ` change ${rec.change_ratio.toFixed(3)}` : ''}` +
        `${rec.nmi_labels !== undefined ? ` NMI(labels, truth) ${rec.nmi_labels.toFixed(4)}` : ''}`,
    );
    this.save();
  }
}
