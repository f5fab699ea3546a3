#!/usr/bin/env node
/** The `odc` command line: `odc train`, `odc eval` (each command's work lives in its own file). */
import { Command, Option } from '@commander-js/extra-typings';
import { ConfigError } from '../tensor/errors.ts';
import { int, num } from './parse_args.ts';
import { optionOf, TRAIN_FLAGS } from './train_flags.ts';

// OpenMP threads that reach the end of a parallel region sleep at once instead of spinning for
// the next one (libgomp's default spins ~300,000 times first). Measured with bench:contention: a
// training epoch runs faster alone (the OpenMP and OpenBLAS pools no longer spin against each other
// on the same cores) and degrades far less while another process occupies a core. libgomp reads it
// when libtorch loads, so it is set before the engine is imported; an explicit OMP_WAIT_POLICY or
// GOMP_SPINCOUNT wins.
if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) process.env.OMP_WAIT_POLICY = 'PASSIVE';

const program = new Command('odc')
  .description('Online Deep Clustering (ODC) and DeepCluster: unsupervised representation learning and image clustering')
  .showHelpAfterError()
  .hook('preAction', async () => {
    // The command's process settings (threads, allocator); the library leaves them to its caller.
    const { configureProcess } = await import('../runtime.ts');
    configureProcess();
  });

const trainCommand = program
  .command('train')
  .description('train a backbone by ODC (default) or DeepCluster on unlabeled images, or by a pretext method to start them from; writes checkpoints, cluster labels and metrics to --out');
for (const flag of TRAIN_FLAGS) trainCommand.addOption(optionOf(flag));
trainCommand.action(async (opts) => {
  const { runTrain } = await import('./train.ts');
  await runTrain(opts);
});

program
  .command('eval')
  .description('evaluate frozen features: kNN, linear probe per layer, linear-SVM mAP, low-shot SVM, clustering metrics; prints markdown tables and writes eval.json + eval.md beside the checkpoint')
  .option('--checkpoint <path>', 'a checkpoint of `odc train` (latest.safetensors or model.safetensors) or a backbone state dict')
  .addOption(new Option('--baseline <kind>', 'evaluate a random network or raw pixels instead of a checkpoint').choices(['random', 'pixels'] as const))
  .option('--dataset <spec>', "labelled data: fashion-mnist, mnist, idx:DIR, cifar:DIR or folder:DIR (default: the checkpoint's run dataset, else fashion-mnist); train split for fitting, test split for scoring")
  .option('--image-size <px>', "folder datasets: resize images to this side (default: the run's --image-size from config.json, else 64)", int('--image-size'))
  .option('--protocol <list>', 'comma-separated: knn, linear, svm, lowshot, cluster, or all (default: knn,cluster, the fast ones)')
  .addOption(new Option('--arch <arch>', "backbone (default: from the checkpoint's config.json, else resnet18)").choices(['resnet18', 'resnet34', 'resnet50', 'alexnet'] as const))
  .option('--width <n>', 'ResNet width (default: from config.json, else 16)', int('--width'))
  .addOption(new Option('--stem <stem>', "stem (default: from config.json, else auto; auto: CIFAR stem up to 64 px, judged at the size the run trained at)").choices(['auto', 'cifar', 'imagenet'] as const))
  .option('--sobel', 'the backbone expects Sobel-filtered input (default: from config.json, else off)')
  .option('--taps <list>', 'linear probe taps (default conv1,conv2,conv3,conv4,conv5,pool)')
  .option('--linear-epochs <n>', 'linear probe epochs (default 10; lr /10 at 60 % and 80 %)', int('--linear-epochs'))
  .option('--linear-lr <lr>', 'linear probe learning rate (default 0.01)', num('--linear-lr'))
  .option('--knn-k <list>', 'kNN neighbour counts (default 20,200)')
  .option('--svm-costs <list>', 'SVM costs to choose from (default: see README)')
  .option('--svm-folds <n>', 'SVM cross-validation folds (default 3)', int('--svm-folds'))
  .option('--shots <list>', 'low-shot positives per class (default 1,2,4,8,16,32,64,96)')
  .option('--lowshot-samples <n>', 'independent samples per shot count (default 5)', int('--lowshot-samples'))
  .option('--train-subset <n>', 'use a seeded random subset of n training images', int('--train-subset'))
  .option('--test-subset <n>', 'score on a seeded random subset of n test images', int('--test-subset'))
  .option('--no-cache', 'do not read or write the pooled-feature cache (<checkpoint dir>/features/)')
  .option('--out <file>', 'results JSON (default: <checkpoint dir>/eval.json; baselines: runs/baselines/<kind>-<dataset>/eval.json)')
  .option('--seed <n>', 'random seed (default 0)', int('--seed'))
  .option('--kmeans-restarts <n>', 'k-means++ restarts of the cluster protocol, the lowest inertia kept (default 5)', int('--kmeans-restarts'))
  .option('--threads <n>', 'libtorch intra-op threads (default: all cores, or ODC_THREADS)', int('--threads'))
  .option('--workers <n>', 'image-preparation worker threads (default 1)', int('--workers'))
  .option('--device <device>', 'cpu (default), cuda or cuda:N: where the model, the features and the protocols run (needs a CUDA libtorch)')
  .option('--debug', 'print stack traces of errors')
  .action(async (opts) => {
    const { runEval } = await import('./eval.ts');
    await runEval(opts);
  });

