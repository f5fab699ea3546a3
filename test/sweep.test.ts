/**
 * `odc sweep`: a 2x2 grid on a tiny slice writes four runs, sweep.json/csv and the charts; a
 * sweep killed part-way skips its finished points when run again; the grid's parsing and errors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runReport } from '../src/report/report.ts';
import { gridPoints, parseSet } from '../src/sweep/grid.ts';
import { runSweep } from '../src/sweep/sweep.ts';
import { ConfigError } from '../src/tensor/errors.ts';
import { nested } from '../src/train/config.ts';
import { skipNoData } from './run_fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'odc-sweep-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('odc sweep', () => {
  it('parses --set values (numbers, booleans, strings, bracketed arrays) and names the points', () => {
    assert.deepEqual(parseSet('memory.centroidInterval=1,10,100'), { key: 'memory.centroidInterval', values: [1, 10, 100] });
    assert.deepEqual(parseSet('augment.scale=[0.2,1],[0.5,1]').values, [[0.2, 1], [0.5, 1]]);
    assert.deepEqual(parseSet('method=odc,deepcluster').values, ['odc', 'deepcluster']);
    assert.deepEqual(parseSet('sobel=true,false').values, [true, false]);
    assert.throws(() => parseSet('memory..x=1'), ConfigError);
    assert.throws(() => parseSet('clusters'), /expected key=value/);
    assert.throws(() => parseSet('clusters=10,10'), /repeated/);
    const points = gridPoints([parseSet('memory.minCluster=0,20'), parseSet('longTail=1,4')], [0, 1]);
    assert.equal(points.length, 8);
    assert.equal(points[0].name, 'minCluster=0_longTail=1_seed=0');
    assert.deepEqual(nested(points[7].settings), { memory: { minCluster: 20 }, longTail: 4, seed: 1 });
    assert.throws(() => gridPoints([parseSet('seed=1,2')], [0]), /--seeds/);
  });

  it('runs a 2x2 grid into four runs with a table and charts; run again after a kill, it skips the finished points', { skip: skipNoData }, async () => {
    const base = { subset: 128, width: 4, batchSize: 32, epochs: 1, clusters: 4, tensorboard: false, workers: 0, memory: { warmupEpochs: 0 } };
    const axes = [parseSet('memory.centroidInterval=1,10'), parseSet('memory.minCluster=0,8')];
    const out = join(dir, 'grid');
    const lines: string[] = [];
    const first = await runSweep({ base, axes, out, log: (l) => lines.push(l) });
    assert.equal(first.points.length, 4);
    for (const p of first.points) {
      assert.equal(JSON.parse(readFileSync(join(p.dir, 'summary.json'), 'utf8')).finished, true);
      assert.ok(p.metrics.feature_nmi !== undefined && p.metrics.feature_nmi >= 0 && p.metrics.feature_nmi <= 1, JSON.stringify(p.metrics));
    }
    const csv = readFileSync(join(out, 'sweep.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, 5);
    assert.match(csv[0], /^memory\.centroidInterval,memory\.minCluster,seed,feature_nmi,/);
    assert.match(readFileSync(join(out, 'charts', 'memory.minCluster-feature_nmi.svg'), 'utf8'), /<svg[\s\S]*centroidInterval=10/);
    assert.ok(statSync(join(out, 'charts', 'memory.centroidInterval-feature_nmi.png')).size > 1000);
    assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /<h1>Sweep: memory\.centroidInterval x memory\.minCluster<\/h1>[\s\S]*data-chart="memory\.minCluster-feature_nmi"/);
    // odc report on the sweep folder writes the page again, to --out.
    await runReport([out], { out: join(dir, 'sweep-report.html') });
    assert.match(readFileSync(join(dir, 'sweep-report.html'), 'utf8'), /<td>10<\/td><td>8<\/td><td>0<\/td>/);

    // As if killed while training the third point: its summary is gone, the fourth never started.
    rmSync(join(first.points[2].dir, 'summary.json'));
    rmSync(first.points[3].dir, { recursive: true });
    const kept = [0, 1].map((i) => statSync(join(first.points[i].dir, 'model.safetensors')).mtimeMs);
    const again = await runSweep({ base, axes, out, log: () => {} });
    assert.deepEqual(again.points.map((p) => p.skipped), [true, true, false, false]);
    assert.deepEqual([0, 1].map((i) => statSync(join(first.points[i].dir, 'model.safetensors')).mtimeMs), kept);
    assert.deepEqual(again.points.map((p) => p.metrics.feature_nmi), first.points.map((p) => p.metrics.feature_nmi));

    // Another grid in the same folder is refused before anything runs.
    await assert.rejects(runSweep({ base, axes: [parseSet('memory.minCluster=0,4')], out, log: () => {} }), /holds another sweep/);
  });
});
