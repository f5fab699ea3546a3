/** `odc train`'s flag list: every flag that names a config key sets that key, and flags not given set nothing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from '@commander-js/extra-typings';
import { configFromFlags, optionOf, TRAIN_FLAGS } from '../src/cli/train_flags.ts';
import { mergeConfig, resolveConfig } from '../src/train/config.ts';

function parse(argv: string[]): Record<string, unknown> {
  const cmd = new Command('train').exitOverride().configureOutput({ writeErr: () => {} });
  for (const f of TRAIN_FLAGS) cmd.addOption(optionOf(f));
  cmd.parse(argv, { from: 'user' });
  return cmd.opts();
}

/** A command line giving every config flag a value other than its default, and the config it must make. */
const ARGV = [
  '--method', 'deepcluster', '--dataset', 'mnist', '--split', 'test', '--subset', '500', '--long-tail', '4', '--image-size', '48', '--on-bad-image', 'fail',
  '--arch', 'resnet34', '--width', '8', '--stem', 'imagenet', '--clusters', '12', '--budget', '30it', '--batch-size', '32', '--lr', '0.2',
  '--weight-decay', '0.001', '--assign', 'euclidean', '--label-warmup', '0.5', '--min-cluster', '7', '--crop-min', '0.4', '--pca-dim', '16', '--sobel',
  '--init-from', 'x.safetensors', '--out', 'runs/flags', '--seed', '3', '--device', 'cpu', '--precision', 'bf16', '--threads', '1', '--workers', '2',
  '--augment-on', 'device', '--tf32', 'off', '--memory-format', 'channels-last', '--max-iterations', '9', '--checkpoint-every', '5', '--log-every', '3', '--no-tensorboard', '--sync-bn',
];
const EXPECTED: Record<string, unknown> = {
  method: 'deepcluster', dataset: 'mnist', split: 'test', subset: 500, longTail: 4, imageSize: 48, onBadImage: 'fail', arch: 'resnet34', width: 8, stem: 'imagenet',
  clusters: 12, budget: '30it', batchSize: 32, lr: 0.2, weightDecay: 0.001, 'memory.assign': 'euclidean', 'memory.warmupEpochs': 0.5, 'memory.minCluster': 7,
  'augment.scale': [0.4, 1], pcaDim: 16, sobel: true, initFrom: 'x.safetensors', out: 'runs/flags', seed: 3, device: 'cpu', precision: 'bf16', threads: 1, workers: 2,
  augmentOn: 'device', tf32: false, memoryFormat: 'channelsLast', maxIterations: 9, checkpointEvery: 5, logEvery: 3, tensorboard: false, syncBn: true,
};

const at = (o: unknown, key: string) => key.split('.').reduce((v, k) => (v as Record<string, unknown>)[k], o);

describe('odc train flags', () => {
  it('every flag that names a config key sets it, and each key is tested here', () => {
    const cfg = resolveConfig(configFromFlags(parse(ARGV)), 'flags');
    for (const [key, want] of Object.entries(EXPECTED)) assert.deepEqual(at(cfg, key), want, key);
    const keyed = TRAIN_FLAGS.flatMap((f) => (f.key === undefined ? [] : [f.key]));
    // (--epochs and --budget exclude each other)
    assert.equal(resolveConfig(configFromFlags(parse(['--epochs', '5'])), 'flags').epochs, 5);
    assert.deepEqual([...keyed].sort(), [...Object.keys(EXPECTED), 'epochs'].sort());
  });

  it('flags not given set nothing, so a config file keeps its values', () => {
    assert.deepEqual(configFromFlags(parse([])), {});
    const file = { width: 32, tensorboard: false, memory: { minCluster: 40, assign: 'euclidean' }, augment: { scale: [0.2, 1] } };
    const cfg = resolveConfig(mergeConfig(file, configFromFlags(parse(['--min-cluster', '10']))), 'flags');
    assert.equal(cfg.width, 32);
    assert.equal(cfg.tensorboard, false);
    assert.equal(cfg.memory.minCluster, 10);
    assert.equal(cfg.memory.assign, 'euclidean');
    assert.deepEqual(cfg.augment.scale, [0.2, 1]);
  });

  it('a bad argument is refused naming the flag', () => {
    assert.throws(() => parse(['--width', '1.5']), /--width expects an integer, got '1.5'/);
    assert.throws(() => parse(['--lr', 'fast']), /--lr expects a number, got 'fast'/);
    assert.throws(() => parse(['--split', 'val']), /Allowed choices are train, test, all/);
  });
});
