// Compiles src/ into dist/ (the package's "prepare" script: `npm ci`, `npm pack`, `npx odc` in a
// checkout; scripts/setup.sh runs it too). Does nothing when dist/ was compiled from the same
// sources: a stamp of src/, the tsconfig files and the TypeScript version sits in dist/, so the
// documented commands start at once. ODC_REBUILD=1 forces a build.
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const stampPath = path.join(root, 'dist', '.stamp');

function sourceStamp(tsc) {
  const h = crypto.createHash('sha256');
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else files.push(p);
    }
  };
  walk(path.join(root, 'src'));
  for (const f of [...files, path.join(root, 'tsconfig.json'), path.join(root, 'tsconfig.build.json')]) {
    h.update(path.relative(root, f)).update(fs.readFileSync(f));
  }
  h.update(`typescript ${require(path.join(path.dirname(tsc), '..', 'package.json')).version}\n`);
  return h.digest('hex');
}

let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
} catch {
  // An installed package ships dist/ and has no TypeScript: nothing to compile.
  if (fs.existsSync(path.join(root, 'dist', 'index.js'))) process.exit(0);
  console.error('odc: TypeScript not found: run `npm ci` so the pinned typescript is installed');
  process.exit(1);
}
const stamp = sourceStamp(tsc);
const current = fs.existsSync(stampPath) ? fs.readFileSync(stampPath, 'utf8').trim() : '';
if (process.env.ODC_REBUILD !== '1' && current === stamp) process.exit(0);
fs.rmSync(stampPath, { force: true });
const run = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (run.status !== 0) process.exit(run.status ?? 1);
fs.writeFileSync(stampPath, `${stamp}\n`);
