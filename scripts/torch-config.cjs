// Prints the compiler/linker flags for libtorch, for binding.gyp (`node scripts/torch-config.cjs
// include|libs|ldflags|defines`); scripts/build-addon.cjs also requires it for its build stamp.
// Default: Debian's libtorch-dev (headers under /usr/include, libraries on the system path).
// LIBTORCH=<dir with include/ and lib/> selects another libtorch, e.g. a pip torch:
//   LIBTORCH=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))') npm ci
//
// c10d (native/distributed.cc: stores, the Gloo process group, collectives) is compiled when
// Gloo's headers match the libtorch: with Debian's, when libgloo-dev is installed (ODC_DISTRIBUTED=0
// leaves it out); with another libtorch only on request (ODC_DISTRIBUTED=1), from the gloo/ headers
// in its include/, since that path has not been built against a 2.x libtorch here.
const path = require('node:path');
const fs = require('node:fs');

const root = process.env.LIBTORCH || process.env.LIBTORCH_DIR;
const C10D_DEFINES = 'ODC_DISTRIBUTED USE_C10D_GLOO';
const GLOO_PG = 'torch/csrc/distributed/c10d/ProcessGroupGloo.hpp';

/** Whether c10d is compiled, against the headers under `inc`. */
function distributed(inc) {
  const want = process.env.ODC_DISTRIBUTED;
  const found = fs.existsSync(path.join(inc, GLOO_PG)) && fs.existsSync(path.join(inc, 'gloo', 'context.h'));
  if (want === '1' && !found) {
    console.error(`ODC_DISTRIBUTED=1: no ${GLOO_PG} and gloo/context.h under ${inc}`);
    process.exit(1);
  }
  return found && want !== '0' && (root === undefined || want === '1');
}

function debian(what) {
  if (what === 'include') return '/usr/include /usr/include/torch/csrc/api/include';
  if (what === 'libs') return '-ltorch -ltorch_cpu -lc10';
  if (what === 'defines') return distributed('/usr/include') ? C10D_DEFINES : '';
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
  if (what === 'include') return [inc, path.join(inc, 'torch/csrc/api/include')].join(' ');
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
    return [abi === undefined ? '' : `_GLIBCXX_USE_CXX11_ABI=${abi}`, distributed(inc) ? C10D_DEFINES : ''].filter(Boolean).join(' ');
  }
  return '';
}

/** The flags of one kind: include, libs, ldflags or defines. */
function flags(what) {
  return root ? custom(root, what) : debian(what);
}

module.exports = { flags };
if (require.main === module) console.log(flags(process.argv[2]));
