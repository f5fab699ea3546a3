/**
 * What a benchmark's peer needs, checked before the benchmark's long part: the peer script beside
 * the project and the Python modules it imports, installed from Debian when missing. A module that
 * still cannot be imported fails the bench in seconds, naming the Debian package.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PYTHON = '/usr/bin/python3';

/** Python modules the peers import, and the Debian package of each. */
export const DEBIAN_PACKAGE: Record<string, string> = {
  torch: 'python3-torch',
  torchvision: 'python3-torchvision',
  numpy: 'python3-numpy',
  sklearn: 'python3-sklearn',
};

const importable = (module: string): boolean => spawnSync(PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;

function aptInstall(packages: string[]): void {
  const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
  const cmd = `${sudo}apt-get install -y -q --no-install-recommends ${packages.join(' ')} >/dev/null || { ${sudo}apt-get update -q >/dev/null && ${sudo}apt-get install -y -q --no-install-recommends ${packages.join(' ')} >/dev/null; }`;
  execFileSync('bash', ['-c', cmd], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

/**
 * Makes sure `scripts` exist and every module in `modules` imports under /usr/bin/python3,
 * installing the missing ones' Debian packages (libopenblas0-pthread too: without it PyTorch's
 * matrix products fall back to the reference BLAS and the comparison means nothing).
 */
export function ensurePeer(o: { scripts?: string[]; modules: string[]; log?: (l: string) => void }): void {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  for (const s of o.scripts ?? []) {
    if (!existsSync(s)) throw new Error(`bench: peer script ${s} not found (../shared/peer/ is expected beside the project)`);
  }
  if (!existsSync(PYTHON)) aptInstall(['python3']);
  const missing = o.modules.filter((m) => !importable(m));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((m) => DEBIAN_PACKAGE[m] ?? `python3-${m}`)), 'libopenblas0-pthread'];
  log(`bench: installing ${packages.join(' ')} for the peer`);
  try {
    aptInstall(packages);
  } catch (e) {
    throw new Error(`bench: could not install ${packages.join(' ')} for the peer (${(e as Error).message.split('\n')[0]})`);
  }
  const still = o.modules.filter((m) => !importable(m));
  if (still.length > 0) {
    throw new Error(`bench: the peer needs Python module(s) ${still.join(', ')} (Debian ${still.map((m) => DEBIAN_PACKAGE[m] ?? `python3-${m}`).join(', ')}), still not importable by ${PYTHON}`);
  }
}
