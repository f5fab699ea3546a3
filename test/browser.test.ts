/**
 * The report and the cluster browser in a real browser (Debian's Chromium driven by playwright-core):
 * charts and gallery thumbnails render, a cluster page opens from the list, search finds an image.
 * Screenshots go to test/artifacts/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { readNpy } from '../src/io/npy.ts';
import { writeReport } from '../src/report/report.ts';
import { type RunningServer, startServer } from '../src/serve/server.ts';
import { skipNoData, TINY_CLUSTERS, trainTinyRun } from './run_fixture.ts';

/** The page-side objects these tests touch (the project compiles without the DOM library). */
interface PageImage {
  complete: boolean;
  naturalWidth: number;
  getBoundingClientRect(): { width: number };
}
declare const document: { images: ArrayLike<PageImage> & Iterable<PageImage> };

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('artifacts/', import.meta.url));
const skip = !existsSync(CHROMIUM) ? `${CHROMIUM} is missing: install Debian's chromium package (scripts/setup.sh) to run the browser tests` : skipNoData;
if (typeof skip === 'string') console.log(`# skipping the browser tests: ${skip}`);

/** Waits until every <img> has loaded; returns the natural and displayed sizes of those matching `selector`. */
async function loadedImages(page: Page, selector: string): Promise<{ natural: number; shown: number }[]> {
  // Functions, not strings: the served pages' Content-Security-Policy forbids eval.
  await page.waitForFunction(() => [...document.images].every((i) => i.complete), undefined, { timeout: 20_000 });
  return page.$$eval(selector, (imgs) => imgs.map((i) => ({ natural: (i as unknown as PageImage).naturalWidth, shown: (i as unknown as PageImage).getBoundingClientRect().width })));
}

function assertRendered(imgs: { natural: number; shown: number }[], what: string): void {
  assert.ok(imgs.length > 0, `no ${what}`);
  for (const [j, i] of imgs.entries()) assert.ok(i.natural > 0 && i.shown > 0, `${what} ${j} did not render: ${JSON.stringify(i)}`);
}

describe('report and cluster browser in Chromium', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'odc-browser-'));
  let run = '';
  let report = '';
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    run = await trainTinyRun(tmp, 'odc');
    report = (await writeReport([run], { out: join(tmp, 'report.html'), galleryClusters: 4, thumbs: 6 })).html;
    server = await startServer(run, { port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the report file shows its charts and one gallery row per requested cluster', async () => {
    await page.goto(pathToFileURL(report).href);
    const charts = await loadedImages(page, 'figure.chart img');
    assertRendered(charts, 'chart');
    assert.ok(charts.length >= 4, `${charts.length} charts`);
    for (const c of charts) assert.ok(c.shown > 200, `chart only ${c.shown}px wide`);
    assert.equal(await page.locator('.gallery-row').count(), 4);
    for (const row of await page.locator('.gallery-row').all()) assert.equal(await row.locator('img.thumb').count(), 6);
    assertRendered(await loadedImages(page, '.gallery-row img.thumb'), 'gallery thumbnail');
    await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
  });

  it('the cluster browser: list, click through to a cluster, search an image index, curves', async () => {
    await page.goto(server.url);
    assert.equal(await page.locator('tr.cluster-row').count(), TINY_CLUSTERS);
    assertRendered(await loadedImages(page, 'tr.cluster-row img.thumb'), 'cluster preview');
    await page.screenshot({ path: join(ARTIFACTS, 'serve-clusters.png') });

    // Click the first (largest) cluster.
    const first = page.locator('tr.cluster-row a').first();
    const id = Number((await first.textContent())?.replace('cluster ', ''));
    await first.click();
    await page.waitForURL(new RegExp(`/clusters/${id}$`));
    assert.equal(await page.locator('h1').textContent(), `Cluster ${id}`);
    const members = await loadedImages(page, '.cluster-members img.thumb');
    assertRendered(members, 'member thumbnail');
    await page.screenshot({ path: join(ARTIFACTS, 'serve-cluster.png'), fullPage: true });

    // Search image 7 from the form in the navigation bar.
    await page.fill('input[name=index]', '7');
    await page.click('form.search button');
    await page.waitForURL(/\/search\?index=7$/);
    assert.equal(await page.locator('h1').textContent(), 'Image 7');
    assert.equal(await page.locator('.neighbours img.thumb').count(), 12);
    assertRendered(await loadedImages(page, 'img.thumb'), 'search thumbnail');
    await page.screenshot({ path: join(ARTIFACTS, 'serve-search.png'), fullPage: true });
    const labels = readNpy(join(run, 'labels.npy')).data as Int32Array;
    await page.click('a.cluster-link');
    await page.waitForURL(new RegExp(`/clusters/${labels[7]}\\?page=1$`));

    await page.click('nav a[href="/curves"]');
    await page.waitForURL(/\/curves$/);
    assertRendered(await loadedImages(page, 'figure.chart img'), 'chart');
    await page.screenshot({ path: join(ARTIFACTS, 'serve-curves.png'), fullPage: true });

    await page.goto(`${server.url}clusters/abc`);
    assert.match((await page.locator('p.error').textContent()) ?? '', /cluster id must be a non-negative integer/);
  });
});
