/** `odc train`: flags and config file → validated config → training (with progress bars on a terminal). */
import { mergeConfig, readConfigFile, resolveConfig } from '../train/config.ts';
import { train } from '../train/trainer.ts';
import { trainProgress } from './progress.ts';

export interface TrainFlags {
  method?: 'odc' | 'deepcluster';
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
  workers?: number;
  maxIterations?: number;
  checkpointEvery?: number;
  logEvery?: number;
  /** false with --no-tensorboard (commander sets true otherwise, which must not override a config file). */
  tensorboard?: boolean;
  debug?: boolean;
}

export async function runTrain(f: TrainFlags): Promise<void> {
  const fromFile = f.config !== undefined ? readConfigFile(f.config) : {};
  const fromFlags: Record<string, unknown> = {
    method: f.method, dataset: f.dataset, split: f.split, subset: f.subset, longTail: f.longTail, imageSize: f.imageSize,
    onBadImage: f.onBadImage, arch: f.arch, width: f.width, stem: f.stem, clusters: f.clusters, epochs: f.epochs,
    batchSize: f.batchSize, lr: f.lr, weightDecay: f.weightDecay, pcaDim: f.pcaDim, sobel: f.sobel, initFrom: f.initFrom,
    out: f.out, seed: f.seed, threads: f.threads, workers: f.workers, maxIterations: f.maxIterations,
    checkpointEvery: f.checkpointEvery, logEvery: f.logEvery, tensorboard: f.tensorboard === false ? false : undefined,
    memory: { assign: f.assign, minCluster: f.minCluster, warmupEpochs: f.labelWarmup },
    augment: { scale: f.cropMin !== undefined ? [f.cropMin, 1] : undefined },
  };
  const cfg = resolveConfig(mergeConfig(fromFile, fromFlags), f.config ?? 'flags');
  const progress = trainProgress();
  let result: Awaited<ReturnType<typeof train>>;
  try {
    result = await train(cfg, { resume: f.resume, ...progress.options });
  } finally {
    progress.stop();
  }
  const s = result.summary;
  if (s.nmi_labels !== undefined) {
    console.log(`cluster labels vs true classes: NMI ${(s.nmi_labels as number).toFixed(4)}, ACC ${(s.acc_labels as number).toFixed(4)}`);
  }
  console.log(`done: ${result.outDir}`);
}
