/**
 * Screenshot of an `odc report` page for the README, with Debian's Chromium (playwright-core):
 *   node --import tsx scripts/report_screenshot.ts runs/default/report.html docs/report.png [width]
 * The full page is captured at 1200 px, scaled to `width` (default 1000) and palette-compressed.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import sharp from 'sharp';

declare const document: { images: Iterable<{ complete: boolean }> };

const [html, out, width = '1000'] = process.argv.slice(2);
if (html === undefined || out === undefined) {
  console.error('usage: node --import tsx scripts/report_screenshot.ts REPORT.html OUT.png [width]');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(pathToFileURL(resolve(html)).href);
  await page.waitForFunction(() => [...document.images].every((i) => i.complete));
  const shot = await page.screenshot({ fullPage: true });
  const info = await sharp(shot).resize({ width: Number(width) }).png({ palette: true, quality: 90, compressionLevel: 9 }).toFile(out);
  console.log(`${out}: ${info.width}x${info.height}, ${(info.size / 1024).toFixed(0)} KB`);
} finally {
  await browser.close();
}
