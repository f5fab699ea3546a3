/**
 * Streaming image sets: tar shards indexed from their headers (long names included), an ImageFolder
 * and the same images as shards giving the same bytes and labels, batches that do not depend on
 * the number of worker threads, and a corrupt JPEG inside a shard reported by shard and key.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type JpegFixture, writeJpegFixture } from '../scripts/jpeg_fixture.ts';
import { presetFor } from '../src/data/augment.ts';
import { DataError } from '../src/data/errors.ts';
import { listImagesCached } from '../src/data/stream/index_cache.ts';
import { packFolder } from '../src/data/stream/pack.ts';
import { folderSource, shardSource } from '../src/data/stream/sources.ts';
import { StreamBatchMaker } from '../src/data/stream/stream_loader.ts';
import { indexTar } from '../src/data/stream/tar_index.ts';
import { writeTar } from './helpers.ts';
import { skipNoData } from './run_fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'odc-stream-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('tar index', () => {
  it('finds every member at its offset from the headers, long (pax) names included', async () => {
    const long = `${'d'.repeat(120)}/${'n'.repeat(130)}.jpg`;
    const path = join(dir, 'names.tar');
    await writeTar(path, [['a.cls', '7'], [long, Buffer.alloc(1000, 1)], ['b.jpg', Buffer.alloc(3, 2)]]);
    const m = indexTar(path);
    assert.deepEqual(m.map((x) => [x.name, x.size]), [['a.cls', 1], [long, 1000], ['b.jpg', 3]]);
    assert.ok(m.every((x) => x.offset % 512 === 0));
  });

  it('a file that is not a tar fails, naming it and the byte', () => {
    const path = join(dir, 'x.tar');
    writeFileSync(path, Buffer.alloc(1024, 65));
    assert.throws(() => indexTar(path), (e) => e instanceof DataError && e.message.startsWith(`${path}: corrupt tar header at byte 0`));
  });
});

describe('streaming sources and batches', { skip: skipNoData }, () => {
  let f: JpegFixture;
  before(async () => {
    f = await writeJpegFixture(join(dir, 'jpegs'), 24, 10);
  });

  it('the ImageFolder and the shards hold the same images with the same classes', async () => {
    const folder = folderSource(f.folder);
    const shards = shardSource(join(dir, 'jpegs', 'shards'));
    assert.equal(folder.n, 24);
    assert.equal(shards.n, 24);
    assert.equal(shards.classNames?.length, 100);
    for (let i = 0; i < shards.n; i += 5) {
      const key = shards.where(i).split(':').at(-1) as string;
      const j = Array.from({ length: folder.n }, (_, k) => k).find((k) => folder.where(k).endsWith(`/${key}.jpg`)) as number;
      assert.deepEqual(await shards.read(i), await folder.read(j), key);
      assert.equal(folder.classNames?.[folder.labels?.[j] as number], shards.classNames?.[shards.labels?.[i] as number]);
    }
  });

  it('odc pack writes the folder as shards the shard reader reads back byte for byte, and a rerun skips whole shards', async () => {
    const out = join(dir, 'packed');
    const said: string[] = [];
    const r = await packFolder(f.folder, out, { perShard: 10, onShard: (done, total, _shard, skipped) => said.push(`${done}/${total} ${skipped}`) });
    assert.equal(r.shards.length, 3);
    assert.deepEqual(said, ['10/24 false', '20/24 false', '24/24 false']);
    const folder = folderSource(f.folder);
    const packed = shardSource(out);
    assert.equal(packed.n, folder.n);
    assert.deepEqual(packed.classNames, folder.classNames);
    assert.deepEqual(packed.labels, folder.labels);
    for (let i = 0; i < folder.n; i++) assert.deepEqual(await packed.read(i), await folder.read(i), folder.where(i));
    const again: boolean[] = [];
    await packFolder(f.folder, out, { perShard: 10, onShard: (_d, _t, _s, skipped) => again.push(skipped) });
    assert.deepEqual(again, [true, true, true]);
    await assert.rejects(packFolder(join(dir, 'nowhere'), out), (e) => e instanceof DataError && e.message.startsWith(`${join(dir, 'nowhere')}: no such folder`));
  });

  it('a streamed folder lists its files once: the cached list is used while no folder changed', () => {
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'b'), { recursive: true });
    mkdirSync(join(tree, 'a'));
    for (const [d, f] of [['a', '1.jpg'], ['a', '2.png'], ['b', '3.jpg'], ['b', 'notes.txt']]) writeFileSync(join(tree, d, f), 'x');
    const exts = new Set(['.jpg', '.png']);
    const first = listImagesCached(tree, exts);
    assert.equal(first.cached, false);
    assert.deepEqual(first.files.map((p) => p.slice(tree.length + 1)), ['a/1.jpg', 'a/2.png', 'b/3.jpg']);
    const second = listImagesCached(tree, exts);
    assert.equal(second.cached, true);
    assert.deepEqual(second.files, first.files);
    writeFileSync(join(tree, 'b', '0.jpg'), 'x');
    // (a folder's modification time moves with the file added to it)
    utimesSync(join(tree, 'b'), new Date(), new Date(Date.now() + 5000));
    const third = listImagesCached(tree, exts);
    assert.equal(third.cached, false);
    assert.deepEqual(third.files.map((p) => p.slice(tree.length + 1)), ['a/1.jpg', 'a/2.png', 'b/0.jpg', 'b/3.jpg']);
    assert.equal(listImagesCached(tree, exts).cached, true);
    // An unwritable cache place: the list is made anyway.
    const saved = process.env.ODC_CACHE_DIR;
    writeFileSync(join(dir, 'a-file'), '');
    process.env.ODC_CACHE_DIR = join(dir, 'a-file', 'cache');
    try {
      assert.deepEqual(listImagesCached(tree, exts), { files: third.files, cached: false });
    } finally {
      process.env.ODC_CACHE_DIR = saved;
    }
  });

  it('the same seed gives the same batches with 0, 1 or 2 worker threads', async () => {
    const source = shardSource(join(dir, 'jpegs', 'shards'));
    const cfg = presetFor(3, 32);
    const order = Int32Array.from({ length: 24 }, (_, i) => (i * 5) % 24);
    const runs: number[][] = [];
    for (const workers of [0, 1, 2]) {
      const maker = new StreamBatchMaker(source, cfg, { workers });
      const sums: number[] = [];
      try {
        for await (const b of maker.batches(order, { batchSize: 8, seeds: [3, 1] })) {
          assert.deepEqual(b.images.shape, [8, 3, 32, 32]);
          sums.push(...(b.images.flatten(1).sum(1).toArray() as number[]));
          b.images.dispose();
          b.index.dispose();
        }
      } finally {
        // (a failure must not leave worker threads holding the test process open)
        await maker.close();
      }
      runs.push(sums);
    }
    for (const r of runs.slice(1)) for (const [i, v] of r.entries()) assert.ok(Math.abs(v - runs[0][i]) < 1e-3, `image ${i}: ${v} vs ${runs[0][i]}`);
    // and the images differ from one another (augmentation drawn per image)
    assert.ok(new Set(runs[0].map((v) => v.toFixed(2))).size > 20);
  });

  it('a corrupt JPEG inside a shard is reported by shard and key and skipped, or fails the batch by flag', async () => {
    const shard = join(dir, 'bad', 'train-000000.tar');
    mkdirSync(join(dir, 'bad'));
    const good = await folderSource(f.folder).read(0);
    await writeTar(shard, [['k0.jpg', good], ['k0.cls', '1'], ['k1.jpg', Buffer.concat([good.subarray(0, 200), Buffer.alloc(100, 7)])], ['k1.cls', '2']]);
    const source = shardSource(join(dir, 'bad'));
    const warnings: string[] = [];
    const maker = new StreamBatchMaker(source, presetFor(3, 32), { workers: 0, warn: (m) => warnings.push(m) });
    for await (const b of maker.batches(Int32Array.of(0, 1), { batchSize: 2, seeds: [0] })) {
      b.images.dispose();
      b.index.dispose();
    }
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0].startsWith(`skipping ${shard}:k1: unreadable image`), warnings[0]);
    const strict = new StreamBatchMaker(source, presetFor(3, 32), { workers: 0, onError: 'fail' });
    await assert.rejects(
      (async () => {
        for await (const b of strict.batches(Int32Array.of(0, 1), { batchSize: 2, seeds: [0] })) b.images.dispose();
      })(),
      (e) => e instanceof DataError && e.message.startsWith(`${shard}:k1: unreadable image`),
    );
  });
});
