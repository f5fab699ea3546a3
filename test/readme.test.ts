/**
 * Every command in the README's sh blocks, run exactly as written from a project folder: to the end
 * when it ends within its budget, else until it shows it has started its real work (training: the
 * model line, printed once the data is loaded and the model built; eval: the features line, likewise;
 * serve: its URL), and then stopped. Each command runs in a folder of its own that links the
 * checkout's files and holds small real runs under runs/ and a folder of images under photos/, so
 * commands that read runs find them and nothing in the checkout's runs/ is touched. `npm test` is
 * CI's own command.
 *
 * Also: `npx odc --help` right after set-up neither rebuilds the addon nor recompiles dist/.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { parseSet } from '../src/sweep/grid.ts';
import { runSweep } from '../src/sweep/sweep.ts';
import { resolveConfig } from '../src/train/config.ts';
import { train } from '../src/train/trainer.ts';
import { skipNoData } from './run_fixture.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** What a project folder needs for npm and npx to run the package from it. */
const LINKED = ['package.json', 'package-lock.json', 'node_modules', 'bin', 'dist', 'build', 'src', 'scripts', 'bench', 'configs', 'native', 'binding.gyp', 'tsconfig.json', 'tsconfig.build.json'];
/** Debian's python3-torch, whose torchrun the README shows (not installed by set-up). */
const hasTorchrun = spawnSync('/usr/bin/python3', ['-c', 'import torch.distributed.run'], { stdio: 'ignore' }).status === 0;
/** Commands not run here, with the reason. */
const NOT_RUN: Record<string, string> = { 'npm test': 'the command CI runs (.ci/run), which runs this file' };
/** Commands run only where what they launch with is installed. */
const needsTorchrun = (cmd: string) => cmd.startsWith('/usr/bin/python3 -m torch.distributed.run') && !hasTorchrun;

/** The commands of the README's ```sh blocks, comments stripped. */
export function readmeCommands(text: string): string[] {
  const out: string[] = [];
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block[1].split('\n')) {
      const cmd = line.replace(/\s+#.*$/, '').trim();
      if (cmd !== '' && !cmd.startsWith('#')) out.push(cmd);
    }
  }
  return out;
}

/** When a command that is still running has shown that it started its real work. */
function started(cmd: string, output: string): boolean {
  // (torchrun's --tee prefixes each worker's lines with [default<rank>]:)
  if (/\btrain\b|npm start/.test(cmd)) return /^(\[default\d+\]:)?model: /m.test(output);
  if (/\beval\b/.test(cmd)) return /^features: /m.test(output);
  if (/\bsweep\b/.test(cmd)) return /^\s+model: /m.test(output);
  // (exp:table4 prefixes each run's lines with the run's name)
  if (/exp:table4/.test(cmd)) return /^\[rotation\] model: /m.test(output);
  if (/\bserve\b/.test(cmd)) return /^odc serve: .* at http:\/\//m.test(output);
  return false;
}

interface Outcome {
  code: number | null;
  output: string;
  stoppedAfterStart: boolean;
  seconds: number;
}

