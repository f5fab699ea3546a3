/**
 * TensorBoard event files (`events.out.tfevents.*`): a writer for scalars and histograms and a
 * reader that checks every record's CRCs.
 *
 * Record format (tensorflow/core/lib/io/record_writer.cc): uint64 LE length | uint32 LE
 * masked_crc32c(length bytes) | payload | uint32 LE masked_crc32c(payload), where the payload is a
 * serialized `tensorboard.Event` and mask(c) = ((c >>> 15) | (c << 17)) + 0xa282ead8 (mod 2^32).
 * The first event of a file carries `file_version: "brain.Event:2"`.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import protobuf from 'protobufjs';

/** The subset of tensorboard/compat/proto/{event,summary,histogram}.proto we write and read (same field numbers). */
const PROTO = `
syntax = "proto3";
package tensorboard;
message HistogramProto {
  double min = 1;
  double max = 2;
  double num = 3;
  double sum = 4;
  double sum_squares = 5;
  repeated double bucket_limit = 6 [packed = true];
  repeated double bucket = 7 [packed = true];
}
message Summary {
  message Value {
    string tag = 1;
    oneof value {
      float simple_value = 2;
      HistogramProto histo = 5;
    }
  }
  repeated Value value = 1;
}
message Event {
  double wall_time = 1;
  int64 step = 2;
  oneof what {
    string file_version = 3;
    Summary summary = 5;
  }
}
`;
const EventType = protobuf.parse(PROTO).root.lookupType('tensorboard.Event');

export const FILE_VERSION = 'brain.Event:2';

/** `HistogramProto` as decoded (camelCase field names). */
export interface Histogram {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  /** Right edge of each bucket; the first bucket is empty and marks the left edge (torch.utils.tensorboard's layout). */
  bucketLimit: number[];
  bucket: number[];
}

export interface SummaryValue {
  tag: string;
  simpleValue?: number;
  histo?: Histogram;
}

export interface TfEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  summary?: { value: SummaryValue[] };
}

/** An event file that is not a valid record stream: names the file, the byte offset and what failed. */
export class TfEventsError extends Error {
  readonly code = 'ERR_TFEVENTS';
  constructor(readonly path: string, readonly offset: number, message: string) {
    super(`${path}: record at byte ${offset}: ${message}`);
    this.name = 'TfEventsError';
  }
}

/** TFRecord's masked CRC32C (Castagnoli) of `data`. */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c(data) >>> 0;
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

/** One framed record around `payload`. */
export function frameRecord(payload: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + payload.length + 4);
  out.writeBigUInt64LE(BigInt(payload.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(payload, 12);
  out.writeUInt32LE(maskedCrc32c(payload), 12 + payload.length);
  return out;
}

/**
 * Histogram of `values` as torch.utils.tensorboard's `make_histogram(values, bins)` builds it:
 * `numpy.histogram` with `bins` equal-width bins over [min, max] (a one-value range widens to
 * ±0.5), empty buckets trimmed at both ends, one empty bucket kept on the left to mark the left edge.
 */
export function histogramOf(values: ArrayLike<number>, bins = 30): Histogram {
  const n = values.length;
  if (n === 0) throw new Error('histogramOf: no values');
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    sumSquares += v * v;
  }
  // numpy: _get_outer_edges, linspace, and the uniform-bins fast path of histogram (with its off-by-one fix-ups).
  const first = min === max ? min - 0.5 : min;
  const last = min === max ? max + 0.5 : max;
  const step = (last - first) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? last : i * step + first));
  const norm = bins / (last - first);
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    let j = Math.trunc((v - first) * norm);
    if (j === bins) j--;
    if (v < edges[j]) j--;
    else if (v >= edges[j + 1] && j !== bins - 1) j++;
    counts[j]++;
  }
  let start = 0;
  while (counts[start] === 0) start++;
  let end = bins;
  while (counts[end - 1] === 0) end--;
  const bucket = start > 0 ? counts.slice(start - 1, end) : [0, ...counts.slice(0, end)];
  return { min, max, num: n, sum, sumSquares, bucketLimit: edges.slice(start, end + 1), bucket };
}

/**
 * Appends events to one TensorBoard event file. Records are buffered and written by `flush()` (one
 * `write` of whole records, so a killed process leaves a readable file); `close()` flushes.
 */
export class TfEventsWriter {
  readonly path: string;
  #fd: number | undefined;
  #pending: Buffer[] = [];

  /** Creates `file` (or appends to it) and writes the file-version event. */
  constructor(file: string, o: { wallTime?: number } = {}) {
    this.path = file;
    this.#fd = openSync(file, 'a');
    this.#add({ wallTime: o.wallTime ?? Date.now() / 1000, fileVersion: FILE_VERSION });
    this.flush();
  }

  /** A new file `events.out.tfevents.<unix seconds>.<hostname>` in `dir` (`.<pid>` added if that name is taken). */
  static inDir(dir: string): TfEventsWriter {
    const now = Date.now() / 1000;
    let file = join(dir, `events.out.tfevents.${Math.floor(now)}.${hostname()}`);
    if (existsSync(file)) file = `${file}.${process.pid}`;
    return new TfEventsWriter(file, { wallTime: now });
  }

