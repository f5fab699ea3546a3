/**
 * Image sets read one encoded image at a time, never decoded whole: an ImageFolder (one sub-folder
 * per class, as torchvision and ImageNet's train set) or WebDataset-style tar shards (`key.jpg`
 * with an optional `key.cls` holding the class index). Opening a source lists the files or indexes
 * the shards' headers; `read(i)` returns image i's bytes.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { DataError } from '../errors.ts';
import { folderLabels, IMAGE_FILES } from '../folder.ts';
import { type Located, readLocated } from './decode.ts';
import { listImagesCached } from './index_cache.ts';
import { forEachTarMember } from './tar_index.ts';

export interface ImageSource {
  readonly n: number;
  /** Class index per image when the layout carries one (evaluation only). */
  readonly labels?: Int32Array;
  readonly classNames?: readonly string[];
  /** `folder:DIR` or `shards:PATH`. */
  readonly source: string;
  /** Where image i is, for messages: its file, or `shard.tar:key`. */
  where(i: number): string;
  /** Where image i's bytes are (a worker thread reads them there). */
  locate(i: number): Located;
  /** The encoded bytes of image i. */
  read(i: number): Promise<Buffer>;
}

export function folderSource(dir: string): ImageSource {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DataError(dir, 'dataset folder does not exist');
  const { files } = listImagesCached(dir, IMAGE_FILES);
  if (files.length === 0) throw new DataError(dir, 'no image files in this folder');
  const { labels, classNames } = folderLabels(resolve(dir), files);
  return { n: files.length, labels, classNames, source: `folder:${dir}`, where: (i) => files[i], locate: (i) => ({ path: files[i] }), read: (i) => readLocated({ path: files[i] }) };
}

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp']);

/**
 * Tar shards: a .tar file, or a folder of them (sorted by name). Members are grouped by key (the
 * name without its extension); a key needs one image member, and its `.cls` member (a decimal class
 * index), when present in every key, gives the labels. A `classes.txt` beside the shards (one name
 * per line) names the classes.
 */
export function shardSource(path: string): ImageSource {
  if (!existsSync(path)) throw new DataError(path, 'no such shard file or folder');
  const shards = statSync(path).isDirectory()
    ? readdirSync(path).filter((f) => f.endsWith('.tar')).sort().map((f) => join(path, f))
    : [path];
  if (shards.length === 0) throw new DataError(path, 'no .tar shards in this folder');
  // The index of a million-image set stays a few bytes per image: typed arrays, and each shard's
  // keys joined into one string (the keys are needed only to name an image in a message).
  const index = new GrowingIndex();
  const keysOf: string[] = [];
  for (const [s, shard] of shards.entries()) {
    // Each key's row, made when one of its members is first seen (numbers only: no object per member).
    const rowOf = new Map<string, number>();
    const keys: string[] = [];
    const fd = openSync(shard, 'r');
    try {
      forEachTarMember(shard, (name, offset, size) => {
        const ext = extname(name).toLowerCase();
        const isImage = IMAGE_EXT.has(ext);
        if (!isImage && ext !== '.cls') return;
        const key = name.slice(0, name.length - ext.length);
        let row = rowOf.get(key);
        if (row === undefined) {
          row = index.push(s, keys.length);
          rowOf.set(key, row);
          keys.push(key);
        }
        if (isImage) index.setImage(row, offset, size);
        else {
          const b = Buffer.alloc(size);
          readSync(fd, b, 0, size, offset);
          const v = Number(b.toString('utf8').trim());
          if (!Number.isInteger(v) || v < 0) throw new DataError(`${shard}:${name}`, `class index '${b.toString('utf8').trim()}' is not a non-negative integer`);
          index.setCls(row, v);
        }
      });
    } finally {
      closeSync(fd);
    }
    keysOf.push(keys.join('\n'));
  }
  const { n, shard, offset, size, cls, keyAt } = index.columns();
  if (n === 0) throw new DataError(path, 'no image members (.jpg, .jpeg, .png, .webp) in the shards');
  const labels = cls.every((c) => c >= 0) ? cls : undefined;
  const namesFile = join(statSync(path).isDirectory() ? path : dirname(path), 'classes.txt');
  const classNames = labels && existsSync(namesFile) ? readFileSync(namesFile, 'utf8').split('\n').filter((l) => l !== '') : undefined;
  const keyOf = (i: number) => keysOf[shard[i]].split('\n', keyAt[i] + 1)[keyAt[i]];
  const locate = (i: number): Located => ({ path: shards[shard[i]], offset: offset[i], size: size[i] });
  return { n, labels, classNames, source: `shards:${path}`, where: (i) => `${shards[shard[i]]}:${keyOf(i)}`, locate, read: (i) => readLocated(locate(i)) };
}

/** Per-key columns of a shard index, grown by doubling; keys without an image member are dropped by `columns()`. */
class GrowingIndex {
  n = 0;
  #cols = { shard: new Int32Array(1024), offset: new Float64Array(1024), size: new Int32Array(1024), cls: new Int32Array(1024), keyAt: new Int32Array(1024) };

  /** A new row for a key of `shard` (the keyAt-th of its shard), without image or class yet; returns it. */
  push(shard: number, keyAt: number): number {
    const c = this.#cols;
    if (this.n === c.shard.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.#cols = { shard: grow(c.shard), offset: grow(c.offset), size: grow(c.size), cls: grow(c.cls), keyAt: grow(c.keyAt) };
    }
    const i = this.n++;
    this.#cols.shard[i] = shard;
    this.#cols.offset[i] = -1;
    this.#cols.size[i] = 0;
    this.#cols.cls[i] = -1;
    this.#cols.keyAt[i] = keyAt;
    return i;
  }

  setImage(row: number, offset: number, size: number): void {
    this.#cols.offset[row] = offset;
    this.#cols.size[row] = size;
  }

  setCls(row: number, cls: number): void {
    this.#cols.cls[row] = cls;
  }

  /** The rows that have an image member, as trimmed columns. */
  columns() {
    const c = this.#cols;
    const keep: number[] = [];
    for (let i = 0; i < this.n; i++) if (c.offset[i] >= 0) keep.push(i);
    const pick = <T extends Int32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(keep.length);
      for (const [k, i] of keep.entries()) b[k] = a[i];
      return b;
    };
    return { n: keep.length, shard: pick(c.shard), offset: pick(c.offset), size: pick(c.size), cls: pick(c.cls), keyAt: pick(c.keyAt) };
  }
}

/** `folder:DIR` or `shards:PATH` (a .tar or a folder of them). */
export function openSource(spec: string): ImageSource {
  const m = /^(folder|shards):(.+)$/.exec(spec);
  if (m === null) throw new DataError(spec, "expected 'folder:DIR' or 'shards:PATH'");
  return m[1] === 'folder' ? folderSource(m[2]) : shardSource(m[2]);
}

/** The source restricted to `rows` of `s` (image i of the result is image rows[i] of `s`). */
export function selectSource(s: ImageSource, rows: ArrayLike<number>, source: string): ImageSource {
  const map = Int32Array.from(rows);
  for (const r of map) if (!(r >= 0 && r < s.n)) throw new DataError(s.source, `row ${r} is outside its ${s.n} images`);
  return {
    n: map.length, classNames: s.classNames, source,
    labels: s.labels ? Int32Array.from(map, (r) => (s.labels as Int32Array)[r]) : undefined,
    where: (i) => s.where(map[i]), locate: (i) => s.locate(map[i]), read: (i) => s.read(map[i]),
  };
}
