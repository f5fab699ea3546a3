/** Loads one of the package's compiled addons (build/Release/NAME.node) from src/ (tsx) or dist/ (compiled). */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function loadAddon<T>(name: string): T {
  // Walk up from this file to the package root, which holds build/.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'build', 'Release', `${name}.node`);
    if (existsSync(candidate)) return createRequire(import.meta.url)(candidate) as T;
    dir = dirname(dir);
  }
  throw new Error(`odc: native addon build/Release/${name}.node not found; run \`npm ci\` (it builds the addons)`);
}
