// Loaded before every test file (`--import`): the tests run with the process settings the `odc`
// command applies (OpenMP wait policy, threads, allocator), since importing the library applies none. Worker threads
// inherit the flag and skip it (they have no TypeScript loader until they register one).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  // Streamed folders cache their file lists: the tests' go to a folder of their own, not ~/.cache.
  process.env.ODC_CACHE_DIR ??= mkdtempSync(join(tmpdir(), 'odc-cache-'));
  // As src/cli/main.ts: set before libtorch (and its libgomp) loads.
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) process.env.OMP_WAIT_POLICY = 'PASSIVE';
  const { configureProcess } = await import('../src/runtime.ts');
  configureProcess();
}
