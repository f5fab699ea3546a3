/**
 * The report as one self-contained HTML page (inline CSS, charts and thumbnails as data: URIs, no
 * script, nothing fetched), and the small HTML helpers the cluster browser shares.
 */
import type { RenderedChart } from './charts.ts';
import type { ClusterInfo } from './gallery.ts';
import type { EvalResults, RunDir } from './run_dir.ts';

/** Escapes text for HTML content and attribute values. */
export function esc(v: unknown): string {
  return String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export const dataUri = (mime: string, bytes: Buffer | string) => `data:${mime};base64,${Buffer.from(bytes).toString('base64')}`;

export const fmt = (v: unknown, digits = 3): string =>
  typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString('en-US') : String(Number(v.toFixed(digits)))) : v === undefined || v === null ? '' : String(v);

export const pct = (v: number | undefined) => (v === undefined ? '' : `${(100 * v).toFixed(0)} %`);

/** Shared stylesheet of the report and the cluster browser. */
export const STYLE = `
:root { --fg: #1d232a; --muted: #5b6670; --line: #dde2e6; --accent: #2f6db5; --bg-alt: #f5f7f9; }
* { box-sizing: border-box; }
body { font: 14px/1.45 "DejaVu Sans", system-ui, sans-serif; color: var(--fg); margin: 0 auto; max-width: 1180px; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; } p { margin: 6px 0; } .muted { color: var(--muted); }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
nav { display: flex; gap: 16px; flex-wrap: wrap; align-items: center; margin: 8px 0; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: right; vertical-align: middle; }
th { background: var(--bg-alt); font-weight: 600; } th:first-child, td:first-child { text-align: left; }
td.thumbs-cell { text-align: left; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 8px 24px; }
figure.chart { margin: 8px 0 16px; } figure.chart img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 12.5px; max-width: 760px; }
.gallery-row { display: flex; gap: 12px; align-items: center; padding: 6px 0; border-bottom: 1px solid var(--line); }
.row-head { width: 150px; flex: none; font-size: 12.5px; }
.row-head b { font-size: 14px; }
.thumbs { display: flex; flex-wrap: wrap; gap: 3px; }
img.thumb { width: 56px; height: 56px; image-rendering: pixelated; background: #000; display: block; }
.tile { text-align: center; font-size: 11px; color: var(--muted); }
.tile img.thumb { width: 84px; height: 84px; }
.pager { display: flex; gap: 12px; margin: 10px 0; align-items: center; }
form.search input[type=number] { width: 110px; }
.error { color: #a3222a; }
`;

