/**
 * scripts/torch-config.cjs, which tells node-gyp how to compile the addon against a libtorch
 * (LIBTORCH=): which c10d process groups go in, and from which header folders. Checked on fake
 * libtorch trees laid out like a pip torch (site-packages/torch beside site-packages/nvidia/<lib>/),
 * so that the CUDA cases run on every machine.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../scripts/torch-config.cjs', import.meta.url));
const C10D = 'include/torch/csrc/distributed/c10d';

/** A site-packages folder with a torch/ holding `files` (empty files) and the nvidia/ wheels' headers in `wheels`. */
function fakeTorch(files: string[], wheels: string[] = []): string {
  const site = mkdtempSync(join(tmpdir(), 'odc-torchcfg-'));
  for (const f of [...files.map((f) => join('torch', f)), ...wheels.map((f) => join('nvidia', f))]) {
    mkdirSync(dirname(join(site, f)), { recursive: true });
    writeFileSync(join(site, f), '');
  }
  return site;
}

function config(what: string, libtorch: string, env: Record<string, string> = {}): { out: string; err: string; status: number | null } {
  const r = spawnSync(process.execPath, [SCRIPT, what], {
    encoding: 'utf8',
    // CUDA_HOME and friends would point the search at this machine's CUDA, if it has one.
    env: { PATH: process.env.PATH, LIBTORCH: libtorch, ...env },
  });
  return { out: r.stdout.trim(), err: r.stderr.trim(), status: r.status };
}

const CPU = ['include/ATen/ATen.h', 'lib/libtorch.so', 'lib/libtorch_cpu.so', 'lib/libc10.so', `${C10D}/TCPStore.hpp`];
const GLOO = [`${C10D}/ProcessGroupGloo.hpp`, 'include/gloo/context.h'];
const CUDA = ['lib/libtorch_cuda.so', 'lib/libc10_cuda.so', `${C10D}/ProcessGroupNCCL.hpp`];
const WHEELS = ['nccl/include/nccl.h', 'cuda_runtime/include/cuda_runtime_api.h', 'cu13/cublas/include/cublas_v2.h'];

describe('torch-config (LIBTORCH=)', () => {
  const made: string[] = [];
  const site = (files: string[], wheels?: string[]) => {
    const s = fakeTorch(files, wheels);
    made.push(s);
    return s;
  };
  after(() => {
    for (const s of made) rmSync(s, { recursive: true, force: true });
  });

  it('a CPU libtorch with Gloo: c10d and the Gloo group, no NCCL', () => {
    const s = site([...CPU, ...GLOO]);
    assert.deepEqual(config('defines', join(s, 'torch')).out.split(' ').filter((d) => !d.startsWith('_GLIBCXX')), ['ODC_DISTRIBUTED', 'ODC_GLOO', 'USE_C10D_GLOO']);
    assert.equal(config('defines', join(s, 'torch'), { ODC_DISTRIBUTED: '0' }).out, '');
  });

  it('a CPU libtorch without process groups: no c10d; ODC_DISTRIBUTED=1 fails the build naming what is missing', () => {
    const s = site(CPU);
    assert.equal(config('defines', join(s, 'torch')).out, '');
    const forced = config('defines', join(s, 'torch'), { ODC_DISTRIBUTED: '1' });
    assert.equal(forced.status, 1);
    assert.match(forced.err, /ODC_DISTRIBUTED=1: no process group can be compiled: no torch\/csrc\/distributed\/c10d\/ProcessGroupGloo\.hpp/);
  });

  it('a CUDA libtorch with the nvidia wheels beside it: NCCL too, their header folders on the include path', () => {
    const s = site([...CPU, ...GLOO, ...CUDA], WHEELS);
    const torch = join(s, 'torch');
    assert.deepEqual(config('defines', torch).out.split(' '), ['ODC_DISTRIBUTED', 'ODC_GLOO', 'USE_C10D_GLOO', 'ODC_NCCL', 'USE_C10D_NCCL']);
    const include = config('include', torch).out.split(' ');
    for (const d of ['nvidia/nccl/include', 'nvidia/cuda_runtime/include', 'nvidia/cu13/cublas/include']) {
      assert.ok(include.includes(join(s, d)), `${d} not in ${include.join(' ')}`);
    }
    assert.equal(include[0], join(torch, 'include'));
    assert.match(config('libs', torch).out, /-Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed/);
    assert.deepEqual(config('defines', torch, { ODC_NCCL: '0' }).out.split(' '), ['ODC_DISTRIBUTED', 'ODC_GLOO', 'USE_C10D_GLOO']);
  });

  it('NCCL without Gloo (a torch that ships no gloo/ headers): c10d with the NCCL group only', () => {
    const s = site([...CPU, ...CUDA], WHEELS);
    assert.deepEqual(config('defines', join(s, 'torch')).out.split(' '), ['ODC_DISTRIBUTED', 'ODC_NCCL', 'USE_C10D_NCCL']);
  });

  it('ODC_NCCL=1 on a CPU libtorch fails the build, naming what is missing', () => {
    const s = site([...CPU, ...GLOO]);
    const r = config('defines', join(s, 'torch'), { ODC_NCCL: '1' });
    assert.equal(r.status, 1);
    assert.match(r.err, /ODC_NCCL=1: the NCCL process group needs lib\/libtorch_cuda\.so \(a CUDA libtorch\), include\/torch\/csrc\/distributed\/c10d\/ProcessGroupNCCL\.hpp/);
  });
});
