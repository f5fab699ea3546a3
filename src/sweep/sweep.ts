/**
 * `odc sweep`: trains (and evaluates) one run per point of a grid of config settings, one run
 * directory each under --out, resumable: a point whose run finished is skipped, one that was
 * interrupted continues from its checkpoint. Writes sweep.json and sweep.csv (settings and
 * metrics of every point) and, per swept key and metric, a chart of the metric against the key's
 * values with one line per combination of the other keys (means over seeds).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../io/safetensors.ts';
import { readMetrics } from '../report/run_dir.ts';
import { ConfigError } from '../tensor/errors.ts';
import { mergeConfig, nested, resolveConfig, type TrainConfig } from '../train/config.ts';
import { train } from '../train/trainer.ts';
import { gridPoints, type SweepAxis, type SweepPoint } from './grid.ts';
import { writeSweepReport } from './sweep_report.ts';

export interface SweepOptions {
  /** The settings every point shares (a config file's contents, flags). */
  base: Record<string, unknown>;
  axes: SweepAxis[];
  /** Default [0]. */
  seeds?: number[];
  /** The sweep's folder: one run directory per point, sweep.json, sweep.csv, charts/. */
  out: string;
  log?: (line: string) => void;
}

/** What a point's run reached: feature k-means NMI/ACC and cluster-label NMI/ACC (labelled data), final loss. */
export type PointMetrics = Partial<Record<'feature_nmi' | 'feature_acc' | 'label_nmi' | 'label_acc' | 'loss' | 'change_ratio', number>>;

export interface SweepResult {
  out: string;
  points: (SweepPoint & { dir: string; skipped: boolean; metrics: PointMetrics })[];
  charts: string[];
}

function finished(dir: string): boolean {
  try {
    return JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).finished === true;
  } catch {
    return false;
  }
}

function metricsOf(dir: string): PointMetrics {
  const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  const last = readMetrics(join(dir, 'metrics.jsonl')).filter((r) => r.type === 'epoch').pop();
  const m: PointMetrics = {
    feature_nmi: s.feature_kmeans?.nmi, feature_acc: s.feature_kmeans?.acc, label_nmi: s.nmi_labels, label_acc: s.acc_labels,
    loss: last?.loss as number | undefined, change_ratio: s.method === 'odc' ? (last?.change_ratio as number | undefined) : undefined,
  };
  return Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))) as PointMetrics;
}

export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  if (o.axes.length === 0) throw new ConfigError('odc sweep needs at least one --set key=v1,v2,...');
  const seeds = o.seeds ?? [0];
  const out = resolve(o.out);
  const points = gridPoints(o.axes, seeds);
  // Every point's config is validated before the first one trains.
  const configs = points.map((p): TrainConfig => resolveConfig(mergeConfig(o.base, nested(p.settings), { out: join(out, p.name) }), `--set ${p.name}`));
  mkdirSync(out, { recursive: true });
  const specPath = join(out, 'sweep-spec.json');
  const spec = `${JSON.stringify({ base: o.base, axes: o.axes, seeds }, null, 2)}\n`;
  if (existsSync(specPath) && readFileSync(specPath, 'utf8') !== spec) {
    throw new ConfigError(`${out} holds another sweep (its sweep-spec.json differs): choose another --out`);
  }
  writeFileAtomic(specPath, Buffer.from(spec));
  log(`sweep: ${points.length} runs (${o.axes.map((a) => `${a.key} x ${a.values.length}`).join(', ')}, ${seeds.length} seed${seeds.length > 1 ? 's' : ''}) in ${out}`);
  const results: SweepResult['points'] = [];
  for (const [i, p] of points.entries()) {
    const dir = join(out, p.name);
    const skipped = finished(dir);
    if (skipped) log(`[${i + 1}/${points.length}] ${p.name}: finished before, skipped`);
    else {
      log(`[${i + 1}/${points.length}] ${p.name}`);
      await train(configs[i], { resume: existsSync(join(dir, 'latest.safetensors')), log: (l) => log(`  ${l}`), iterationLines: false });
    }
    results.push({ ...p, dir, skipped, metrics: metricsOf(dir) });
  }
  writeFileAtomic(join(out, 'sweep.json'), Buffer.from(`${JSON.stringify(results.map(({ settings, name, metrics }) => ({ name, settings, metrics })), null, 2)}\n`));
  const keys = [...o.axes.map((a) => a.key), 'seed'];
  const metricKeys = [...new Set(results.flatMap((r) => Object.keys(r.metrics)))] as (keyof PointMetrics)[];
  const csv = [[...keys, ...metricKeys].join(','), ...results.map((r) => [...keys.map((k) => JSON.stringify(r.settings[k])), ...metricKeys.map((m) => r.metrics[m] ?? '')].join(','))];
  writeFileAtomic(join(out, 'sweep.csv'), Buffer.from(`${csv.join('\n')}\n`));
  const report = await writeSweepReport(out);
  log(`sweep done: sweep.json, sweep.csv, ${report.html} (charts as SVG and PNG in ${join(out, 'charts')})`);
  return { out, points: results, charts: report.charts };
}
