/**
 * What an evaluation scores: the frozen features of a checkpoint's backbone or of a random network
 * at chosen taps, or raw pixels. Extracted once per split, pooled features cached beside the
 * checkpoint; every tensor it hands out is freed by `dispose()` (or earlier by `release()`).
 */
import { dirname, join, resolve } from 'node:path';
import { type AugmentConfig, presetFor } from '../data/augment.ts';
import { type ImageSet, isStreamed } from '../data/image_set.ts';
import type { Tap } from '../models/backbone.ts';
import { ConfigError } from '../tensor/errors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { type EvalModel, type EvalSettings, loadEvalModel, randomEvalModel } from './eval_model.ts';
import { extractTaps, FeatureCache, pixelFeatures, type TapShape, tapShapes } from './features.ts';
import type { Splits } from './splits.ts';

/** Train and test features of some taps (pixels: the 'pool' slot holds raw pixels). */
export interface Extracted {
  shapes: TapShape[];
  train: Map<Tap, Tensor>;
  test: Map<Tap, Tensor>;
}

export interface FeatureSourceOptions {
  checkpoint?: string;
  baseline?: 'random' | 'pixels';
  /** Read and write the pooled-feature cache (default true; checkpoints only). */
  cache?: boolean;
  batchSize?: number;
  workers?: number;
  seed: number;
}

export class FeatureSource {
  /** Undefined for raw pixels. */
  readonly model: EvalModel | undefined;
  /** What the tables call the features: the model's description or 'raw pixels'. */
  readonly description: string;
  /** Extraction at the evaluation images' size, normalised with the statistics the run trained with. */
  readonly pipeline: AugmentConfig;
  readonly #owned: Tensor[] = [];
  readonly #cache: FeatureCache | undefined;
  /** Everything the features depend on: the file, the model built from it and the input. */
  readonly #modelStamp: string;

  constructor(
    private readonly o: FeatureSourceOptions,
    settings: EvalSettings,
    private readonly splits: Splits,
    log: (l: string) => void,
  ) {
    const { train } = splits;
    // The statistics follow the run's channels and image size, as in `odc train`.
    const trainedSize = settings.trainedSize ?? train.height;
    const { mean, std } = presetFor(train.channels, trainedSize);
    this.pipeline = { ...presetFor(train.channels, train.height), mean, std };
    if (o.baseline === 'random') this.model = randomEvalModel(settings.arch, { inChannels: train.channels, height: train.height, seed: o.seed });
    else if (o.baseline !== 'pixels') this.model = loadEvalModel(o.checkpoint as string, { arch: settings.arch, inChannels: train.channels, height: trainedSize });
    this.description = this.model?.description ?? 'raw pixels';
    log(`features: ${this.description}`);
    if (this.model) {
      const stats = (v: number[]) => v.map((x) => x.toFixed(4)).join(', ');
      log(`input: ${train.channels}x${train.height}x${train.width}${trainedSize !== train.height ? ` (the run trained at ${trainedSize} px)` : ''}, mean [${stats(mean)}], std [${stats(std)}]`);
    }
    const cached = o.cache !== false && o.checkpoint !== undefined && o.baseline === undefined;
    this.#cache = cached ? new FeatureCache(join(dirname(resolve(o.checkpoint as string)), 'features')) : undefined;
    this.#modelStamp = o.checkpoint !== undefined && this.model !== undefined
      ? `${FeatureCache.modelStamp(o.checkpoint)}:${JSON.stringify(this.model.spec)}:${this.pipeline.size}px:${[...mean, ...std].join(',')}`
      : 'none';
  }

  /** 'pooled features (256 dims)' or 'pixels (784 dims)'. */
  vectors(dims: number): string {
    return `${this.model ? 'pooled features' : 'pixels'} (${dims} dims)`;
  }

  /** The train and test features at `taps` (pixels: one 'pool' slot), owned by this source. */
  async extract(taps: readonly Tap[], progress: (stage: string, done: number, total: number) => void): Promise<Extracted> {
    const { train, test } = this.splits;
    const model = this.model;
    if (model === undefined) {
      const px = (s: ImageSet) => {
        if (isStreamed(s)) throw new ConfigError(`--baseline pixels: ${s.source} is streamed and has no decoded pixels; use an in-memory dataset (folder:DIR)`);
        return new Map<Tap, Tensor>([['pool', pixelFeatures(s)]]);
      };
      const out = { train: px(train), test: px(test) };
      this.#owned.push(...out.train.values(), ...out.test.values());
      return { shapes: [{ tap: 'pool', channels: 0, side: 0, grid: 1, dims: train.channels * train.height * train.width }], ...out };
    }
    const shapes = tapShapes(model, train, this.pipeline.size, taps);
    const out: Extracted = { shapes, train: new Map(), test: new Map() };
    for (const [split, store] of [['train', train], ['test', test]] as const) {
      const key = (tap: Tap) => FeatureCache.keyOf({ model: this.#modelStamp, data: store.source, split, tap, grid: shapes.find((s) => s.tap === tap)?.grid ?? 1 });
      const need: TapShape[] = [];
      for (const s of shapes) {
        const hit = s.tap === 'pool' ? this.#cache?.get(`${split}-pool`, key('pool')) : undefined;
        if (hit !== undefined) {
          out[split].set(s.tap, hit);
          this.#owned.push(hit);
        } else need.push(s);
      }
      if (need.length === 0) continue;
      const got = await extractTaps(model, store, this.pipeline, need, {
        batchSize: this.o.batchSize, workers: this.o.workers, onBatch: (d, t) => progress(`extract ${split} ${need.map((s) => s.tap).join(',')}`, d, t),
      });
      for (const [tap, t] of got) {
        out[split].set(tap, t);
        this.#owned.push(t);
        if (tap === 'pool') this.#cache?.set(`${split}-pool`, key('pool'), t);
      }
    }
    return out;
  }

  /** Frees an extracted tensor before the rest (each linear-probe tap once probed). */
  release(t: Tensor): void {
    t.dispose();
    this.#owned.splice(this.#owned.indexOf(t), 1);
  }

  dispose(): void {
    for (const t of this.#owned) t.dispose();
    this.#owned.length = 0;
    this.model?.dispose();
  }
}
