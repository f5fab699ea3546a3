/** NumPy .npy files (format 1.0) for cluster labels and feature matrices, written atomically. */
import { writeFileAtomic } from './safetensors.ts';

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
