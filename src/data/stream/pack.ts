/**
 * `odc pack`: an ImageFolder tree (one sub-folder per class) as WebDataset-style tar shards, the
 * layout `shards:PATH` reads: `<key>.<ext>` holding the file's bytes unchanged (no re-encoding) and
 * `<key>.cls` its class index, `perShard` images a shard, `classes.txt` naming the classes. Each
 * shard is written under a temporary name and renamed when complete, so an interrupted pack leaves
 * whole shards only, and a rerun skips the shards already written.
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { DataError } from '../errors.ts';
import { folderLabels, listImages } from '../folder.ts';

export interface PackOptions {
  /** Images per shard (default 1,000: shards of about 100 MB for ImageNet's JPEGs). */
  perShard?: number;
  /** Called after each shard with the images packed so far. */
  onShard?: (done: number, total: number, shard: string, skipped: boolean) => void;
}

export interface PackResult {
  shards: string[];
  images: number;
  classes?: readonly string[];
}

export const shardName = (i: number): string => `shard-${String(i).padStart(6, '0')}.tar`;

export async function packFolder(dir: string, out: string, o: PackOptions = {}): Promise<PackResult> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DataError(dir, 'no such folder to pack');
  const perShard = o.perShard ?? 1000;
  if (!Number.isInteger(perShard) || perShard < 1) throw new DataError(dir, `--per-shard must be a positive integer, got ${perShard}`);
  const files = listImages(dir);
  if (files.length === 0) throw new DataError(dir, 'no image files in this folder');
  const { labels, classNames } = folderLabels(dir, files);
  mkdirSync(out, { recursive: true });
  if (classNames) writeFileSync(join(out, 'classes.txt'), `${classNames.join('\n')}\n`);
  const shards: string[] = [];
  for (let s = 0; s * perShard < files.length; s++) {
    const path = join(out, shardName(s));
    shards.push(path);
    const end = Math.min(files.length, (s + 1) * perShard);
    if (existsSync(path)) {
      o.onShard?.(end, files.length, path, true);
      continue;
    }
    const tmp = `${path}.partial`;
    const tar = pack();
    const written = pipeline(tar, createWriteStream(tmp));
    for (let i = s * perShard; i < end; i++) {
      const key = String(i).padStart(9, '0');
      const size = statSync(files[i]).size;
      await new Promise<void>((resolve, reject) => {
        const entry = tar.entry({ name: `${key}${extname(files[i]).toLowerCase()}`, size }, (err) => (err ? reject(new DataError(files[i], err.message)) : resolve()));
        createReadStream(files[i]).on('error', (e) => reject(new DataError(files[i], e.message))).pipe(entry);
      });
      if (labels) tar.entry({ name: `${key}.cls` }, String(labels[i]));
    }
    tar.finalize();
    await written;
    renameSync(tmp, path);
    o.onShard?.(end, files.length, path, false);
  }
  return { shards, images: files.length, classes: classNames };
}