/** Runs `cmd` with bash in `cwd`; stops its whole process group once it has started, or at the limit. */
function runCommand(cmd: string, cwd: string, limitS: number, env: NodeJS.ProcessEnv = process.env): Promise<Outcome> {
  return new Promise((done) => {
    const t0 = performance.now();
    const child = spawn('bash', ['-c', cmd], { cwd, env: { ...env, CI: 'true' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stoppedAfterStart = false;
    const stop = () => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {}
    };
    const timer = setTimeout(stop, limitS * 1000);
    const onData = (d: Buffer) => {
      // What a run prints after it was seen to start comes from a process being killed by this test.
      if (stoppedAfterStart) return;
      output += d.toString();
      if (!stoppedAfterStart && started(cmd, output)) {
        stoppedAfterStart = true;
        stop();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, output, stoppedAfterStart, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

/** A project folder: links to the checkout's files, and its own copy of `runs` and `photos`. */
function projectFolder(fixtures: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'odc-readme-'));
  for (const f of LINKED) symlinkSync(join(ROOT, f), join(dir, f));
  cpSync(join(fixtures, 'runs'), join(dir, 'runs'), { recursive: true });
  symlinkSync(join(fixtures, 'photos'), join(dir, 'photos'));
  return dir;
}

/** 1,000 small PNGs in two class folders (enough images for the README's 50 clusters), and small real runs. */
async function makeFixtures(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'odc-readme-fixtures-'));
  for (let i = 0; i < 1000; i++) {
    const cls = i % 2 === 0 ? 'light' : 'dark';
    mkdirSync(join(dir, 'photos', cls), { recursive: true });
    const px = Buffer.alloc(24 * 24 * 3);
    for (let p = 0; p < px.length; p++) px[p] = (cls === 'light' ? 128 : 0) + ((p * 7 + i * 13) % 97);
    await sharp(px, { raw: { width: 24, height: 24, channels: 3 } }).png().toFile(join(dir, 'photos', cls, `${i}.png`));
  }
  const tiny = { width: 4, clusters: 5, batchSize: 50, epochs: 1, workers: 0, evalFeatures: false, memory: { minCluster: 2, warmupEpochs: 0 } };
  for (const [name, extra] of [
    ['odc', { subset: 300 }],
    ['dc', { subset: 300, method: 'deepcluster' }],
    ['long-w32', { subset: 300 }],
    ['photos', { dataset: `folder:${join(dir, 'photos')}`, imageSize: 32, subset: 200 }],
  ] as const) {
    await train(resolveConfig({ ...tiny, ...extra, out: join(dir, 'runs', name) }), { log: () => {} });
  }
  // A finished two-point sweep where the README's `odc report` of a sweep folder reads it.
  await runSweep({ base: { ...tiny, subset: 300 }, axes: [parseSet('memory.centroidInterval=1,10')], out: join(dir, 'runs', 'fig4'), log: () => {} });
  return dir;
}

/** The README's ```ts blocks. */
function readmeSnippets(text: string): string[] {
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

describe('README TypeScript', () => {
  it('every ```ts block runs against the package sources', async (t) => {
    const snippets = readmeSnippets(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    assert.ok(snippets.length >= 2, `${snippets.length} blocks`);
    const dir = mkdtempSync(join(tmpdir(), 'odc-readme-ts-'));
    for (const [i, code] of snippets.entries()) {
      assert.match(code, /from 'odc'/);
      const file = join(dir, `snippet${i}.ts`);
      writeFileSync(file, code.replaceAll("from 'odc'", `from '${join(ROOT, 'src', 'index.ts')}'`));
      const r = await runCommand(`"${process.execPath}" --import tsx "${file}"`, ROOT, 240);
      assert.equal(r.code, 0, `README block ${i + 1}:\n${code}\n${r.output}`);
      t.diagnostic(`block ${i + 1}: ${r.seconds.toFixed(1)} s`);
    }
  });
});

describe('README commands', { skip: skipNoData }, () => {
  const commands = readmeCommands(readFileSync(join(ROOT, 'README.md'), 'utf8'));

  it('CI runs exactly the README test command', () => {
    assert.ok(commands.includes('npm test'));
    assert.match(readFileSync(join(ROOT, '.ci', 'run'), 'utf8'), /^npm test$/m);
  });

  it('`npx odc --help` after set-up runs the compiled CLI without rebuilding the addon or dist/', async (t) => {
    const addon = join(ROOT, 'build', 'Release', 'odc_torch.node');
    const dist = join(ROOT, 'dist', 'cli', 'main.js');
    const before = [statSync(addon), statSync(dist)].map((s) => [s.ino, s.mtimeMs]);
    // A fresh npm cache: npx links the checkout anew and runs its prepare and install scripts.
    const cache = mkdtempSync(join(tmpdir(), 'odc-npx-cache-'));
    const r = await runCommand('npx odc --help', ROOT, 120, { ...process.env, npm_config_cache: cache });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /Usage: odc/);
    assert.deepEqual([statSync(addon), statSync(dist)].map((s) => [s.ino, s.mtimeMs]), before, 'the addon or dist/ was rebuilt');
    t.diagnostic(`npx odc --help with a fresh npx cache: ${r.seconds.toFixed(2)} s`);
  });

  it('every other command runs as written', { timeout: 1_200_000 }, async (t) => {
    const fixtures = await makeFixtures();
    const run = commands.filter((c) => !(c in NOT_RUN) && !needsTorchrun(c));
    for (const c of commands.filter(needsTorchrun)) t.diagnostic(`not run (needs Debian's python3-torch): ${c}`);
    assert.ok(run.length >= 20, `${run.length} commands`);
    const failures: string[] = [];
    const runOne = async (cmd: string): Promise<void> => {
      const folder = projectFolder(fixtures);
      // A sweep starts where a user starts it: before its folder exists (the fixture sweep there serves `odc report`).
      const sweepOut = /\bodc sweep\b.*--out (\S+)/.exec(cmd)?.[1];
      if (sweepOut !== undefined) rmSync(join(folder, sweepOut), { recursive: true, force: true });
      const r = await runCommand(cmd, folder, 240);
      const how = r.stoppedAfterStart ? 'started' : r.code === 0 ? 'finished' : `exit ${r.code}`;
      t.diagnostic(`${how} in ${r.seconds.toFixed(1)} s: ${cmd}`);
      if (!r.stoppedAfterStart && r.code !== 0) failures.push(`${cmd}\n  -> ${how}:\n${r.output.split('\n').slice(-15).join('\n')}`);
      if (/^error: /m.test(r.output)) failures.push(`${cmd}\n  -> printed an error:\n${r.output.split('\n').slice(-15).join('\n')}`);
    };
    // Two at a time (most of each command is starting a process), except those that take a port
    // (a process group's rendezvous, the server), which run alone afterwards.
    const alone = (c: string) => /--nproc\b|torch\.distributed\.run|\bodc serve\b/.test(c);
    const unique = [...new Set(run)];
    const queue = unique.filter((c) => !alone(c));
    const lane = async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) await runOne(c);
    };
    await Promise.all([lane(), lane()]);
    for (const c of unique.filter(alone)) await runOne(c);
    assert.deepEqual(failures, []);
  });
});
