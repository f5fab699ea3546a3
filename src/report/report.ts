/**
 * `odc report RUN_DIR...` as a library call: one self-contained HTML file (curves of every run
 * overlaid, evaluation tables, cluster galleries) plus each chart as SVG and PNG next to it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import type { ImageSet } from '../data/image_set.ts';
import { writeFileAtomic } from '../io/safetensors.ts';
import { isSweepDir, writeSweepReport } from '../sweep/sweep_report.ts';
import { ConfigError } from '../tensor/errors.ts';
import { buildCharts, type RenderedChart, renderChart } from './charts.ts';
import { checkStore, loadRunStore, type RunFeatures, runFeatures } from './features.ts';
import { type ClusterChoice, clusterInfos, membersByCluster, orderByCentroid, parseClusterChoice, selectClusters, thumbnailPng } from './gallery.ts';
import { type GalleryRow, type RunGallery, reportHtml } from './html.ts';
import { loadRunDir, type RunDir, uniqueNames } from './run_dir.ts';

export interface ReportOptions {
  /** The HTML file (default `<first run>/report.html`); charts go to `<name>-charts/` beside it. */
  out?: string;
  /** Which clusters the galleries show (default 'largest'); a string is parsed like `--clusters`. */
  clusters?: ClusterChoice | string;
  /** Clusters per gallery for largest/smallest/random (default 10). */
  galleryClusters?: number;
  /** Thumbnails per gallery row (default 12). */
  thumbs?: number;
  /** Seed of the random cluster choice (default 0). */
  seed?: number;
  /** Where the features of runs without a samples memory are computed: 'cpu' (default), 'cuda', 'cuda:N'. */
  device?: string;
  log?: (line: string) => void;
}

export interface ReportResult {
  html: string;
  /** The chart files written (SVG and PNG). */
  charts: string[];
  /** Gallery rows per run name. */
  galleryRows: Map<string, number>;
}

function positiveInt(v: number, flag: string): number {
  if (!Number.isInteger(v) || v < 1) throw new ConfigError(`Expected positive integer for ${flag} but received ${v}`);
  return v;
}

/** One store per distinct dataset setting (two runs on the same data share it). */
const dataKey = (r: RunDir) => JSON.stringify(['dataset', 'split', 'subset', 'longTail', 'seed', 'imageSize'].map((k) => r.config[k]));

