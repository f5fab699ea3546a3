/**
 * A run directory written by `odc train`, read back for reports and the cluster browser: config,
 * metrics, summary, cluster labels and `odc eval` results. Nothing here needs libtorch: labels and
 * memory features are read straight from the .npy / safetensors bytes. Errors name the path.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { DataError } from '../data/errors.ts';
import { type NpyArray, readNpy } from '../io/npy.ts';

/** One line of metrics.jsonl (`type`: init | iter | cluster | epoch; other keys as the trainer wrote them). */
export type MetricsRecord = { type: string } & Record<string, unknown>;

/** One table of `<run>/eval.json` (written by `odc eval`). */
export interface EvalTable {
  title: string;
  columns: string[];
  rows: (string | number)[][];
}

export interface EvalResults {
  checkpoint?: string;
  dataset?: string;
  created?: string;
  tables: EvalTable[];
}

export interface RunDir {
  /** Absolute path. */
  dir: string;
  /** Display name: the folder name. */
  name: string;
  /** config.json as written (the resolved TrainConfig plus the effective lr). */
  config: Record<string, unknown>;
  method: 'odc' | 'deepcluster' | 'rotation' | 'npid';
  clusters: number;
  records: MetricsRecord[];
  /** summary.json: present once training finished (or stopped by --max-iterations). */
  summary?: Record<string, unknown>;
  finished: boolean;
  /** Cluster label per image (store order): labels.npy, else the checkpoint's memory while training runs. */
  labels?: Int32Array;
  labelsSource?: string;
  evalResults?: EvalResults;
}

const REQUIRED = ['config.json', 'metrics.jsonl'];

/** Loads and validates a run directory; throws a DataError naming the path when it is missing or incomplete. */
export function loadRunDir(path: string): RunDir {
  const dir = resolve(path);
  if (!existsSync(dir)) throw new DataError(path, 'no such run directory');
  if (!statSync(dir).isDirectory()) throw new DataError(path, 'not a directory (expected a run directory written by odc train)');
  const missing = REQUIRED.filter((f) => !existsSync(join(dir, f)));
  if (missing.length) throw new DataError(path, `not an odc run directory: ${missing.join(' and ')} missing (odc train writes them)`);
  const config = readJson(join(dir, 'config.json'));
  const method = (['deepcluster', 'rotation', 'npid'] as const).find((m) => m === config.method) ?? 'odc';
  const clusters = Number(config.clusters);
  if (!Number.isInteger(clusters) || clusters < 1) throw new DataError(join(dir, 'config.json'), `'clusters' is ${config.clusters}, expected a positive integer`);
  const summaryPath = join(dir, 'summary.json');
  const summary = existsSync(summaryPath) ? readJson(summaryPath) : undefined;
  const run: RunDir = {
    dir, name: basename(dir), config, method, clusters, records: readMetrics(join(dir, 'metrics.jsonl')), summary,
    finished: summary?.finished === true,
  };
  const found = readLabels(dir);
  if (found !== undefined) {
    for (const l of found.labels) {
      if (l < 0 || l >= clusters) throw new DataError(join(dir, found.source), `cluster label ${l} outside 0..${clusters - 1}`);
    }
    run.labels = found.labels;
    run.labelsSource = found.source;
  }
  const evalPath = join(dir, 'eval.json');
  if (existsSync(evalPath)) run.evalResults = parseEval(evalPath, readJson(evalPath));
  return run;
}

