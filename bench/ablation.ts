/**
 * What makes ODC's learning show early at small scale: trains a grid of settings on a Fashion-MNIST
 * subset and prints, per setting, the label NMI after each epoch, the mean label-change ratio and
 * how the learned features cluster (k-means, k = 10: NMI / ACC). One JSON line per setting, then a
 * markdown table. ABLATION_SUBSET (5000), ABLATION_EPOCHS (3), ABLATION_ONLY ('|'-separated name prefixes).
 */
import { join } from 'node:path';
import { readMetrics } from '../src/report/run_dir.ts';
import { configureProcess } from '../src/runtime.ts';
import { resolveConfig, type TrainConfigInput } from '../src/train/config.ts';
import { train } from '../src/train/trainer.ts';

configureProcess(); // as the odc command runs

const subset = Number(process.env.ABLATION_SUBSET ?? 5000);
const epochs = Number(process.env.ABLATION_EPOCHS ?? 3);
// Every setting spells out what it varies; the base is the paper's ODC without the label warm-up.
const base: TrainConfigInput = { subset, epochs, width: 16, clusters: 50, logEvery: 1000, checkpointEvery: 100000, augment: { scale: [0.08, 1] } };
const grid: [string, TrainConfigInput][] = [
  ['reference (dot rule, lr 0.06, crop 0.08)', { memory: { assign: 'dot' } }],
  ['euclidean rule (paper Eq. 3)', { memory: { assign: 'euclidean' } }],
  ['euclidean, crop 0.3', { memory: { assign: 'euclidean' }, augment: { scale: [0.3, 1] } }],
  ['euclidean, lr 0.02', { memory: { assign: 'euclidean' }, lr: 0.02 }],
  ['euclidean, 10 clusters', { memory: { assign: 'euclidean' }, clusters: 10 }],
  ['euclidean, batch 128', { memory: { assign: 'euclidean' }, batchSize: 128 }],
  ['euclidean, no neck dropout', { memory: { assign: 'euclidean' }, neckDropout: 0 }],
  ['euclidean, memory momentum 0.2', { memory: { assign: 'euclidean', momentum: 0.2 } }],
  ['euclidean, crop 0.3, 1-epoch label warm-up', { memory: { assign: 'euclidean', warmupEpochs: 1 }, augment: { scale: [0.3, 1] } }],
  ['dot, crop 0.3, 1-epoch label warm-up', { memory: { assign: 'dot', warmupEpochs: 1 }, augment: { scale: [0.3, 1] } }],
  ['random network (no training)', { epochs: 0 }],
];
const only = process.env.ABLATION_ONLY?.split('|');
const round = (v: unknown, digits: number) => Number(Number(v).toFixed(digits));
const rows: string[] = [];
for (const [name, over] of grid) {
  if (only && !only.some((o) => name.startsWith(o))) continue;
  const out = join('runs', 'ablation', name.replace(/[^a-z0-9]+/gi, '_'));
  const cfg = resolveConfig({ ...base, ...over, memory: { warmupEpochs: 0, ...(over.memory ?? {}) }, augment: { ...base.augment, ...(over.augment ?? {}) }, out });
  const t0 = performance.now();
  const r = await train(cfg, { log: () => {} });
  const recs = readMetrics(join(out, 'metrics.jsonl'));
  const initNmi = Number(recs.find((x) => x.type === 'init')?.nmi_labels);
  const ep = recs.filter((x) => x.type === 'epoch');
  const q = r.summary.feature_kmeans as { nmi: number; acc: number };
  const line = {
    name, init_nmi: initNmi, epoch_nmi: ep.map((e) => round(e.nmi_labels, 4)), change: ep.map((e) => round(e.change_ratio, 3)),
    feature_nmi: q.nmi, feature_acc: q.acc, minutes: (performance.now() - t0) / 60000,
  };
  console.log(JSON.stringify(line));
  rows.push(`| ${name} | ${initNmi.toFixed(3)} | ${line.epoch_nmi.map((v) => v.toFixed(3)).join(' / ')} | ${line.change.join(' / ')} | ${q.nmi.toFixed(3)} / ${q.acc.toFixed(3)} |`);
}
console.log('\n| setting | label NMI at init | label NMI per epoch | change ratio per epoch | features k-means NMI / ACC |\n|---|---|---|---|---|');
for (const r of rows) console.log(r);
