/**
 * Cluster galleries (the paper's Figure 7): per-cluster statistics against the true labels, which
 * clusters to show, members ordered nearest-to-centroid first, nearest neighbours in feature space,
 * and PNG thumbnails of store images.
 */
import sharp from 'sharp';
import { type ImageSet, isStreamed } from '../data/image_set.ts';
import { makeRng, shuffleInPlace } from '../data/rng.ts';
import { ConfigError } from '../tensor/errors.ts';
import type { RunFeatures } from './features.ts';

export interface ClusterInfo {
  id: number;
  size: number;
  /** Most frequent true class among the members (labelled data only). */
  majority?: number;
  majorityName?: string;
  /** Share of the members in the majority class (0..1). */
  purity?: number;
}

/** Size, majority true class and purity of every cluster 0..k-1. */
export function clusterInfos(labels: Int32Array, k: number, truth?: Int32Array, classNames?: readonly string[]): ClusterInfo[] {
  const sizes = new Int32Array(k);
  for (const l of labels) sizes[l]++;
  const out: ClusterInfo[] = Array.from({ length: k }, (_, id) => ({ id, size: sizes[id] }));
  if (truth === undefined) return out;
  let classes = classNames?.length ?? 0;
  for (const t of truth) if (t >= classes) classes = t + 1;
  const counts = new Int32Array(k * classes);
  for (let i = 0; i < labels.length; i++) counts[labels[i] * classes + truth[i]]++;
  for (const c of out) {
    if (c.size === 0) continue;
    let best = 0;
    for (let t = 1; t < classes; t++) if (counts[c.id * classes + t] > counts[c.id * classes + best]) best = t;
    c.majority = best;
    c.majorityName = classNames?.[best] ?? String(best);
    c.purity = counts[c.id * classes + best] / c.size;
  }
  return out;
}

/** Which clusters a gallery shows: the largest, the smallest non-empty, a seeded random draw, or given ids. */
export type ClusterChoice = 'largest' | 'smallest' | 'random' | number[];

/** Parses `--clusters largest|smallest|random|ID,ID,...`. */
export function parseClusterChoice(s: string): ClusterChoice {
  if (s === 'largest' || s === 'smallest' || s === 'random') return s;
  const ids = s.split(',').map((p) => p.trim());
  if (ids.length === 0 || ids.some((p) => !/^\d+$/.test(p))) {
    throw new ConfigError(`Expected --clusters largest, smallest, random or a comma-separated list of cluster ids but received '${s}'`);
  }
  return [...new Set(ids.map(Number))];
}

/** The clusters to show; given ids must exist (a ConfigError names the valid range). */
export function selectClusters(infos: ClusterInfo[], choice: ClusterChoice, count: number, seed = 0, where = 'run'): ClusterInfo[] {
  if (Array.isArray(choice)) {
    const bad = choice.filter((id) => !(Number.isInteger(id) && id >= 0 && id < infos.length));
    if (bad.length) throw new ConfigError(`${where}: no cluster ${bad.join(', ')}: its clusters are 0..${infos.length - 1}`);
    return choice.map((id) => infos[id]);
  }
  const nonEmpty = infos.filter((c) => c.size > 0);
  if (choice === 'largest') return [...nonEmpty].sort((a, b) => b.size - a.size || a.id - b.id).slice(0, count);
  if (choice === 'smallest') return [...nonEmpty].sort((a, b) => a.size - b.size || a.id - b.id).slice(0, count);
  const ids = Int32Array.from(nonEmpty, (c) => c.id);
  shuffleInPlace(ids, makeRng(seed));
  return [...ids.subarray(0, count)].sort((a, b) => a - b).map((id) => infos[id]);
}

/** Members of every cluster (store indices), grouped by a counting sort. */
export function membersByCluster(labels: Int32Array, k: number): Int32Array[] {
  const sizes = new Int32Array(k);
  for (const l of labels) sizes[l]++;
  const out = Array.from(sizes, (s) => new Int32Array(s));
  const fill = new Int32Array(k);
  for (let i = 0; i < labels.length; i++) out[labels[i]][fill[labels[i]]++] = i;
  return out;
}

/**
 * Members ordered nearest-to-centroid first: cosine similarity of each member's unit feature to the
 * cluster's mean feature (computed from the members, so it matches the labels shown). Without
 * features the store order is kept.
 */
export function orderByCentroid(members: Int32Array, f?: RunFeatures): { order: Int32Array; similarity?: Float32Array } {
  if (f === undefined || members.length === 0) return { order: members };
  const { data, dim } = f;
  const mean = new Float64Array(dim);
  for (const i of members) for (let j = 0; j < dim; j++) mean[j] += data[i * dim + j];
  const sims = new Float32Array(members.length);
  members.forEach((i, m) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += mean[j] * data[i * dim + j];
    sims[m] = s;
  });
  const norm = Math.hypot(...mean) || 1;
  const rank = Array.from(members.keys()).sort((a, b) => sims[b] - sims[a] || members[a] - members[b]);
  return { order: Int32Array.from(rank, (m) => members[m]), similarity: Float32Array.from(rank, (m) => sims[m] / norm) };
}

/** The k nearest images to image `index` by cosine similarity of unit features (itself excluded). */
export function nearestNeighbours(f: RunFeatures, index: number, k: number): { index: number; similarity: number }[] {
  const { data, dim, n } = f;
  const q = data.subarray(index * dim, (index + 1) * dim);
  const best: { index: number; similarity: number }[] = [];
  let floor = -Infinity;
  for (let i = 0; i < n; i++) {
    if (i === index) continue;
    let s = 0;
    const o = i * dim;
    for (let j = 0; j < dim; j++) s += q[j] * data[o + j];
    if (best.length < k || s > floor) {
      let at = best.length;
      while (at > 0 && best[at - 1].similarity < s) at--;
      best.splice(at, 0, { index: i, similarity: s });
      if (best.length > k) best.pop();
      floor = best[best.length - 1].similarity;
    }
  }
  return best;
}

/** Image `index` as a PNG: an in-memory store's at its stored resolution (grey or RGB), a streamed set's read from its file or shard and resized (cover) to the training size. */
export async function thumbnailPng(store: ImageSet, index: number): Promise<Buffer> {
  const { height: h, width: w } = store;
  if (isStreamed(store)) {
    return sharp(await store.stream.read(index)).resize(w, h, { fit: 'cover' }).removeAlpha().png({ compressionLevel: 9 }).toBuffer();
  }
  const c = store.channels;
  const plane = h * w;
  const src = store.pixels.subarray(index * c * plane, (index + 1) * c * plane);
  const hwc = Buffer.alloc(c * plane);
  for (let ch = 0; ch < c; ch++) for (let p = 0; p < plane; p++) hwc[p * c + ch] = src[ch * plane + p];
  return sharp(hwc, { raw: { width: w, height: h, channels: c as 1 | 3 | 4 } }).png({ compressionLevel: 9 }).toBuffer();
}
