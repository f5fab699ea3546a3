/**
 * The pretext methods on hand-computed cases: rotation's four views, their labels and the loss;
 * NPID's memory update, its exact softmax and its NCE loss; then each method end to end on a few
 * hundred real images, and a rotation model fine-tuned by ODC through --init-from.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SampleBank } from '../src/cluster/sample_bank.ts';
import type { Batch } from '../src/data/loader.ts';
import { singleProcess } from '../src/distributed/collective.ts';
import { readSafetensors } from '../src/report/run_dir.ts';
import { tensor } from '../src/tensor/creation.ts';
import { tidy } from '../src/tensor/scope.ts';
import type { Tensor } from '../src/tensor/tensor.ts';
import type { AlgorithmContext } from '../src/train/algorithm.ts';
import type { RunConfig } from '../src/train/budget.ts';
import { resolveConfig } from '../src/train/config.ts';
import { NpidAlgorithm, nceLoss } from '../src/train/npid.ts';
import { RotationAlgorithm, rotationBatch } from '../src/train/rotation.ts';
import { train } from '../src/train/trainer.ts';
import { skipNoData } from './run_fixture.ts';

/** A run's config from `input`, with its clusters and epochs settled (what a method's options are taken from). */
const settled = (input: Record<string, unknown>): RunConfig => ({ ...resolveConfig(input), clusters: 4, epochs: 1 });

