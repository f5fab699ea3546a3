/** `odc report`: a self-contained HTML report from tiny real ODC and DeepCluster runs; galleries; errors. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FEATURE_CACHE } from '../src/report/features.ts';
import { clusterInfos, nearestNeighbours, orderByCentroid, parseClusterChoice, selectClusters } from '../src/report/gallery.ts';
import { writeReport } from '../src/report/report.ts';
import { loadRunDir } from '../src/report/run_dir.ts';
import { cuda } from '../src/runtime.ts';
import { skipNoData, TINY_CLUSTERS, trainTinyRun } from './run_fixture.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const count = (html: string, re: RegExp) => (html.match(re) ?? []).length;

describe('gallery helpers', () => {
  it('orders members by cosine similarity to the mean feature and finds nearest neighbours', () => {
    // Four unit vectors in 2-d; cluster 0 = {0, 1, 2}, cluster 1 = {3}.
    const a = Math.SQRT1_2;
    const f = { data: Float32Array.from([1, 0, a, a, 0, 1, -1, 0]), n: 4, dim: 2, source: 'test' };
    const { order, similarity } = orderByCentroid(Int32Array.from([0, 1, 2]), f);
    assert.deepEqual([...order], [1, 0, 2]); // the mean points along (1, 1): image 1 first, then the tie by index
    assert.ok(Math.abs((similarity as Float32Array)[0] - 1) < 1e-6);
    assert.deepEqual(nearestNeighbours(f, 0, 2).map((m) => m.index), [1, 2]);
  });

  it('selects the largest, smallest, random and given clusters; unknown ids name the valid range', () => {
    const labels = Int32Array.from([0, 0, 0, 1, 2, 2, 4]);
    const truth = Int32Array.from([1, 1, 0, 0, 2, 2, 1]);
    const infos = clusterInfos(labels, 5, truth, ['a', 'b', 'c']);
    assert.deepEqual(infos[0], { id: 0, size: 3, majority: 1, majorityName: 'b', purity: 2 / 3 });
    assert.deepEqual(selectClusters(infos, 'largest', 2).map((c) => c.id), [0, 2]);
    assert.deepEqual(selectClusters(infos, 'smallest', 2).map((c) => c.id), [1, 4]); // empty cluster 3 is skipped
    assert.deepEqual(selectClusters(infos, 'random', 3, 7), selectClusters(infos, 'random', 3, 7));
    assert.deepEqual(selectClusters(infos, parseClusterChoice('4,1'), 10).map((c) => c.id), [4, 1]);
    assert.throws(() => selectClusters(infos, [9], 10, 0, 'runs/x'), /runs\/x: no cluster 9: its clusters are 0\.\.4/);
    assert.throws(() => parseClusterChoice('big'), /Expected --clusters largest, smallest, random or a comma-separated list/);
  });
});

describe('odc report', { skip: skipNoData }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'odc-report-'));
  let odc = '';
  let dc = '';
  before(async () => {
    odc = await trainTinyRun(tmp, 'odc');
    dc = await trainTinyRun(tmp, 'deepcluster');
    writeFileSync(join(odc, 'eval.json'), JSON.stringify({
      checkpoint: join(odc, 'model.safetensors'), dataset: 'fashion-mnist', created: new Date().toISOString(), protocols: {},
      tables: [{ title: 'kNN top-1 (test table)', columns: ['features', 'k=20'], rows: [['pool', 0.51234], ['conv5', 0.4]] }],
    }));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('writes one self-contained HTML file with the charts, evaluation tables and one gallery row per requested cluster', async () => {
    const out = join(tmp, 'out', 'report.html');
    const r = await writeReport([odc, dc], { out, galleryClusters: 3, thumbs: 5 });
    assert.equal(r.html, out);
    const html = readFileSync(out, 'utf8');
    // Self-contained: every src/href is a data: URI or a relative link to the chart files beside it.
    const urls = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    assert.ok(urls.length > 0);
    for (const u of urls) assert.ok(!/^(https?:)?\/\//i.test(u), `external URL in the report: ${u}`);
    assert.equal(count(html, /<link\b|<script\b/g), 0);
    // Charts: loss of both runs overlaid, ODC's change ratio, cluster sizes, NMI; each an SVG data URI, written as SVG and PNG too.
    for (const name of ['loss', 'change_ratio', 'cluster_size_evolution', 'cluster_sizes', 'nmi']) {
      assert.match(html, new RegExp(`data-chart="${name}"><h3>[^<]+</h3><img src="data:image/svg\\+xml;base64,`), name);
      const png = readFileSync(join(tmp, 'out', 'report-charts', `${name}.png`));
      assert.equal(png.subarray(1, 4).toString(), 'PNG');
      assert.match(readFileSync(join(tmp, 'out', 'report-charts', `${name}.svg`), 'utf8'), /^<svg/);
    }
    assert.equal(r.charts.length, 10);
    const loss = /data-chart="loss"><h3>[^<]+<\/h3><img src="data:image\/svg\+xml;base64,([^"]+)"/.exec(html) as RegExpExecArray;
    const lossSvg = Buffer.from(loss[1], 'base64').toString();
    assert.ok(lossSvg.includes('>odc<') && lossSvg.includes('>deepcluster<'), 'the loss chart overlays both runs (legend)');
    // Evaluation tables from eval.json.
    assert.match(html, /kNN top-1 \(test table\)/);
    assert.match(html, /<td>0\.512<\/td>/);
    // Galleries: 3 rows per run, 5 thumbnails per row, each a PNG data URI; majority class and purity.
    assert.deepEqual([...r.galleryRows], [['odc', 3], ['deepcluster', 3]]);
    assert.equal(count(html, /class="gallery-row"/g), 6);
    assert.equal(count(html, /<img class="thumb" src="data:image\/png;base64,/g), 30);
    assert.match(html, /<br>\d+ images<br>[^<]+ \d+ %<\/div>/);
    // DeepCluster has no memory: its features were computed once and cached in its (finished) run directory.
    assert.ok(existsSync(join(dc, FEATURE_CACHE)));
    assert.ok(!existsSync(join(odc, FEATURE_CACHE)));
  });

  it('shows the given clusters and rejects ids the run does not have', async () => {
    const out = join(tmp, 'ids.html');
    const r = await writeReport([odc], { out, clusters: '5,0', thumbs: 3 });
    const html = readFileSync(out, 'utf8');
    assert.deepEqual([...html.matchAll(/class="gallery-row" data-cluster="(\d+)"/g)].map((m) => m[1]), ['5', '0']);
    assert.equal(r.galleryRows.get('odc'), 2);
    await assert.rejects(writeReport([odc], { out, clusters: `1,${TINY_CLUSTERS}` }), new RegExp(`no cluster ${TINY_CLUSTERS}: its clusters are 0\\.\\.${TINY_CLUSTERS - 1}`));
    await assert.rejects(writeReport([odc], { out, thumbs: 0 }), /Expected positive integer for --thumbs but received 0/);
  });

  it('--device: the features of a run without memory computed there; a device this build cannot use is refused first', async () => {
    const out = join(tmp, 'device.html');
    rmSync(join(dc, FEATURE_CACHE), { force: true });
    const r = await writeReport([dc], { out, device: 'cpu', thumbs: 2 });
    assert.equal(r.galleryRows.get('deepcluster'), Math.min(10, TINY_CLUSTERS));
    assert.ok(existsSync(join(dc, FEATURE_CACHE)));
    await assert.rejects(writeReport([dc], { out, device: 'gpu' }), /--device/);
    if (!cuda.isAvailable()) await assert.rejects(writeReport([dc], { out, device: 'cuda' }), /--device cuda/);
  });

  it('a missing or incomplete run directory is a clear error naming the path', async () => {
    const missing = join(tmp, 'no-such-run');
    await assert.rejects(writeReport([odc, missing]), (e: Error) => e.message === `${missing}: no such run directory`);
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    assert.throws(() => loadRunDir(empty), /empty: not an odc run directory: config\.json and metrics\.jsonl missing/);
    const cli = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'report', missing], { cwd: root, encoding: 'utf8' });
    assert.equal(cli.status, 2, cli.stderr);
    assert.equal(cli.stderr.trim(), `error: ${missing}: no such run directory`);
  });
});
