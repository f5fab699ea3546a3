/**
 * `odc serve RUN_DIR`: a small local web app to browse every cluster of a run. Routes (GET/HEAD
 * only, matched exactly on the raw path; anything else is a 404):
 *
 *   /                        clusters, sortable by size, purity or id (?sort=&order=)
 *   /clusters/ID?page=P      a cluster's members, nearest to the centroid first, paged
 *   /images/INDEX.png        image INDEX of the run's own dataset, encoded on the fly (cached)
 *   /search?index=I&k=K      image I: its cluster and its K nearest neighbours in feature space
 *   /curves                  the training charts
 *   /api/clusters, /api/clusters/ID?page=P, /api/search?index=I&k=K   the same as JSON
 *
 * Images come from the store rebuilt from the run's config, addressed by index only: no file path
 * ever reaches the file system. Binds 127.0.0.1 unless told otherwise.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataError } from '../data/errors.ts';
import type { ImageSet } from '../data/image_set.ts';
import { buildCharts, renderChart } from '../report/charts.ts';
import { loadRunStore, type RunFeatures, runFeatures } from '../report/features.ts';
import { type ClusterInfo, clusterInfos, membersByCluster, nearestNeighbours, orderByCentroid, thumbnailPng } from '../report/gallery.ts';
import { chartFigure } from '../report/html.ts';
import { loadRunDir, type RunDir } from '../report/run_dir.ts';
import { clusterListPage, clusterPage, curvesPage, errorPage, type SiteInfo, type SortKey, searchPage } from './pages.ts';

export const PER_PAGE = 60;
const PREVIEW = 8;
const MAX_K = 100;
const PNG_CACHE = 8192;

/** A 4xx answer with a message for the user. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Everything the browser serves, loaded once. */
export class ClusterBrowser {
  readonly infos: ClusterInfo[];
  readonly site: SiteInfo;
  readonly #members: Int32Array[];
  readonly #ordered = new Map<number, { order: Int32Array; similarity?: Float32Array }>();
  readonly #pngs = new Map<number, Promise<Buffer>>();
  #curves: Promise<string> | undefined;

  constructor(readonly run: RunDir, readonly store: ImageSet, readonly features: RunFeatures | undefined, featureNote: string) {
    const labels = run.labels as Int32Array;
    this.infos = clusterInfos(labels, run.clusters, store.labels, store.classNames);
    this.#members = membersByCluster(labels, run.clusters);
    this.site = {
      runName: run.name, runDir: run.dir, method: run.method, images: store.n, clusters: run.clusters, dataset: store.source,
      labelsSource: run.labelsSource ?? '', featureNote, hasTruth: store.labels !== undefined,
    };
  }

  truth(i: number): string | undefined {
    const t = this.store.labels?.[i];
    return t === undefined ? undefined : (this.store.classNames?.[t] ?? String(t));
  }