function readJson(path: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new DataError(path, `cannot read as JSON (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DataError(path, 'expected a JSON object');
  return v as Record<string, unknown>;
}

/** metrics.jsonl; a torn last line (a run killed mid-write) is skipped, any other bad line is an error. */
export function readMetrics(path: string): MetricsRecord[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: MetricsRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      const r = JSON.parse(line);
      if (r !== null && typeof r === 'object' && typeof r.type === 'string') out.push(r);
    } catch {
      if (i < lines.length - 2) throw new DataError(path, `line ${i + 1} is not valid JSON`);
    }
  });
  return out;
}

function parseEval(path: string, v: Record<string, unknown>): EvalResults {
  const tables = Array.isArray(v.tables) ? v.tables : [];
  const ok = tables.every((t) => t && typeof t === 'object' && Array.isArray(t.columns) && Array.isArray(t.rows));
  if (!ok) throw new DataError(path, "expected 'tables' to be a list of {title, columns, rows}");
  return {
    checkpoint: typeof v.checkpoint === 'string' ? v.checkpoint : undefined,
    dataset: typeof v.dataset === 'string' ? v.dataset : undefined,
    created: typeof v.created === 'string' ? v.created : undefined,
    tables: tables.map((t) => ({ title: String(t.title ?? ''), columns: t.columns.map(String), rows: t.rows })),
  };
}

function readLabels(dir: string): { labels: Int32Array; source: string } | undefined {
  const npy = join(dir, 'labels.npy');
  if (existsSync(npy)) return { labels: toInt32(readNpy(npy).data, npy), source: 'labels.npy' };
  const ck = join(dir, 'latest.safetensors');
  if (!existsSync(ck)) return undefined;
  const names = ['memory.labels', 'dc.labels'];
  const found = readSafetensors(ck, names).tensors;
  const name = names.find((n) => found.has(n));
  return name === undefined ? undefined : { labels: toInt32((found.get(name) as StArray).data, ck), source: `latest.safetensors (${name}, training in progress)` };
}

type NumArray = NpyArray;

function toInt32(a: NumArray, path: string): Int32Array {
  if (a instanceof Int32Array) return a;
  if (a instanceof Float32Array || a instanceof Float64Array) throw new DataError(path, 'cluster labels are floating point, expected integers');
  return Int32Array.from(a as ArrayLike<number | bigint>, Number);
}

export interface StArray {
  dtype: string;
  shape: number[];
  data: NumArray;
}

const ST_TYPES: Record<string, (b: ArrayBuffer) => NumArray> = {
  I32: (b) => new Int32Array(b), I64: (b) => new BigInt64Array(b), F32: (b) => new Float32Array(b), F64: (b) => new Float64Array(b), U8: (b) => new Uint8Array(b),
};

/**
 * Reads only the named tensors of a safetensors file as typed arrays (header, then each tensor's
 * byte range), and its metadata: no libtorch, and a 70 MB checkpoint costs only the bytes asked for.
 */
export function readSafetensors(path: string, names: readonly string[]): { tensors: Map<string, StArray>; metadata: Record<string, string> } {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(8);
    readSync(fd, head, 0, 8, 0);
    const n = Number(head.readBigUInt64LE(0));
    const size = statSync(path).size;
    if (8 + n > size) throw new DataError(path, `safetensors header length ${n} exceeds the file size ${size}`);
    const json = Buffer.alloc(n);
    readSync(fd, json, 0, n, 8);
    let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> & { __metadata__?: Record<string, string> };
    try {
      header = JSON.parse(json.toString('utf8'));
    } catch {
      throw new DataError(path, 'safetensors header is not valid JSON');
    }
    const out = new Map<string, StArray>();
    for (const name of names) {
      const info = name === '__metadata__' ? undefined : header[name];
      if (info === undefined) continue;
      const make = ST_TYPES[info.dtype];
      if (make === undefined) throw new DataError(path, `tensor '${name}' has unsupported dtype ${info.dtype}`);
      const [begin, end] = info.data_offsets;
      const bytes = new Uint8Array(end - begin);
      let got = 0;
      while (got < bytes.length) {
        const r = readSync(fd, bytes, got, bytes.length - got, 8 + n + begin + got);
        if (r === 0) throw new DataError(path, `tensor '${name}' is truncated`);
        got += r;
      }
      out.set(name, { dtype: info.dtype, shape: info.shape, data: make(bytes.buffer) });
    }
    return { tensors: out, metadata: header.__metadata__ ?? {} };
  } finally {
    closeSync(fd);
  }
}

/** The records of one type, in file order. */
export function recordsOf(run: RunDir, type: string): MetricsRecord[] {
  return run.records.filter((r) => r.type === type);
}

/** Gives runs with the same folder name distinct display names (`default`, `default (2)`). */
export function uniqueNames(runs: RunDir[]): void {
  const seen = new Map<string, number>();
  for (const r of runs) {
    const n = (seen.get(r.name) ?? 0) + 1;
    seen.set(r.name, n);
    if (n > 1) r.name = `${r.name} (${n})`;
  }
}
