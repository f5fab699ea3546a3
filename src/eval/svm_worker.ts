/** Worker thread of {@link SvmPool}: trains and scores SVMs on the shared features. */
import { parentPort, workerData } from 'node:worker_threads';
import { SvmData } from './linear_svm.ts';
import { SvmContext, type SvmTask, type SvmWorkerInit } from './svm_pool.ts';

const init = workerData as SvmWorkerInit;
const ctx = new SvmContext(new SvmData(init.parts), new Int32Array(init.labels), init.slot);

parentPort?.on('message', (task: SvmTask) => {
  try {
    parentPort?.postMessage({ result: ctx.run(task) });
  } catch (e) {
    parentPort?.postMessage({ error: e instanceof Error ? e.message : String(e) });
  }
});