  /** Members of cluster `id`, nearest to its centroid first. */
  ordered(id: number): { order: Int32Array; similarity?: Float32Array } {
    let o = this.#ordered.get(id);
    if (o === undefined) {
      o = orderByCentroid(this.#members[id], this.features);
      this.#ordered.set(id, o);
    }
    return o;
  }

  cluster(raw: string): ClusterInfo {
    const id = parseIndex(raw, 'cluster id');
    if (id >= this.infos.length) throw new HttpError(404, `cluster ${id} does not exist: this run has clusters 0..${this.infos.length - 1}`);
    return this.infos[id];
  }

  image(raw: string | null): number {
    if (raw === null) throw new HttpError(400, "missing query parameter 'index' (an image index)");
    const i = parseIndex(raw, 'image index');
    if (i >= this.store.n) throw new HttpError(404, `image ${i} does not exist: this run has ${this.store.n} images (0..${this.store.n - 1})`);
    return i;
  }

  /** PNG of image i (LRU-cached). */
  png(i: number): Promise<Buffer> {
    let p = this.#pngs.get(i);
    if (p !== undefined) {
      this.#pngs.delete(i);
    } else {
      p = thumbnailPng(this.store, i);
      p.catch(() => this.#pngs.delete(i)); // a failed encoding is retried on the next request
      if (this.#pngs.size >= PNG_CACHE) this.#pngs.delete(this.#pngs.keys().next().value as number);
    }
    this.#pngs.set(i, p);
    return p;
  }

  list(sort: SortKey, order: 'asc' | 'desc') {
    const key = (c: ClusterInfo) => (sort === 'size' ? c.size : sort === 'purity' ? (c.purity ?? -1) : c.id);
    const sign = order === 'desc' ? -1 : 1;
    return [...this.infos].sort((a, b) => sign * (key(a) - key(b)) || a.id - b.id);
  }

  clusterData(c: ClusterInfo, pageNo: number) {
    const pages = Math.max(1, Math.ceil(c.size / PER_PAGE));
    if (pageNo > pages) throw new HttpError(404, `cluster ${c.id} has ${pages} page${pages > 1 ? 's' : ''} of ${PER_PAGE} images; there is no page ${pageNo}`);
    const { order, similarity } = this.ordered(c.id);
    const from = (pageNo - 1) * PER_PAGE;
    const members = [...order.subarray(from, from + PER_PAGE)].map((index, j) => ({ index, similarity: similarity?.[from + j], truth: this.truth(index) }));
    return { info: c, page: pageNo, pages, perPage: PER_PAGE, members };
  }

  searchData(index: number, k: number) {
    const cluster = this.infos[(this.run.labels as Int32Array)[index]];
    const rank = this.ordered(cluster.id).order.indexOf(index) + 1;
    const neighbours = this.features === undefined
      ? undefined
      : nearestNeighbours(this.features, index, k).map((m) => ({ ...m, cluster: (this.run.labels as Int32Array)[m.index], truth: this.truth(m.index) }));
    return { index, cluster, rank, truth: this.truth(index), neighbours };
  }

  curves(): Promise<string> {
    this.#curves ??= (async () => {
      const figures: string[] = [];
      for (const c of buildCharts([this.run])) figures.push(chartFigure(await renderChart(c)));
      return figures.join('\n');
    })();
    return this.#curves;
  }
}

function parseIndex(raw: string, what: string): number {
  if (!/^\d{1,9}$/.test(raw)) throw new HttpError(400, `${what} must be a non-negative integer, got '${raw.slice(0, 40)}'`);
  return Number(raw);
}

function intParam(q: URLSearchParams, name: string, dflt: number, max: number): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return dflt;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw new HttpError(400, `'${name}' must be an integer from 1 to ${max}, got '${raw.slice(0, 40)}'`);
  return Number(raw);
}

/** Loads a run for browsing; errors name the run directory. */
export async function loadBrowser(runDir: string, log: (l: string) => void = () => {}): Promise<ClusterBrowser> {
  const run = loadRunDir(runDir);
  if (run.labels === undefined) throw new DataError(runDir, 'no cluster labels yet (neither labels.npy nor a checkpoint): wait for the first checkpoint of the run');
  log(`loading ${run.config.dataset} (${run.config.split}) for ${run.dir}`);
  const store = await loadRunStore(run, log);
  let features: RunFeatures | undefined;
  let note: string;
  try {
    features = await runFeatures(run, store, log);
    note = features.source;
  } catch (e) {
    note = `none (${(e as Error).message}); members in dataset order`;
    log(`no neighbour search: ${(e as Error).message}`);
  }
  return new ClusterBrowser(run, store, features, note);
}

const HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; form-action 'self'",
};

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...HEADERS, 'Content-Type': type, 'Content-Length': buf.length, ...extra });
  res.end(req.method === 'HEAD' ? undefined : buf);
}

