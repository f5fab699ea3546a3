/** NumPy .npy files for cluster labels and feature matrices: written (format 1.0, atomically) and read. */
import { readFileSync } from 'node:fs';
import { DataError } from '../data/errors.ts';
import { writeFileAtomic } from './safetensors.ts';

export type NpyArray = Int32Array | BigInt64Array | Float32Array | Float64Array | Uint8Array;

const DESCR = new Map<string, string>([
  ['Int32Array', '<i4'], ['Float32Array', '<f4'], ['Float64Array', '<f8'], ['BigInt64Array', '<i8'], ['Uint8Array', '|u1'],
]);

export function encodeNpy(data: Int32Array | Float32Array | Float64Array | BigInt64Array | Uint8Array, shape: number[] = [data.length]): Buffer {
  const descr = DESCR.get(data.constructor.name);
  if (descr === undefined) throw new TypeError(`cannot write ${data.constructor.name} as .npy`);
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += `${' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64)}\n`;
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

export function writeNpy(path: string, data: Int32Array | Float32Array | Float64Array | BigInt64Array | Uint8Array, shape?: number[]): void {
  writeFileAtomic(path, encodeNpy(data, shape));
}

const NPY_TYPES: Record<string, (b: ArrayBuffer, off: number, n: number) => NpyArray> = {
  '<i4': (b, o, n) => new Int32Array(b, o, n),
  '<i8': (b, o, n) => new BigInt64Array(b, o, n),
  '<f4': (b, o, n) => new Float32Array(b, o, n),
  '<f8': (b, o, n) => new Float64Array(b, o, n),
  '|u1': (b, o, n) => new Uint8Array(b, o, n),
};

/** Reads a .npy file (format 1.x/2.x, C order, little-endian) as written by `writeNpy` or NumPy. */
export function readNpy(path: string): { data: NpyArray; shape: number[] } {
  const buf = readFileSync(path);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new DataError(path, 'not a .npy file');
  const v1 = buf[6] === 1;
  const hlen = v1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (v1 ? 10 : 12) + hlen;
  const header = buf.toString('latin1', v1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new DataError(path, 'Fortran-order arrays are not supported');
  const make = descr === undefined ? undefined : NPY_TYPES[descr];
  if (descr === undefined || make === undefined) throw new DataError(path, `unsupported dtype ${descr}`);
  const n = shape.reduce((a, b) => a * b, 1);
  const copy = new Uint8Array(buf.subarray(start)); // aligned copy
  const bytesPer = descr.endsWith('8') ? 8 : descr.endsWith('4') ? 4 : 1;
  if (copy.byteLength < n * bytesPer) throw new DataError(path, `truncated: shape [${shape}] needs ${n * bytesPer} bytes, found ${copy.byteLength}`);
  return { data: make(copy.buffer, 0, n), shape };
}
