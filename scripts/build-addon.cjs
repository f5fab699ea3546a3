// Builds the native addon with node-gyp (run by `npm ci` / `npm install` through the "install" script).
// Passes --nodedir when Node's own headers are installed next to the running binary, so node-gyp
// never tries to download them.
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const args = ['rebuild', `--jobs=${process.env.JOBS || 'max'}`];
const prefix = path.resolve(process.execPath, '..', '..');
if (!process.env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include/node/node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  gyp = process.env.npm_config_node_gyp;
}
if (!gyp) {
  console.error('node-gyp not found: run `npm ci` so the pinned node-gyp is installed');
  process.exit(1);
}
const run = spawnSync(process.execPath, [gyp, ...args], { stdio: 'inherit' });
process.exit(run.status ?? 1);
