// Prints the compiler/linker flags for libtorch, for binding.gyp (`node scripts/torch-config.cjs
// include|libs|ldflags|defines`); scripts/build-addon.cjs also requires it for its build stamp.
// Default: Debian's libtorch-dev (headers under /usr/include, libraries on the system path).
// LIBTORCH=<dir with include/ and lib/> selects another libtorch, e.g. a pip torch:
//   LIBTORCH=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))') npm ci
//
// c10d (native/distributed.cc: stores, process groups, collectives) is compiled with the process
// groups whose headers are there: Gloo's (with Debian's libtorch, from libgloo-dev; with another,
// from the gloo/ folder of its include/) and NCCL's (a CUDA libtorch, nccl.h and CUDA's runtime
// headers: under CUDA_HOME or /usr/local/cuda, or the nvidia/ wheels beside a pip torch).
// ODC_DISTRIBUTED=0 leaves c10d out; ODC_DISTRIBUTED=1 and ODC_NCCL=1 fail the build when what they
// need is missing; ODC_NCCL=0 leaves NCCL out.
const path = require('node:path');
const fs = require('node:fs');

const root = process.env.LIBTORCH || process.env.LIBTORCH_DIR;
const C10D = 'torch/csrc/distributed/c10d';

/** Whether Gloo's process group can be compiled against the headers under `inc`. */
function gloo(inc) {
  return fs.existsSync(path.join(inc, C10D, 'ProcessGroupGloo.hpp')) && fs.existsSync(path.join(inc, 'gloo', 'context.h'));
}

/**
 * Header folders that a CUDA libtorch's headers include from: NCCL_INCLUDE_DIR, CUDA_HOME or
 * CUDA_PATH, /usr/local/cuda, and beside a pip torch the nvidia/<lib>/include folders of its
 * CUDA wheels (one level deeper for wheels that group them, e.g. nvidia/cu13/include).
 */
function cudaIncludes(dir) {
  const found = [];
  for (const v of [process.env.NCCL_INCLUDE_DIR, process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda']) {
    if (v) found.push(v === process.env.NCCL_INCLUDE_DIR ? v : path.join(v, 'include'));
  }
  const wheels = path.join(dir, '..', 'nvidia');
  if (fs.existsSync(wheels)) {
    for (const lib of fs.readdirSync(wheels).sort()) {
      found.push(path.join(wheels, lib, 'include'));
      const sub = path.join(wheels, lib);
      if (fs.statSync(sub).isDirectory()) for (const s of fs.readdirSync(sub).sort()) found.push(path.join(sub, s, 'include'));
    }
  }
  return [...new Set(found)].filter((d) => fs.existsSync(d) && fs.statSync(d).isDirectory());
}

/** Whether NCCL's process group can be compiled against the libtorch in `dir` (a CUDA one). */
function nccl(dir) {
  const inc = path.join(dir, 'include');
  const where = [inc, ...cudaIncludes(dir), '/usr/include'];
  const has = (f) => where.some((d) => fs.existsSync(path.join(d, f)));
  const missing = [
    fs.existsSync(path.join(dir, 'lib', 'libtorch_cuda.so')) ? '' : 'lib/libtorch_cuda.so (a CUDA libtorch)',
    fs.existsSync(path.join(inc, C10D, 'ProcessGroupNCCL.hpp')) ? '' : `include/${C10D}/ProcessGroupNCCL.hpp`,
    has('nccl.h') ? '' : 'nccl.h (NCCL_INCLUDE_DIR)',
    has('cuda_runtime_api.h') ? '' : "cuda_runtime_api.h (CUDA's headers: CUDA_HOME)",
  ].filter(Boolean);
  const want = process.env.ODC_NCCL;
  if (want === '1' && missing.length > 0) {
    console.error(`ODC_NCCL=1: the NCCL process group needs ${missing.join(', ')}; not found for LIBTORCH=${dir}`);
    process.exit(1);
  }
  return missing.length === 0 && want !== '0' && process.env.ODC_DISTRIBUTED !== '0';
}

/** The c10d defines for a libtorch whose headers are under `inc` (`dir`: a LIBTORCH folder). */
function c10dDefines(inc, dir) {
  const want = process.env.ODC_DISTRIBUTED;
  const withGloo = gloo(inc);
  const withNccl = dir !== undefined && nccl(dir);
  if (want === '1' && !withGloo && !withNccl) {
    console.error(`ODC_DISTRIBUTED=1: no process group can be compiled: no ${C10D}/ProcessGroupGloo.hpp and gloo/context.h under ${inc}, and no NCCL`);
    process.exit(1);
  }
  if (want === '0' || (!withGloo && !withNccl)) return [];
  return ['ODC_DISTRIBUTED', ...(withGloo ? ['ODC_GLOO', 'USE_C10D_GLOO'] : []), ...(withNccl ? ['ODC_NCCL', 'USE_C10D_NCCL'] : [])];
}

function debian(what) {
  if (what === 'include') return '/usr/include /usr/include/torch/csrc/api/include';
  if (what === 'libs') return '-ltorch -ltorch_cpu -lc10';
  if (what === 'defines') return c10dDefines('/usr/include').join(' ');
  return '';
}

function custom(dir, what) {
  const inc = path.join(dir, 'include');
  const lib = path.join(dir, 'lib');
  if (!fs.existsSync(path.join(inc, 'ATen', 'ATen.h'))) {
    console.error(`LIBTORCH=${dir}: no include/ATen/ATen.h there; point it at the folder holding include/ and lib/`);
    process.exit(1);
  }
  const has = (name) => fs.existsSync(path.join(lib, `lib${name}.so`));
  if (what === 'include') return [inc, path.join(inc, 'torch/csrc/api/include'), ...(nccl(dir) ? cudaIncludes(dir) : [])].join(' ');
  if (what === 'libs') {
    // The CUDA backend is reached only through static registration: keep it linked despite --as-needed.
    const cuda = ['torch_cuda', 'c10_cuda'].filter(has).map((n) => `-l${n}`);
    const keep = cuda.length ? ['-Wl,--no-as-needed', ...cuda, '-Wl,--as-needed'] : [];
    return [`-L${lib}`, ...keep, '-ltorch', '-ltorch_cpu', '-lc10'].join(' ');
  }
  if (what === 'ldflags') return `-Wl,-rpath,${lib}`;
  if (what === 'defines') {
    let abi = process.env.TORCH_CXX11_ABI;
    if (abi === undefined) {
      try {
        const cfg = fs.readFileSync(path.join(dir, 'share/cmake/Torch/TorchConfig.cmake'), 'utf8');
        abi = cfg.match(/_GLIBCXX_USE_CXX11_ABI=([01])/)?.[1];
      } catch {}
    }
    return [abi === undefined ? '' : `_GLIBCXX_USE_CXX11_ABI=${abi}`, ...c10dDefines(inc, dir)].filter(Boolean).join(' ');
  }
  return '';
}

/** The flags of one kind: include, libs, ldflags or defines. */
function flags(what) {
  return root ? custom(root, what) : debian(what);
}

module.exports = { flags };
if (require.main === module) console.log(flags(process.argv[2]));
