// Starts a TypeScript worker when odc runs from source (through tsx): Node 20 does not pass the
// main thread's `--import tsx` loader on to worker threads, so the worker registers it itself.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.__entry);
