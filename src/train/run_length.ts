/**
 * How many iterations a run trains and its learning-rate schedule over them. A budget in
 * iterations or epochs fixes the length at once; a wall-time budget fixes it from the speed of
 * CALIBRATION_ITERATIONS iterations after the first WARMUP_ITERATIONS (which create the engine's
 * kernels and grow its allocator, and ran up to twice as slow as the rest here).
 */
import { agreedNumber } from '../distributed/agree.ts';
import type { Collective } from '../distributed/collective.ts';
import { constantLr, cosineLr, type Schedule, stepLr } from '../optim/schedules.ts';
import type { Budget } from './budget.ts';
import type { TrainConfig } from './config.ts';

export const WARMUP_ITERATIONS = 5;
export const CALIBRATION_ITERATIONS = 20;

/** The learning-rate schedule over `epochs` (fractional: an iteration budget may end inside an epoch). */
function scheduleOf(c: TrainConfig, epochs: number): Schedule {
  const s = c.lrSchedule;
  if (s.type === 'step') return stepLr(s.milestones, s.gamma);
  if (s.type === 'cosine') return cosineLr(epochs, s.minFactor, s.warmupEpochs);
  return constantLr();
}

export class RunLength {
  /** Iterations in all; undefined while a wall-time budget is not yet calibrated. */
  total: number | undefined;
  schedule: Schedule;
  #tCalibration = 0;

  readonly itersPerEpoch: number;

  /** A run over `images` images (`cfg.batchSize`: the global batch). */
  constructor(
    private readonly cfg: TrainConfig,
    private readonly images: number,
    private readonly budget: Budget,
  ) {
    const itersPerEpoch = Math.ceil(images / cfg.batchSize);
    this.itersPerEpoch = itersPerEpoch;
    this.total = budget.iterations;
    this.schedule = scheduleOf(cfg, this.total === undefined ? 1 : this.total / itersPerEpoch);
  }

  /** Sets the length (a resumed wall-time run's, from its checkpoint; a calibrated one's). */
  set(total: number): void {
    this.total = total;
    this.schedule = scheduleOf(this.cfg, total / this.itersPerEpoch);
  }

  /** Epochs begun in all (unbounded while uncalibrated). */
  get epochs(): number {
    return this.total === undefined ? Number.MAX_SAFE_INTEGER : Math.ceil(this.total / this.itersPerEpoch);
  }

  done(iteration: number): boolean {
    return this.total !== undefined && iteration >= this.total;
  }

  /**
   * Called after each iteration of this process's run (`itersThisRun` of them, the run at global
   * `iteration`): a wall-time budget settles its length after its calibration iterations, from what
   * is left of the budget (`elapsedS` spent since the run was set up) at this speed and, for
   * DeepCluster, one re-clustering per epoch lasting `perEpochExtraS`. Every rank takes rank 0's
   * figure. Returns the line to log when it settled.
   */
  calibrate(itersThisRun: number, iteration: number, elapsedS: number, perEpochExtraS: number, group: Collective): string | undefined {
    if (itersThisRun === WARMUP_ITERATIONS) this.#tCalibration = performance.now();
    if (this.total !== undefined || itersThisRun !== WARMUP_ITERATIONS + CALIBRATION_ITERATIONS) return undefined;
    const perIter = (performance.now() - this.#tCalibration) / 1000 / CALIBRATION_ITERATIONS;
    const left = (this.budget.seconds as number) - elapsedS;
    const mine = iteration + Math.max(0, Math.floor(left / (perIter + perEpochExtraS / this.itersPerEpoch)));
    const total = agreedNumber(group, mine);
    this.set(total);
    return `budget ${this.cfg.budget}: ${total.toLocaleString('en-US')} iterations (${perIter.toFixed(3)} s each over iterations ${WARMUP_ITERATIONS + 1}-${itersThisRun}; ${(total / this.itersPerEpoch).toFixed(1)} epochs of ${this.images.toLocaleString('en-US')} images)`;
  }
}
