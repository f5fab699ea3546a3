/**
 * ODC against DeepCluster at the same budget (same images, epochs, backbone, clusters, batch), over
 * several seeds: each method at its defaults, then k-means (k = 10) on the learned backbone features
 * of the same images (NMI / ACC), the NMI of the run's own cluster labels, and the wall time. One
 * JSON line per run, then a markdown table with the per-method means.
 * COMPARE_SUBSET (10000), COMPARE_EPOCHS (4), COMPARE_SEEDS ('0,1,2'), COMPARE_WIDTH (16),
 * COMPARE_METHODS ('odc,deepcluster'), COMPARE_BOTH (JSON config keys over both methods' defaults, e.g.
 * '{"clusters":50}'), COMPARE_ODC (the same for ODC alone, e.g. '{"lr":0.3}').
 */
import { join } from 'node:path';
import { readMetrics } from '../src/report/run_dir.ts';
import { configureProcess } from '../src/runtime.ts';
import { resolveConfig, type TrainConfigInput } from '../src/train/config.ts';
import { train } from '../src/train/trainer.ts';

configureProcess(); // as the odc command runs

const subset = Number(process.env.COMPARE_SUBSET ?? 10000);
const epochs = Number(process.env.COMPARE_EPOCHS ?? 4);
const width = Number(process.env.COMPARE_WIDTH ?? 16);
const seeds = (process.env.COMPARE_SEEDS ?? '0,1,2').split(',').map(Number);
const methods = (process.env.COMPARE_METHODS ?? 'odc,deepcluster').split(',') as ('odc' | 'deepcluster')[];
const bothOver = JSON.parse(process.env.COMPARE_BOTH ?? '{}') as TrainConfigInput;
const odcOver = JSON.parse(process.env.COMPARE_ODC ?? '{}') as TrainConfigInput;

type Row = { method: string; seed: number; feature_nmi: number; feature_acc: number; label_nmi: number; minutes: number };
const rows: Row[] = [];
for (const seed of seeds) {
  for (const method of methods) {
    const over = { ...bothOver, ...(method === 'odc' ? odcOver : {}) };
    const tag = Object.keys(over).length > 0 ? `-${JSON.stringify(over).replace(/[^a-z0-9.]+/gi, '_')}` : '';
    const out = join('runs', 'compare', `${method}${tag}-seed${seed}`);
    const cfg = resolveConfig({ method, subset, epochs, width, seed, threads: 2, logEvery: 1000, checkpointEvery: 100000, tensorboard: false, ...over, out });
    const t0 = performance.now();
    const r = await train(cfg, { log: () => {} });
    const minutes = (performance.now() - t0) / 60000;
    // The last epoch's labels, as trained on (DeepCluster's summary holds the labels re-clustered after it).
    const last = readMetrics(join(out, 'metrics.jsonl')).filter((x) => x.type === 'epoch').at(-1);
    const q = r.summary.feature_kmeans as { nmi: number; acc: number };
    const row = { method, seed, feature_nmi: q.nmi, feature_acc: q.acc, label_nmi: last?.nmi_labels as number, minutes };
    console.log(JSON.stringify({ bench: 'compare', subset, epochs, width, overrides: over, ...row }));
    rows.push(row);
  }
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`\n| method | seeds | features k-means NMI | features k-means ACC | label NMI | minutes |\n|---|---|---|---|---|---|`);
for (const method of methods) {
  const rs = rows.filter((r) => r.method === method);
  const cell = (f: (r: Row) => number, d: number) => `${mean(rs.map(f)).toFixed(d)} (${rs.map((r) => f(r).toFixed(d)).join(', ')})`;
  console.log(`| ${method} | ${rs.length} | ${cell((r) => r.feature_nmi, 3)} | ${cell((r) => r.feature_acc, 3)} | ${cell((r) => r.label_nmi, 3)} | ${cell((r) => r.minutes, 1)} |`);
}
