/**
 * What a finished (or stopped) run leaves in its directory: labels.npy, memory.safetensors,
 * model.safetensors and summary.json, with how well its features cluster against the true classes
 * when the images have labels.
 */
import { join } from 'node:path';
import { kmeans, pcaWhitenL2 } from '../cluster/kmeans.ts';
import { type ImageSet, isStreamed } from '../data/image_set.ts';
import { type ImageStore, imageSize } from '../data/store.ts';
import { PROTOCOL_KMEANS_RESTARTS } from '../eval/cluster_eval.ts';
import { clusterAccuracy, clusterSizes, nmi } from '../eval/cluster_metrics.ts';
import { writeNpy } from '../io/npy.ts';
import { saveSafetensors, writeFileAtomic } from '../io/safetensors.ts';
import type { ClusterModel } from '../models/cluster_model.ts';
import { tensor } from '../tensor/creation.ts';
import { tidy } from '../tensor/scope.ts';
import type { AlgorithmContext, ClusterAlgorithm } from './algorithm.ts';
import type { RunConfig } from './budget.ts';
import { kmeansOfPooled } from './pooled_kmeans.ts';

export interface TrainResult {
  outDir: string;
  checkpoint: string;
  labels: Int32Array;
  summary: Record<string, unknown>;
}

/**
 * How well the learned backbone features cluster: k-means with k = number of true classes on the
 * L2-normalised pooled backbone features (eval mode) of the training images; NMI and ACC. Beside
 * it, the same k-means on the raw pixels of the same images: what the features must beat.
 */
export async function featureClustering(ctx: AlgorithmContext, seed: number): Promise<FeatureQuality> {
  const { store } = ctx;
  const truth = store.labels as Int32Array;
  const k = store.classNames?.length ?? Math.max(...truth) + 1;
  const labels = await kmeansOfPooled(ctx, k, { restarts: PROTOCOL_KMEANS_RESTARTS, seed });
  // Only the rank that writes the summary needs the pixel baseline (every rank holds all the pixels);
  // a streamed set has no decoded pixels to cluster.
  const pixels = ctx.group.rank === 0 && !isStreamed(store) ? pixelClustering(store, k, seed) : undefined;
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
    const km = kmeans(x, { k, init: 'kmeans++', restarts: PROTOCOL_KMEANS_RESTARTS, seed });
    const labels = Int32Array.from(km.labels.toArray());
    km.centroids.dispose();
    km.labels.dispose();
    return labels;
  });
}

export function writeResults(
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
