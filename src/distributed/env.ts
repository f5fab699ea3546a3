/** The settings a launcher (torchrun, or a script of yours) hands each process in its environment. */
import { ConfigError } from '../tensor/errors.ts';

export interface DistributedEnv {
  /** RANK: this process's place in the group, 0 ≤ rank < worldSize. */
  rank: number;
  /** WORLD_SIZE: how many processes the group holds. */
  worldSize: number;
  /** LOCAL_RANK: its place among the processes of its machine (default: rank mod localWorldSize). */
  localRank: number;
  /** LOCAL_WORLD_SIZE: how many processes run on its machine (default: worldSize). */
  localWorldSize: number;
  /** MASTER_ADDR: the host of rank 0, which serves the TCPStore. */
  masterAddr: string;
  /** MASTER_PORT: the TCPStore's port. */
  masterPort: number;
}

function integer(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got '${raw}'`);
  }
  return n;
}

/**
 * Reads torchrun's variables: RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (required),
 * LOCAL_RANK and LOCAL_WORLD_SIZE (optional). Throws a ConfigError naming each one missing or wrong.
 */
export function distributedEnv(env: NodeJS.ProcessEnv = process.env): DistributedEnv {
  return readEnv(env, ['RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT']) as DistributedEnv;
}

const MAX_WORLD = 2 ** 20;

/**
 * torchrun's elastic agent already serves a TCPStore on MASTER_ADDR:MASTER_PORT and says so with
 * TORCHELASTIC_USE_AGENT_STORE=True: every member, rank 0 included, then joins it as a client, under
 * the key prefix of the launch attempt (as PyTorch's env:// rendezvous does). Undefined otherwise.
 */
export function launcherStorePrefix(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.TORCHELASTIC_USE_AGENT_STORE !== 'True') return undefined;
  return `/worker/attempt_${integer(env, 'TORCHELASTIC_RESTART_COUNT', 0, 2 ** 31 - 1) ?? 0}`;
}

/** @internal The variables that are set, checked; those in `required` must be. */
export function readEnv(env: NodeJS.ProcessEnv, required: string[]): Partial<DistributedEnv> {
  const missing = required.filter((k) => env[k] === undefined || env[k] === '');
  if (missing.length > 0) {
    throw new ConfigError(`distributed launch: ${missing.join(', ')} not set (torchrun sets them; or pass the options to initProcessGroup)`);
  }
  const worldSize = integer(env, 'WORLD_SIZE', 1, MAX_WORLD);
  const rank = integer(env, 'RANK', 0, (worldSize ?? MAX_WORLD) - 1);
  const localWorldSize = integer(env, 'LOCAL_WORLD_SIZE', 1, worldSize ?? MAX_WORLD) ?? worldSize;
  const localRank = integer(env, 'LOCAL_RANK', 0, (localWorldSize ?? MAX_WORLD) - 1) ?? (rank === undefined || localWorldSize === undefined ? undefined : rank % localWorldSize);
  const masterPort = integer(env, 'MASTER_PORT', 1, 65535);
  return { rank, worldSize, localRank, localWorldSize, masterAddr: env.MASTER_ADDR || undefined, masterPort };
}
