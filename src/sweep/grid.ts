/**
 * The grid of `odc sweep`: `--set key=v1,v2,...` for any config key (dotted for nested ones, e.g.
 * memory.centroidInterval), the cartesian product of all of them and of the seeds, each point a
 * partial config with a stable directory name.
 */
import { ConfigError } from '../tensor/errors.ts';

export interface SweepAxis {
  /** Dotted config key. */
  key: string;
  values: unknown[];
}

export interface SweepPoint {
  /** key → value for every axis, and the seed. */
  settings: Record<string, unknown>;
  /** Directory name: `centroidInterval=10_minCluster=20_seed=0`. */
  name: string;
}

/** A value as written on the command line: a number, true/false, null, a JSON array, else the string. */
function parseValue(raw: string): unknown {
  const s = raw.trim();
  if (s === '') throw new ConfigError('--set: empty value');
  if (/^(true|false|null)$/.test(s) || /^-?\d/.test(s) || s.startsWith('[')) {
    try {
      return JSON.parse(s);
    } catch {}
  }
  return s;
}

/** `key=v1,v2` → an axis (array values in brackets may contain commas: `augment.scale=[0.2,1],[0.5,1]`). */
export function parseSet(spec: string): SweepAxis {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--set ${spec}: expected key=value[,value...]`);
  const key = spec.slice(0, eq).trim();
  if (!/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/.test(key)) throw new ConfigError(`--set ${spec}: '${key}' is not a config key (e.g. memory.centroidInterval)`);
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of spec.slice(eq + 1)) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  const values = parts.map(parseValue);
  if (new Set(values.map((v) => JSON.stringify(v))).size !== values.length) throw new ConfigError(`--set ${spec}: a value is repeated`);
  return { key, values };
}

/** The short name of a key in directory names and chart legends: its last part. */
export const shortKey = (key: string) => key.slice(key.lastIndexOf('.') + 1);

const valueName = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v)).replace(/[^A-Za-z0-9.+-]+/g, '-');

/** Every combination of the axes' values and the seeds, in order (the first axis slowest). */
export function gridPoints(axes: SweepAxis[], seeds: number[]): SweepPoint[] {
  const keys = axes.map((a) => a.key);
  if (new Set(keys).size !== keys.length) throw new ConfigError(`--set: a key is set twice (${keys.join(', ')})`);
  if (keys.includes('seed')) throw new ConfigError('--set seed=...: use --seeds');
  let combos: Record<string, unknown>[] = [{}];
  for (const a of axes) combos = combos.flatMap((c) => a.values.map((v) => ({ ...c, [a.key]: v })));
  return combos.flatMap((c) =>
    seeds.map((seed) => {
      const settings = { ...c, seed };
      const name = Object.entries(settings).map(([k, v]) => `${shortKey(k)}=${valueName(v)}`).join('_');
      return { settings, name };
    }),
  );
}
