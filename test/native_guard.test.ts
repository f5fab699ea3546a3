/**
 * The native boundary never aborts the process: every exported function, called with wrong types,
 * wrong arity, disposed and foreign handles, returns or throws a JS Error. And every ATen operator
 * the TypeScript side names resolves against this libtorch's schemas, so a typo fails here, not in
 * the first run that reaches the op.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NATIVE_KEYS, native, type ProcessGroupHandle } from '../src/native/binding.ts';
import { opId } from '../src/tensor/aten.ts';
import { TorchError } from '../src/tensor/errors.ts';

const SRC = fileURLToPath(new URL('../src', import.meta.url));
/** The argument lists of the resolving functions' own definitions and forwarding calls. */
const DEFINITIONS = new Set(["name: string, overload = ''", 'name, overload', 'opId(name, overload', 'id: number']);

/** A small deterministic generator (mulberry32), so a failing call can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** ODC_FUZZ_TRACE=FILE: each call is written there before it runs, so the last line names a crashing call. */
const TRACE = process.env.ODC_FUZZ_TRACE ? openSync(process.env.ODC_FUZZ_TRACE, 'w') : undefined;
const FLOAT32 = 6; // c10::ScalarType::Float
const liveTensor = () => native.fromBuffer(new Float32Array([1, 2, 3, 4]), FLOAT32, [2, 2]);
const disposedTensor = () => {
  const h = native.fromBuffer(new Float32Array([1]), FLOAT32, [1]);
  native.free(h);
  return h;
};

/**
 * c10d handles, so the collectives meet live ones too: a store, and a process group of one (its
 * collectives return at once), made again when a call destroyed it. Junk never reaches a store
 * that waits: stores take an options object whose every field is checked first.
 */
const DIST_DIR = mkdtempSync(join(tmpdir(), 'odc-guard-'));
let stores = 0;
let group: ProcessGroupHandle | undefined;
const liveStore = () => native.fileStore({ path: join(DIST_DIR, `store${stores++}`), worldSize: 1, timeoutMs: 5000 });
function liveGroup(): ProcessGroupHandle {
  try {
    if (group !== undefined) native.barrier(group);
  } catch {
    group = undefined; // destroyed by an earlier call
  }
  group ??= native.processGroupGloo(liveStore(), { rank: 0, worldSize: 1, timeoutMs: 5000, hostname: '127.0.0.1' });
  return group;
}
const DIST: [string, () => unknown][] = native.distributedAvailable() ? [['store', liveStore], ['process group', liveGroup]] : [];

/** Argument values of every kind a caller could pass by mistake; each made fresh per call. */
const POOL: [string, () => unknown][] = [
  ['undefined', () => undefined],
  ['null', () => null],
  ['object', () => ({})],
  ['string', () => 'cpu'],
  ['bad string', () => 'no-such-device:7'],
  ['fraction', () => 1.5],
  ['negative', () => -1],
  ['huge', () => 2 ** 40],
  ['NaN', () => Number.NaN],
  ['zero', () => 0],
  ['two', () => 2],
  ['bigint', () => 10n],
  ['boolean', () => true],
  ['symbol', () => Symbol('x')],
  ['function', () => () => 1],
  ['empty array', () => []],
  ['array of objects', () => [{}, 'x']],
  ['shape', () => [2, 2]],
  ['typed array', () => new Float32Array(4)],
  ['live tensor', liveTensor],
  ['disposed tensor', disposedTensor],
  ['generator (a foreign handle where a tensor is expected)', () => native.newGenerator(1)],
  ['tensor list', () => [liveTensor(), disposedTensor()]],
  ...DIST,
];

/** Calls fn(...args); anything other than a return or a thrown Error fails the test. */
function probe(name: string, call: () => unknown, where: string): 'ok' | 'threw' {
  if (TRACE !== undefined) writeSync(TRACE, `${name}(${where})\n`);
  try {
    call();
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof Error, `${name}(${where}) threw a non-Error: ${String(e)}`);
    assert.ok(e.message.length > 0, `${name}(${where}) threw an Error without a message`);
    return 'threw';
  }
}

