/**
 * How long a run trains and how many clusters it makes when the user does not say: rules of the
 * data set's size, written down here and measured in the README ("Defaults that follow the data").
 *
 * The budget is a number of iterations, not of epochs, so that a folder of 5,000 images gets as
 * many updates as Fashion-MNIST's 60,000: `DEFAULT_ITERATIONS` at the default batch of 64.
 */
import { ConfigError } from '../tensor/errors.ts';
import type { TrainConfig } from './config.ts';

/** 4 epochs of Fashion-MNIST's 60,000 training images at batch 64, 938 iterations each (the budget the defaults were measured at). */
export const DEFAULT_ITERATIONS = 3752;

/** A config whose budget and number of clusters are settled (`resolveRunConfig`). */
export type RunConfig = Omit<TrainConfig, 'clusters' | 'epochs'> & { clusters: number; epochs: number };

export interface Budget {
  /** Iterations to train; undefined for a wall-time budget until the first iterations are timed. */
  iterations: number | undefined;
  /** Wall-time budgets: seconds. */
  seconds?: number;
  /** What the run states in its log. */
  text: string;
}

/**
 * The default number of clusters for n images: one per `IMAGES_PER_CLUSTER`, at least 10 and at
 * most 10,000 (the paper's ImageNet setting).
 */
export const IMAGES_PER_CLUSTER = 600;
export function defaultClusters(n: number): number {
  return Math.min(10_000, Math.max(10, Math.round(n / IMAGES_PER_CLUSTER)));
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** Parses `cfg.budget` / `cfg.epochs` for n images at the global batch size. */
export function parseBudget(cfg: Pick<TrainConfig, 'budget' | 'epochs' | 'batchSize'>, n: number): Budget {
  const perEpoch = Math.ceil(n / cfg.batchSize);
  if (cfg.budget !== undefined && cfg.epochs !== undefined) {
    throw new ConfigError(`give the training budget once: 'epochs' is ${cfg.epochs} and 'budget' is '${cfg.budget}'`);
  }
  const fmt = (v: number) => v.toLocaleString('en-US');
  if (cfg.epochs !== undefined) return { iterations: cfg.epochs * perEpoch, text: `${cfg.epochs} epochs of ${fmt(n)} images = ${fmt(cfg.epochs * perEpoch)} iterations` };
  if (cfg.budget === undefined) {
    return { iterations: DEFAULT_ITERATIONS, text: `${fmt(DEFAULT_ITERATIONS)} iterations (the default budget; ${(DEFAULT_ITERATIONS / perEpoch).toFixed(1)} epochs of ${fmt(n)} images)` };
  }
  const m = /^(\d+(?:\.\d+)?)(it|ep|s|m|h)$/.exec(cfg.budget);
  if (m === null) throw new ConfigError(`budget '${cfg.budget}': expected a number and a unit, e.g. 3750it, 4ep, 15m`);
  const v = Number(m[1]);
  if (m[2] === 'it' || m[2] === 'ep') {
    const iterations = Math.round(m[2] === 'it' ? v : v * perEpoch);
    if (!Number.isInteger(v) && m[2] === 'it') throw new ConfigError(`budget '${cfg.budget}': a whole number of iterations`);
    return { iterations, text: `${fmt(iterations)} iterations (budget ${cfg.budget}; ${(iterations / perEpoch).toFixed(1)} epochs of ${fmt(n)} images)` };
  }
  const seconds = v * UNIT_SECONDS[m[2]];
  if (!(seconds > 0)) throw new ConfigError(`budget '${cfg.budget}': must be positive`);
  return { iterations: undefined, seconds, text: `budget ${cfg.budget} of wall time` };
}

/**
 * The config with its number of clusters settled (the default rule for n images when none is
 * given), and a folder's image side as loaded (so that evaluations and reports load it the same).
 */
export function resolveRunConfig(cfg: TrainConfig, store: { n: number; height: number }, epochs: number): RunConfig {
  const imageSize = cfg.imageSize ?? (/^(folder|stream|shards):/.test(cfg.dataset) ? store.height : undefined);
  return { ...cfg, clusters: cfg.clusters ?? defaultClusters(store.n), epochs, imageSize };
}
