/**
 * Training charts from metrics.jsonl as Vega-Lite specs, rendered headless by Vega to SVG and by
 * sharp (librsvg) to PNG: loss curves of several runs overlaid (the paper's Figure 1b), the ODC
 * label-change ratio per iteration (Figure 5), the evolution of cluster sizes, the final cluster-size
 * histogram and the NMI of the cluster labels against the true classes.
 */
import sharp from 'sharp';
import type { TopLevelSpec } from 'vega-lite';
import { type MetricsRecord, type RunDir, recordsOf } from './run_dir.ts';

export interface Chart {
  /** File stem: loss, change_ratio, ... */
  name: string;
  title: string;
  /** One sentence under the chart saying what is plotted. */
  caption: string;
  spec: TopLevelSpec;
}

export interface RenderedChart extends Chart {
  svg: string;
  png: Buffer;
}

/** Most points drawn per series: longer series are averaged over equal windows of iterations. */
const MAX_POINTS = 400;
const WIDTH = 440;
const HEIGHT = 220;

const CONFIG = {
  font: 'DejaVu Sans',
  background: 'white',
  view: { stroke: '#ccc' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' as const, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 240 },
};

/** Iterations per epoch: from the label count and batch size, else from where epoch 2 starts. */
function itersPerEpoch(run: RunDir): number | undefined {
  const n = run.labels?.length ?? (typeof run.summary?.images === 'number' ? run.summary.images : undefined);
  const batch = Number(run.config.batchSize);
  if (n !== undefined && batch > 0) return Math.ceil(n / batch);
  const second = recordsOf(run, 'iter').find((r) => r.epoch === 2);
  return second === undefined ? undefined : Number(second.iteration) - 1;
}

interface Point {
  run: string;
  x: number;
  y: number;
}

/** Window means of (iteration, value) so a series has at most MAX_POINTS points. */
function downsample(xs: number[], ys: number[], max = MAX_POINTS): { x: number; y: number }[] {
  const w = Math.max(1, Math.ceil(xs.length / max));
  const out: { x: number; y: number }[] = [];
  for (let s = 0; s < xs.length; s += w) {
    // A short last window (a partial epoch's few iterations) joins the one before it.
    const e = xs.length - (s + w) < w / 2 ? xs.length : s + w;
    let sx = 0;
    let sy = 0;
    for (let i = s; i < e; i++) {
      sx += xs[i];
      sy += ys[i];
    }
    out.push({ x: sx / (e - s), y: sy / (e - s) });
    if (e === xs.length) break;
  }
  return out;
}

/** A per-iteration series of every run; x in epochs when every run knows its epoch length. */
function iterSeries(runs: RunDir[], key: string, filter: (r: RunDir) => boolean = () => true): { points: Point[]; inEpochs: boolean; window: number } {
  const chosen = runs.filter(filter);
  const epochLen = chosen.map(itersPerEpoch);
  const inEpochs = epochLen.every((e) => e !== undefined);
  const points: Point[] = [];
  let window = 1;
  chosen.forEach((run, i) => {
    const recs = recordsOf(run, 'iter').filter((r) => typeof r[key] === 'number' && Number.isFinite(r[key]));
    const xs = recs.map((r) => Number(r.iteration) / (inEpochs ? (epochLen[i] as number) : 1));
    const ys = recs.map((r) => r[key] as number);
    window = Math.max(window, Math.ceil(xs.length / MAX_POINTS));
    for (const p of downsample(xs, ys)) points.push({ run: run.name, ...p });
  });
  return { points, inEpochs, window };
}

/** Colour by run; a single run needs no legend. */
const runColor = (runs: RunDir[]) => ({
  field: 'run', type: 'nominal' as const, title: 'run', scale: { domain: runs.map((r) => r.name) }, ...(runs.length > 1 ? { legend: { orient: 'bottom' as const } } : { legend: null }),
});

function lineChart(name: string, title: string, caption: string, runs: RunDir[], s: ReturnType<typeof iterSeries>, yTitle: string, y: Record<string, unknown> = {}): Chart {
  return {
    name, title, caption: `${caption}${s.window > 1 ? ` Each point is the mean over ${s.window} logged iterations.` : ''}`,
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: WIDTH, height: HEIGHT, config: CONFIG,
      data: { values: s.points },
      mark: { type: 'line', strokeWidth: 1.5, interpolate: 'linear' },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: s.inEpochs ? 'epoch' : 'iteration' },
        y: { field: 'y', type: 'quantitative', title: yTitle, ...y },
        color: runColor(runs),
      },
    },
  };
}

/** Training loss per iteration, all runs overlaid (Figure 1b: ODC vs DeepCluster). */
export function lossChart(runs: RunDir[]): Chart | undefined {
  const s = iterSeries(runs, 'loss');
  if (s.points.length === 0) return undefined;
  return lineChart('loss', 'Training loss', 'Cross-entropy against the current pseudo-labels, per iteration (ODC and DeepCluster runs overlaid, as in the paper\'s Figure 1b).', runs, s, 'loss');
}

/** ODC's label-change ratio per iteration (Figure 5). */
export function changeRatioChart(runs: RunDir[]): Chart | undefined {
  const odc = runs.filter((r) => r.method === 'odc');
  const s = iterSeries(odc, 'change_ratio');
  if (s.points.length === 0) return undefined;
  return lineChart(
    'change_ratio', 'Label-change ratio', 'Share of the batch\'s samples whose cluster label changed at each ODC iteration (the paper\'s Figure 5; zero during the label warm-up).',
    odc, s, 'label-change ratio', { scale: { domain: [0, 1] } },
  );
}

