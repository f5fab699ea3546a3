/** Dataset readers on real Fashion-MNIST and on small constructed files; errors name the file. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { loadCifarDir } from '../src/data/cifar.ts';
import { checkDecodedSize, loadFolder, MAX_PIXEL_BYTES } from '../src/data/folder.ts';
import { loadIdxDir } from '../src/data/idx.ts';
import { FASHION_MNIST_DIR, loadDataset } from '../src/data/spec.ts';
import { longTail, randomSubset } from '../src/data/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'odc-data-'));

function idx(dims: number[], data: Uint8Array, rankCode = 0x08): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = rankCode;
  head[3] = dims.length;
  for (const [i, d] of dims.entries()) head.writeUInt32BE(d, 4 + 4 * i);
  return Buffer.concat([head, Buffer.from(data)]);
}

describe('datasets', () => {
  it('reads Debian\'s Fashion-MNIST (gzipped IDX): 60,000 + 10,000 labelled 28x28 images', { skip: !existsSync(FASHION_MNIST_DIR) && 'dataset-fashion-mnist not installed' }, async () => {
    const train = await loadDataset('fashion-mnist', 'train');
    assert.equal(train.n, 60000);
    assert.equal(train.height, 28);
    assert.equal(train.classNames?.[9], 'Ankle boot');
    assert.equal(train.labels?.[0], 9); // the first training image is an ankle boot
    const all = await loadDataset('fashion-mnist', 'all');
    assert.equal(all.n, 70000);
  });

  it('reads plain and gzipped IDX folders and rejects corrupt files by name', () => {
    const d = join(dir, 'idx');
    mkdirSync(d);
    writeFileSync(join(d, 'train-images-idx3-ubyte'), idx([2, 2, 3], new Uint8Array(12).map((_, i) => i)));
    writeFileSync(join(d, 'train-labels-idx1-ubyte.gz'), gzipSync(idx([2], new Uint8Array([1, 0]))));
    const s = loadIdxDir(d, 'train');
    assert.deepEqual([s.n, s.height, s.width], [2, 2, 3]);
    assert.deepEqual(Array.from(s.labels ?? []), [1, 0]);
    writeFileSync(join(d, 't10k-images-idx3-ubyte'), idx([5, 2, 3], new Uint8Array(7)));
    assert.throws(() => loadIdxDir(d, 'test'), /t10k-images-idx3-ubyte: IDX data has 7 bytes, dimensions \[5,2,3\] need 30/);
    assert.throws(() => loadIdxDir(join(dir, 'missing'), 'train'), /missing: dataset folder does not exist/);
  });

  it('reads CIFAR-10 binary batches (label byte + planar RGB)', () => {
    const d = join(dir, 'cifar');
    mkdirSync(d);
    const rec = Buffer.alloc(3073);
    rec[0] = 7;
    rec[1] = 200; // first red pixel
    rec[1 + 1024] = 100; // first green pixel
    for (const f of ['data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5']) writeFileSync(join(d, `${f}.bin`), Buffer.concat([rec, rec]));
    writeFileSync(join(d, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
    const s = loadCifarDir(d, 'train');
    assert.equal(s.n, 10);
    assert.equal(s.labels?.[3], 7);
    assert.equal(s.classNames?.[7], 'horse');
    assert.equal(s.pixels[0], 200);
    assert.equal(s.pixels[1024], 100);
    writeFileSync(join(d, 'test_batch.bin'), Buffer.alloc(100));
    assert.throws(() => loadCifarDir(d, 'test'), /test_batch\.bin: size 100 is not a multiple of the 3073-byte CIFAR record/);
  });

  it('reads a folder of images with sub-folder labels, skipping (and naming) unreadable files', async () => {
    const d = join(dir, 'folder');
    for (const c of ['cats', 'dogs']) mkdirSync(join(d, c), { recursive: true });
    const red = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer();
    const blue = await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 0, g: 0, b: 255 } } }).jpeg().toBuffer();
    writeFileSync(join(d, 'cats', 'a.png'), red);
    writeFileSync(join(d, 'dogs', 'b.jpg'), blue);
    writeFileSync(join(d, 'dogs', 'broken.png'), Buffer.from('not an image'));
    const warnings: string[] = [];
    const s = await loadFolder(d, { size: 16, warn: (m) => warnings.push(m) });
    assert.equal(s.n, 2);
    assert.deepEqual(s.classNames, ['cats', 'dogs']);
    assert.deepEqual(Array.from(s.labels ?? []), [0, 1]);
    assert.equal(s.pixels[0], 255); // red plane of the cat
    assert.ok(s.pixels[16 * 16 * 3 + 2 * 256] > 200); // blue plane of the dog
    assert.match(warnings[0], /broken\.png: unreadable image/);
    await assert.rejects(loadFolder(d, { size: 16, onError: 'fail' }), /broken\.png: unreadable image/);
    // No size given: the median shorter side of the readable images (20 and 30 px: the upper median), at most 64.
    assert.equal((await loadFolder(d, { warn: () => {} })).height, 30);
    const big = join(dir, 'one-large-image');
    mkdirSync(big);
    writeFileSync(join(big, 'a.png'), await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png().toBuffer());
    assert.equal((await loadFolder(big)).height, 64);
  });

  it('a folder too big for one typed array fails before decoding, naming the sizes and the way out', async () => {
    assert.equal(MAX_PIXEL_BYTES, (await import('node:buffer')).constants.MAX_LENGTH);
    // 1.3 million RGB images at 96 px (ImageNet-sized) need 35.9 GB.
    assert.throws(
      () => checkDecodedSize('/data/imagenet', 1_300_000, 3, 96),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_DATA');
        assert.match(e.message, /^\/data\/imagenet: 1300000 images decoded at 3x96x96 need 35942400000 bytes \(33\.47 GiB\)/);
        assert.match(e.message, new RegExp(`more than the ${MAX_PIXEL_BYTES} bytes`));
        assert.match(e.message, /a smaller --image-size \(33 px at most for 1300000 images\)/);
        assert.match(e.message, /--subset applies after decoding/);
        return true;
      },
    );
    assert.ok(1_300_000 * 3 * 33 * 33 <= MAX_PIXEL_BYTES);
    checkDecodedSize('/data/imagenet', 1_300_000, 3, 33);
    checkDecodedSize('/data/x', 10, 3, 4, 480);
    assert.throws(() => checkDecodedSize('/data/x', 10, 3, 4, 479), /480 bytes .* more than the 479 bytes/);
    // Through the loader with a lowered limit: the file is not even an image, so a decode would fail differently.
    const d = join(dir, 'big');
    mkdirSync(d);
    writeFileSync(join(d, 'a.png'), Buffer.from('not an image'));
    writeFileSync(join(d, 'b.png'), Buffer.from('not an image'));
    await assert.rejects(loadFolder(d, { size: 16, maxBytes: 1000, onError: 'fail' }), new RegExp(`^DataError: ${d}: 2 images decoded at 3x16x16 need 1536 bytes`));
  });

  it('subsets are seeded; long-tail subsampling spans the requested ratio', async () => {
    const d = join(dir, 'lt');
    mkdirSync(d);
    const n = 400;
    writeFileSync(join(d, 'train-images-idx3-ubyte'), idx([n, 1, 1], new Uint8Array(n)));
    writeFileSync(join(d, 'train-labels-idx1-ubyte'), idx([n], Uint8Array.from({ length: n }, (_, i) => i % 4)));
    const s = loadIdxDir(d, 'train');
    assert.deepEqual(Array.from(randomSubset(s, 50, 1).labels ?? []), Array.from(randomSubset(s, 50, 1).labels ?? []));
    const lt = longTail(s, 8, 0);
    const counts = [0, 0, 0, 0];
    for (const l of lt.labels ?? []) counts[l]++;
    assert.equal(Math.max(...counts), 100);
    assert.equal(Math.min(...counts), Math.round(100 / 8));
    assert.throws(() => longTail(s, 100, 0), /long-tail ratio in \[1, 64\]/);
  });

  it('rejects an unknown dataset spec with the accepted forms', async () => {
    await assert.rejects(loadDataset('imagenet'), /Expected --dataset fashion-mnist, mnist, idx:DIR, cifar:DIR, folder:DIR, stream:DIR or shards:PATH but received 'imagenet'/);
    // A streamed spec where a command needs the images in memory: said so.
    await assert.rejects(loadDataset('shards:/data/x'), /--dataset shards:\/data\/x: a streamed dataset/);
  });
});
