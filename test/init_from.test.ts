/**
 * `--init-from`: a backbone-only state dict, a whole odc model, an odc training checkpoint and a
 * PyTorch-written ResNet with torchvision's key names (saved from DistributedDataParallel, under
 * `module.`) each load into the backbone exactly; files of another architecture or width fail with
 * an error naming the file, before any training.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { saveSafetensors } from '../src/io/safetensors.ts';
import { ClusterModel, type ClusterModelOptions } from '../src/models/cluster_model.ts';
import { ConfigError } from '../src/tensor/errors.ts';
import { Generator } from '../src/tensor/random.ts';
import type { Tensor } from '../src/tensor/tensor.ts';
import { saveCheckpoint } from '../src/train/checkpoint.ts';
import { resolveConfig } from '../src/train/config.ts';
import { initFrom } from '../src/train/init_from.ts';
import { train } from '../src/train/trainer.ts';
import { loadFixture, withPrefix } from './helpers.ts';
import { skipNoData } from './run_fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'odc-init-from-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const options = (seed: number, o: Partial<ClusterModelOptions> = {}): ClusterModelOptions => ({
  arch: 'resnet18', width: 8, stem: 'cifar', inChannels: 3, numClasses: 10, neck: true, generator: new Generator(seed), ...o,
});

/** Every backbone tensor of `model` equals `expected`'s under the same key (all compared). */
function assertBackbone(model: ClusterModel, expected: Map<string, Tensor>): void {
  const own = model.backbone.stateDict();
  let compared = 0;
  for (const [k, t] of own) {
    const e = expected.get(k);
    assert.ok(e, `expected tensors lack '${k}'`);
    assert.equal(t.sub(e.to({ dtype: t.dtype })).abs().max().item(), 0, `backbone '${k}' differs`);
    compared++;
  }
  assert.equal(compared, own.size);
}

describe('--init-from', () => {
  it('loads a backbone-only state dict, a whole model and a training checkpoint exactly; the neck and head are left out', () => {
    const source = new ClusterModel(options(1));
    const target = () => new ClusterModel(options(2));
    const expected = source.backbone.stateDict();
    const files: [string, () => void][] = [
      [join(dir, 'backbone.safetensors'), () => saveSafetensors(join(dir, 'backbone.safetensors'), expected)],
      [join(dir, 'model.safetensors'), () => saveSafetensors(join(dir, 'model.safetensors'), source.stateDict(), { arch: 'resnet18' })],
      [join(dir, 'latest.safetensors'), () => saveCheckpoint(join(dir, 'latest.safetensors'), { model: source.stateDict(), progress: { iteration: 3, epoch: 0, step: 3 } })],
    ];
    for (const [path, write] of files) {
      write();
      const model = target();
      const neckBefore = (model.stateDict().get('neck.fc0.weight') as Tensor).clone();
      const r = initFrom(model, path);
      assertBackbone(model, expected);
      assert.equal(r.loaded, expected.size);
      assert.equal((model.stateDict().get('neck.fc0.weight') as Tensor).sub(neckBefore).abs().max().item(), 0, `${path}: the neck was changed`);
      if (!path.endsWith('backbone.safetensors')) assert.ok(r.ignored.some((k) => k.includes('head.fc.weight')), `${path}: ${r.ignored}`);
      model.dispose();
    }
    source.dispose();
  });

  it('loads a PyTorch ResNet-18 with torchvision key names, saved under module.', () => {
    // test/fixtures/resnet18_cifar_w8: a ResNet-18 state dict written by PyTorch (scripts/gen_fixtures.py).
    const torchvision = withPrefix(loadFixture('resnet18_cifar_w8'), 'model.');
    const path = join(dir, 'torchvision.safetensors');
    saveSafetensors(path, new Map([...torchvision].map(([k, v]) => [`module.${k}`, v])));
    const model = new ClusterModel(options(3));
    const r = initFrom(model, path);
    assertBackbone(model, torchvision);
    assert.deepEqual(r.ignored.sort(), ['module.fc.bias', 'module.fc.weight']);
    model.dispose();
  });

  it('a file of another architecture or width fails, naming the file and what differs', () => {
    const r18 = new ClusterModel(options(4));
    const path18 = join(dir, 'r18.safetensors');
    saveSafetensors(path18, r18.stateDict());
    const wider = new ClusterModel(options(5, { width: 16 }));
    assert.throws(() => initFrom(wider, path18), (e: unknown) => e instanceof ConfigError && e.message.startsWith(`--init-from ${path18}: `) && /has shape \[8,3,3,3\] in the checkpoint, \[16,3,3,3\]/.test(e.message));
    const r34 = new ClusterModel(options(6, { arch: 'resnet34' }));
    assert.throws(() => initFrom(r34, path18), (e: unknown) => e instanceof ConfigError && /tensors are not in the file \(e\.g\. 'layer1\.2\./.test(e.message));
    const alex = new ClusterModel(options(7, { arch: 'alexnet' }));
    assert.throws(() => initFrom(alex, path18), (e: unknown) => e instanceof ConfigError && /no key matches the alexnet/.test(e.message));
    for (const m of [r18, wider, r34, alex]) m.dispose();
  });

  it('odc train --init-from with a wrong file stops before any training', { skip: skipNoData }, async () => {
    const bad = join(dir, 'bad.safetensors');
    const alex = new ClusterModel(options(8, { arch: 'alexnet' }));
    saveSafetensors(bad, alex.stateDict());
    alex.dispose();
    const cfg = resolveConfig({ subset: 64, width: 8, clusters: 4, batchSize: 16, epochs: 1, initFrom: bad, out: join(dir, 'run'), tensorboard: false, workers: 0 });
    await assert.rejects(train(cfg, { log: () => {} }), (e: unknown) => e instanceof ConfigError && e.message.startsWith(`--init-from ${bad}: no key matches the resnet18`));
  });
});
