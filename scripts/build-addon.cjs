// Builds the native addon with node-gyp: the package's "install" script (`npm ci`, `npm install`,
// `npx odc` in a checkout) and scripts/setup.sh run it.
//
// - Does nothing when build/Release/odc_torch.node (and odc_image.node) were built from the same sources (a stamp of the
//   native sources, the build scripts, node-addon-api, LIBTORCH and Node's version sits beside it),
//   so installing or linking the package never recompiles for nothing. ODC_REBUILD=1 forces a build.
// - Builds in a scratch folder and moves the result into place with one rename, so an interrupted
//   build leaves the previous addon working and a running process keeps the file it loaded.
// - Passes --nodedir when Node's own headers are installed next to the running binary, so node-gyp
//   never tries to download them.
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const target = path.join(root, 'build', 'Release', 'odc_torch.node');
const stampPath = `${target}.stamp`;
/** The addons binding.gyp builds: the engine, and the streamed batches' per-image native work (JPEG crop, augmentation). */
const ADDONS = ['odc_torch.node', 'odc_image.node'];
const INPUTS = ['binding.gyp', 'scripts/torch-config.cjs', 'scripts/build-addon.cjs'];

/** A digest of everything the compiled addon depends on. */
function sourceStamp() {
  const h = crypto.createHash('sha256');
  const files = [...INPUTS, ...fs.readdirSync(path.join(root, 'native')).sort().map((f) => `native/${f}`)];
  for (const f of files) h.update(f).update(fs.readFileSync(path.join(root, f)));
  let addonApi = 'none';
  try {
    addonApi = require(require.resolve('node-addon-api/package.json', { paths: [root] })).version;
  } catch {}
  h.update(`node-addon-api ${addonApi}\nLIBTORCH ${process.env.LIBTORCH || 'debian'}\nnode ${process.version}\n`);
  // The defines say whether c10d is compiled (Gloo's headers installed or not, ODC_DISTRIBUTED).
  h.update(`defines ${require('./torch-config.cjs').flags('defines')}\n`);
  return h.digest('hex');
}

/** Whether the addon on disk was built from the current sources. */
function upToDate(stamp) {
  try {
    return ADDONS.every((a) => fs.existsSync(path.join(path.dirname(target), a))) && fs.readFileSync(stampPath, 'utf8').trim() === stamp;
  } catch {
    return false;
  }
}

/** Scratch folders of builds whose process no longer runs. */
function removeAbandonedScratch() {
  for (const name of fs.readdirSync(root)) {
    const pid = Number(/^\.addon-build-(\d+)-/.exec(name)?.[1]);
    if (!pid) continue;
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = e.code === 'EPERM';
    }
    if (!alive) fs.rmSync(path.join(root, name), { recursive: true, force: true });
  }
}

function main() {
  removeAbandonedScratch();
  const stamp = sourceStamp();
  if (process.env.ODC_REBUILD !== '1' && upToDate(stamp)) return 0;

  let gyp;
  try {
    gyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  } catch {
    gyp = process.env.npm_config_node_gyp;
  }
  if (!gyp) {
    console.error('odc: node-gyp not found: run `npm ci` so the pinned node-gyp is installed');
    return 1;
  }
  const args = ['rebuild', `--jobs=${process.env.JOBS || 'max'}`];
  const prefix = path.resolve(process.execPath, '..', '..');
  if (!process.env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include/node/node_api.h'))) {
    args.push(`--nodedir=${prefix}`);
  }

  // A scratch copy of the build inputs inside the package, so `require('node-addon-api')` in
  // binding.gyp resolves through the package's node_modules. Named by this process, so a later
  // run of this script removes what a killed build left.
  const scratch = fs.mkdtempSync(path.join(root, `.addon-build-${process.pid}-`));
  try {
    for (const f of [...INPUTS, 'native']) fs.cpSync(path.join(root, f), path.join(scratch, f), { recursive: true });
    console.error('odc: building the native addon (node-gyp)');
    const run = spawnSync(process.execPath, [gyp, ...args], { cwd: scratch, stdio: 'inherit' });
    if (run.status !== 0) return run.status ?? 1;
    fs.mkdirSync(path.dirname(target), { recursive: true });
    for (const addon of ADDONS) fs.renameSync(path.join(scratch, 'build', 'Release', addon), path.join(path.dirname(target), addon));
    fs.writeFileSync(`${stampPath}.tmp`, `${stamp}\n`);
    fs.renameSync(`${stampPath}.tmp`, stampPath);
    return 0;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

process.exitCode = main();
