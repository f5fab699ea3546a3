/** Worker thread of the streaming loader: decodes and augments the chunks it is sent, into the batch's shared memory. */
import { parentPort } from 'node:worker_threads';
import { type ChunkJob, makeChunk } from './chunk.ts';

parentPort?.on('message', async (m: { id: number; job: ChunkJob }) => {
  const r = await makeChunk(m.job);
  parentPort?.postMessage({ id: m.id, ...r });
});
