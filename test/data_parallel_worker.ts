/**
 * One rank of a data-parallel training run for test/data_parallel.test.ts: trains with the config
 * in ODC_DP_CONFIG (JSON) over a FileStore group (ODC_DP_STORE) when WORLD_SIZE > 1, and writes
 * its final state (model, memories) to `${ODC_DP_DUMP}.rank<R>.safetensors`.
 */
import { initProcessGroup } from '../src/distributed/process_group.ts';
import { saveSafetensors } from '../src/io/safetensors.ts';
import { setNumThreads } from '../src/runtime.ts';
import { resolveConfig } from '../src/train/config.ts';
import { train } from '../src/train/trainer.ts';

setNumThreads(Number(process.env.ODC_DP_THREADS ?? 1));
const env = process.env;
const world = Number(env.WORLD_SIZE ?? 1);
const rank = Number(env.RANK ?? 0);
const group = world > 1 ? initProcessGroup({ store: 'file', path: env.ODC_DP_STORE as string, rank, worldSize: world, timeoutMs: Number(env.ODC_DP_TIMEOUT_MS ?? 60_000) }) : undefined;
try {
  await train(resolveConfig(JSON.parse(env.ODC_DP_CONFIG as string)), {
    resume: env.ODC_DP_RESUME === '1',
    log: (l) => process.stdout.write(`${l}\n`),
    group,
    onCheckpoint: (state) => saveSafetensors(`${env.ODC_DP_DUMP}.rank${rank}.safetensors`, state),
  });
} finally {
  group?.destroy();
}
