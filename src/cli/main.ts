#!/usr/bin/env node
/** The `odc` command line: `odc train` (more commands in their own files). */
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { ConfigError } from '../tensor/errors.ts';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} expects an integer, got '${v}'`);
  return n;
};
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} expects a number, got '${v}'`);
  return n;
};

const program = new Command('odc')
  .description('Online Deep Clustering (ODC) and DeepCluster: unsupervised representation learning and image clustering')
  .showHelpAfterError();

program
  .command('train')
  .description('train a backbone by ODC (default) or DeepCluster on unlabeled images; writes checkpoints, cluster labels and metrics to --out')
  .addOption(new Option('--method <method>', 'odc or deepcluster').choices(['odc', 'deepcluster'] as const))
  .option('--dataset <spec>', 'fashion-mnist (default, Debian dataset-fashion-mnist), mnist, idx:DIR, cifar:DIR or folder:DIR')
  .addOption(new Option('--split <split>', 'which part of the dataset to train on').choices(['train', 'test', 'all'] as const))
  .option('--subset <n>', 'train on a seeded random subset of n images', int('--subset'))
  .option('--long-tail <ratio>', 'long-tailed subsample, largest/smallest class size ratio 1..64 (needs labels)', num('--long-tail'))
  .option('--image-size <px>', 'folder datasets: resize images to this side (default 64)', int('--image-size'))
  .addOption(new Option('--on-bad-image <what>', 'folder datasets: skip unreadable files (reported) or fail').choices(['skip', 'fail'] as const))
  .addOption(new Option('--arch <arch>', 'backbone').choices(['resnet18', 'resnet34', 'resnet50', 'alexnet'] as const))
  .option('--width <n>', 'ResNet first-stage width, 64 = standard (default 16: a CPU-sized ResNet)', int('--width'))
  .addOption(new Option('--stem <stem>', 'auto: CIFAR stem up to 64 px').choices(['auto', 'cifar', 'imagenet'] as const))
  .option('--clusters <k>', 'number of clusters K (default 100)', int('--clusters'))
  .option('--epochs <n>', 'training epochs (default 4)', int('--epochs'))
  .option('--batch-size <n>', 'images per iteration (default 64)', int('--batch-size'))
  .option('--lr <lr>', 'learning rate (default: ODC 0.06, DeepCluster 0.3, 0.1 with --sobel)', num('--lr'))
  .option('--weight-decay <wd>', 'SGD weight decay (default 1e-5)', num('--weight-decay'))
  .addOption(new Option('--assign <rule>', 'ODC re-assignment: dot (released code, default: measured better) or euclidean (paper Eq. 3)').choices(['euclidean', 'dot'] as const))
  .option('--label-warmup <epochs>', 'ODC: epochs before labels are re-assigned (default 1; 0 = the paper)', num('--label-warmup'))
  .option('--min-cluster <n>', 'ODC: clusters smaller than this are dissolved and re-created (default 20)', int('--min-cluster'))
  .option('--crop-min <s>', 'smallest RandomResizedCrop area fraction (default 0.3 up to 64 px, else 0.08)', num('--crop-min'))
  .option('--pca-dim <d>', 'DeepCluster: PCA dimension with whitening, -1 for none (default 256)', int('--pca-dim'))
  .option('--sobel', 'DeepCluster: Sobel-filter the input')
  .option('--init-from <path>', 'start from a backbone or model checkpoint (safetensors): unsupervised fine-tuning')
  .option('--config <file>', 'YAML or JSON file of settings (flags override it)')
  .option('--out <dir>', 'run directory (default runs/odc)')
  .option('--resume', 'continue from <out>/latest.safetensors')
  .option('--seed <n>', 'random seed (default 0)', int('--seed'))
  .option('--threads <n>', 'libtorch intra-op threads (default: all cores, or ODC_THREADS)', int('--threads'))
  .option('--workers <n>', 'data-preparation worker threads, 0 = inline (default: 1 when a core is free beyond --threads, else 0)', int('--workers'))
  .option('--max-iterations <n>', 'stop after this many iterations in total (resume later with --resume)', int('--max-iterations'))
  .option('--checkpoint-every <n>', 'iterations between checkpoints (default 200; also every epoch)', int('--checkpoint-every'))
  .option('--log-every <n>', 'iterations between progress lines (default 20)', int('--log-every'))
  .option('--debug', 'print stack traces of errors')
  .action(async (opts) => {
    const { runTrain } = await import('./train.ts');
    await runTrain(opts);
  });

function fail(err: unknown, debug: boolean): never {
  const e = err as Error;
  console.error(`error: ${e.message}`);
  if (debug && e.stack) console.error(e.stack);
  process.exit(err instanceof ConfigError || (e as { code?: string }).code === 'ERR_DATA' ? 2 : 1);
}

program.parseAsync(process.argv).catch((err) => fail(err, process.argv.includes('--debug')));
