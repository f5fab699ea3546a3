/**
 * The package as users install it: `npm pack`, the tarball installed into a fresh folder outside
 * the checkout, then the library (from dist/, not src/) and the `odc` binary used from there.
 * Importing the package leaves the host process as it was (no thread count or allocator change, no
 * report/server stack loaded), and an interrupted addon build leaves the working addon in place.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { skipNoData } from './run_fixture.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every file reached by static imports from `entry` (relative .ts imports and bare package names). */
function importClosure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    // Static `import ... from '...'` and `export ... from '...'`; type-only imports load nothing.
    for (const m of text.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?'([^']+)'/gm)) {
      const spec = m[1];
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
    }
  };
  visit(entry);
  return { files, packages };
}

describe('the package', () => {
  it("`import 'odc'` loads neither the report nor the server stack", () => {
    const { files, packages } = importClosure(join(ROOT, 'src', 'index.ts'));
    const heavy = [...files].map((f) => relative(ROOT, f)).filter((f) => /^src\/(serve\/|report\/(?!tfevents\.ts$))/.test(f));
    assert.deepEqual(heavy, [], 'report/serve modules reached from src/index.ts');
    for (const p of ['sharp', 'vega', 'vega-lite', 'playwright-core']) assert.ok(!packages.has(p), `${p} is imported at load time`);
    assert.ok(files.size > 30, `closure of ${files.size} files`);
  });

  it('packs, installs into a fresh folder and runs from dist/: library, odc/report and the odc binary', { skip: skipNoData, timeout: 300_000 }, () => {
    const work = mkdtempSync(join(tmpdir(), 'odc-pack-'));
    // `npm pack` compiles dist/ first (prepare: a no-op when it is current).
    const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
    const tarball = join(work, packed[0].filename);
    const shipped = new Set<string>(packed[0].files.map((f: { path: string }) => f.path));
    for (const f of ['bin/odc.js', 'dist/index.js', 'dist/index.d.ts', 'dist/report/index.js', 'dist/cli/main.js', 'native/addon.cc', 'binding.gyp', 'scripts/build-addon.cjs']) {
      assert.ok(shipped.has(f), `${f} is in the tarball`);
    }
    assert.ok(![...shipped].some((f) => f.startsWith('src/') || f.startsWith('test/')), 'sources and tests stay out of the tarball');

    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'odc-consumer', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app, stdio: ['ignore', 'ignore', 'inherit'] });
    const installed = realpathSync(join(app, 'node_modules', 'odc'));
    assert.ok(!installed.startsWith(ROOT), 'installed as a copy, not a link to the checkout');

    writeFileSync(
      join(app, 'use.mjs'),
      `
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
const raw = createRequire(import.meta.url)('./node_modules/odc/build/Release/odc_torch.node');
const startThreads = raw.getNumThreads();
const odc = await import('odc');
assert.equal(odc.getNumThreads(), startThreads, 'importing odc changed the thread count');
for (const name of ['train', 'evaluate', 'resolveConfig', 'OdcAlgorithm', 'DeepClusterAlgorithm', 'ClusterModel', 'OdcMemory', 'kmeans', 'configureProcess', 'tidy', 'tensor']) {
  assert.equal(typeof odc[name], 'function', name);
}
assert.equal(odc.configureProcess({ threads: 1 }).threads, 1);
const report = await import('odc/report');
assert.equal(typeof report.writeReport, 'function');
assert.equal(typeof report.startServer, 'function');
const out = new URL('./run', import.meta.url).pathname;
const r = await odc.train(odc.resolveConfig({ subset: 200, width: 4, clusters: 5, batchSize: 50, epochs: 1, workers: 1, evalFeatures: false, memory: { minCluster: 2 }, out }), { log: () => {} });
assert.equal(r.labels.length, 200);
const e = await odc.evaluate({ checkpoint: out + '/latest.safetensors', protocols: ['knn'], trainSubset: 300, testSubset: 100, cache: false, log: () => {} });
assert.ok(e.protocols.knn.rows[0].weighted > 0.2, 'kNN from the installed package');
console.log(JSON.stringify({ from: import.meta.resolve('odc'), labels: r.labels.length }));
`,
    );
    const use = spawnSync(process.execPath, ['use.mjs'], { cwd: app, encoding: 'utf8' });
    assert.equal(use.status, 0, `library use failed:\n${use.stderr}\n${use.stdout}`);
    const line = JSON.parse(use.stdout.trim().split('\n').pop() as string);
    assert.match(line.from, /node_modules\/odc\/dist\/index\.js$/);

    const bin = spawnSync(join(app, 'node_modules', '.bin', 'odc'), ['train', '--help'], { cwd: app, encoding: 'utf8' });
    assert.equal(bin.status, 0, bin.stderr);
    assert.match(bin.stdout, /Usage: odc train/);
    assert.ok(readdirSync(join(installed, 'dist', 'cli')).includes('main.js'));
  });

  it('an interrupted addon build leaves the working addon in place, and the next build cleans up', async () => {
    const addon = join(ROOT, 'build', 'Release', 'odc_torch.node');
    const before = statSync(addon);
    const build = spawn(process.execPath, [join(ROOT, 'scripts', 'build-addon.cjs')], { cwd: ROOT, env: { ...process.env, ODC_REBUILD: '1' }, detached: true, stdio: 'ignore' });
    const scratch = () => readdirSync(ROOT).filter((n) => n.startsWith(`.addon-build-${build.pid}-`));
    // Killed once the compiler is at work in the scratch folder (or after 20 s).
    const t0 = Date.now();
    while (Date.now() - t0 < 20_000 && !scratch().some((d) => existsSync(join(ROOT, d, 'build', 'Makefile')))) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000));
    process.kill(-(build.pid as number), 'SIGKILL');
    await new Promise((r) => build.on('close', r));
    const after = statSync(addon);
    assert.deepEqual([after.ino, after.mtimeMs], [before.ino, before.mtimeMs], 'the addon was replaced by an interrupted build');
    const load = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addon)}).getNumThreads()`], { encoding: 'utf8' });
    assert.equal(load.status, 0, load.stderr);
    // The addon is current, so the next build does nothing but remove the killed build's scratch folder.
    const next = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-addon.cjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(next.status, 0, next.stderr);
    assert.doesNotMatch(next.stderr, /building the native addon/);
    assert.deepEqual(scratch(), []);
    assert.equal(statSync(addon).ino, before.ino);
  });
});
