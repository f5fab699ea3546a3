/**
 * `odc train` as a library call: builds the run's parts from its config (`buildRun`), starts them
 * fresh (initial clustering) or from the run directory's checkpoint, trains them (`TrainLoop`) and
 * writes the results: cluster labels, memory features, model, summary. Logging, progress hooks,
 * metrics.jsonl, TensorBoard event files and atomic checkpoints go with it.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { batchSource } from '../data/image_set.ts';
import { agreed } from '../distributed/agree.ts';
import { singleProcess } from '../distributed/collective.ts';
import { broadcastModule } from '../distributed/data_parallel.ts';
import { nmi } from '../eval/cluster_metrics.ts';
import { checkPrecision } from '../nn/autocast.ts';
import { cuda } from '../runtime.ts';
import { withDefaultDevice } from '../tensor/creation.ts';
import { checkDevice, rankDevice } from '../tensor/device.ts';
import { ConfigError } from '../tensor/errors.ts';
import type { TrainConfig } from './config.ts';
import { initFrom } from './init_from.ts';
import { featureClustering, type TrainResult, writeResults } from './results.ts';
import { RunRecords } from './run_records.ts';
import { buildRun, describeRun, disposeRun, reseedDropout, type TrainingRun } from './run_setup.ts';
import { restoreRun } from './run_state.ts';
import { type LoopStart, TrainLoop } from './train_loop.ts';
import type { TrainOptions } from './train_options.ts';

export type { TrainResult } from './results.ts';
export { loadTrainingSet } from './run_setup.ts';
export { formatDuration } from './train_loop.ts';
export type { EpochStart, IterationInfo, TrainOptions } from './train_options.ts';

/**
 * Trains `userCfg` on its device: everything the run creates (model, optimiser state, memories,
 * k-means, batches) lives on `cfg.device`; checkpoints are written from CPU copies.
 */
export async function train(userCfg: TrainConfig, o: TrainOptions = {}): Promise<TrainResult> {
  const device = rankDevice(checkDevice(userCfg.device, '--device'), o.group ?? singleProcess);
  checkPrecision(userCfg.precision, device);
  if (device !== 'cpu') cuda.setTf32({ matmul: userCfg.tf32, cudnn: userCfg.tf32 });
  return withDefaultDevice(device, () => trainOn(userCfg, o));
}

async function trainOn(userCfg: TrainConfig, o: TrainOptions): Promise<TrainResult> {
  const setupAt = performance.now();
  const group = o.group ?? singleProcess;
  const root = group.rank === 0;
  const log = root ? (o.log ?? ((l: string) => console.log(l))) : () => {};
  if (userCfg.batchSize % group.worldSize !== 0) {
    throw new ConfigError(`--batch-size ${userCfg.batchSize} (the global batch) is not a multiple of the ${group.worldSize} processes`);
  }
  const outDir = resolve(userCfg.out);
  if (root) mkdirSync(outDir, { recursive: true });
  const latest = join(outDir, 'latest.safetensors');
  // Rank 0's file system decides, and its checkpoint's bytes reach every rank (no shared disk needed).
  const resuming = agreed(group, (o.resume ?? false) && root && existsSync(latest));
  if (o.resume && !resuming) log(`no checkpoint at ${latest}: starting a fresh run`);

  const run = await buildRun(userCfg, group, log);
  describeRun(run, log);
  const { cfg, rc, store, model, algo, ctx, length } = run;
  const records = new RunRecords(outDir, root, o.onRecord);
  const writeConfig = () => records.writeConfig({ ...rc, epochs: length.epochs, iterations: length.total, lr: run.lr });
  try {
    let start: LoopStart;
    if (resuming) {
      const { progress, carried } = restoreRun(run, latest);
      reseedDropout(run, progress.iteration);
      log(`resumed from ${latest} at epoch ${progress.epoch + 1}, batch ${progress.step}, iteration ${progress.iteration}`);
      records.resume(progress, cfg.tensorboard);
      start = { progress, carried, resumed: true, setupAt, initS: 0 };
    } else {
      records.start(cfg.tensorboard);
      writeConfig();
      start = { progress: { iteration: 0, epoch: 0, step: 0 }, resumed: false, setupAt, initS: await initialClustering(run, records, log) };
    }
    const loop = new TrainLoop(run, records, o, log, latest, start, writeConfig);
    const onDevice = cfg.augmentOn === 'device' || (cfg.augmentOn === 'auto' && cfg.device !== 'cpu');
    const source = batchSource(store, run.augment, cfg.workers ?? 0, log, onDevice);
    try {
      await loop.train(source);
    } finally {
      await source.close();
    }
    const finished = length.done(loop.progress.iteration);
    if (finished) {
      await algo.finish(ctx);
      broadcastModule(group, model);
    }
    loop.save();
    const quality = finished && store.labels && cfg.evalFeatures ? await featureClustering(ctx, cfg.seed) : undefined;
    return writeResults(outDir, latest, rc, store, model, algo, finished, log, quality, root);
  } finally {
    records.close();
    disposeRun(run);
  }
}

/** A fresh run's start: the `--init-from` backbone, the method's initial clustering (the same on every rank). Returns its seconds. */
async function initialClustering(run: TrainingRun, records: RunRecords, log: (l: string) => void): Promise<number> {
  const { cfg, model, algo, ctx, group, store } = run;
  if (cfg.initFrom !== undefined) initFrom(model, cfg.initFrom, log);
  broadcastModule(group, model);
  const t0 = performance.now();
  const info = await algo.init(ctx);
  const seconds = (performance.now() - t0) / 1000;
  broadcastModule(group, model);
  reseedDropout(run, 0);
  const labels = algo.labels();
  if (labels !== undefined) {
    const truth = store.labels ? nmi(labels, store.labels) : undefined;
    const rec = { type: 'init', ...info, ...algo.clusterStats(), ...(truth !== undefined ? { nmi_labels: truth } : {}) };
    records.clustering(rec, 0, labels, run.rc.clusters);
    log(`initial clustering: extract ${info.extract_s.toFixed(1)}s, k-means ${info.kmeans_s.toFixed(1)}s${truth !== undefined ? `, NMI vs true classes ${truth.toFixed(4)}` : ''}`);
  }
  return seconds;
}
