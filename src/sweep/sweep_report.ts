/**
 * The charts and page of a sweep folder (`odc sweep` writes them at the end; `odc report DIR` on a
 * sweep folder writes them again): per swept key and metric, the metric (mean over seeds) against
 * the key's values, one line per setting of the other keys; then the table of every point.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../io/safetensors.ts';
import { type Chart, renderChart } from '../report/charts.ts';
import { chartFigure, esc, fmt, page, table } from '../report/html.ts';
import { ConfigError } from '../tensor/errors.ts';
import { type SweepAxis, shortKey } from './grid.ts';

const METRIC_TITLES: Record<string, string> = {
  feature_nmi: 'NMI, k-means on the learned features', feature_acc: 'ACC, k-means on the learned features',
  label_nmi: 'NMI of the cluster labels', label_acc: 'ACC of the cluster labels', loss: 'final epoch loss', change_ratio: 'final epoch label-change ratio',
};

interface SweepRow {
  name: string;
  settings: Record<string, unknown>;
  metrics: Record<string, number>;
}

/** Whether `dir` is a sweep folder (it has sweep.json and sweep-spec.json). */
export const isSweepDir = (dir: string): boolean => existsSync(join(dir, 'sweep.json')) && existsSync(join(dir, 'sweep-spec.json'));

/** The metric-against-value charts of a sweep's rows. */
export function sweepCharts(axes: SweepAxis[], rows: SweepRow[]): Chart[] {
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const charts: Chart[] = [];
  for (const axis of axes) {
    const others = axes.filter((a) => a !== axis);
    const numeric = axis.values.every((v) => typeof v === 'number');
    const nums = axis.values as number[];
    const logScale = numeric && nums.every((v) => v > 0) && Math.max(...nums) / Math.min(...nums) >= 100;
    for (const metric of metrics) {
      const groups = new Map<string, { x: unknown; line: string; sum: number; n: number }>();
      for (const r of rows) {
        const y = r.metrics[metric];
        if (typeof y !== 'number') continue;
        const line = others.length ? others.map((a) => `${shortKey(a.key)}=${JSON.stringify(r.settings[a.key])}`).join(', ') : 'all runs';
        const x = r.settings[axis.key];
        const id = JSON.stringify([line, x]);
        const g = groups.get(id) ?? { x, line, sum: 0, n: 0 };
        g.sum += y;
        g.n++;
        groups.set(id, g);
      }
      if (groups.size === 0) continue;
      const seeds = Math.max(...[...groups.values()].map((g) => g.n));
      const spec: TopLevelSpec = {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        width: 440, height: 220, background: 'white',
        data: { values: [...groups.values()].map((g) => ({ x: numeric ? g.x : JSON.stringify(g.x), y: g.sum / g.n, line: g.line })) },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'x', type: numeric ? 'quantitative' : 'ordinal', title: axis.key, ...(logScale ? { scale: { type: 'log' } } : {}) },
          y: { field: 'y', type: 'quantitative', title: METRIC_TITLES[metric] ?? metric, scale: { zero: false } },
          color: { field: 'line', type: 'nominal', title: others.map((a) => a.key).join(', ') || ' ', legend: { orient: 'bottom', columns: 2, labelLimit: 400, titleLimit: 400 } },
        },
      };
      charts.push({
        name: `${axis.key}-${metric}`, title: `${METRIC_TITLES[metric] ?? metric} against ${axis.key}`, spec,
        caption: `${seeds > 1 ? `Means over ${seeds} seeds. ` : ''}One line per setting of ${others.map((a) => a.key).join(', ') || 'nothing else'}.`,
      });
    }
  }
  return charts;
}

/** Writes `<dir>/charts/*.svg|png` and `<dir>/report.html` (or `out`) from the folder's sweep.json. */
export async function writeSweepReport(dir: string, out = join(dir, 'report.html')): Promise<{ html: string; charts: string[] }> {
  if (!isSweepDir(dir)) throw new ConfigError(`${dir}: not a sweep folder (no sweep.json and sweep-spec.json)`);
  const spec = JSON.parse(readFileSync(join(dir, 'sweep-spec.json'), 'utf8')) as { axes: SweepAxis[]; seeds: number[] };
  const rows = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')) as SweepRow[];
  const chartDir = join(dir, 'charts');
  mkdirSync(chartDir, { recursive: true });
  const files: string[] = [];
  const figures: string[] = [];
  for (const c of sweepCharts(spec.axes, rows)) {
    const r = await renderChart(c);
    const svg = join(chartDir, `${c.name}.svg`);
    const png = join(chartDir, `${c.name}.png`);
    writeFileSync(svg, r.svg);
    writeFileSync(png, r.png);
    files.push(svg, png);
    figures.push(chartFigure(r, { svg: relative(dir, svg), png: relative(dir, png) }));
  }
  const keys = [...spec.axes.map((a) => a.key), 'seed'];
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const body = `<h1>Sweep: ${esc(spec.axes.map((a) => a.key).join(' x '))}</h1>
<p class="muted">${rows.length} runs in ${esc(dir)}; seeds ${esc(spec.seeds.join(', '))}.</p>
<h2>Charts</h2><div class="charts">${figures.join('\n')}</div>
<h2>Runs</h2>${table([...keys, ...metrics], rows.map((r) => [...keys.map((k) => JSON.stringify(r.settings[k])), ...metrics.map((m) => fmt(r.metrics[m], 4))]))}`;
  writeFileAtomic(out, Buffer.from(page(`odc sweep: ${spec.axes.map((a) => a.key).join(' x ')}`, body)));
  return { html: out, charts: files };
}
