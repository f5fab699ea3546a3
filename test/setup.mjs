// Loaded before every test file (`--import`): the tests run with the process settings the `odc`
// command applies (threads, allocator), since importing the library applies none. Worker threads
// inherit the flag and skip it (they have no TypeScript loader until they register one).
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const { configureProcess } = await import('../src/runtime.ts');
  configureProcess();
}