export async function writeReport(runDirs: string[], o: ReportOptions = {}): Promise<ReportResult> {
  const log = o.log ?? (() => {});
  if (runDirs.length === 0) throw new ConfigError('odc report needs at least one run directory');
  const choice = typeof o.clusters === 'string' ? parseClusterChoice(o.clusters) : (o.clusters ?? 'largest');
  const count = positiveInt(o.galleryClusters ?? 10, '--gallery-clusters');
  const perRow = positiveInt(o.thumbs ?? 12, '--thumbs');
  // (the engine is loaded only for a device to check: reports of runs with memories never need it)
  if (o.device !== undefined) (await import('../tensor/device.ts')).checkDevice(o.device, '--device');
  // Read and validate every run before any slow work, so a wrong path fails at once.
  const runs = runDirs.map((d) => loadRunDir(d));
  uniqueNames(runs);
  for (const r of runs) if (Array.isArray(choice)) selectClusters(clusterInfos(new Int32Array(0), r.clusters), choice, count, 0, r.dir);

  const out = resolve(o.out ?? join(runs[0].dir, 'report.html'));
  const chartDir = join(dirname(out), `${basename(out, extname(out))}-charts`);
  mkdirSync(chartDir, { recursive: true });
  const charts: RenderedChart[] = [];
  const chartFiles = new Map<string, { svg: string; png: string }>();
  const written: string[] = [];
  for (const c of buildCharts(runs)) {
    const r = await renderChart(c);
    charts.push(r);
    const svg = join(chartDir, `${c.name}.svg`);
    const png = join(chartDir, `${c.name}.png`);
    writeFileSync(svg, r.svg);
    writeFileSync(png, r.png);
    written.push(svg, png);
    chartFiles.set(c.name, { svg: relative(dirname(out), svg), png: relative(dirname(out), png) });
  }
  log(`charts: ${charts.map((c) => c.name).join(', ')} in ${chartDir}`);

  const galleries: RunGallery[] = [];
  const notes: string[] = [];
  const stores = new Map<string, ImageSet>();
  for (const run of runs) {
    if (run.labels === undefined) {
      notes.push(`${run.name}: no gallery, no cluster labels yet (neither labels.npy nor a checkpoint).`);
      continue;
    }
    let store = stores.get(dataKey(run));
    if (store === undefined) {
      log(`${run.name}: loading ${run.config.dataset} (${run.config.split})`);
      store = await loadRunStore(run, log);
      stores.set(dataKey(run), store);
    }
    checkStore(run, store);
    let features: RunFeatures | undefined;
    try {
      features = await runFeatures(run, store, log, o.device);
    } catch (e) {
      log(`${run.name}: members in store order: ${(e as Error).message}`);
    }
    galleries.push(await runGallery(run, store, features, choice, count, perRow, o.seed ?? 0));
  }

  const html = reportHtml({ runs, charts, chartFiles, galleries, notes, created: new Date() });
  mkdirSync(dirname(out), { recursive: true });
  writeFileAtomic(out, Buffer.from(html));
  return { html: out, charts: written, galleryRows: new Map(galleries.map((g) => [g.run.name, g.rows.length])) };
}

async function runGallery(run: RunDir, store: ImageSet, f: RunFeatures | undefined, choice: ClusterChoice, count: number, perRow: number, seed: number): Promise<RunGallery> {
  const labels = run.labels as Int32Array;
  const infos = clusterInfos(labels, run.clusters, store.labels, store.classNames);
  const chosen = selectClusters(infos, choice, count, seed, run.dir);
  const members = membersByCluster(labels, run.clusters);
  const rows: GalleryRow[] = [];
  for (const c of chosen) {
    const { order } = orderByCentroid(members[c.id], f);
    const thumbs = await Promise.all(
      [...order.subarray(0, perRow)].map(async (index) => ({ index, png: await thumbnailPng(store, index), truth: store.labels ? (store.classNames?.[store.labels[index]] ?? String(store.labels[index])) : undefined })),
    );
    rows.push({ cluster: c, thumbs });
  }
  const how = Array.isArray(choice) ? `clusters ${choice.join(', ')}` : choice === 'random' ? `${rows.length} random clusters (seed ${seed})` : `the ${rows.length} ${choice} clusters`;
  const order = f === undefined ? 'in dataset order (no features available)' : `nearest to the cluster's mean feature first, by cosine similarity of ${f.source}`;
  const truth = store.labels ? '; each row names its majority true class and purity' : '';
  return { run, rows, note: `${how} of ${run.labelsSource}; members ${order}${truth}.` };
}

/** Flags of `odc report` (see src/cli/main.ts). */
export interface ReportFlags {
  out?: string;
  clusters?: string;
  galleryClusters?: number;
  thumbs?: number;
  seed?: number;
  device?: string;
}

export async function runReport(runDirs: string[], f: ReportFlags): Promise<void> {
  // A sweep folder (odc sweep): its metric-against-value charts and table.
  if (runDirs.length === 1 && isSweepDir(runDirs[0])) {
    const r = await writeSweepReport(runDirs[0], f.out === undefined ? undefined : resolve(f.out));
    console.log(`report: ${r.html} (charts as SVG and PNG in ${join(runDirs[0], 'charts')})`);
    return;
  }
  const r = await writeReport(runDirs, { ...f, log: (l) => console.log(l) });
  console.log(`report: ${r.html} (charts as SVG and PNG in ${dirname(r.charts[0] ?? r.html)})`);
}
