/**
 * The device as an input: `--device` checked against what this libtorch can reach (a clear error,
 * never an abort), creation functions that follow the default device (what `train()` sets), seeded
 * draws that are the same on every device, a CPU run that is unchanged by `device: 'cpu'`, and
 * training batches augmented on the device that train as the workers' do.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { native } from '../src/native/binding.ts';
import { kaimingUniform_ } from '../src/nn/init.ts';
import { cuda, getNumThreads, setNumThreads } from '../src/runtime.ts';
import { empty, getDefaultDevice, randn, setDefaultDevice, tensor, withDefaultDevice, zeros } from '../src/tensor/creation.ts';
import { checkDevice, rankDevice } from '../src/tensor/device.ts';
import { type Device, dtypeCode } from '../src/tensor/dtype.ts';
import { ConfigError } from '../src/tensor/errors.ts';
import { HostRead } from '../src/tensor/host_read.ts';
import { Generator } from '../src/tensor/random.ts';
import { memory, tidy } from '../src/tensor/scope.ts';
import { wrap } from '../src/tensor/tensor.ts';
import { resolveConfig } from '../src/train/config.ts';
import { train } from '../src/train/trainer.ts';
import { skipNoData } from './run_fixture.ts';

const hasCuda = cuda.isAvailable();

describe('device', () => {
  it('checks --device: cpu always; cuda only where this libtorch has it, naming the flag', () => {
    assert.equal(checkDevice(undefined, '--device'), 'cpu');
    assert.equal(checkDevice('cpu', '--device'), 'cpu');
    assert.throws(() => checkDevice('gpu', '--device'), (e) => e instanceof ConfigError && e.message === '--device gpu: expected cpu, cuda or cuda:N');
    assert.throws(() => checkDevice('cpu:1', '--device'), ConfigError);
    if (hasCuda) {
      assert.equal(checkDevice('cuda', '--device'), 'cuda');
      assert.throws(() => checkDevice(`cuda:${cuda.deviceCount()}`, '--device'), /this machine has \d+ CUDA device/);
    } else {
      assert.throws(() => checkDevice('cuda', '--device'), (e) => e instanceof ConfigError && /^--device cuda: no CUDA device is usable here .*LIBTORCH=/.test(e.message));
    }
    assert.throws(() => resolveConfig({ device: 'tpu' }), /device/);
  });

  it("a process of a group takes its local rank's GPU for plain cuda; other devices stay as given", () => {
    const rank1 = { worldSize: 2, localRank: 1 };
    assert.equal(rankDevice('cpu', rank1), 'cpu');
    assert.equal(rankDevice('cuda', { worldSize: 1, localRank: 0 }), 'cuda');
    assert.equal(rankDevice('cuda:3', rank1), 'cuda:3');
    if (hasCuda && cuda.deviceCount() >= 2) assert.equal(rankDevice('cuda', rank1), 'cuda:1');
    else assert.throws(() => rankDevice('cuda', rank1), (e) => e instanceof ConfigError && /^--device cuda \(local rank 1\) cuda:1: /.test(e.message));
  });

  it('train() with a device this process cannot use fails before reading any data', { skip: hasCuda && 'CUDA is usable here' }, async () => {
    await assert.rejects(train(resolveConfig({ device: 'cuda:0', dataset: 'idx:/nonexistent' }), { log: () => {} }), /^ConfigError: --device cuda:0: no CUDA device/);
  });

  it('creation functions follow the default device, and withDefaultDevice restores it even when its work fails', async () => {
    assert.equal(getDefaultDevice(), 'cpu');
    const before = setDefaultDevice('cuda');
    try {
      // Routed to the default device: a CUDA tensor where there is CUDA, else an engine error (not an abort).
      for (const make of [() => zeros([2]), () => empty([2]), () => tensor(Float32Array.of(1, 2))]) {
        if (hasCuda) tidy(() => assert.ok(make().device.startsWith('cuda')));
        else assert.throws(make, Error);
      }
      // An explicit device wins over the default.
      tidy(() => assert.equal(zeros([2], { device: 'cpu' }).device, 'cpu'));
    } finally {
      setDefaultDevice(before);
    }
    await assert.rejects(withDefaultDevice('cuda', async () => Promise.reject(new Error('inside'))), /inside/);
    assert.equal(getDefaultDevice(), 'cpu');
  });

  it('host data bound for a GPU is staged in pinned memory and copied without blocking; a CPU build refuses pinning with an error', () => {
    tidy(() => {
      assert.equal(tensor(Float32Array.of(1, 2)).isPinned(), false);
      if (!hasCuda) {
        assert.throws(() => native.fromBuffer(Float32Array.of(1, 2), dtypeCode('float32'), [2], true), /^TorchError: from_buffer: Pinned memory requires CUDA/);
        return;
      }
      const host = wrap(native.fromBuffer(Float32Array.of(1, 2), dtypeCode('float32'), [2], true));
      assert.ok(host.isPinned());
      // Values survive the asynchronous copy (the pinned block is freed at once) and a cast made on the device.
      const x = tensor(Int32Array.of(3, -4, 5), { device: 'cuda', dtype: 'int64' });
      assert.ok(x.device.startsWith('cuda'));
      assert.equal(x.dtype, 'int64');
      assert.deepEqual(x.toArray(), [3, -4, 5]);
      const big = Float32Array.from({ length: 1 << 20 }, (_, i) => i % 251);
      assert.deepEqual(tensor(big, { device: 'cuda', shape: [1024, 1024] }).flatten().toArray(), Array.from(big));
    });
  });

  it('a HostRead is a host copy of the values at the time it was made, read without waiting for later work; disposing frees it', () => {
    for (const device of (hasCuda ? ['cpu', 'cuda'] : ['cpu']) as Device[]) {
      const before = memory().numTensors;
      tidy(() => {
        const x = randn([512, 512], { device, generator: new Generator(5) });
        const expected = x.mm(x).sum(1).toArray();
        const y = x.mm(x).sum(1);
        const read = new HostRead(y);
        // work queued after the read does not reach its copy
        y.add_(1);
        for (let i = 0; i < 20; i++) x.mm(x);
        const host = read.value();
        assert.equal(host.device, 'cpu');
        assert.equal(host.isPinned(), device !== 'cpu');
        assert.ok(read.ready);
        const got = host.toArray();
        const worst = Math.max(...got.map((v, i) => Math.abs(v - expected[i]) / (1 + Math.abs(expected[i]))));
        assert.ok(worst < 1e-5, `${device}: off by ${worst}`);
        read.dispose();
        assert.ok(host.isDisposed);
      });
      // (the host copy is kept out of the scope: only dispose() frees it)
      assert.equal(memory().numTensors, before);
    }
  });

  it('seeded draws and seeded weight initialisation give the same values whatever the default device', { skip: !hasCuda && 'no CUDA device here' }, () => {
    tidy(() => {
      const a = randn([5], { generator: new Generator(7) }).toArray();
      const w = empty([4, 3]);
      kaimingUniform_(w, { generator: new Generator(9) });
      const before = setDefaultDevice('cuda');
      try {
        const b = randn([5], { generator: new Generator(7) });
        assert.ok(b.device.startsWith('cuda'));
        assert.deepEqual(b.toArray(), a);
        const v = empty([4, 3]);
        kaimingUniform_(v, { generator: new Generator(9) });
        assert.deepEqual(v.toArray(), w.toArray());
      } finally {
        setDefaultDevice(before);
      }
    });
  });

  it('the TF32 settings reach libtorch and read back (process-wide; a CPU-only build keeps them)', () => {
    const before = cuda.getTf32();
    try {
      cuda.setTf32({ matmul: true, cudnn: false });
      assert.deepEqual(cuda.getTf32(), { matmul: true, cudnn: false });
      cuda.setTf32({ matmul: false, cudnn: true });
      assert.deepEqual(cuda.getTf32(), { matmul: false, cudnn: true });
    } finally {
      cuda.setTf32(before);
    }
  });

  it("augmentOn 'device' trains as the workers' augmentation does (the same losses, iteration by iteration)", { skip: skipNoData }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'odc-augment-on-'));
    const threads = getNumThreads();
    try {
      const losses = async (augmentOn: 'device' | 'workers') => {
        const out = join(dir, augmentOn);
        await train(resolveConfig({ subset: 256, width: 4, clusters: 4, batchSize: 32, budget: '5it', workers: 0, threads: 1, logEvery: 1, evalFeatures: false, augmentOn, out }), { log: () => {} });
        return readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'iter').map((r) => r.loss as number);
      };
      const a = await losses('workers');
      const b = await losses('device');
      assert.equal(a.length, 5);
      for (const [i, v] of a.entries()) assert.ok(Math.abs(v - b[i]) <= 2e-3 * Math.abs(v), `iteration ${i + 1}: ${b[i]} on the device, ${v} by the workers`);
    } finally {
      setNumThreads(threads);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