/** Smallest, median and largest cluster over training (from the records that carry cluster statistics). */
export function sizeEvolutionChart(runs: RunDir[]): Chart | undefined {
  const values: { run: string; x: number; statistic: string; size: number }[] = [];
  let inEpochs = true;
  const epochLen = runs.map(itersPerEpoch);
  if (epochLen.some((e) => e === undefined)) inEpochs = false;
  runs.forEach((run, i) => {
    const at = (r: MetricsRecord): number | undefined => {
      if (r.type === 'init') return 0;
      if (r.type === 'iter' && typeof r.median === 'number') return Number(r.iteration) / (inEpochs ? (epochLen[i] as number) : 1);
      return undefined;
    };
    for (const r of run.records) {
      const x = at(r);
      if (x === undefined) continue;
      for (const stat of ['min', 'median', 'max'] as const) {
        if (typeof r[stat] === 'number') values.push({ run: run.name, x, statistic: stat, size: Math.max(1, r[stat] as number) });
      }
    }
  });
  if (values.length === 0) return undefined;
  return {
    name: 'cluster_size_evolution', title: 'Cluster sizes during training',
    caption: 'Smallest, median and largest cluster (images; log scale) at every logged iteration, from the initial clustering (x = 0) on.',
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: WIDTH, height: HEIGHT, config: CONFIG,
      data: { values },
      mark: { type: 'line', strokeWidth: 1.5, point: values.length < 200 },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: inEpochs ? 'epoch' : 'iteration' },
        y: { field: 'size', type: 'quantitative', title: 'cluster size', scale: { type: 'log' } },
        color: runs.length > 1 ? runColor(runs) : { field: 'statistic', type: 'nominal', title: null, sort: ['max', 'median', 'min'], legend: { orient: 'bottom' } },
        ...(runs.length > 1 ? { strokeDash: { field: 'statistic', type: 'nominal', title: 'cluster', sort: ['max', 'median', 'min'], legend: { orient: 'bottom' } } } : {}),
        detail: { field: 'statistic' },
      },
    },
  };
}

/** Histogram of the final cluster sizes, one panel per run. */
export function sizeHistogramChart(runs: RunDir[]): Chart | undefined {
  const values: { run: string; size: number }[] = [];
  for (const run of runs) {
    if (run.labels === undefined) continue;
    const sizes = new Int32Array(run.clusters);
    for (const l of run.labels) sizes[l]++;
    for (const size of sizes) values.push({ run: run.name, size });
  }
  if (values.length === 0) return undefined;
  const multi = new Set(values.map((v) => v.run)).size > 1;
  const layer = {
    mark: { type: 'bar' as const, color: '#4c78a8' },
    encoding: {
      x: { field: 'size', type: 'quantitative' as const, bin: { maxbins: 40 }, title: 'cluster size (images)' },
      y: { aggregate: 'count' as const, type: 'quantitative' as const, title: 'clusters' },
    },
  };
  const base = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: CONFIG, data: { values } };
  return {
    name: 'cluster_sizes', title: 'Final cluster sizes',
    caption: 'How many clusters have each size at the end of training (empty clusters count at size 0).',
    spec: (multi
      ? { ...base, facet: { row: { field: 'run', type: 'nominal', title: null, sort: runs.map((r) => r.name), header: { labelAngle: 0, labelAlign: 'left', labelOrient: 'top', labelFontSize: 12 } } }, spec: { width: WIDTH, height: 90, ...layer }, resolve: { scale: { x: 'independent' } } }
      : { ...base, width: WIDTH, height: HEIGHT, ...layer }) as TopLevelSpec,
  };
}

/** NMI of the cluster labels against the true classes, after the initial clustering and every epoch. */
export function nmiChart(runs: RunDir[]): Chart | undefined {
  const values: { run: string; epoch: number; nmi: number }[] = [];
  for (const run of runs) {
    for (const r of run.records) {
      if (typeof r.nmi_labels !== 'number') continue;
      if (r.type === 'init') values.push({ run: run.name, epoch: 0, nmi: r.nmi_labels });
      else if (r.type === 'epoch') values.push({ run: run.name, epoch: Number(r.epoch), nmi: r.nmi_labels });
    }
  }
  if (values.length === 0) return undefined;
  return {
    name: 'nmi', title: 'Cluster labels vs true classes',
    caption: 'NMI between the cluster labels and the true classes (labels are never used for training), after the initial clustering (epoch 0) and after each epoch.',
    spec: {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: WIDTH, height: HEIGHT * 0.8, config: CONFIG,
      data: { values },
      mark: { type: 'line', point: true, strokeWidth: 1.5 },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
        y: { field: 'nmi', type: 'quantitative', title: 'NMI', scale: { zero: false } },
        color: runColor(runs),
      },
    },
  };
}

/** Every chart the runs have data for. */
export function buildCharts(runs: RunDir[]): Chart[] {
  return [lossChart(runs), changeRatioChart(runs), sizeEvolutionChart(runs), sizeHistogramChart(runs), nmiChart(runs)].filter((c): c is Chart => c !== undefined);
}

/** Vega-Lite → Vega → SVG (headless, no browser), and the SVG → PNG at `density` dpi (144 = 2x). */
export async function renderChart(chart: Chart, density = 144): Promise<RenderedChart> {
  // Loaded on first use: importing the package (to train, say) should not load the chart libraries.
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(chart.spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const png = await sharp(Buffer.from(svg), { density }).png({ compressionLevel: 9 }).toBuffer();
    return { ...chart, svg, png };
  } finally {
    view.finalize();
  }
}
