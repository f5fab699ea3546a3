/** `odc serve` over HTTP on a tiny real ODC run: pages, JSON, images, search, and the 4xx answers. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { readNpy } from '../src/io/npy.ts';
import { loadBrowser, PER_PAGE, type RunningServer, startServer } from '../src/serve/server.ts';
import { skipNoData, TINY_CLUSTERS, TINY_IMAGES, trainTinyRun } from './run_fixture.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A raw HTTP request: the path goes out exactly as given (fetch would normalise `..`). */
function get(base: string, path: string, method = 'GET'): Promise<{ status: number; type: string; body: Buffer }> {
  const u = new URL(base);
  return new Promise((res, rej) => {
    const req = request({ host: u.hostname, port: u.port, path, method }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, type: String(r.headers['content-type']), body: Buffer.concat(chunks) }));
    });
    req.on('error', rej);
    req.end();
  });
}

describe('odc serve', { skip: skipNoData }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'odc-serve-'));
  let run = '';
  let s: RunningServer;
  let labels: Int32Array;
  before(async () => {
    run = await trainTinyRun(tmp, 'odc');
    labels = readNpy(join(run, 'labels.npy')).data as Int32Array;
    s = await startServer(run, { port: 0 });
  });
  after(async () => {
    await s?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('binds 127.0.0.1 by default and lists every cluster, sortable by size or purity', async () => {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get(s.url, '/');
    assert.equal(page.status, 200);
    assert.equal(page.type, 'text/html; charset=utf-8');
    assert.equal((page.body.toString().match(/class="cluster-row"/g) ?? []).length, TINY_CLUSTERS);
    const bySize = JSON.parse((await get(s.url, '/api/clusters')).body.toString());
    assert.equal(bySize.clusters.length, TINY_CLUSTERS);
    const sizes = bySize.clusters.map((c: { size: number }) => c.size);
    assert.deepEqual(sizes, [...sizes].sort((a, b) => b - a));
    assert.equal(sizes.reduce((a: number, b: number) => a + b, 0), TINY_IMAGES);
    const byPurity = JSON.parse((await get(s.url, '/api/clusters?sort=purity&order=asc')).body.toString()).clusters;
    const purities = byPurity.filter((c: { size: number }) => c.size > 0).map((c: { purity: number }) => c.purity);
    assert.deepEqual(purities, [...purities].sort((a, b) => a - b));
    assert.equal((await get(s.url, '/?sort=name')).status, 400);
  });

  it('pages through a cluster, nearest to the centroid first', async () => {
    const big = JSON.parse((await get(s.url, '/api/clusters')).body.toString()).clusters[0];
    const d = JSON.parse((await get(s.url, `/api/clusters/${big.id}`)).body.toString());
    assert.equal(d.members.length, Math.min(PER_PAGE, big.size));
    assert.equal(d.pages, Math.ceil(big.size / PER_PAGE));
    for (const m of d.members) assert.equal(labels[m.index], big.id);
    const sims = d.members.map((m: { similarity: number }) => m.similarity);
    assert.deepEqual(sims, [...sims].sort((a, b) => b - a));
    const html = (await get(s.url, `/clusters/${big.id}?page=1`)).body.toString();
    assert.equal((html.match(/<a class="tile" href="\/search\?index=\d+">/g) ?? []).length, d.members.length);
    if (d.pages > 1) assert.equal((await get(s.url, `/clusters/${big.id}?page=2`)).status, 200);
    const beyond = await get(s.url, `/clusters/${big.id}?page=${d.pages + 1}`);
    assert.equal(beyond.status, 404);
    assert.match(beyond.body.toString(), /there is no page/);
  });

  it('serves dataset images as PNG by index', async () => {
    const r = await get(s.url, '/images/7.png');
    assert.equal(r.status, 200);
    assert.equal(r.type, 'image/png');
    const meta = await sharp(r.body).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 28, 28]);
    assert.equal((await get(s.url, '/images/7.png', 'HEAD')).status, 200);
    assert.equal((await get(s.url, `/images/${TINY_IMAGES}.png`)).status, 404);
  });

  it('searches an image index: its cluster and its nearest neighbours in feature space', async () => {
    const d = JSON.parse((await get(s.url, '/api/search?index=3&k=5')).body.toString());
    assert.equal(d.index, 3);
    assert.equal(d.cluster.id, labels[3]);
    assert.equal(d.neighbours.length, 5);
    assert.ok(d.neighbours.every((m: { index: number }) => m.index !== 3));
    const sims = d.neighbours.map((m: { similarity: number }) => m.similarity);
    assert.deepEqual(sims, [...sims].sort((a, b) => b - a));
    const html = (await get(s.url, '/search?index=3')).body.toString();
    assert.match(html, /<h1>Image 3<\/h1>/);
    assert.match(html, new RegExp(`href="/clusters/${labels[3]}\\?page=1">cluster ${labels[3]}</a>`));
    assert.equal((await get(s.url, '/search')).status, 200); // the empty form
  });

  it('draws the curves', async () => {
    const r = await get(s.url, '/curves');
    assert.equal(r.status, 200);
    assert.ok((r.body.toString().match(/<img src="data:image\/svg\+xml;base64,/g) ?? []).length >= 3);
  });

  it('answers bad ids with 400/404 and a message, and unknown routes and path traversal with 404', async () => {
    const cases: [string, number, RegExp?][] = [
      ['/clusters/abc', 400, /cluster id must be a non-negative integer, got &#39;abc&#39;/],
      ['/clusters/-1', 400],
      ['/clusters/1.5', 400],
      [`/clusters/${TINY_CLUSTERS}`, 404, new RegExp(`cluster ${TINY_CLUSTERS} does not exist: this run has clusters 0\\.\\.${TINY_CLUSTERS - 1}`)],
      ['/clusters/0?page=0', 400, /page&#39; must be an integer from 1 to/],
      ['/search?index=abc', 400],
      [`/search?index=${TINY_IMAGES}`, 404, new RegExp(`image ${TINY_IMAGES} does not exist`)],
      ['/search?index=1&k=0', 400],
      ['/search?index=1&k=1000', 400],
      ['/api/search', 400, /missing query parameter 'index'/],
      ['/api/clusters/99', 404, /"error":"cluster 99 does not exist/],
      ['/nope', 404, /no such page/],
      ['/images/abc.png', 404],
      ['/images/../../etc/passwd', 404],
      ['/images/..%2f..%2fetc%2fpasswd', 404],
      ['/images/%2e%2e/%2e%2e/etc/passwd', 404],
      ['/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd', 404],
      ['/images/..\\..\\etc\\passwd', 404],
      ['/images/1.png/../../../../etc/passwd', 404],
      ['/../../../etc/passwd', 404],
      ['/%2e%2e/%2e%2e/etc/passwd', 404],
      ['//etc/passwd', 404],
      ['/clusters/../../etc/passwd', 404],
      ['/curves/../config.json', 404],
      ['/config.json', 404],
      ['/labels.npy', 404],
    ];
    for (const [path, status, re] of cases) {
      const r = await get(s.url, path);
      assert.equal(r.status, status, path);
      const body = r.body.toString();
      assert.ok(!body.includes('root:'), path);
      if (re) assert.match(body, re, path);
    }
    assert.equal((await get(s.url, '/', 'POST')).status, 405);
  });

  it('a missing run directory is a clear error (library and CLI)', async () => {
    const missing = join(tmp, 'no-such-run');
    await assert.rejects(loadBrowser(missing), (e: Error) => e.message === `${missing}: no such run directory`);
    const cli = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', missing, '--port', '0'], { cwd: root, encoding: 'utf8' });
    assert.equal(cli.status, 2, cli.stderr);
    assert.equal(cli.stderr.trim(), `error: ${missing}: no such run directory`);
  });
});
