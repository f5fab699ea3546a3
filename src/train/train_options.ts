/** What a caller of `train()` can ask for: resume, where lines go, hooks at each stage, the processes training together. */
import type { Collective } from '../distributed/collective.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { Progress } from './checkpoint.ts';

export interface TrainOptions {
  /** Continue from `<out>/latest.safetensors` when it exists. */
  resume?: boolean;
  /** Where progress and result lines go (default console.log; `() => {}` for silence). */
  log?: (line: string) => void;
  /** Log a plain progress line every `logEvery` iterations (default true; the CLI turns it off while it draws a bar). */
  iterationLines?: boolean;
  /** Called with every metrics record (also written to metrics.jsonl). */
  onRecord?: (rec: Record<string, unknown>) => void;
  /** Called before the first batch of each epoch. */
  onEpochStart?: (e: EpochStart) => void;
  /** Called after every iteration (cheap: numbers already on the host). */
  onIteration?: (i: IterationInfo) => void;
  /** Called with each epoch's record, before its summary line is logged. */
  onEpochEnd?: (rec: Record<string, unknown>) => void;
  /**
   * The processes training together (a ProcessGroup from initProcessGroup; default: this process
   * alone). Every rank calls train() with the same config; `batchSize` is the global batch, split
   * evenly among the ranks. Rank 0 writes the run directory; the other ranks log nothing.
   */
  group?: Collective;
  /**
   * Called on every rank whenever a checkpoint is due (rank 0 also writes it), with its tensors
   * by name (`model.*`, `memory.*`...): live tensors, valid during the call only.
   */
  onCheckpoint?: (state: Map<string, Tensor>, progress: Progress) => void;
}

export interface EpochStart {
  /** 1-based. */
  epoch: number;
  epochs: number;
  itersPerEpoch: number;
  /** Batches of this epoch already done (a resumed run). */
  fromStep: number;
}

export interface IterationInfo extends EpochStart {
  /** Global iteration, 1-based. */
  iteration: number;
  /** Batches of this epoch done, 1-based. */
  step: number;
  /** Mean loss since the last logged iteration (or the epoch start). */
  loss: number;
  /** ODC: mean label-change ratio over the same iterations; undefined for DeepCluster. */
  changeRatio: number | undefined;
  lr: number;
  /** Training speed over the same iterations. */
  imgPerS: number;
  /** Estimated seconds to the end of the run. */
  etaS: number;
  /** Whether this iteration was logged (metrics.jsonl, TensorBoard, progress line). */
  logged: boolean;
}