program
  .command('sweep')
  .description('train one run per point of a grid of settings (resumable), then write sweep.json, sweep.csv and metric-against-value charts')
  .option('--config <file>', 'YAML or JSON settings every run shares')
  .option('--set <key=values>', 'a config key (dotted: memory.centroidInterval) and comma-separated values; repeat for more keys (one value: a shared setting)', (v: string, prev: string[] = []) => [...prev, v])
  .option('--seeds <list>', 'comma-separated seeds, each point run once per seed (default 0)')
  .option('--out <dir>', 'the sweep folder: one run directory per point (default runs/sweep)')
  .option('--debug', 'print stack traces of errors')
  .action(async (opts) => {
    const { runSweepCommand } = await import('./sweep.ts');
    await runSweepCommand(opts);
  });

program
  .command('pack')
  .description('write an ImageFolder tree (one sub-folder per class) as tar shards for --dataset shards:OUT: each image\'s bytes unchanged as <key>.<ext>, its class index as <key>.cls, classes.txt; a rerun skips the shards already written')
  .argument('<folder>', 'the image folder')
  .argument('<out>', 'the folder the shards are written to')
  .option('--per-shard <n>', 'images per shard (default 1000)', int('--per-shard'))
  .option('--debug', 'print stack traces of errors')
  .action(async (folder, out, opts) => {
    const { packFolder } = await import('../data/stream/pack.ts');
    const r = await packFolder(folder, out, {
      perShard: opts.perShard,
      onShard: (done, total, shard, skipped) => console.log(`${shard}: ${skipped ? 'already written' : 'written'} (${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} images)`),
    });
    console.log(`${r.images.toLocaleString('en-US')} images in ${r.shards.length} shards${r.classes ? `, ${r.classes.length} classes (classes.txt)` : ''}: --dataset shards:${out}`);
  });

program
  .command('report')
  .description('write one self-contained HTML report of one or more runs (curves overlaid, evaluation tables, cluster galleries) plus the charts as SVG and PNG')
  .argument('<run-dirs...>', 'run directories written by odc train (several: their curves are overlaid)')
  .option('--out <file>', 'the HTML file (default <first run>/report.html; charts go to <name>-charts/ beside it)')
  .option('--clusters <which>', 'gallery clusters: largest (default), smallest, random or a comma-separated list of cluster ids')
  .option('--gallery-clusters <n>', 'clusters per gallery for largest/smallest/random (default 10)', int('--gallery-clusters'))
  .option('--thumbs <n>', 'thumbnails per gallery row, nearest to the centroid first (default 12)', int('--thumbs'))
  .option('--seed <n>', 'seed of --clusters random (default 0)', int('--seed'))
  .option('--device <device>', 'cpu (default), cuda or cuda:N: where the features of runs that keep no samples memory (DeepCluster, rotation) are computed for the galleries')
  .option('--debug', 'print stack traces of errors')
  .action(async (runDirs, opts) => {
    const { runReport } = await import('../report/report.ts');
    await runReport(runDirs, opts);
  });

program
  .command('serve')
  .description('browse the clusters of a run in a local web app: clusters by size or purity, members, neighbour search by image index, curves')
  .argument('<run-dir>', 'a run directory written by odc train')
  .option('--host <address>', 'address to bind (default 127.0.0.1: this machine only)')
  .option('--port <n>', 'port (default 8080; 0 = any free port)', int('--port'))
  .option('--debug', 'print stack traces of errors')
  .action(async (runDir, opts) => {
    const { runServe } = await import('../serve/server.ts');
    await runServe(runDir, opts);
  });

function fail(err: unknown, debug: boolean): never {
  const e = err as Error;
  console.error(`error: ${e.message}`);
  if (debug && e.stack) console.error(e.stack);
  process.exit(err instanceof ConfigError || (e as { code?: string }).code === 'ERR_DATA' ? 2 : 1);
}

program.parseAsync(process.argv).catch((err) => fail(err, process.argv.includes('--debug')));
