/** Tiny real training runs (400 Fashion-MNIST images, a few seconds each) for the report, serve and browser tests. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FASHION_MNIST_DIR } from '../src/data/spec.ts';
import { resolveConfig } from '../src/train/config.ts';
import { train } from '../src/train/trainer.ts';

export const skipNoData = !existsSync(FASHION_MNIST_DIR) && 'dataset-fashion-mnist not installed';

/** Clusters of the tiny runs. */
export const TINY_CLUSTERS = 8;
export const TINY_IMAGES = 400;

/** Trains a tiny run into `<dir>/<method>` and returns its path. */
export async function trainTinyRun(dir: string, method: 'odc' | 'deepcluster' = 'odc'): Promise<string> {
  const out = join(dir, method);
  await train(
    resolveConfig({
      method, subset: TINY_IMAGES, width: 8, clusters: TINY_CLUSTERS, batchSize: 50, epochs: 1, logEvery: 2, workers: 0,
      evalFeatures: false, memory: { minCluster: 5, warmupEpochs: 0 }, out,
    }),
    { log: () => {} },
  );
  return out;
}
