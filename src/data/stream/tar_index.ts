/**
 * Where each member of a tar file lies, from its headers alone: the shard is read 512 bytes per
 * member (plus long-name records), never its contents, so indexing a 1 GB shard of JPEGs reads
 * about 1 MB, and any image can then be read at its offset (random access for shuffled epochs).
 * Streaming parsers (tar-stream, used to write shards) must read every byte to find the next
 * header, which is why this scan is written here. Understands ustar (with its name prefix), POSIX
 * pax `path` records and GNU long names: what Python's tarfile, GNU tar and tar-stream write.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { DataError } from '../errors.ts';

export interface TarMember {
  name: string;
  /** Byte offset of the contents in the file. */
  offset: number;
  size: number;
}

const BLOCK = 512;

function field(b: Buffer, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const end = s.indexOf(0);
  return s.subarray(0, end < 0 ? len : end).toString('utf8');
}

function octal(b: Buffer, start: number, len: number, path: string, at: number): number {
  // Base-256 for sizes of 8 GiB and more (GNU), else NUL/space-terminated octal.
  if (b[start] & 0x80) {
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + b[i];
    return v;
  }
  const s = field(b, start, len).trim();
  const v = s === '' ? 0 : Number.parseInt(s, 8);
  if (!Number.isFinite(v)) throw new DataError(path, `corrupt tar header at byte ${at}: size field '${s}'`);
  return v;
}

/** The regular files of the tar at `path`, in file order. Throws a DataError naming the file and the byte where a header is corrupt. */
export function indexTar(path: string): TarMember[] {
  const out: TarMember[] = [];
  forEachTarMember(path, (name, offset, size) => out.push({ name, offset, size }));
  return out;
}

/** Calls `fn` with each regular file of the tar at `path`, in file order, holding none of them (for indexes of millions of members). */
export function forEachTarMember(path: string, fn: (name: string, offset: number, size: number) => void): void {
  const fd = openSync(path, 'r');
  try {
    const total = fstatSync(fd).size;
    const header = Buffer.alloc(BLOCK);
    let at = 0;
    let longName: string | undefined;
    while (at + BLOCK <= total) {
      readSync(fd, header, 0, BLOCK, at);
      if (header.every((v) => v === 0)) break; // end-of-archive marker
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
      const stored = octal(header, 148, 8, path, at);
      if (sum !== stored) throw new DataError(path, `corrupt tar header at byte ${at} (checksum ${stored}, computed ${sum}): not a tar file, or truncated`);
      const size = octal(header, 124, 12, path, at);
      const type = String.fromCharCode(header[156] || 48);
      const dataAt = at + BLOCK;
      if (dataAt + size > total) throw new DataError(path, `truncated: member at byte ${at} needs ${size} bytes, the file ends ${total - dataAt} bytes later`);
      const readText = () => {
        const b = Buffer.alloc(size);
        readSync(fd, b, 0, size, dataAt);
        return b.toString('utf8');
      };
      if (type === 'x') {
        // pax extended header: "<len> path=<name>\n" records apply to the next member
        for (const rec of readText().split('\n')) {
          const m = /^\d+ path=(.*)$/.exec(rec);
          if (m) longName = m[1];
        }
      } else if (type === 'L') {
        longName = readText().replace(/\0+$/, '');
      } else {
        if (type === '0' || type === '7') {
          const prefix = field(header, 345, 155);
          const name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
          fn(name, dataAt, size);
        }
        longName = undefined;
      }
      at = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    }
  } finally {
    closeSync(fd);
  }
}
