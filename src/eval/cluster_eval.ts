/**
 * The clustering protocol: how a partition (the cluster labels a run ends with, or k-means on
 * learned features) matches the true classes, and how balanced it is.
 */
import { kmeans, pcaWhitenL2 } from '../cluster/kmeans.ts';
import { tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { ari, type ClusterSizeStats, clusterAccuracy, clusterSizes, nmi, purity } from './cluster_metrics.ts';

export interface PartitionScores {
  nmi: number;
  ari: number;
  acc: number;
  purity: number;
  sizes: ClusterSizeStats;
}

export function scorePartition(pred: ArrayLike<number>, truth: ArrayLike<number>, k: number): PartitionScores {
  return { nmi: nmi(pred, truth), ari: ari(pred, truth), acc: clusterAccuracy(pred, truth), purity: purity(pred, truth), sizes: clusterSizes(pred, k) };
}

/** k-means++ restarts of the clustering protocol (and of a run's own check), the lowest inertia kept. */
export const PROTOCOL_KMEANS_RESTARTS = 5;

/**
 * k-means with k clusters (k-means++, `restarts` runs, the lowest inertia kept) on the
 * L2-normalised features, scored against the truth.
 */
export function kmeansScores(features: Tensor, truth: Int32Array, k: number, o: { restarts?: number; seed?: number; iterations?: number } = {}): PartitionScores & { labels: Int32Array } {
  const x = tidy(() => pcaWhitenL2(features.float(), -1));
  const km = kmeans(x, { k, init: 'kmeans++', restarts: o.restarts ?? PROTOCOL_KMEANS_RESTARTS, seed: o.seed ?? 0, iterations: o.iterations ?? 50 });
  const labels = Int32Array.from(km.labels.toArray());
  for (const t of [x, km.labels, km.centroids]) t.dispose();
  return { ...scorePartition(labels, truth, k), labels };
}
