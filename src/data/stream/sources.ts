/**
 * Image sets read one encoded image at a time, never decoded whole: an ImageFolder (one sub-folder
 * per class, as torchvision and ImageNet's train set) or WebDataset-style tar shards (`key.jpg`
 * with an optional `key.cls` holding the class index). Opening a source lists the files or indexes
 * the shards' headers; `read(i)` returns image i's bytes.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { DataError } from '../errors.ts';
import { folderLabels, listImages } from '../folder.ts';
import { type Located, readLocated } from './decode.ts';
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
  const files = listImages(dir);
  if (files.length === 0) throw new DataError(dir, 'no image files in this folder');
  const { labels, classNames } = folderLabels(dir, files);
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
  const where: string[] = [];
  const loc: { shard: number; offset: number; size: number }[] = [];
  const cls: (number | undefined)[] = [];
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
    for (const [key, e] of byKey) {
      if (e.image === undefined) continue;
      where.push(`${shard}:${key}`);
      loc.push({ shard: s, ...e.image });
      cls.push(e.cls);
    }
  }
  if (loc.length === 0) throw new DataError(path, 'no image members (.jpg, .jpeg, .png, .webp) in the shards');
  const labels = cls.every((c) => c !== undefined) ? Int32Array.from(cls as number[]) : undefined;
  const namesFile = join(statSync(path).isDirectory() ? path : dirname(path), 'classes.txt');
  const classNames = labels && existsSync(namesFile) ? readFileSync(namesFile, 'utf8').split('\n').filter((l) => l !== '') : undefined;
  const locate = (i: number): Located => ({ path: shards[loc[i].shard], offset: loc[i].offset, size: loc[i].size });
  return { n: loc.length, labels, classNames, source: `shards:${path}`, where: (i) => where[i], locate, read: (i) => readLocated(locate(i)) };
}

/** `folder:DIR` or `shards:PATH` (a .tar or a folder of them). */
export function openSource(spec: string): ImageSource {
  const m = /^(folder|shards):(.+)$/.exec(spec);
  if (m === null) throw new DataError(spec, "expected 'folder:DIR' or 'shards:PATH'");
  return m[1] === 'folder' ? folderSource(m[2]) : shardSource(m[2]);
}