const dir = mkdtempSync(join(tmpdir(), 'odc-pretext-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const lse = (xs: number[]) => Math.log(xs.reduce((s, x) => s + Math.exp(x), 0));
const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
const long = (xs: number[]) => tensor(BigInt64Array.from(xs, (v) => BigInt(v)));
const batchOf = (images: Tensor, index: number[]): Batch => ({ step: 0, index: long(index), rows: Int32Array.from(index), images });

describe('rotation', () => {
  it('shows every image at 0, 90, 180 and 270 degrees counter-clockwise (torch.rot90), labelled 0..3', () => {
    tidy(() => {
      // Two 2x2 images: [[1, 2], [3, 4]] and [[5, 6], [7, 8]].
      const x = tensor(Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8), { shape: [2, 1, 2, 2] });
      const { images, target } = rotationBatch(x);
      assert.deepEqual(images.shape, [8, 1, 2, 2]);
      assert.deepEqual(Array.from(images.toArray()), [
        ...[1, 2, 3, 4, 5, 6, 7, 8], // 0°
        ...[2, 4, 1, 3, 6, 8, 5, 7], // 90°: the right column becomes the top row
        ...[4, 3, 2, 1, 8, 7, 6, 5], // 180°
        ...[3, 1, 4, 2, 7, 5, 8, 6], // 270°
      ]);
      assert.deepEqual(Array.from(target.toArray()), [0, 0, 1, 1, 2, 2, 3, 3]);
    });
  });

  it("its loss is the cross-entropy of the head's four-way prediction (a hand case)", () => {
    tidy(() => {
      // A stand-in network whose four logits are the image's four pixels in reading order.
      const ctx = { model: { forward: (x: Tensor) => x.flatten(1) } } as unknown as AlgorithmContext;
      const x = tensor(Float32Array.of(1, 2, 3, 4), { shape: [1, 1, 2, 2] });
      const r = new RotationAlgorithm(settled({ method: 'rotation' })).step(ctx, batchOf(x, [0]));
      // Views 0°..270°: [1,2,3,4], [2,4,1,3], [4,3,2,1], [3,1,4,2]; the logit of the true rotation: 1, 4, 2, 2.
      close(r.loss.item(), lse([1, 2, 3, 4]) - (1 + 4 + 2 + 2) / 4, 1e-5, 'loss');
    });
  });

  it('refuses images that are not square, naming the shape', () => {
    tidy(() => assert.throws(() => rotationBatch(tensor(new Float32Array(6), { shape: [1, 1, 2, 3] })), /must be square.*\[1,1,2,3\]/));
  });
});

describe('npid', () => {
  const npidSoftmax = () => new NpidAlgorithm(settled({ method: 'npid', npid: { dim: 2, temperature: 0.5, loss: 'softmax' } }));
  const ctxFor = (n: number) =>
    ({
      store: { n },
      model: { featureDim: 2, feature: (x: Tensor) => x },
      group: singleProcess,
    }) as unknown as AlgorithmContext;

  it('the memory update moves the rows of the batch halfway to the new unit embedding, then re-normalises (last repeat wins)', () => {
    const bank = new SampleBank(3, 2, 0.5);
    try {
      tidy(() => {
        bank.features.copy_(tensor(Float32Array.of(1, 0, 0, 1, 0.6, 0.8), { shape: [3, 2] }));
        // Row 2 gets [0.8, 0.6] (given unnormalised); row 0 appears twice and keeps the last feature, [0, 1].
        bank.update(long([2, 0, 0]), tensor(Float32Array.of(2.4, 1.8, 1, 0, 0, 5), { shape: [3, 2] }));
        const v = bank.features.toArray();
        const h = Math.SQRT1_2;
        for (const [i, e] of [h, h, 0, 1, h, h].entries()) close(v[i], e, 1e-6, `bank[${i}]`);
      });
    } finally {
      bank.dispose();
    }
  });

  it('the exact non-parametric softmax over the bank, and the bank updated only after the step', () => {
    const algo = npidSoftmax();
    const ctx = ctxFor(3);
    try {
      tidy(() => {
        algo.loadStateDict(ctx, new Map([['memory.features', tensor(Float32Array.of(1, 0, 0, 1, 0.6, 0.8), { shape: [3, 2] })]]), {});
        const r = algo.step(ctx, batchOf(tensor(Float32Array.of(2.4, 1.8), { shape: [1, 2] }), [2]));
        // f = [0.8, 0.6]; scores v·f / 0.5 = [1.6, 1.2, 1.92]; the image is class 2.
        close(r.loss.item(), lse([1.6, 1.2, 1.92]) - 1.92, 1e-5, 'loss');
        const bank = () => algo.stateDict().get("memory.features")?.toArray() ?? [];
        close(bank()[4], 0.6, 1e-7, 'row 2 before afterStep');
        algo.afterStep();
        close(bank()[4], Math.SQRT1_2, 1e-6, 'row 2 after afterStep');
      });
    } finally {
      algo.dispose();
    }
  });

  it('NCE: -(log h(pos) + sum log(1 - h(neg))) with h = P / (P + m/N), P = exp(score) / Z', () => {
    tidy(() => {
      const scores = [
        [2, 0.5, -1],
        [1, 1.5, 0],
      ];
      const z = 3;
      const n = 10;
      const noise = 2 / n;
      let expected = 0;
      for (const row of scores) {
        const p = row.map((s) => Math.exp(s) / z);
        expected -= Math.log(p[0] / (p[0] + noise));
        for (const q of p.slice(1)) expected -= Math.log(1 - q / (q + noise));
      }
      close(nceLoss(tensor(Float32Array.from(scores.flat()), { shape: [2, 3] }), z, n).item(), expected / 2, 1e-5, 'NCE loss');
    });
  });
});

describe('pretext runs', { skip: skipNoData }, () => {
  const base = { subset: 300, width: 8, clusters: 6, batchSize: 50, budget: '12it', logEvery: 4, workers: 0, tensorboard: false } as const;

  it('rotation trains for its budget of iterations, ends with cluster labels, and ODC fine-tunes its backbone (--init-from)', async () => {
    const rot = join(dir, 'rotation');
    const r = await train(resolveConfig({ ...base, method: 'rotation', out: rot }), { log: () => {} });
    assert.equal(r.summary.finished, true);
    assert.equal(r.labels.length, 300);
    const iters = readFileSync(join(rot, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((x) => x.type === 'iter');
    assert.deepEqual(iters.map((x) => x.iteration), [4, 8, 12]);
    // A fresh head (weights N(0, 0.01²)) is near-uniform over the four rotations: a loss of about ln 4.
    close(iters[0].loss, Math.log(4), 0.05, 'first loss');
    const lines: string[] = [];
    await train(resolveConfig({ ...base, method: 'odc', budget: '2it', memory: { minCluster: 5 }, initFrom: join(rot, 'model.safetensors'), out: join(dir, 'rot-odc') }), {
      log: (l) => lines.push(l),
    });
    assert.ok(lines.some((l) => /initialised the backbone from .*rotation.*2 other tensors left out \(e\.g\. head\.fc/.test(l)), lines.join('\n'));
  });

  it('npid writes a bank of unit embeddings, one per image, and resumes with it', async () => {
    const out = join(dir, 'npid');
    await train(resolveConfig({ ...base, method: 'npid', maxIterations: 6, out }), { log: () => {} });
    const r = await train(resolveConfig({ ...base, method: 'npid', out }), { log: () => {}, resume: true });
    assert.equal(r.summary.finished, true);
    assert.ok(existsSync(join(out, 'memory.safetensors')));
    const bank = readSafetensors(join(out, 'memory.safetensors'), ['memory.features']).tensors.get('memory.features');
    assert.deepEqual(bank?.shape, [300, 128]);
    const v = bank?.data as Float32Array;
    for (let i = 0; i < 300; i += 37) {
      const norm = Math.hypot(...v.subarray(i * 128, (i + 1) * 128));
      close(norm, 1, 1e-4, `row ${i} norm`);
    }
  });
});
