/**
 * The training methods by name: what network each trains and which algorithm drives it.
 * `odc` and `deepcluster` cluster while they train; `rotation` and `npid` are pretext methods to
 * start them from (`--init-from`, the paper's Table 4), which cluster once at the end.
 */
import type { ClusterModelOptions } from '../models/cluster_model.ts';
import type { Generator } from '../tensor/random.ts';
import type { ClusterAlgorithm } from './algorithm.ts';
import type { RunConfig } from './budget.ts';
import type { TrainConfig } from './config.ts';
import { DeepClusterAlgorithm } from './deepcluster.ts';
import { NpidAlgorithm } from './npid.ts';
import { OdcAlgorithm } from './odc.ts';
import { ROTATIONS, RotationAlgorithm } from './rotation.ts';

export type Method = TrainConfig['method'];
export const METHODS: readonly Method[] = ['odc', 'deepcluster', 'rotation', 'npid'];

/** The algorithm of `c.method`, given its own options from the run's config. */
export function createAlgorithm(c: RunConfig): ClusterAlgorithm {
  const clustering = { clusters: c.clusters, seed: c.seed, kmeans: c.kmeans, pcaDim: c.pcaDim };
  if (c.method === 'odc') return new OdcAlgorithm({ ...clustering, memory: c.memory, batchSize: c.batchSize, logEvery: c.logEvery });
  if (c.method === 'deepcluster') return new DeepClusterAlgorithm(clustering);
  if (c.method === 'rotation') return new RotationAlgorithm(clustering);
  return new NpidAlgorithm({ ...clustering, npid: c.npid });
}

/** The network `cfg.method` trains, for images of `channels` channels and a resolved stem. */
export function modelOptions(
  cfg: Pick<RunConfig, 'method' | 'arch' | 'width' | 'clusters' | 'neckDropout' | 'sobel' | 'npid'> & Partial<Pick<RunConfig, 'memoryFormat'>>,
  input: { channels: number; stem: 'cifar' | 'imagenet' },
  generator?: Generator,
): ClusterModelOptions {
  const base = { arch: cfg.arch, width: cfg.width, stem: input.stem, inChannels: input.channels, sobel: cfg.sobel, memoryFormat: cfg.memoryFormat, generator };
  if (cfg.method === 'odc') return { ...base, neck: 'odc', neckDropout: cfg.neckDropout, numClasses: cfg.clusters };
  if (cfg.method === 'deepcluster') return { ...base, neck: 'none', numClasses: cfg.clusters };
  if (cfg.method === 'rotation') return { ...base, neck: 'none', numClasses: ROTATIONS };
  return { ...base, neck: 'linear', neckDim: cfg.npid.dim, numClasses: 0 };
}
