/** Worker thread that prepares augmented batches while the engine trains on the previous one. */
import { parentPort, workerData } from 'node:worker_threads';
import { type AugmentConfig, augmentBatch, extractBatch } from './augment.ts';
import { makeRng } from './rng.ts';

interface Init {
  pixels: SharedArrayBuffer;
  channels: number;
  height: number;
  width: number;
}
const init = workerData as Init;
const src = { pixels: new Uint8Array(init.pixels), channels: init.channels, height: init.height, width: init.width };

parentPort?.on('message', (m: { id: number; rows: Int32Array; cfg: AugmentConfig; seeds: number[]; extract: boolean; part: [number, number] }) => {
  const data = m.extract ? extractBatch(src, m.rows.subarray(...m.part), m.cfg) : augmentBatch(src, m.rows, m.cfg, makeRng(...m.seeds), m.part);
  parentPort?.postMessage({ id: m.id, data }, [data.buffer as ArrayBuffer]);
});
