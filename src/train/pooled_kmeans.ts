/**
 * k-means on the L2-normalised pooled backbone features of a whole store (eval mode): the feature
 * clustering every run reports, and the final cluster labels of the pretext methods.
 */
import { kmeans, pcaWhitenL2 } from '../cluster/kmeans.ts';
import { gatherShards } from '../distributed/data_parallel.ts';
import type { AlgorithmContext } from './algorithm.ts';
import { extractFeatures } from './extract.ts';

export async function kmeansOfPooled(ctx: AlgorithmContext, k: number, o: { restarts: number; seed: number; iterations?: number }): Promise<Int32Array> {
  const { store, model, group } = ctx;
  model.eval();
  const feats = await extractFeatures(store, ctx.extractCfg, (x) => model.backbone.pooled(model.prepare(x)), { workers: ctx.workers, part: { rank: group.rank, worldSize: group.worldSize }, warn: ctx.log });
  const x = pcaWhitenL2(feats, -1);
  const km = kmeans(x, { k, init: 'kmeans++', restarts: o.restarts, iterations: o.iterations, seed: o.seed, group });
  const all = gatherShards(group, km.labels, store.n);
  const labels = Int32Array.from(all.toArray());
  for (const t of [feats, x, km.labels, all, km.centroids]) t.dispose();
  return labels;
}
