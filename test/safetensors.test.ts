/** safetensors round trips, matches the format's byte layout, writes atomically and names bad files. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { arange, dispose, encodeSafetensors, loadSafetensors, resnet18, SafetensorsError, saveSafetensors, tensor, tidy } from '../src/index.ts';
import { FIXTURES } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'odc-st-'));

describe('safetensors', () => {
  it('round-trips tensors of every dtype with metadata', () => tidy(() => {
    const path = join(dir, 'a.safetensors');
    const src = {
      f: tensor([[1.5, 2], [3, 4]]),
      d: tensor(new Float64Array([Math.PI])),
      i: arange(5),
      b: tensor([1, 0], { dtype: 'bool' }),
      u: tensor(new Uint8Array([0, 200])),
      e: tensor(new Float32Array(0), { shape: [0, 3] }),
    };
    saveSafetensors(path, src, { epoch: '3' });
    const { tensors, metadata } = loadSafetensors(path);
    assert.deepEqual(metadata, { epoch: '3' });
    for (const [k, v] of Object.entries(src)) {
      const got = tensors.get(k);
      assert.ok(got, k);
      assert.equal(got.dtype, v.dtype);
      assert.deepEqual(got.shape, v.shape);
      assert.deepEqual(got.toArray(), v.toArray());
    }
    dispose([...tensors.values()]);
  }));

  it('lays out bytes as the format specifies (u64 header length, JSON, 8-aligned data)', () => tidy(() => {
    const buf = encodeSafetensors({ x: tensor([1, 2]) });
    const n = Number(buf.readBigUInt64LE(0));
    assert.equal((8 + n) % 8, 0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString());
    assert.deepEqual(header.x, { dtype: 'F32', shape: [2], data_offsets: [0, 8] });
    assert.deepEqual(Array.from(new Float32Array(new Uint8Array(buf.subarray(8 + n)).buffer)), [1, 2]);
  }));

  it('reads files written by Python (the committed PyTorch fixtures) and a model checkpoint loads back', () => tidy(() => {
    const { tensors, metadata } = loadSafetensors(join(FIXTURES, 'resnet18_cifar_w8.safetensors'));
    assert.equal(metadata.generator, 'scripts/gen_fixtures.py');
    assert.deepEqual(tensors.get('input')?.shape, [4, 3, 32, 32]);
    dispose([...tensors.values()]);
    const net = resnet18({ stem: 'cifar', width: 8 });
    const path = join(dir, 'net.safetensors');
    saveSafetensors(path, net.stateDict());
    const again = resnet18({ stem: 'cifar', width: 8 });
    const loaded = loadSafetensors(path).tensors;
    again.loadStateDict(loaded);
    assert.deepEqual(again.conv1.weight.toArray(), net.conv1.weight.toArray());
    dispose([...loaded.values()]);
    net.dispose();
    again.dispose();
  }));

  it('writes atomically: no temporary file remains and an existing file is replaced whole', () => tidy(() => {
    const path = join(dir, 'atomic.safetensors');
    saveSafetensors(path, { a: tensor([1]) });
    saveSafetensors(path, { a: tensor([2]) });
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('atomic')), ['atomic.safetensors']);
    const { tensors } = loadSafetensors(path);
    assert.deepEqual(tensors.get('a')?.toArray(), [2]);
    dispose([...tensors.values()]);
  }));

  it('names the file at fault for missing, truncated and corrupt files', () => {
    assert.throws(() => loadSafetensors(join(dir, 'nope.safetensors')), (e: unknown) => e instanceof SafetensorsError && /nope\.safetensors: cannot read \(ENOENT\)/.test(e.message));
    const good = readFileSync(join(FIXTURES, 'alexnet_bn_cifar.safetensors'));
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, good.subarray(0, 2000));
    assert.throws(() => loadSafetensors(cut), /cut\.safetensors: header length|cut\.safetensors: tensor .* do not fit/);
    const junk = join(dir, 'junk.safetensors');
    writeFileSync(junk, Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{{{{')]));
    assert.throws(() => loadSafetensors(junk), /junk\.safetensors: header is not valid JSON/);
    assert.ok(existsSync(cut));
  });
});