/** An HTML page with the shared stylesheet. */
export function page(title: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title><style>${STYLE}</style></head>\n<body>\n${body}\n</body></html>\n`;
}

/** A chart as an <img> of its SVG (each chart an isolated document: no id clashes between charts). */
export function chartFigure(c: RenderedChart, files?: { svg: string; png: string }): string {
  const size = /<svg[^>]*\bwidth="(\d+(?:\.\d+)?)"[^>]*\bheight="(\d+(?:\.\d+)?)"/.exec(c.svg);
  const dims = size ? ` width="${Math.round(Number(size[1]))}" height="${Math.round(Number(size[2]))}"` : '';
  const links = files ? ` <span class="muted">(<a href="${esc(files.svg)}">SVG</a>, <a href="${esc(files.png)}">PNG</a>)</span>` : '';
  return `<figure class="chart" data-chart="${esc(c.name)}"><h3>${esc(c.title)}</h3><img src="${dataUri('image/svg+xml', c.svg)}" alt="${esc(c.title)}"${dims}><figcaption>${esc(c.caption)}${links}</figcaption></figure>`;
}

/** A plain table; numbers right-aligned and formatted. */
export function table(columns: string[], rows: unknown[][], cls = ''): string {
  const head = `<tr>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${r.map((v) => `<td>${esc(fmt(v))}</td>`).join('')}</tr>`).join('\n');
  return `<table${cls ? ` class="${cls}"` : ''}>${head}\n${body}</table>`;
}

export function evalSection(r: EvalResults): string {
  const meta = [r.checkpoint && `checkpoint ${r.checkpoint}`, r.dataset && `data ${r.dataset}`, r.created && `created ${r.created}`].filter(Boolean).join(' · ');
  return `<p class="muted">${esc(meta)}</p>${r.tables.map((t) => `<h4>${esc(t.title)}</h4>${table(t.columns, t.rows, 'eval')}`).join('\n')}`;
}

/** One line per run: what was trained and how well its clusters match the true classes. */
export function runsTable(runs: RunDir[]): string {
  const rows = runs.map((r) => {
    const s = r.summary ?? {};
    const sizes = s.cluster_sizes as { min?: number; median?: number; max?: number } | undefined;
    const last = [...r.records].reverse().find((x) => x.type === 'epoch' || x.type === 'iter');
    const fk = s.feature_kmeans as { nmi?: number; acc?: number; k?: number } | undefined;
    return [
      r.name, r.method, String(s.dataset ?? r.config.dataset ?? ''), s.images ?? r.labels?.length ?? '', r.clusters,
      `${last?.epoch ?? 0}/${r.config.epochs}${r.finished ? '' : ' (in progress)'}`,
      sizes ? `${sizes.min} / ${sizes.median} / ${sizes.max}` : '',
      s.nmi_labels ?? '', s.acc_labels ?? '', fk?.nmi !== undefined ? `${fmt(fk.nmi)} / ${fmt(fk.acc)}` : '',
    ];
  });
  return table(['run', 'method', 'data', 'images', 'clusters', 'epochs', 'cluster size min / median / max', 'NMI (labels)', 'ACC (labels)', `k-means on features NMI / ACC`], rows, 'runs');
}

export interface GalleryRow {
  cluster: ClusterInfo;
  thumbs: { index: number; png: Buffer; truth?: string }[];
}

export interface RunGallery {
  run: RunDir;
  rows: GalleryRow[];
  /** How the clusters were chosen and the members ordered. */
  note: string;
}

export function galleryRowHtml(row: GalleryRow): string {
  const c = row.cluster;
  const head = `<div class="row-head"><b>cluster ${c.id}</b><br>${fmt(c.size)} images${c.majorityName !== undefined ? `<br>${esc(c.majorityName)} ${pct(c.purity)}` : ''}</div>`;
  const imgs = row.thumbs.map((t) => `<img class="thumb" src="${dataUri('image/png', t.png)}" alt="image ${t.index}" title="image ${t.index}${t.truth !== undefined ? `: ${esc(t.truth)}` : ''}">`).join('');
  return `<div class="gallery-row" data-cluster="${c.id}">${head}<div class="thumbs">${imgs || '<span class="muted">empty cluster</span>'}</div></div>`;
}

export interface ReportParts {
  runs: RunDir[];
  charts: RenderedChart[];
  chartFiles?: Map<string, { svg: string; png: string }>;
  galleries: RunGallery[];
  /** Runs without a gallery and why. */
  notes: string[];
  created: Date;
}

export function reportHtml(p: ReportParts): string {
  const names = p.runs.map((r) => r.name).join(', ');
  const evals = p.runs.filter((r) => r.evalResults !== undefined);
  const sections: string[] = [];
  sections.push(`<h1>ODC report: ${esc(names)}</h1><p class="muted">${p.runs.map((r) => esc(r.dir)).join('<br>')}<br>made ${esc(p.created.toISOString().replace('T', ' ').slice(0, 16))} UTC by odc report</p>`);
  sections.push(`<nav><a href="#runs">Runs</a><a href="#curves">Curves</a>${evals.length ? '<a href="#evaluation">Evaluation</a>' : ''}<a href="#galleries">Cluster galleries</a></nav>`);
  sections.push(`<h2 id="runs">Runs</h2>${runsTable(p.runs)}`);
  const charts = p.charts.map((c) => chartFigure(c, p.chartFiles?.get(c.name))).join('\n');
  sections.push(`<h2 id="curves">Curves</h2>${charts ? `<div class="charts">${charts}</div>` : '<p class="muted">No metrics recorded yet.</p>'}`);
  if (evals.length) sections.push(`<h2 id="evaluation">Evaluation</h2>${evals.map((r) => `<h3>${esc(r.name)}</h3>${evalSection(r.evalResults as EvalResults)}`).join('\n')}`);
  const galleries = p.galleries.map((g) => `<h3>${esc(g.run.name)}</h3><p class="muted">${esc(g.note)}</p><div class="gallery" data-run="${esc(g.run.name)}">${g.rows.map(galleryRowHtml).join('\n')}</div>`);
  sections.push(`<h2 id="galleries">Cluster galleries</h2>${galleries.join('\n')}${p.notes.map((n) => `<p class="muted">${esc(n)}</p>`).join('')}`);
  return page(`odc report: ${names}`, sections.join('\n'));
}
