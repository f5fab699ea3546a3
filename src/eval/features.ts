/**
 * Frozen features for the evaluation protocols: every conv tap average-pooled to about 9,000
 * dimensions (the paper's linear protocol pools each layer to ~9k dims: 9216/9216/8192/9216/8192
 * for ResNet-50 at 224 px), the globally pooled feature, or raw pixels (a baseline). One batched,
 * no-grad, eval-mode pass yields every requested tap; results can be cached as safetensors.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AugmentConfig } from '../data/augment.ts';
import type { ImageSet } from '../data/image_set.ts';
import type { ImageStore } from '../data/store.ts';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.ts';
import type { Tap } from '../models/backbone.ts';
import * as F from '../nn/functional.ts';
import { empty, tensor } from '../tensor/creation.ts';
import { keep, noGrad, tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { forEachBatch } from '../train/extract.ts';
import type { EvalModel } from './eval_model.ts';

/** About this many dimensions per pooled conv tap. */
export const TAP_TARGET_DIMS = 9000;

export type FeatureSource = Tap | 'pixels';

export interface TapShape {
  tap: Tap;
  channels: number;
  /** Spatial side of the tap's feature map. */
  side: number;
  /** Side of the average-pooling grid (1 for 'pool'). */
  grid: number;
  dims: number;
}

/**
 * The pooling grid of a tap: the largest square grid with channels × grid² near the target and no
 * finer than the map itself (adaptive average pooling: equal-area cells).
 */
export function poolingGrid(channels: number, side: number, target = TAP_TARGET_DIMS): number {
  return Math.max(1, Math.min(side, Math.round(Math.sqrt(target / channels))));
}

/** Channels, map size and pooled dims of each tap, found by one forward pass of a single image. */
export function tapShapes(model: EvalModel, store: Pick<ImageStore, 'channels'>, size: number, taps: readonly Tap[], target = TAP_TARGET_DIMS): TapShape[] {
  return noGrad(() =>
    tidy(() => {
      const probe = model.prepare(empty([1, store.channels, size, size]).fill_(0));
      const out = model.backbone.forwardTaps(probe, taps);
      return taps.map((tap) => {
        const t = out.get(tap) as Tensor;
        if (tap === 'pool') return { tap, channels: t.size(1), side: 1, grid: 1, dims: t.size(1) };
        const channels = t.size(1);
        const side = t.size(2);
        const grid = poolingGrid(channels, side, target);
        return { tap, channels, side, grid, dims: channels * grid * grid };
      });
    }),
  );
}

/** A tap's features of one batch: [B, C·g·g] (adaptive average pooling) or the pooled [B, C]. */
function pooledTap(t: Tensor, shape: TapShape): Tensor {
  if (shape.tap === 'pool') return t;
  return F.adaptiveAvgPool2d(t, shape.grid).flatten(1);
}

export interface ExtractOptions {
  batchSize?: number;
  workers?: number;
  /** Storage dtype of the conv taps (float16 halves memory; protocols compute in float32). */
  tapDtype?: 'float32' | 'float16';
  onBatch?: (done: number, total: number) => void;
}

/**
 * Features of every image of `store` (store order) at each requested tap, in one pass. Conv taps
 * are stored as `tapDtype` (float16 by default: 60,000 × 9,216 is 1.1 GB instead of 2.2 GB);
 * 'pool' is always float32. The caller disposes the tensors.
 */
export async function extractTaps(model: EvalModel, store: ImageSet, pipeline: AugmentConfig, shapes: readonly TapShape[], o: ExtractOptions = {}): Promise<Map<Tap, Tensor>> {
  const outs = new Map<Tap, Tensor>();
  for (const s of shapes) outs.set(s.tap, keep(empty([store.n, s.dims], { dtype: s.tap === 'pool' ? 'float32' : (o.tapDtype ?? 'float16') })));
  const taps = shapes.map((s) => s.tap);
  await forEachBatch(
    store, pipeline,
    (x, offset) => {
      const maps = model.backbone.forwardTaps(model.prepare(x), taps);
      for (const s of shapes) (outs.get(s.tap) as Tensor).narrow(0, offset, x.size(0)).copy_(pooledTap(maps.get(s.tap) as Tensor, s));
    },
    { batchSize: o.batchSize ?? 256, workers: o.workers, onBatch: (done) => o.onBatch?.(done, store.n) },
  );
  return outs;
}

/** Raw pixels scaled to [0, 1] as features [N, C·H·W] (the pixel baseline). */
export function pixelFeatures(store: ImageStore): Tensor {
  return tidy(() => tensor(store.pixels, { shape: [store.n, store.channels * store.height * store.width] }).float().div(255));
}

/**
 * A safetensors cache of extracted features, keyed by what they depend on (model file and its
 * modification time, dataset, split, tap and pooling grid): a changed checkpoint never reuses stale
 * features.
 */
export class FeatureCache {
  constructor(readonly dir: string) {}

  static keyOf(parts: Record<string, string | number>): string {
    return Object.entries(parts)
      .map(([k, v]) => `${k}=${v}`)
      .join(';');
  }

  static modelStamp(checkpoint: string): string {
    const st = statSync(checkpoint);
    return `${checkpoint}@${st.size}:${st.mtimeMs}`;
  }

  #path(name: string): string {
    return join(this.dir, `${name.replace(/[^a-zA-Z0-9_.-]+/g, '_')}.safetensors`);
  }

  /** The cached tensor when its key matches, else undefined. */
  get(name: string, key: string): Tensor | undefined {
    const p = this.#path(name);
    if (!existsSync(p)) return undefined;
    try {
      const { tensors, metadata } = loadSafetensors(p);
      if (metadata?.key !== key) {
        for (const t of tensors.values()) t.dispose();
        return undefined;
      }
      return tensors.get('features');
    } catch {
      return undefined; // unreadable cache: recompute
    }
  }

  set(name: string, key: string, t: Tensor): void {
    mkdirSync(this.dir, { recursive: true });
    saveSafetensors(this.#path(name), { features: t }, { key });
  }
}
