/**
 * The training budget: iterations, epochs or wall time, stated in the log; the default number of
 * clusters follows the number of images; a wall-time budget fixes its iterations from the first ones
 * and a resumed run keeps them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../src/tensor/errors.ts';
import { DEFAULT_ITERATIONS, defaultClusters, parseBudget } from '../src/train/budget.ts';
import { resolveConfig } from '../src/train/config.ts';
import { train } from '../src/train/trainer.ts';
import { skipNoData } from './run_fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'odc-budget-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('budget', () => {
  const b = (o: { budget?: string; epochs?: number }, n = 1000) => parseBudget({ batchSize: 64, ...o }, n);

  it('reads iterations, epochs and wall time; the default is the same number of iterations for every data set', () => {
    assert.equal(b({ budget: '500it' }).iterations, 500);
    assert.equal(b({ budget: '3ep' }).iterations, 3 * 16);
    assert.equal(b({ epochs: 3 }).iterations, 3 * 16);
    assert.equal(b({ budget: '1.5ep' }).iterations, 24);
    assert.deepEqual([b({ budget: '15m' }).iterations, b({ budget: '15m' }).seconds, b({ budget: '2h' }).seconds, b({ budget: '90s' }).seconds], [undefined, 900, 7200, 90]);
    assert.equal(b({}, 5000).iterations, DEFAULT_ITERATIONS);
    assert.equal(b({}, 60000).iterations, DEFAULT_ITERATIONS);
    assert.match(b({}, 5000).text, /^3,752 iterations \(the default budget; 47\.5 epochs of 5,000 images\)$/);
  });

  it('refuses two budgets, and budgets without a unit (naming the key)', () => {
    assert.throws(() => b({ budget: '3ep', epochs: 2 }), (e) => e instanceof ConfigError && /'epochs' is 2 and 'budget' is '3ep'/.test(e.message));
    assert.throws(() => resolveConfig({ budget: '300' }), (e) => e instanceof ConfigError && /'budget'.*e\.g\. 3750it, 4ep, 15m/.test(e.message));
  });

  it('the default number of clusters: one per 600 images, 10 to 10,000', () => {
    assert.deepEqual([1000, 5000, 10000, 60000, 1_281_167, 10_000_000].map(defaultClusters), [10, 10, 17, 100, 2135, 10000]);
  });
});

describe('wall-time budget', { skip: skipNoData }, () => {
  it('times 20 iterations after 5 of warm-up, fixes the run length, states it, and a resumed run keeps it', async () => {
    const out = join(dir, 'time');
    const cfg = { subset: 200, width: 8, batchSize: 20, budget: '15s', logEvery: 5, workers: 0, tensorboard: false, evalFeatures: false, memory: { minCluster: 2 }, out };
    const lines: string[] = [];
    await train(resolveConfig({ ...cfg, maxIterations: 30 }), { log: (l) => lines.push(l) });
    const said = lines.find((l) => l.startsWith('budget 15s: '));
    assert.ok(said, lines.join('\n'));
    const iterations = Number(/^budget 15s: ([\d,]+) iterations/.exec(said)?.[1].replace(/,/g, ''));
    assert.ok(iterations > 25, said);
    assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).iterations, iterations);
    // Resumed (here without stopping early): it runs to the same count, whatever this run's speed.
    const resumedLines: string[] = [];
    const r = await train(resolveConfig(cfg), { log: (l) => resumedLines.push(l), resume: true });
    assert.equal(r.summary.finished, true);
    assert.ok(!resumedLines.some((l) => l.startsWith('budget 15s: ')), 'a resumed run does not time itself again');
    const last = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((x) => x.type === 'epoch').at(-1);
    assert.equal(last.iteration, iterations);
    assert.equal(last.partial, false);
  });
});