const HTML = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/** Answers one request; unknown routes are 404, bad parameters 400, out-of-range ids 404. */
export async function handle(b: ClusterBrowser, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  const api = path.startsWith('/api/');
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `method ${req.method} not allowed (GET or HEAD only)`);
    const image = /^\/images\/(\d{1,9})\.png$/.exec(path);
    if (image !== null) {
      const png = await b.png(b.image(image[1]));
      return send(req, res, 200, 'image/png', png, { 'Cache-Control': 'max-age=3600' });
    }
    if (path === '/' || path === '/api/clusters') {
      const sort = (['size', 'purity', 'id'] as const).find((s) => s === (query.get('sort') ?? 'size'));
      const order = (['desc', 'asc'] as const).find((s) => s === (query.get('order') ?? 'desc'));
      if (sort === undefined || order === undefined) throw new HttpError(400, "sort must be size, purity or id and order desc or asc");
      const list = b.list(sort, order);
      if (api) return send(req, res, 200, JSON_TYPE, JSON.stringify({ run: b.site.runName, images: b.site.images, clusters: list }));
      const rows = list.map((info) => ({ info, preview: [...b.ordered(info.id).order.subarray(0, PREVIEW)] }));
      return send(req, res, 200, HTML, clusterListPage(b.site, rows, sort, order));
    }
    const cluster = /^\/(api\/)?clusters\/([^/]+)$/.exec(path);
    if (cluster !== null) {
      const d = b.clusterData(b.cluster(cluster[2]), intParam(query, 'page', 1, 1e9));
      return api ? send(req, res, 200, JSON_TYPE, JSON.stringify(d)) : send(req, res, 200, HTML, clusterPage(b.site, d));
    }
    if (path === '/search' || path === '/api/search') {
      if (!api && (query.get('index') ?? '') === '') return send(req, res, 200, HTML, searchPage(b.site));
      const d = b.searchData(b.image(query.get('index')), intParam(query, 'k', 12, MAX_K));
      return api ? send(req, res, 200, JSON_TYPE, JSON.stringify(d)) : send(req, res, 200, HTML, searchPage(b.site, d));
    }
    if (path === '/curves') return send(req, res, 200, HTML, curvesPage(b.site, await b.curves()));
    throw new HttpError(404, `no such page: ${path.slice(0, 100)}`);
  } catch (e) {
    const status = e instanceof HttpError ? e.status : 500;
    const message = e instanceof HttpError ? e.message : `internal error: ${(e as Error).message}`;
    if (status === 500) console.error(e);
    const extra: Record<string, string> = status === 405 ? { Allow: 'GET, HEAD' } : {};
    if (api) send(req, res, status, JSON_TYPE, JSON.stringify({ error: message, status }), extra);
    else send(req, res, status, HTML, errorPage(b.site, status, message), extra);
  }
}

export interface ServeOptions {
  /** Address to bind (default 127.0.0.1: this machine only). */
  host?: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  server: Server;
  browser: ClusterBrowser;
  close(): Promise<void>;
}

/** Starts the cluster browser on `run`'s directory; resolves once it listens. */
export async function startServer(runDir: string, o: ServeOptions = {}): Promise<RunningServer> {
  const log = o.log ?? (() => {});
  const browser = await loadBrowser(runDir, log);
  return listen(browser, o);
}

export async function listen(browser: ClusterBrowser, o: ServeOptions = {}): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  const server = createServer((req, res) => void handle(browser, req, res));
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(o.port ?? 8080, host, () => res());
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown}:${addr.port}/`, server, browser,
    close: () => new Promise<void>((res) => {
      server.closeAllConnections();
      server.close(() => res());
    }),
  };
}

/** `odc serve` flags (see src/cli/main.ts). */
export interface ServeFlags {
  host?: string;
  port?: number;
}

export async function runServe(runDir: string, f: ServeFlags): Promise<void> {
  const host = f.host ?? '127.0.0.1';
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) console.log(`warning: serving on ${host}: anyone who can reach this address can browse the run's images`);
  const s = await startServer(runDir, { host, port: f.port, log: (l) => console.log(l) });
  console.log(`odc serve: ${s.browser.site.clusters} clusters of ${s.browser.site.images} images at ${s.url} (Ctrl-C to stop)`);
  const stop = () => void s.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
