/**
 * Training checkpoints: one safetensors file holding the model (`model.*`), the optimizer's momentum
 * buffers (`optim.*`), the memories (`memory.*`), the default generator's state (`rng.default`) and,
 * in the metadata, the progress and the config. Written atomically, so a kill mid-write leaves the
 * previous checkpoint intact.
 */
import { decodeSafetensors, loadSafetensors, saveSafetensors } from '../io/safetensors.ts';
import { ConfigError } from '../tensor/errors.ts';
import { defaultGenerator } from '../tensor/random.ts';
import { dispose } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';

export interface Progress {
  /** Iterations done in total. */
  iteration: number;
  /** The epoch in progress (0-based) and the next batch of it. */
  epoch: number;
  step: number;
}

export interface CheckpointParts {
  model: Map<string, Tensor>;
  optimizer?: Map<string, Tensor>;
  memory?: Map<string, Tensor>;
  extra?: Map<string, Tensor>;
  progress: Progress;
  meta?: Record<string, unknown>;
}

export function saveCheckpoint(path: string, parts: CheckpointParts): void {
  const all = new Map<string, Tensor>();
  for (const [k, v] of parts.model) all.set(`model.${k}`, v);
  for (const [k, v] of parts.optimizer ?? []) all.set(`optim.${k}`, v);
  for (const [k, v] of parts.memory ?? []) all.set(k, v);
  for (const [k, v] of parts.extra ?? []) all.set(k, v);
  const rng = defaultGenerator().getState();
  all.set('rng.default', rng);
  try {
    saveSafetensors(path, all, { format: 'odc-checkpoint-1', progress: JSON.stringify(parts.progress), meta: JSON.stringify(parts.meta ?? {}) });
  } finally {
    rng.dispose();
  }
}

export interface LoadedCheckpoint {
  model: Map<string, Tensor>;
  optimizer: Map<string, Tensor>;
  memory: Map<string, Tensor>;
  rest: Map<string, Tensor>;
  progress: Progress | undefined;
  meta: Record<string, unknown>;
  dispose(): void;
}

/**
 * Reads a checkpoint. Also accepts a bare state dict (e.g. a backbone exported from PyTorch): its
 * keys then all land in `model`. `bytes`: the file's contents already read (named `path` in errors).
 */
export function loadCheckpoint(path: string, bytes?: Uint8Array): LoadedCheckpoint {
  const { tensors, metadata } = bytes === undefined ? loadSafetensors(path) : decodeSafetensors(bytes, path);
  const model = new Map<string, Tensor>();
  const optimizer = new Map<string, Tensor>();
  const memory = new Map<string, Tensor>();
  const rest = new Map<string, Tensor>();
  const isOurs = metadata.format === 'odc-checkpoint-1';
  for (const [k, v] of tensors) {
    if (!isOurs) model.set(k, v);
    else if (k.startsWith('model.')) model.set(k.slice(6), v);
    else if (k.startsWith('optim.')) optimizer.set(k.slice(6), v);
    else if (k.startsWith('memory.')) memory.set(k, v);
    else rest.set(k, v);
  }
  let progress: Progress | undefined;
  let meta: Record<string, unknown> = {};
  try {
    progress = metadata.progress ? JSON.parse(metadata.progress) : undefined;
    meta = metadata.meta ? JSON.parse(metadata.meta) : {};
  } catch {
    throw new ConfigError(`${path}: checkpoint metadata is not valid JSON`);
  }
  return { model, optimizer, memory, rest, progress, meta, dispose: () => dispose([...tensors.values()]) };
}

/** Restores the default generator (dropout) from a checkpoint's `rng.default`. */
export function restoreRng(ckpt: LoadedCheckpoint): void {
  const state = ckpt.rest.get('rng.default');
  if (state !== undefined) defaultGenerator().setState(state);
}
