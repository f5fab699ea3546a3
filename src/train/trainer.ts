/**
 * `odc train` as a library call: loads the data, builds the model, runs ODC or DeepCluster with
 * logging, progress hooks, metrics.jsonl, TensorBoard event files, atomic checkpoints and exact
 * resume, and writes the results to the run directory (cluster labels, memory features, summary).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { kmeans, pcaWhitenL2 } from '../cluster/kmeans.ts';
import { presetFor } from '../data/augment.ts';
import { batchSource, type ImageSet, isStreamed, longTailOf, subsetOf } from '../data/image_set.ts';
import { loadImageSet } from '../data/spec.ts';
import { type ImageStore, imageSize } from '../data/store.ts';
import { type Collective, singleProcess } from '../distributed/collective.ts';
import { broadcastModule, padToMultiple } from '../distributed/data_parallel.ts';
import { clusterAccuracy, clusterSizes, nmi } from '../eval/cluster_metrics.ts';
import { writeNpy } from '../io/npy.ts';
import { saveSafetensors, writeFileAtomic } from '../io/safetensors.ts';
import { ClusterModel } from '../models/cluster_model.ts';
import { checkPrecision } from '../nn/autocast.ts';
import { useSyncBatchNorm } from '../nn/layers.ts';
import { LossScaler, type LossScalerState } from '../optim/loss_scaler.ts';
import { constantLr, cosineLr, type Schedule, stepLr } from '../optim/schedules.ts';
import { SGD } from '../optim/sgd.ts';
import { getNumThreads, setNumThreads } from '../runtime.ts';
import { stack, tensor, withDefaultDevice } from '../tensor/creation.ts';
import { checkDevice } from '../tensor/device.ts';
import type { Device } from '../tensor/dtype.ts';
import { ConfigError } from '../tensor/errors.ts';
import { Generator, manualSeed } from '../tensor/random.ts';
import { tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { AlgorithmContext, ClusterAlgorithm } from './algorithm.ts';
import { parseBudget, type RunConfig, resolveRunConfig } from './budget.ts';
import { loadCheckpoint, type Progress, restoreRng, saveCheckpoint } from './checkpoint.ts';
import { defaultLr, type TrainConfig } from './config.ts';
import { initFrom } from './init_from.ts';
import { createAlgorithm, modelOptions } from './methods.ts';
import { kmeansOfPooled } from './pooled_kmeans.ts';
import { TrainBoard } from './tensorboard.ts';

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

export interface TrainResult {
  outDir: string;
  checkpoint: string;
  labels: Int32Array;
  summary: Record<string, unknown>;
}

/** The learning-rate schedule over `epochs` (fractional: an iteration budget may end inside an epoch). */
function scheduleOf(c: TrainConfig, epochs: number): Schedule {
  const s = c.lrSchedule;
  if (s.type === 'step') return stepLr(s.milestones, s.gamma);
  if (s.type === 'cosine') return cosineLr(epochs, s.minFactor, s.warmupEpochs);
  return constantLr();
}

/**
 * A wall-time budget fixes the run's length from the speed of CALIBRATION_ITERATIONS iterations
 * after the first WARMUP_ITERATIONS (which create the engine's kernels and grow its allocator, and
 * ran up to twice as slow as the rest here).
 */
const WARMUP_ITERATIONS = 5;
const CALIBRATION_ITERATIONS = 20;

/** 42s, 3m07s, 1h05m. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** The configured dataset as training reads it: in memory, or streamed (`stream:DIR`, `shards:PATH`); subsampled. */
export async function loadTrainingSet(cfg: TrainConfig, log: (l: string) => void): Promise<ImageSet> {
  let set = await loadImageSet(cfg.dataset, cfg.split, { size: cfg.imageSize, onError: cfg.onBadImage, warn: log });
  if (cfg.longTail !== undefined) set = longTailOf(set, cfg.longTail, cfg.seed);
  if (cfg.subset !== undefined) set = subsetOf(set, cfg.subset, cfg.seed);
  return set;
}

