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
import { indexTar } from './tar_index.ts';

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
    const byKey = new Map<string, { image?: { offset: number; size: number }; cls?: number }>();
    const fd = openSync(shard, 'r');
    try {
      for (const m of indexTar(shard)) {
        const ext = extname(m.name).toLowerCase();
        const key = m.name.slice(0, m.name.length - ext.length);
        const entry = byKey.get(key) ?? {};
        if (IMAGE_EXT.has(ext)) entry.image = { offset: m.offset, size: m.size };
        else if (ext === '.cls') {
          const b = Buffer.alloc(m.size);
          readSync(fd, b, 0, m.size, m.offset);
          const v = Number(b.toString('utf8').trim());
          if (!Number.isInteger(v) || v < 0) throw new DataError(`${shard}:${m.name}`, `class index '${b.toString('utf8').trim()}' is not a non-negative integer`);
          entry.cls = v;
        }
        byKey.set(key, entry);
      }
    } finally {
      closeSync(fd);
    }
    const keys: string[] = [];
    for (const [key, e] of byKey) {
      if (e.image === undefined) continue;
      index.push(s, e.image.offset, e.image.size, e.cls ?? -1, keys.length);
      keys.push(key);
    }
    keysOf.push(keys.join('\n'));
  }
  if (index.n === 0) throw new DataError(path, 'no image members (.jpg, .jpeg, .png, .webp) in the shards');
  const { n, shard, offset, size, cls, keyAt } = index.columns();
  const labels = cls.every((c) => c >= 0) ? cls : undefined;
  const namesFile = join(statSync(path).isDirectory() ? path : dirname(path), 'classes.txt');
  const classNames = labels && existsSync(namesFile) ? readFileSync(namesFile, 'utf8').split('\n').filter((l) => l !== '') : undefined;
  const keyOf = (i: number) => keysOf[shard[i]].split('\n', keyAt[i] + 1)[keyAt[i]];
  const locate = (i: number): Located => ({ path: shards[shard[i]], offset: offset[i], size: size[i] });
  return { n, labels, classNames, source: `shards:${path}`, where: (i) => `${shards[shard[i]]}:${keyOf(i)}`, locate, read: (i) => readLocated(locate(i)) };
}

/** Per-image columns of a shard index, grown by doubling. */
class GrowingIndex {
  n = 0;
  #cols = { shard: new Int32Array(1024), offset: new Float64Array(1024), size: new Int32Array(1024), cls: new Int32Array(1024), keyAt: new Int32Array(1024) };

  push(shard: number, offset: number, size: number, cls: number, keyAt: number): void {
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
    this.#cols.offset[i] = offset;
    this.#cols.size[i] = size;
    this.#cols.cls[i] = cls;
    this.#cols.keyAt[i] = keyAt;
  }

  /** The columns, trimmed to n. */
  columns() {
    const { n } = this;
    const c = this.#cols;
    return { n, shard: c.shard.slice(0, n), offset: c.offset.slice(0, n), size: c.size.slice(0, n), cls: c.cls.slice(0, n), keyAt: c.keyAt.slice(0, n) };
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
