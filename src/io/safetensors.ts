/**
 * safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian header
 * length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__}, then raw little-endian
 * data. Readable by Python's `safetensors` and by PyTorch users. Writes are atomic (temp file,
 * fsync, rename), so a crash never leaves a half-written checkpoint in place.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { native } from '../native/binding.ts';
import type { DType } from '../tensor/dtype.ts';
import { dtypeCode, elementSize } from '../tensor/dtype.ts';
import { Tensor } from '../tensor/tensor.ts';

const TO_ST: Record<DType, string> = {
  float64: 'F64', float32: 'F32', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};
const FROM_ST = new Map<string, DType>(Object.entries(TO_ST).map(([k, v]) => [v, k as DType]));

export class SafetensorsError extends Error {
  readonly code = 'ERR_SAFETENSORS';
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/** Encodes tensors (and string metadata) into one safetensors buffer. */
export function encodeSafetensors(tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): Buffer {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const bytes = new Uint8Array(native.toBuffer(t.handle));
    header[name] = { dtype: TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    blobs.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // data starts 8-byte aligned
  const head = Buffer.from(json, 'utf8');
  const out = Buffer.allocUnsafe(8 + head.byteLength + offset);
  out.writeBigUInt64LE(BigInt(head.byteLength), 0);
  head.copy(out, 8);
  let pos = 8 + head.byteLength;
  for (const b of blobs) {
    out.set(b, pos);
    pos += b.byteLength;
  }
  return out;
}

/** Writes a safetensors file atomically. */
export function saveSafetensors(path: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Writes bytes to `path` through a temporary file, fsync and rename. */
export function writeFileAtomic(path: string, data: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    let written = 0;
    while (written < data.byteLength) written += writeSync(fd, data, written, data.byteLength - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export interface SafetensorsContents {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** Decodes a safetensors buffer; every tensor is a fresh CPU tensor owned by the caller. */
export function decodeSafetensors(buf: Uint8Array, path = '<buffer>'): SafetensorsContents {
  if (buf.byteLength < 8) throw new SafetensorsError(path, 'file too short for a safetensors header');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > buf.byteLength) throw new SafetensorsError(path, `header length ${n} exceeds the file size ${buf.byteLength}`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, n).toString('utf8'));
  } catch (e) {
    throw new SafetensorsError(path, `header is not valid JSON (${(e as Error).message})`);
  }
  const base = 8 + n;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  try {
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = info as Record<string, string>;
        continue;
      }
      const { dtype, shape, data_offsets } = info as { dtype: string; shape: number[]; data_offsets: [number, number] };
      const dt = FROM_ST.get(dtype);
      if (dt === undefined) throw new SafetensorsError(path, `tensor '${name}' has unsupported dtype ${dtype}`);
      const [begin, end] = data_offsets;
      const numel = shape.reduce((a, b) => a * b, 1);
      if (end - begin !== numel * elementSize(dt) || base + end > buf.byteLength) {
        throw new SafetensorsError(path, `tensor '${name}' [${shape}] ${dtype}: data offsets ${begin}..${end} do not fit`);
      }
      const bytes = new Uint8Array(buf.buffer, buf.byteOffset + base + begin, end - begin);
      tensors.set(name, new Tensor(native.fromBuffer(bytes, dtypeCode(dt), shape)));
    }
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
  return { tensors, metadata };
}

/** Reads a safetensors file; errors name the file. */
export function loadSafetensors(path: string): SafetensorsContents {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new SafetensorsError(path, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decodeSafetensors(buf, path);
}
