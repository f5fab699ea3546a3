/**
 * A run's whole state in one checkpoint and back: model, optimiser, the method's memories and
 * metadata, the generator, the fp16 loss scale, the progress, a wall-time budget's settled length
 * and a mid-epoch checkpoint's running means.
 */
import { broadcastFile } from '../distributed/agree.ts';
import type { LossScalerState } from '../optim/loss_scaler.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { loadCheckpoint, type Progress, restoreRng, saveCheckpoint } from './checkpoint.ts';
import type { TrainingRun } from './run_setup.ts';
import { type CarriedSums, readCarriedSums, type StepStats } from './step_stats.ts';

/**
 * Hands the run's tensors at `progress` to `onCheckpoint` (every rank) and writes the checkpoint to
 * `path` (rank 0). Reads `stats` first: a mid-epoch checkpoint keeps their sums.
 */
export function saveRun(
  run: TrainingRun, path: string, progress: Progress, stats: StepStats,
  onCheckpoint?: (state: Map<string, Tensor>, progress: Progress) => void,
): void {
  const { model, algo, scaler, length } = run;
  stats.read();
  if (onCheckpoint) onCheckpoint(new Map([...[...model.stateDict()].map(([k, v]) => [`model.${k}`, v] as const), ...algo.stateDict()]), progress);
  if (run.group.rank !== 0) return;
  saveCheckpoint(path, {
    model: model.stateDict(), optimizer: run.optimizer.stateDict(), memory: algo.stateDict(), progress,
    meta: {
      ...algo.meta(), ...(scaler ? { loss_scale: scaler.state() } : {}), config: run.rc, ...(length.total !== undefined ? { budget_iterations: length.total } : {}),
      ...(progress.step > 0 ? { running: stats.toMeta() } : {}),
    },
  });
}

/** Restores the run from rank 0's checkpoint `path` (its bytes broadcast: no shared disk needed); where to continue. */
export function restoreRun(run: TrainingRun, path: string): { progress: Progress; carried: CarriedSums | undefined } {
  const { group } = run;
  const ck = loadCheckpoint(path, broadcastFile(group, group.rank === 0 ? path : undefined));
  try {
    run.model.loadStateDict(ck.model);
    run.optimizer.loadStateDict(ck.optimizer);
    run.algo.loadStateDict(run.ctx, new Map([...ck.memory, ...ck.rest]), ck.meta);
    restoreRng(ck);
    if (run.scaler && isScalerState(ck.meta.loss_scale)) run.scaler.load(ck.meta.loss_scale);
    const progress = ck.progress ?? { iteration: 0, epoch: 0, step: 0 };
    if (run.length.total === undefined && typeof ck.meta.budget_iterations === 'number') run.length.set(ck.meta.budget_iterations);
    return { progress, carried: progress.step > 0 ? readCarriedSums(ck.meta.running) : undefined };
  } finally {
    ck.dispose();
  }
}

function isScalerState(v: unknown): v is LossScalerState {
  const s = v as LossScalerState | undefined;
  return typeof s?.scale === 'number' && typeof s?.good === 'number';
}