  addScalar(tag: string, value: number, step: number, wallTime = Date.now() / 1000): void {
    this.#add({ wallTime, step, summary: { value: [{ tag, simpleValue: value }] } });
  }

  /** Histogram of `values` (see `histogramOf`). */
  addHistogram(tag: string, values: ArrayLike<number>, step: number, o: { bins?: number; wallTime?: number } = {}): void {
    this.#add({ wallTime: o.wallTime ?? Date.now() / 1000, step, summary: { value: [{ tag, histo: histogramOf(values, o.bins) }] } });
  }

  /** Writes the buffered records to the file. */
  flush(): void {
    if (this.#fd === undefined || this.#pending.length === 0) return;
    writeSync(this.#fd, Buffer.concat(this.#pending));
    this.#pending = [];
  }

  close(): void {
    if (this.#fd === undefined) return;
    this.flush();
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  #add(e: Partial<TfEvent>): void {
    if (this.#fd === undefined) throw new Error(`${this.path}: writer is closed`);
    this.#pending.push(frameRecord(EventType.encode(EventType.fromObject(e)).finish()));
  }
}

interface RawRecord {
  offset: number;
  end: number;
  payload: Buffer;
}

/** Splits a record stream, checking both CRCs; a record cut short at the end ends the scan (`truncated`). */
function scanRecords(path: string, buf: Buffer): { records: RawRecord[]; truncated: number | undefined } {
  const records: RawRecord[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < 12) return { records, truncated: at };
    const len = buf.readBigUInt64LE(at);
    if (buf.readUInt32LE(at + 8) !== maskedCrc32c(buf.subarray(at, at + 8))) {
      throw new TfEventsError(path, at, 'length CRC mismatch (corrupt file or not an event file)');
    }
    if (BigInt(buf.length - at - 16) < len) return { records, truncated: at };
    const end = at + 16 + Number(len);
    const payload = buf.subarray(at + 12, end - 4);
    if (buf.readUInt32LE(end - 4) !== maskedCrc32c(payload)) throw new TfEventsError(path, at, 'data CRC mismatch (corrupt record)');
    records.push({ offset: at, end, payload });
    at = end;
  }
  return { records, truncated: undefined };
}

function decodeEvent(path: string, r: RawRecord): TfEvent {
  try {
    return EventType.toObject(EventType.decode(r.payload), { longs: Number, defaults: true }) as TfEvent;
  } catch (err) {
    throw new TfEventsError(path, r.offset, `not an Event message (${(err as Error).message})`);
  }
}

/**
 * Reads every event of one event file, verifying both CRCs of every record (a mismatch throws a
 * TfEventsError). A record cut short at the end of the file (a writer still appending, or killed
 * mid-write) is ignored, as TensorBoard does, unless `strict`.
 */
export function readEvents(path: string, o: { strict?: boolean } = {}): TfEvent[] {
  const { records, truncated } = scanRecords(path, readFileSync(path));
  if (truncated !== undefined && o.strict) throw new TfEventsError(path, truncated, 'truncated record at the end of the file');
  return records.map((r) => decodeEvent(path, r));
}

/** The event files of a log directory, in name order (the order TensorBoard reads them). */
export function eventFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.includes('tfevents'))
    .sort()
    .map((f) => join(dir, f));
}

/** Every scalar of a log directory by tag, in file order: [{step, value, wallTime}]. */
export function readScalars(dir: string): Map<string, { step: number; value: number; wallTime: number }[]> {
  const out = new Map<string, { step: number; value: number; wallTime: number }[]>();
  for (const f of eventFiles(dir)) {
    for (const e of readEvents(f)) {
      for (const v of e.summary?.value ?? []) {
        if (v.simpleValue === undefined) continue;
        const s = out.get(v.tag) ?? [];
        s.push({ step: e.step, value: v.simpleValue, wallTime: e.wallTime });
        out.set(v.tag, s);
      }
    }
  }
  return out;
}

/**
 * Before resuming at `step`: cuts every event file in `dir` after its last intact record whose
 * events are at or before `step`, so steps the killed run logged past its checkpoint are not
 * shown twice (events are appended in step order). File-version events are kept. With `dropAtStep`,
 * the cut also starts at the first event at `step` itself whose tags all match it (e.g. the epoch
 * summary of a run stopped mid-epoch, which the resumed run writes again for the whole epoch).
 */
export function trimEventFiles(dir: string, step: number, o: { dropAtStep?: (tag: string) => boolean } = {}): void {
  const { dropAtStep } = o;
  for (const f of eventFiles(dir)) {
    const { records, truncated } = scanRecords(f, readFileSync(f));
    const cut = records.find((r) => {
      const e = decodeEvent(f, r);
      if (e.fileVersion !== undefined) return false;
      const tags = e.summary?.value.map((v) => v.tag) ?? [];
      return e.step > step || (dropAtStep !== undefined && e.step === step && tags.length > 0 && tags.every(dropAtStep));
    });
    const keep = cut?.offset ?? truncated;
    if (keep !== undefined) truncateSync(f, keep);
  }
}
