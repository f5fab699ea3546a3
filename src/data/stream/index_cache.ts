/**
 * The file list of an ImageFolder tree, built once and cached: listing ImageNet's train set walks
 * a thousand folders of about 1,300 files each (slow on network file systems), while checking a
 * cached list stats only the folders: adding, removing or renaming a file changes its folder's
 * modification time, and the cache is used only while every folder's matches. The cache lives in
 * $ODC_CACHE_DIR, else $XDG_CACHE_HOME/odc, else ~/.cache/odc; one that cannot be read or written
 * is rebuilt or skipped, never an error.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { walkImages } from '../folder.ts';

const VERSION = 1;

interface Cached {
  version: number;
  root: string;
  /** Every folder under the root (root first) with its modification time. */
  dirs: [string, number][];
  /** Image files relative to the root, in listing order. */
  files: string[];
}

export function cacheDir(): string {
  const env = process.env;
  return env.ODC_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'odc');
}

/** The tree's image files (sorted walk, as `listImages`), and whether they came from the cache. */
export function listImagesCached(dir: string, extensions: ReadonlySet<string>): { files: string[]; cached: boolean } {
  const root = resolve(dir);
  const path = join(cacheDir(), `folder-index-${createHash('sha256').update(root).digest('hex').slice(0, 16)}.json`);
  const hit = readCache(path, root);
  if (hit !== undefined) return { files: hit, cached: true };
  const dirs: [string, number][] = [];
  const files = walkImages(root, extensions, (d) => dirs.push([relative(root, d), statSync(d).mtimeMs]));
  try {
    mkdirSync(cacheDir(), { recursive: true });
    const body: Cached = { version: VERSION, root, dirs, files: files.map((f) => relative(root, f)) };
    writeFileSync(`${path}.tmp`, JSON.stringify(body));
    renameSync(`${path}.tmp`, path);
  } catch {
    // A read-only home or cache folder: the list is simply not cached.
  }
  return { files, cached: false };
}

function readCache(path: string, root: string): string[] | undefined {
  let c: Cached;
  try {
    c = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  if (c.version !== VERSION || c.root !== root || !Array.isArray(c.dirs) || !Array.isArray(c.files)) return undefined;
  for (const [rel, mtime] of c.dirs) {
    try {
      if (statSync(join(root, rel)).mtimeMs !== mtime) return undefined;
    } catch {
      return undefined;
    }
  }
  return c.files.map((f) => join(root, f));
}
