/** `odc train`: flags and config file → validated config → training (with progress bars on a terminal). */
import type { Collective } from '../distributed/collective.ts';
import { launchLocal } from '../distributed/launch.ts';
import { initProcessGroup, type ProcessGroup } from '../distributed/process_group.ts';
import { ConfigError, TorchError } from '../tensor/errors.ts';
import { mergeConfig, readConfigFile, resolveConfig } from '../train/config.ts';
import { train } from '../train/trainer.ts';
import { trainProgress } from './progress.ts';

export interface TrainFlags {
  method?: 'odc' | 'deepcluster' | 'rotation' | 'npid';
  dataset?: string;
  split?: 'train' | 'test' | 'all';
  subset?: number;
  longTail?: number;
  imageSize?: number;
  onBadImage?: 'skip' | 'fail';
  arch?: 'resnet18' | 'resnet34' | 'resnet50' | 'alexnet';
  width?: number;
  stem?: 'auto' | 'cifar' | 'imagenet';
  clusters?: number;
  epochs?: number;
  budget?: string;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  assign?: 'euclidean' | 'dot';
  labelWarmup?: number;
  minCluster?: number;
  cropMin?: number;
  pcaDim?: number;
  sobel?: boolean;
  initFrom?: string;
  config?: string;
  out?: string;
  resume?: boolean;
  seed?: number;
  threads?: number;
  device?: string;
  precision?: 'fp32' | 'bf16' | 'fp16';
  workers?: number;
  maxIterations?: number;
  checkpointEvery?: number;
  logEvery?: number;
  /** false with --no-tensorboard (commander sets true otherwise, which must not override a config file). */
  tensorboard?: boolean;
  syncBn?: boolean;
  nproc?: number;
  distTimeout?: number;
  debug?: boolean;
}

export async function runTrain(f: TrainFlags): Promise<void> {
  const launched = process.env.WORLD_SIZE !== undefined && process.env.WORLD_SIZE !== '';
  if (f.nproc !== undefined && !launched) {
    if (!(f.nproc >= 1 && f.nproc <= 1024)) throw new ConfigError(`--nproc must be in [1, 1024], got ${f.nproc}`);
    if (f.nproc > 1) {
      process.exitCode = await launchLocal(f.nproc);
      return;
    }
  }
  const fromFile = f.config !== undefined ? readConfigFile(f.config) : {};
  const fromFlags: Record<string, unknown> = {
    method: f.method, dataset: f.dataset, split: f.split, subset: f.subset, longTail: f.longTail, imageSize: f.imageSize,
    onBadImage: f.onBadImage, arch: f.arch, width: f.width, stem: f.stem, clusters: f.clusters, epochs: f.epochs, budget: f.budget,
    batchSize: f.batchSize, lr: f.lr, weightDecay: f.weightDecay, pcaDim: f.pcaDim, sobel: f.sobel, initFrom: f.initFrom,
    out: f.out, seed: f.seed, device: f.device, precision: f.precision, threads: f.threads, workers: f.workers, maxIterations: f.maxIterations,
    checkpointEvery: f.checkpointEvery, logEvery: f.logEvery, tensorboard: f.tensorboard === false ? false : undefined, syncBn: f.syncBn,
    memory: { assign: f.assign, minCluster: f.minCluster, warmupEpochs: f.labelWarmup },
    augment: { scale: f.cropMin !== undefined ? [f.cropMin, 1] : undefined },
  };
  const cfg = resolveConfig(mergeConfig(fromFile, fromFlags), f.config ?? 'flags');
  // Under torchrun (or --nproc): one rank of a group; its other members run this same command.
  let group: ProcessGroup | undefined;
  if (launched && Number(process.env.WORLD_SIZE) > 1) {
    if (f.distTimeout !== undefined && !(f.distTimeout > 0)) throw new ConfigError(`--dist-timeout must be positive, got ${f.distTimeout}`);
    group = initProcessGroup({ timeoutMs: Math.round((f.distTimeout ?? 1800) * 1000) });
  }
  const root = (group?.rank ?? 0) === 0;
  const progress = root ? trainProgress() : { options: {}, stop() {} };
  let result: Awaited<ReturnType<typeof train>>;
  try {
    result = await train(cfg, { resume: f.resume, ...progress.options, group: group as Collective | undefined });
  } catch (e) {
    // A failed collective: name the ranks that stopped answering.
    if (group !== undefined && e instanceof TorchError) e.message += group.diagnoseFailure();
    throw e;
  } finally {
    progress.stop();
    group?.destroy();
  }
  if (!root) return;
  const s = result.summary;
  if (s.nmi_labels !== undefined) {
    console.log(`cluster labels vs true classes: NMI ${(s.nmi_labels as number).toFixed(4)}, ACC ${(s.acc_labels as number).toFixed(4)}`);
  }
  console.log(`done: ${result.outDir}`);
}
