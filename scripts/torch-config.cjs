// Prints the compiler/linker flags for libtorch, for binding.gyp.
// Default: Debian's libtorch-dev (headers under /usr/include, libraries on the system path).
// LIBTORCH=<dir with include/ and lib/> selects another libtorch, e.g. a pip torch:
//   LIBTORCH=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))') npm ci
const path = require('node:path');
const fs = require('node:fs');

const root = process.env.LIBTORCH || process.env.LIBTORCH_DIR;
const what = process.argv[2];

function debian() {
  if (what === 'include') return '/usr/include /usr/include/torch/csrc/api/include';
  if (what === 'libs') return '-ltorch -ltorch_cpu -lc10';
  return '';
}

function custom(dir) {
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
    return abi === undefined ? '' : `_GLIBCXX_USE_CXX11_ABI=${abi}`;
  }
  return '';
}

console.log(root ? custom(root) : debian());