describe('native boundary', () => {
  after(() => rmSync(DIST_DIR, { recursive: true, force: true }));
  it('every exported function survives wrong types, wrong arity, disposed and foreign handles', (t) => {
    const exported = Object.keys(native).sort();
    assert.deepEqual(exported, [...NATIVE_KEYS].sort(), 'the addon exports exactly the typed surface');
    const gradMode = native.isGradEnabled();
    const threads = native.getNumThreads();
    const next = rng(42);
    const pick = () => POOL[Math.floor(next() * POOL.length)];
    let calls = 0;
    let threw = 0;
    try {
      for (const name of NATIVE_KEYS) {
        const fn = native[name] as (...a: unknown[]) => unknown;
        const argLists: [string, () => unknown][][] = [[]];
        for (const a of POOL) argLists.push([a]);
        for (const a of POOL) for (const b of POOL) argLists.push([a, b]);
        for (let i = 0; i < 400; i++) argLists.push(Array.from({ length: 3 + (i % 2) }, pick));
        for (const list of argLists) {
          const args = list.map(([, make]) => make());
          if (probe(name, () => fn(...args), list.map(([what]) => what).join(', ')) === 'threw') threw++;
          calls++;
        }
      }
      // Operator calls: valid ids with arguments of every kind, and ids that are not ids.
      const ops = [opId('add', 'Tensor'), opId('mm'), opId('index', 'Tensor'), opId('cat'), opId('sum', 'dim_IntList'), opId('to', 'dtype'), opId('max', 'dim'), opId('empty', 'memory_format')];
      for (const id of [...ops, -1, 1e9, 0.5]) {
        for (let i = 0; i < 300; i++) {
          const list = Array.from({ length: i % 6 }, pick);
          const args = list.map(([, make]) => make());
          for (const call of [native.callOp, native.callOpInPlace]) {
            if (probe('callOp', () => call(id, args), `${id}, [${list.map(([w]) => w)}]`) === 'threw') threw++;
            calls++;
          }
        }
      }
    } finally {
      native.setErrorClass(TorchError);
      native.setGradEnabled(gradMode);
      native.setNumThreads(threads);
    }
    t.diagnostic(`${NATIVE_KEYS.length} entry points, ${calls} calls, ${threw} threw a JS Error, none aborted`);
    assert.ok(threw > calls / 2, `most of these calls are mistakes and must throw (${threw}/${calls})`);
  });

  it('errors name the op and the input shapes, and keep the TorchError class', () => {
    const a = liveTensor();
    const b = native.fromBuffer(new Float32Array(6), FLOAT32, [3, 2]);
    assert.throws(
      () => native.callOp(opId('mm'), [a, b]),
      (e: unknown) => e instanceof TorchError && /aten::mm/.test(e.message) && /\[2,2\] float32 cpu/.test(e.message) && /\[3,2\] float32 cpu/.test(e.message),
    );
    assert.throws(() => native.isLeaf({} as never), (e: unknown) => e instanceof TorchError && /isLeaf|is_leaf/.test(e.message));
    assert.throws(() => native.callOp(opId('to', 'dtype'), [a, 999]), /dtype code/);
    assert.throws(() => native.fromBuffer(new Float32Array(1), -3, [1]), /unknown dtype code -3/);
  });

  it('every ATen operator named in src/ resolves against this libtorch', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (e.name.endsWith('.ts')) files.push(join(dir, e.name));
      }
    };
    walk(SRC);
    const named = new Set<string>();
    let calls = 0;
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/\b(aten|atenInPlace|opId|opSchema)\(([^)]*)\)/g)) {
        calls++;
        const lit = /^'([a-z_0-9]+)'(?:,\s*'([A-Za-z_0-9]*)')?$/.exec(m[2].trim());
        if (lit) named.add(`${lit[1]}.${lit[2] ?? ''}`);
        else assert.ok(DEFINITIONS.has(m[2].trim()), `${f}: ${m[0]} names its operator at run time; name it literally so this test can check it`);
      }
    }
    assert.ok(named.size > 100, `found ${named.size} operators in ${calls} calls`);
    const missing: string[] = [];
    for (const key of named) {
      const [name, overload] = key.split('.');
      try {
        opId(name, overload);
      } catch (e) {
        missing.push(`aten::${key}: ${(e as Error).message}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});
