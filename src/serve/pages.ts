/** HTML pages of the cluster browser (`odc serve`): cluster list, cluster page, search, curves, errors. */
import type { ClusterInfo } from '../report/gallery.ts';
import { esc, fmt, page, pct } from '../report/html.ts';

export interface SiteInfo {
  runName: string;
  runDir: string;
  method: string;
  images: number;
  clusters: number;
  dataset: string;
  labelsSource: string;
  /** Where the features come from, or why there are none. */
  featureNote: string;
  hasTruth: boolean;
}

function shell(site: SiteInfo, title: string, body: string, index?: number): string {
  const nav = `<nav><b>odc serve · ${esc(site.runName)}</b><a href="/">Clusters</a><a href="/curves">Curves</a>
<form class="search" method="get" action="/search">image <input type="number" name="index" min="0" max="${site.images - 1}" value="${index ?? ''}" required placeholder="0..${site.images - 1}"> <button type="submit">Search</button></form></nav>`;
  const foot = `<p class="muted" style="margin-top:32px">${esc(site.runDir)} · ${esc(site.dataset)} · labels from ${esc(site.labelsSource)} · features: ${esc(site.featureNote)}</p>`;
  return page(`${title} · odc serve ${site.runName}`, `${nav}\n${body}\n${foot}`);
}

const thumb = (i: number, title = `image ${i}`, lazy = false) =>
  `<img class="thumb" src="/images/${i}.png" alt="image ${i}" title="${esc(title)}"${lazy ? ' loading="lazy"' : ''}>`;

const ordinal = (n: number) => (n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'));

export type SortKey = 'size' | 'purity' | 'id';

export function clusterListPage(site: SiteInfo, rows: { info: ClusterInfo; preview: number[] }[], sort: SortKey, order: 'asc' | 'desc'): string {
  const link = (key: SortKey, label: string) => {
    const next = sort === key && order === 'desc' ? 'asc' : 'desc';
    const arrow = sort === key ? (order === 'desc' ? ' ▼' : ' ▲') : '';
    return `<a href="/?sort=${key}&amp;order=${next}">${label}${arrow}</a>`;
  };
  const head = `<tr><th>${link('id', 'cluster')}</th><th>${link('size', 'size')}</th>${site.hasTruth ? `<th>majority class</th><th>${link('purity', 'purity')}</th>` : ''}<th style="text-align:left">nearest to the centroid</th></tr>`;
  const body = rows
    .map(({ info: c, preview }) => `<tr class="cluster-row" data-cluster="${c.id}"><td><a href="/clusters/${c.id}">cluster ${c.id}</a></td><td>${fmt(c.size)}</td>${
      site.hasTruth ? `<td>${esc(c.majorityName ?? '')}</td><td>${pct(c.purity)}</td>` : ''
    }<td class="thumbs-cell"><div class="thumbs">${preview.map((i) => thumb(i, `image ${i}`, true)).join('')}</div></td></tr>`)
    .join('\n');
  const intro = `<h1>${fmt(site.clusters)} clusters of ${fmt(site.images)} images</h1><p class="muted">${esc(site.method)} run; sorted by ${sort} (${order === 'desc' ? 'descending' : 'ascending'}). Click a cluster for all its members, an image for its nearest neighbours.</p>`;
  return shell(site, 'clusters', `${intro}<table class="clusters">${head}\n${body}</table>`);
}

export interface ClusterPageData {
  info: ClusterInfo;
  page: number;
  pages: number;
  perPage: number;
  members: { index: number; similarity?: number; truth?: string }[];
}

export function clusterPage(site: SiteInfo, d: ClusterPageData): string {
  const c = d.info;
  const pager = d.pages > 1
    ? `<div class="pager">${d.page > 1 ? `<a rel="prev" href="/clusters/${c.id}?page=${d.page - 1}">← previous</a>` : ''}<span>page ${d.page} of ${d.pages}</span>${d.page < d.pages ? `<a rel="next" href="/clusters/${c.id}?page=${d.page + 1}">next →</a>` : ''}</div>`
    : '';
  const tiles = d.members
    .map((m) => `<a class="tile" href="/search?index=${m.index}">${thumb(m.index, `image ${m.index}${m.truth ? `: ${m.truth}` : ''}`)}<div>#${m.index}${m.truth ? `<br>${esc(m.truth)}` : ''}${m.similarity !== undefined ? `<br>cos ${m.similarity.toFixed(3)}` : ''}</div></a>`)
    .join('');
  const purity = c.majorityName !== undefined ? ` · majority class ${esc(c.majorityName)} (${pct(c.purity)})` : '';
  const body = `<h1>Cluster ${c.id}</h1><p>${fmt(c.size)} images${purity}. Members nearest to the cluster's mean feature first.</p>${pager}<div class="thumbs cluster-members">${tiles || '<span class="muted">empty cluster</span>'}</div>${pager}`;
  return shell(site, `cluster ${c.id}`, body);
}

export interface SearchData {
  index: number;
  cluster: ClusterInfo;
  /** 1-based position in the cluster's nearest-to-centroid order. */
  rank: number;
  truth?: string;
  neighbours?: { index: number; similarity: number; cluster: number; truth?: string }[];
}

export function searchPage(site: SiteInfo, d?: SearchData): string {
  if (d === undefined) return shell(site, 'search', '<h1>Search</h1><p>Enter an image index above: its cluster and its nearest neighbours in feature space.</p>');
  const c = d.cluster;
  const head = `<div class="gallery-row"><img class="thumb" style="width:140px;height:140px" src="/images/${d.index}.png" alt="image ${d.index}"><div><h1>Image ${d.index}</h1>${d.truth !== undefined ? `<p>true class: ${esc(d.truth)}</p>` : ''}<p>in <a class="cluster-link" href="/clusters/${c.id}?page=1">cluster ${c.id}</a> (${fmt(c.size)} images${c.majorityName !== undefined ? `, majority ${esc(c.majorityName)} ${pct(c.purity)}` : ''}), ${fmt(d.rank)}${ordinal(d.rank)} nearest to its centroid</p></div></div>`;
  const nn = d.neighbours === undefined
    ? `<p class="muted">No features for neighbour search: ${esc(site.featureNote)}</p>`
    : `<h2>${d.neighbours.length} nearest neighbours</h2><p class="muted">by cosine similarity of the features: ${esc(site.featureNote)}</p><div class="thumbs neighbours">${d.neighbours
        .map((m) => `<a class="tile" href="/search?index=${m.index}">${thumb(m.index)}<div>#${m.index}<br>cos ${m.similarity.toFixed(3)}<br>cluster ${m.cluster}${m.cluster === c.id ? ' ✓' : ''}${m.truth ? `<br>${esc(m.truth)}` : ''}</div></a>`)
        .join('')}</div>`;
  return shell(site, `image ${d.index}`, `${head}${nn}`, d.index);
}

export function curvesPage(site: SiteInfo, figures: string): string {
  return shell(site, 'curves', `<h1>Curves</h1><div class="charts">${figures || '<p class="muted">No metrics recorded yet.</p>'}</div>`);
}

export function errorPage(site: SiteInfo | undefined, status: number, message: string): string {
  const body = `<h1>${status} ${status === 404 ? 'Not found' : status === 400 ? 'Bad request' : 'Error'}</h1><p class="error">${esc(message)}</p><p><a href="/">all clusters</a></p>`;
  return site === undefined ? page(`${status}`, body) : shell(site, String(status), body);
}