/**
 * Trains `userCfg` on its device: everything the run creates (model, optimiser state, memories,
 * k-means, batches) lives on `cfg.device`; checkpoints are written from CPU copies.
 */
export async function train(userCfg: TrainConfig, o: TrainOptions = {}): Promise<TrainResult> {
  const device = checkDevice(userCfg.device, '--device');
  checkPrecision(userCfg.precision, device);
  if (device !== 'cpu' && (o.group?.worldSize ?? 1) > 1) {
    throw new ConfigError(`--device ${device} with ${o.group?.worldSize} processes: several processes on CUDA need an NCCL process group, which this build does not have; use --device cpu (Gloo) or one process`);
  }
  return withDefaultDevice(device, () => trainOn(userCfg, o));
}

async function trainOn(userCfg: TrainConfig, o: TrainOptions): Promise<TrainResult> {
  let cfg = userCfg;
  const tSetup = performance.now();
  const group = o.group ?? singleProcess;
  const root = group.rank === 0;
  const log = root ? (o.log ?? ((l: string) => console.log(l))) : () => {};
  if (cfg.batchSize % group.worldSize !== 0) {
    throw new ConfigError(`--batch-size ${cfg.batchSize} (the global batch) is not a multiple of the ${group.worldSize} processes`);
  }
  const outDir = resolve(cfg.out);
  if (root) mkdirSync(outDir, { recursive: true });
  const latest = join(outDir, 'latest.safetensors');
  // Rank 0's file system decides, and its checkpoint's bytes reach every rank (no shared disk needed).
  const resuming = agreed(group, (o.resume ?? false) && root && existsSync(latest));
  if (o.resume && !resuming) log(`no checkpoint at ${latest}: starting a fresh run`);
  // On CPU, the cores are divided among the processes of this machine.
  const threads = cfg.threads ?? (group.localWorldSize > 1 ? Math.max(1, Math.floor(availableParallelism() / group.localWorldSize)) : undefined);
  if (threads !== undefined) setNumThreads(threads);
  manualSeed(cfg.seed);

  const store = await loadTrainingSet(cfg, log);
  // Worker threads: in-memory sets, one when a core is free beyond the engine's threads; streamed
  // sets (decoding is the work), every core this process does not give the engine, at least one.
  const coresHere = Math.floor(availableParallelism() / group.localWorldSize);
  const workers = isStreamed(store) ? Math.max(1, coresHere - getNumThreads()) : coresHere > getNumThreads() ? 1 : 0;
  cfg = { ...cfg, workers: cfg.workers ?? workers };
  const itersPerEpoch = Math.ceil(store.n / cfg.batchSize);
  const budget = parseBudget(cfg, store.n);
  /** The run's length in iterations: a wall-time budget's is settled after its first iterations (or read from its checkpoint). */
  let totalIters = budget.iterations;
  const epochsFor = (iters: number | undefined) => (iters === undefined ? Number.MAX_SAFE_INTEGER : Math.ceil(iters / itersPerEpoch));
  const rc: RunConfig = resolveRunConfig(cfg, store, epochsFor(totalIters));
  const stem = rc.stem === 'auto' ? (store.height <= 64 ? 'cifar' : 'imagenet') : rc.stem;
  const augCfg = presetFor(store.channels, store.height, Object.fromEntries(Object.entries(rc.augment).filter(([, v]) => v !== undefined)));
  const model = new ClusterModel(modelOptions(rc, { channels: store.channels, stem }, new Generator(rc.seed)));
  if (cfg.syncBn && group.worldSize > 1) useSyncBatchNorm(model, group);
  model.setPrecision(cfg.precision, cfg.device as Device);
  // float16 gradients underflow without it (bfloat16 has float32's range).
  const scaler = cfg.precision === 'fp16' ? new LossScaler() : undefined;
  // Dropout draws differ between ranks (rank 0's generator is the one checkpointed).
  const reseedDropout = (iteration: number) => {
    if (group.rank > 0) manualSeed(Number((BigInt(cfg.seed) * 1_000_003n + BigInt(group.rank) * 7_919n + BigInt(iteration)) % 2n ** 52n));
  };
  const lr = cfg.lr ?? defaultLr(cfg);
  const params = model.parameters();
  const optimizer = new SGD(model.paramGroups(), { lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  const algo: ClusterAlgorithm = createAlgorithm(rc.method);
  const ctx: AlgorithmContext = { cfg: rc, store, model, extractCfg: augCfg, log, group };
  let schedule = scheduleOf(cfg, totalIters === undefined ? 1 : totalIters / itersPerEpoch);
  const metricsPath = join(outDir, 'metrics.jsonl');
  const record = (rec: Record<string, unknown>) => {
    if (!root) return;
    appendFileSync(metricsPath, `${JSON.stringify(rec)}\n`);
    o.onRecord?.(rec);
  };
  log(`data: ${store.source}: ${store.n} images ${store.channels}x${store.height}x${store.width}${isStreamed(store) ? ' (streamed: decoded and cropped per batch)' : ''}${store.labels ? `, ${store.classNames?.length} true classes (evaluation only)` : ''}`);
  const perProcess = group.worldSize > 1 ? ` (${cfg.batchSize / group.worldSize} per process x ${group.worldSize} processes${cfg.syncBn ? ', synchronised BatchNorm' : ''})` : '';
  const clustersText = `${rc.clusters} ${rc.method === 'rotation' || rc.method === 'npid' ? 'clusters at the end' : 'clusters'}${cfg.clusters === undefined ? ' (default for this many images)' : ''}`;
  log(`model: ${cfg.arch} (${stem} stem, width ${cfg.width}${cfg.sobel ? ', Sobel' : ''}) ${(model.numParameters() / 1e6).toFixed(2)}M parameters; ${cfg.method}, ${clustersText}, batch ${cfg.batchSize}${perProcess}, lr ${lr}${cfg.device !== 'cpu' ? `, on ${cfg.device}` : ''}${cfg.precision !== 'fp32' ? `, ${cfg.precision} autocast` : ''}`);
  log(`budget: ${budget.text}`);
  const writeConfig = () => {
    if (root) writeFileSync(join(outDir, 'config.json'), `${JSON.stringify({ ...rc, epochs: epochsFor(totalIters), iterations: totalIters, lr }, null, 2)}\n`);
  };

  let progress: Progress = { iteration: 0, epoch: 0, step: 0 };
  /** A mid-epoch checkpoint's running means (the epoch's and the log window's), continued on resume. */
  let carried: { epoch: Running; window: Running } | undefined;
  let board: TrainBoard | undefined;
  /** Seconds the initial clustering took (a wall-time budget expects each DeepCluster epoch to spend as much re-clustering). */
  let initS = 0;
  try {
    if (resuming) {
      const ck = loadCheckpoint(latest, broadcastFile(group, root ? latest : undefined));
      try {
        model.loadStateDict(ck.model);
        optimizer.loadStateDict(ck.optimizer);
        algo.loadStateDict(ctx, new Map([...ck.memory, ...ck.rest]), ck.meta);
        restoreRng(ck);
        if (scaler && isScalerState(ck.meta.loss_scale)) scaler.load(ck.meta.loss_scale);
        progress = ck.progress ?? progress;
        carried = progress.step > 0 ? readRunning(ck.meta.running) : undefined;
        if (totalIters === undefined && typeof ck.meta.budget_iterations === 'number') totalIters = ck.meta.budget_iterations;
      } finally {
        ck.dispose();
      }
      reseedDropout(progress.iteration);
      log(`resumed from ${latest} at epoch ${progress.epoch + 1}, batch ${progress.step}, iteration ${progress.iteration}`);
      if (root && existsSync(metricsPath)) trimMetrics(metricsPath, progress);
      if (cfg.tensorboard && root) board = new TrainBoard(join(outDir, 'tb'), progress.iteration, { midEpoch: progress.step > 0 });
    } else {
      if (root) {
        writeFileSync(metricsPath, '');
        writeConfig();
        if (cfg.tensorboard) board = new TrainBoard(join(outDir, 'tb'));
      }
      if (cfg.initFrom !== undefined) initFrom(model, cfg.initFrom, log);
      broadcastModule(group, model);
      const tInit = performance.now();
      const info = await algo.init(ctx);
      initS = (performance.now() - tInit) / 1000;
      broadcastModule(group, model);
      reseedDropout(0);
      const labels = algo.labels();
      if (labels !== undefined) {
        const rec = { type: 'init', ...info, ...algo.clusterStats(), ...(store.labels ? { nmi_labels: nmi(labels, store.labels) } : {}) };
        record(rec);
        board?.epoch(rec, 0, labels, rc.clusters);
        log(`initial clustering: extract ${info.extract_s.toFixed(1)}s, k-means ${info.kmeans_s.toFixed(1)}s${store.labels ? `, NMI vs true classes ${(rec as { nmi_labels: number }).nmi_labels.toFixed(4)}` : ''}`);
      }
    }
    if (totalIters !== undefined) schedule = scheduleOf(cfg, totalIters / itersPerEpoch);

    // This epoch's sums so far (its record) and those since the last logged iteration (the next 'iter' record).
    let sums = zeroRunning();
    let window = { ...zeroRunning(), t: performance.now() };
    /**
     * Each iteration's [loss, pseudo-label accuracy] (float64, on the run's device) and label-change
     * ratio, not yet read to the host: they are read together at logged iterations, checkpoints and
     * epoch ends (on a GPU each read waits for the queued work), and added in iteration order.
     */
    const unread: { stats: Tensor; change: number }[] = [];
    /** What the progress hook shows between reads: the means of the last read window. */
    let shown = { loss: Number.NaN, change: Number.NaN };
    const readStats = () => {
      if (unread.length === 0) return;
      // The global batch's loss and pseudo-label accuracy (means of the ranks' equal slices).
      const v = tidy(() => group.allReduce(stack(unread.map((u) => u.stats)), 'avg').toArray());
      for (const [k, u] of unread.entries()) {
        const [loss, acc] = [v[2 * k], v[2 * k + 1]];
        sums = { ...sums, loss: sums.loss + loss, change: sums.change + u.change, acc: sums.acc + acc, n: sums.n + 1 };
        window = { ...window, loss: window.loss + loss, change: window.change + u.change, acc: window.acc + acc, n: window.n + 1 };
        u.stats.dispose();
      }
      unread.length = 0;
      shown = { loss: window.loss / window.n, change: window.change / window.n };
    };
    const save = () => {
      readStats();
      if (o.onCheckpoint) {
        const state = new Map([...[...model.stateDict()].map(([k, v]) => [`model.${k}`, v] as const), ...algo.stateDict()]);
        o.onCheckpoint(state, progress);
      }
      if (!root) return;
      saveCheckpoint(latest, {
        model: model.stateDict(), optimizer: optimizer.stateDict(), memory: algo.stateDict(), progress,
        meta: { ...algo.meta(), ...(scaler ? { loss_scale: scaler.state() } : {}), config: rc, ...(totalIters !== undefined ? { budget_iterations: totalIters } : {}), ...(progress.step > 0 ? { running: { epoch: writeRunning(sums), window: writeRunning(window) } } : {}) },
      });
    };
    const maker = batchSource(store, augCfg, cfg.workers ?? 0, log);
    const tStart = performance.now();
    let itersThisRun = 0;
    let tCalibration = tStart;
    let stopped = false;
    try {
      for (let epoch = progress.epoch; epoch < epochsFor(totalIters) && progress.iteration < (totalIters ?? Number.MAX_SAFE_INTEGER) && !stopped; epoch++) {
        const resumedHere = resuming && epoch === progress.epoch && progress.step > 0;
        const begun = await algo.beginEpoch(ctx, epoch, resumedHere);
        const { info } = begun;
        const order = padToMultiple(begun.order, group.worldSize);
        if (Object.keys(info).length) broadcastModule(group, model);
        if (Object.keys(info).length) record({ type: 'cluster', epoch: epoch + 1, ...info, ...algo.clusterStats() });
        const fromStep = epoch === progress.epoch ? progress.step : 0;
        // A run resumed mid-epoch continues the interrupted run's means (images and times restart: speeds are this run's).
        const carry = fromStep > 0 ? carried : undefined;
        sums = { ...zeroRunning(), ...carry?.epoch };
        // Time of the iterations themselves (step, memory work, waiting for data), without logging and checkpoints.
        let loopMs = 0;
        const waitBefore = maker.waitMs;
        const commBefore = group.commMs;
        // Iterations since the last logged one: what an 'iter' record, a progress line and the bar show.
        window = { ...zeroRunning(), ...carry?.window, t: performance.now() };
        const epochStart = performance.now();
        const epochInfo = { epoch: epoch + 1, epochs: epochsFor(totalIters), itersPerEpoch, fromStep };
        o.onEpochStart?.(epochInfo);
        model.train();
        const part = { rank: group.rank, worldSize: group.worldSize };
        for await (const batch of maker.batches(order, { batchSize: cfg.batchSize, seeds: [cfg.seed, epoch], fromStep, minBatch: 2, part })) {
          const tIter = performance.now();
          const factor = schedule(epoch + batch.step / itersPerEpoch);
          optimizer.setLrFactor(factor);
          let change = Number.NaN;
          const stats = tidy(() => {
            const s = algo.step(ctx, batch);
            change = s.changeRatio ?? Number.NaN;
            optimizer.zeroGrad();
            group.backwardAveraged(scaler ? scaler.scaleLoss(s.loss) : s.loss, params, { bucketBytes: cfg.gradBucketMb * 2 ** 20, overlap: cfg.overlapGradients });
            // (fp16: a step whose gradients overflowed is skipped and the scale lowered)
            if (scaler === undefined || scaler.unscale(params)) optimizer.step();
            return stack([s.loss.detach().double(), s.logits.argmax(1).eq(s.target).float().mean().double()]);
          });
          unread.push({ stats, change });
          batch.images.dispose();
          batch.index.dispose();
          progress = { iteration: progress.iteration + 1, epoch, step: batch.step + 1 };
          const after = algo.afterStep(ctx, progress.iteration);
          loopMs += performance.now() - tIter;
          itersThisRun++;
          const repaired = after.repaired ?? 0;
          const images = batch.rows.length * group.worldSize;
          sums = { ...sums, repaired: sums.repaired + repaired, images: sums.images + images };
          window = { ...window, repaired: window.repaired + repaired, images: window.images + images };
          const logged = progress.iteration % cfg.logEvery === 0;
          // (and the first iteration's, so that the progress hook has a loss to show from the start)
          if (logged || Number.isNaN(shown.loss)) readStats();
          if (logged || o.onIteration) {
            const now = performance.now();
            const speed = window.images / ((now - window.t) / 1000);
            const left = Math.max(0, Math.min(totalIters ?? Number.POSITIVE_INFINITY, cfg.maxIterations ?? Number.POSITIVE_INFINITY) - progress.iteration);
            const eta = ((now - tStart) / 1000 / itersThisRun) * left;
            const { loss, change } = shown;
            if (logged) {
              // One record per logged iteration: means over the iterations since the previous one.
              const rec = {
                type: 'iter', iteration: progress.iteration, epoch: epoch + 1, loss, change_ratio: change, acc_pseudo: window.acc / window.n,
                lr: lr * factor, repaired: window.repaired, img_per_s: speed, ...algo.clusterStats(),
              };
              record(rec);
              board?.iteration(rec);
              if (o.iterationLines ?? true) {
                log(
                  `epoch ${epoch + 1}/${epochInfo.epochs} it ${batch.step + 1}/${itersPerEpoch} loss ${loss.toFixed(4)}` +
                    `${cfg.method === 'odc' ? ` change ${change.toFixed(3)}` : ''} lr ${(lr * factor).toPrecision(3)} ${speed.toFixed(1)} img/s eta ${formatDuration(eta)}`,
                );
              }
            }
            o.onIteration?.({
              ...epochInfo, iteration: progress.iteration, step: batch.step + 1, loss, changeRatio: cfg.method === 'odc' ? change : undefined,
              lr: lr * factor, imgPerS: speed, etaS: eta, logged,
            });
            if (logged) window = { loss: 0, change: 0, acc: 0, repaired: 0, n: 0, t: performance.now(), images: 0 };
          }
          if (itersThisRun === WARMUP_ITERATIONS) tCalibration = performance.now();
          if (totalIters === undefined && itersThisRun === WARMUP_ITERATIONS + CALIBRATION_ITERATIONS) {
            // A wall-time budget: what is left of it, at this speed (and, for DeepCluster, one re-clustering per epoch as long as the first).
            const perIter = (performance.now() - tCalibration) / 1000 / CALIBRATION_ITERATIONS;
            const perEpochExtra = rc.method === 'deepcluster' ? initS : 0;
            const left = (budget.seconds as number) - (performance.now() - tSetup) / 1000;
            totalIters = progress.iteration + Math.max(0, Math.floor(left / (perIter + perEpochExtra / itersPerEpoch)));
            totalIters = agreedNumber(group, totalIters);
            schedule = scheduleOf(cfg, totalIters / itersPerEpoch);
            epochInfo.epochs = epochsFor(totalIters);
            log(`budget ${cfg.budget}: ${totalIters.toLocaleString('en-US')} iterations (${perIter.toFixed(3)} s each over iterations ${WARMUP_ITERATIONS + 1}-${itersThisRun}; ${(totalIters / itersPerEpoch).toFixed(1)} epochs of ${store.n.toLocaleString('en-US')} images)`);
            writeConfig();
          }
          const budgetDone = totalIters !== undefined && progress.iteration >= totalIters;
          if (progress.iteration % cfg.checkpointEvery === 0 && !budgetDone) save();
          if (budgetDone) break;
          if (cfg.maxIterations !== undefined && progress.iteration >= cfg.maxIterations) {
            stopped = true;
            break;
          }
        }
        readStats();
        const partial = stopped && progress.step < itersPerEpoch;
        if (!partial) progress = { iteration: progress.iteration, epoch: epoch + 1, step: 0 };
        const labels = algo.labels();
        const wall = (performance.now() - epochStart) / 1000;
        const epochRec = {
          type: 'epoch', epoch: epoch + 1, iteration: progress.iteration, partial, loss: sums.loss / Math.max(1, sums.n), change_ratio: sums.change / Math.max(1, sums.n),
          acc_pseudo: sums.acc / Math.max(1, sums.n), repaired: sums.repaired, wall_s: wall, img_per_s: sums.images / wall,
          loop_s: (loopMs + maker.waitMs - waitBefore) / 1000, data_wait_s: (maker.waitMs - waitBefore) / 1000,
          ...(group.worldSize > 1 ? { processes: group.worldSize, comm_s: (group.commMs - commBefore) / 1000 } : {}), ...algo.clusterStats(), ...(store.labels && labels ? { nmi_labels: nmi(labels, store.labels) } : {}),
        };
        record(epochRec);
        board?.epoch(epochRec, progress.iteration, labels, rc.clusters);
        o.onEpochEnd?.(epochRec);
        log(`epoch ${epoch + 1} done in ${formatDuration(wall)}: loss ${epochRec.loss.toFixed(4)}${cfg.method === 'odc' ? ` change ${epochRec.change_ratio.toFixed(3)}` : ''}` +
          `${'nmi_labels' in epochRec ? ` NMI(labels, truth) ${(epochRec.nmi_labels as number).toFixed(4)}` : ''}`);
        save();
      }
    } finally {
      // (left only when the loop failed: every other way out reads them)
      for (const u of unread) u.stats.dispose();
      await maker.close();
    }
    const finished = totalIters !== undefined && progress.iteration >= totalIters;
    if (finished) {
      await algo.finish(ctx);
      broadcastModule(group, model);
    }
    save();
    const quality = finished && store.labels && cfg.evalFeatures ? await featureClustering(ctx) : undefined;
    return writeResults(outDir, latest, rc, store, model, algo, finished, log, quality, root);
  } finally {
    board?.close();
    algo.dispose();
    optimizer.dispose();
    model.dispose();
  }
}

/** Running sums of what the trainer logs: loss, label-change ratio, pseudo-label accuracy, repairs over n iterations. */
interface Running {
  loss: number;
  change: number;
  acc: number;
  repaired: number;
  n: number;
  images: number;
}

const zeroRunning = (): Running => ({ loss: 0, change: 0, acc: 0, repaired: 0, n: 0, images: 0 });

/** For checkpoint metadata: the sums without the image count (speeds restart with the resumed run); NaN as null. */
function writeRunning(r: Running): (number | null)[] {
  return [r.loss, r.change, r.acc, r.repaired, r.n].map((v) => (Number.isNaN(v) ? null : v));
}

/** The running sums of a checkpoint's `meta.running`, or undefined when it has none (older checkpoints). */
function readRunning(v: unknown): { epoch: Running; window: Running } | undefined {
  const one = (a: unknown): Running | undefined => {
    if (!Array.isArray(a) || a.length !== 5) return undefined;
    const [loss, change, acc, repaired, n] = a.map((x) => (x === null ? Number.NaN : Number(x)));
    return { loss, change, acc, repaired, n, images: 0 };
  };
  const r = v as { epoch?: unknown; window?: unknown } | undefined;
  const epoch = one(r?.epoch);
  const window = one(r?.window);
  return epoch && window ? { epoch, window } : undefined;
}

/**
 * Before resuming from `p`: drops the metrics records the interrupted run wrote after its
 * checkpoint (they will be written again), the record of an epoch it stopped in (`maxIterations`;
 * the resumed run writes the whole epoch's) and a line cut short by a kill.
 */
function trimMetrics(path: string, p: Progress): void {
  const keep = readFileSync(path, 'utf8').split('\n').filter((line) => {
    let r: { type?: string; iteration?: number; epoch?: number; partial?: boolean };
    try {
      r = JSON.parse(line);
    } catch {
      return false;
    }
    if (r.type === 'epoch' && r.partial === true) return false;
    if (r.type === 'iter' || r.type === 'epoch') return (r.iteration ?? 0) <= p.iteration;
    // An epoch's clustering record precedes its first batch: kept when the checkpoint is inside that epoch.
    if (r.type === 'cluster') return (r.epoch ?? 0) <= p.epoch + (p.step > 0 ? 1 : 0);
    return true;
  });
  writeFileAtomic(path, Buffer.from(keep.map((l) => `${l}\n`).join('')));
}

/**
 * How well the learned backbone features cluster: k-means with k = number of true classes on the
 * L2-normalised pooled backbone features (eval mode) of the training images; NMI and ACC. Beside
 * it, the same k-means on the raw pixels of the same images: what the features must beat.
 */
export async function featureClustering(ctx: AlgorithmContext): Promise<FeatureQuality> {
  const { store, cfg } = ctx;
  const truth = store.labels as Int32Array;
  const k = store.classNames?.length ?? Math.max(...truth) + 1;
  const labels = await kmeansOfPooled(ctx, k, { restarts: 5, seed: cfg.seed });
  // Only the rank that writes the summary needs the pixel baseline (every rank holds all the pixels);
  // a streamed set has no decoded pixels to cluster.
  const pixels = ctx.group.rank === 0 && !isStreamed(store) ? pixelClustering(store, k, cfg.seed) : undefined;
  const r: FeatureQuality = {
    nmi: nmi(labels, truth), acc: clusterAccuracy(labels, truth), k,
    ...(pixels === undefined ? {} : { pixels: { nmi: nmi(pixels, truth), acc: clusterAccuracy(pixels, truth) } }),
  };
  const onPixels = r.pixels === undefined ? '' : `; on the raw pixels of the same images: NMI ${r.pixels.nmi.toFixed(4)}, ACC ${r.pixels.acc.toFixed(4)}`;
  ctx.log(`k-means (k = ${k}) on the learned backbone features: NMI ${r.nmi.toFixed(4)}, ACC ${r.acc.toFixed(4)}${onPixels}`);
  return r;
}

export interface FeatureQuality {
  nmi: number;
  acc: number;
  k: number;
  /** The same k-means on the images' raw pixels (in-memory data sets, from the rank that writes the summary). */
  pixels?: { nmi: number; acc: number };
}

/** k-means (k-means++, 5 restarts) on the L2-normalised raw pixels of every image of `store`. */
export function pixelClustering(store: ImageStore, k: number, seed: number): Int32Array {
  return tidy(() => {
    const x = pcaWhitenL2(tensor(store.pixels, { shape: [store.n, imageSize(store)] }).float(), -1);
    const km = kmeans(x, { k, init: 'kmeans++', restarts: 5, seed });
    const labels = Int32Array.from(km.labels.toArray());
    km.centroids.dispose();
    km.labels.dispose();
    return labels;
  });
}

function writeResults(
  outDir: string, checkpoint: string, cfg: RunConfig, store: ImageSet, model: ClusterModel, algo: ClusterAlgorithm, finished: boolean, log: (l: string) => void,
  quality?: FeatureQuality, root = true,
): TrainResult {
  const labels = algo.labels();
  const state = algo.stateDict();
  const feats = state.get('memory.features');
  if (root) {
    if (labels !== undefined) writeNpy(join(outDir, 'labels.npy'), labels);
    if (feats !== undefined) saveSafetensors(join(outDir, 'memory.safetensors'), state);
    saveSafetensors(join(outDir, 'model.safetensors'), model.stateDict(), { arch: cfg.arch, method: cfg.method });
  }
  const summary: Record<string, unknown> = {
    method: cfg.method, dataset: store.source, images: store.n, clusters: cfg.clusters, finished,
    ...(labels !== undefined ? { cluster_sizes: clusterSizes(labels, cfg.clusters) } : {}),
  };
  if (store.labels && labels !== undefined) {
    summary.nmi_labels = nmi(labels, store.labels);
    summary.acc_labels = clusterAccuracy(labels, store.labels);
  }
  if (quality !== undefined) summary.feature_kmeans = quality;
  if (root) writeFileAtomic(join(outDir, 'summary.json'), Buffer.from(`${JSON.stringify(summary, null, 2)}\n`));
  log(`results in ${outDir}: latest.safetensors (resumable checkpoint), model.safetensors${labels !== undefined ? ', labels.npy' : ''}${feats ? ', memory.safetensors' : ''}, metrics.jsonl, summary.json`);
  return { outDir, checkpoint, labels: labels ?? new Int32Array(0), summary };
}

/** Rank 0's number, on every rank. */
function agreedNumber(group: Collective, mine: number): number {
  return tidy(() => group.broadcast(tensor(Float64Array.of(mine)), 0).toArray()[0]);
}

/** Rank 0's answer, on every rank. */
function agreed(group: Collective, mine: boolean): boolean {
  return tidy(() => group.broadcast(tensor(Int32Array.of(mine ? 1 : 0)), 0).toArray()[0] === 1);
}

/** The bytes of rank 0's file `path`, on every rank (undefined alone: the caller reads it itself). */
function broadcastFile(group: Collective, path: string | undefined): Uint8Array | undefined {
  if (group.worldSize === 1) return undefined;
  return tidy(() => {
    const bytes = path === undefined ? undefined : readFileSync(path);
    const size = group.broadcast(tensor(Float64Array.of(bytes?.length ?? 0)), 0).toArray()[0];
    const buf = tensor(bytes === undefined ? new Uint8Array(size) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
    group.broadcast(buf, 0);
    return buf.data<Uint8Array>();
  });
}

function isScalerState(v: unknown): v is LossScalerState {
  const s = v as LossScalerState | undefined;
  return typeof s?.scale === 'number' && typeof s?.good === 'number';
}
