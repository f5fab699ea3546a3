/**
 * The flags of `odc train`, each written once: its option (name, help, how its argument is read)
 * and the config key it sets. The command's options, `--help` and the config a command line makes
 * all come from this list.
 */
import { Option } from '@commander-js/extra-typings';
import { nested } from '../train/config.ts';
import { int, num } from './parse_args.ts';

export interface TrainFlag {
  /** commander's flags text: `--batch-size <n>`, `--sobel`, `--no-tensorboard`. */
  flags: string;
  help: string;
  arg?: 'int' | 'num';
  choices?: readonly string[];
  /** The dotted config key the flag sets; none for the command's own flags (--config, --resume...). */
  key?: string;
  /** The config value of the flag's value (default: the value itself; undefined: nothing set). */
  toConfig?: (v: unknown) => unknown;
}

export const TRAIN_FLAGS: readonly TrainFlag[] = [
  { flags: '--method <method>', key: 'method', choices: ['odc', 'deepcluster', 'rotation', 'npid'], help: 'odc, deepcluster, or a pretext method for --init-from: rotation (predict 0/90/180/270 degrees) or npid (instance discrimination)' },
  { flags: '--dataset <spec>', key: 'dataset', help: 'fashion-mnist (default, Debian dataset-fashion-mnist), mnist, idx:DIR, cifar:DIR, folder:DIR (decoded into memory), stream:DIR (an ImageFolder tree, decoded per batch) or shards:PATH (tar shards: a .tar or a folder of them, decoded per batch)' },
  { flags: '--split <split>', key: 'split', choices: ['train', 'test', 'all'], help: 'which part of the dataset to train on' },
  { flags: '--subset <n>', key: 'subset', arg: 'int', help: 'train on a seeded random subset of n images' },
  { flags: '--long-tail <ratio>', key: 'longTail', arg: 'num', help: 'long-tailed subsample, largest/smallest class size ratio 1..64 (needs labels)' },
  { flags: '--image-size <px>', key: 'imageSize', arg: 'int', help: 'folder, stream and shard datasets: images are resized (folder) or cropped (stream, shards) to this side (default: their median shorter side, at most 64 for folder:, 224 for stream: and shards:)' },
  { flags: '--on-bad-image <what>', key: 'onBadImage', choices: ['skip', 'fail'], help: 'folder, stream and shard datasets: skip unreadable images (reported by file, or shard and key) or fail' },
  { flags: '--arch <arch>', key: 'arch', choices: ['resnet18', 'resnet34', 'resnet50', 'alexnet'], help: 'backbone' },
  { flags: '--width <n>', key: 'width', arg: 'int', help: 'ResNet first-stage width, 64 = standard (default 16: a CPU-sized ResNet)' },
  { flags: '--stem <stem>', key: 'stem', choices: ['auto', 'cifar', 'imagenet'], help: 'auto: CIFAR stem up to 64 px' },
  { flags: '--clusters <k>', key: 'clusters', arg: 'int', help: 'number of clusters K (default: one per 600 images, 10 to 10,000; pretext methods: of the final clustering)' },
  { flags: '--budget <b>', key: 'budget', help: 'training budget: iterations (3752it, the default: 4 epochs of Fashion-MNIST), epochs (4ep) or wall time (15m, 2h: the iterations are set from the speed of iterations 6-25)' },
  { flags: '--epochs <n>', key: 'epochs', arg: 'int', help: 'training budget in epochs (the same as --budget <n>ep)' },
  { flags: '--batch-size <n>', key: 'batchSize', arg: 'int', help: 'images per iteration, over all processes (default 64)' },
  { flags: '--lr <lr>', key: 'lr', arg: 'num', help: 'learning rate (default: ODC 0.06, DeepCluster 0.3, 0.1 with --sobel, rotation 0.1, NPID 0.03)' },
  { flags: '--weight-decay <wd>', key: 'weightDecay', arg: 'num', help: 'SGD weight decay (default 1e-5)' },
  { flags: '--assign <rule>', key: 'memory.assign', choices: ['euclidean', 'dot'], help: 'ODC re-assignment: dot (released code, default: measured better) or euclidean (paper Eq. 3)' },
  { flags: '--label-warmup <epochs>', key: 'memory.warmupEpochs', arg: 'num', help: 'ODC: epochs before labels are re-assigned (default 1; 0 = the paper)' },
  { flags: '--min-cluster <n>', key: 'memory.minCluster', arg: 'int', help: 'ODC: clusters smaller than this are dissolved and re-created (default 20)' },
  { flags: '--crop-min <s>', key: 'augment.scale', arg: 'num', toConfig: (v) => [v, 1], help: 'smallest RandomResizedCrop area fraction (default 0.3 up to 64 px, else 0.08)' },
  { flags: '--pca-dim <d>', key: 'pcaDim', arg: 'int', help: 'DeepCluster: PCA dimension with whitening, -1 for none (default 256)' },
  { flags: '--sobel', key: 'sobel', help: 'DeepCluster: Sobel-filter the input' },
  { flags: '--init-from <path>', key: 'initFrom', help: 'start from the backbone of a checkpoint (safetensors: an odc run of any method, or a torchvision-keyed ResNet): unsupervised fine-tuning' },
  { flags: '--config <file>', help: 'YAML or JSON file of settings (flags override it)' },
  { flags: '--out <dir>', key: 'out', help: 'run directory (default runs/odc)' },
  { flags: '--resume', help: 'continue from <out>/latest.safetensors' },
  { flags: '--seed <n>', key: 'seed', arg: 'int', help: 'random seed (default 0)' },
  { flags: '--device <device>', key: 'device', help: 'cpu (default), cuda or cuda:N: where the model, optimiser, memories, k-means and batches live (needs a CUDA libtorch)' },
  { flags: '--precision <p>', key: 'precision', choices: ['fp32', 'bf16', 'fp16'], help: 'forward pass in mixed precision (autocast): fp32 (default), bf16 (CPU or CUDA) or fp16 (CUDA, dynamic loss scaling); losses, memories and the optimiser stay float32' },
  { flags: '--threads <n>', key: 'threads', arg: 'int', help: 'libtorch intra-op threads (default: all cores, or ODC_THREADS)' },
  { flags: '--workers <n>', key: 'workers', arg: 'int', help: 'data-preparation worker threads, 0 = inline (default: in-memory data, 1 when a core is free beyond --threads, else 0; streamed data, every core beyond --threads, at least 1)' },
  { flags: '--tf32 <on|off>', key: 'tf32', choices: ['on', 'off'], toConfig: (v) => v === 'on', help: 'CUDA: let float32 matrix products and convolutions use TF32 (default on)' },
  { flags: '--memory-format <layout>', key: 'memoryFormat', choices: ['contiguous', 'channels-last'], toConfig: (v) => (v === 'channels-last' ? 'channelsLast' : v), help: 'ResNet layout: contiguous (NCHW, default) or channels-last (NHWC, for half precision on CUDA)' },
  { flags: '--augment-on <where>', key: 'augmentOn', choices: ['auto', 'workers', 'device'], help: "in-memory datasets: augment the training batches in the worker threads or on --device as tensor ops (default auto: on the device when it is a GPU)" },
  { flags: '--max-iterations <n>', key: 'maxIterations', arg: 'int', help: 'stop after this many iterations in total (resume later with --resume)' },
  { flags: '--checkpoint-every <n>', key: 'checkpointEvery', arg: 'int', help: 'iterations between checkpoints (default 200; also every epoch)' },
  { flags: '--log-every <n>', key: 'logEvery', arg: 'int', help: 'iterations between progress lines, metrics.jsonl and TensorBoard records (default 20)' },
  // commander sets true when the flag is absent, which must not override a config file.
  { flags: '--no-tensorboard', key: 'tensorboard', toConfig: (v) => (v === false ? false : undefined), help: 'do not write TensorBoard event files to <out>/tb/' },
  { flags: '--nproc <n>', arg: 'int', help: 'data-parallel: start n local processes (libtorch c10d); under torchrun, which sets RANK and WORLD_SIZE, leave it out' },
  { flags: '--dist-backend <backend>', choices: ['auto', 'gloo', 'nccl'], help: "data-parallel: c10d's process group; auto: nccl when --device is cuda and the addon has it, else gloo (default auto)" },
  { flags: '--sync-bn', key: 'syncBn', help: 'data-parallel: BatchNorm statistics over the global batch (default: per process, as the released code)' },
  { flags: '--dist-timeout <s>', arg: 'num', help: 'data-parallel: seconds a collective may wait for the other processes before failing (default 1800)' },
  { flags: '--debug', help: 'print stack traces of errors' },
];

/** The flags of `odc train` that are not settings of the run but of the command. */
export interface TrainCommandFlags {
  config?: string;
  resume?: boolean;
  nproc?: number;
  distTimeout?: number;
  distBackend?: 'auto' | 'gloo' | 'nccl';
  debug?: boolean;
}

/** A flag's commander option. */
export function optionOf(f: TrainFlag): Option {
  const o = new Option(f.flags, f.help);
  const name = f.flags.split(' ')[0];
  if (f.arg === 'int') o.argParser(int(name));
  if (f.arg === 'num') o.argParser(num(name));
  if (f.choices) o.choices(f.choices);
  return o;
}

/** The partial config that parsed options (commander's, by attribute name) set; flags not given set nothing. */
export function configFromFlags(opts: Record<string, unknown>): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const f of TRAIN_FLAGS) {
    if (f.key === undefined) continue;
    const v = opts[new Option(f.flags).attributeName()];
    const value = v === undefined ? undefined : f.toConfig ? f.toConfig(v) : v;
    if (value !== undefined) settings[f.key] = value;
  }
  return nested(settings);
}
