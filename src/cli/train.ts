/** `odc train`: config file and flags (train_flags.ts) → validated config → training (with progress bars on a terminal). */
import type { Collective } from '../distributed/collective.ts';
import { launchLocal } from '../distributed/launch.ts';
import { initProcessGroup, ncclAvailable, type ProcessGroup } from '../distributed/process_group.ts';
import { ConfigError, TorchError } from '../tensor/errors.ts';
import { mergeConfig, readConfigFile, resolveConfig } from '../train/config.ts';
import { train } from '../train/trainer.ts';
import { trainProgress } from './progress.ts';
import { configFromFlags, type TrainCommandFlags } from './train_flags.ts';

/** `opts`: commander's parsed options of `odc train` (TRAIN_FLAGS, by attribute name). */
export async function runTrain(opts: Record<string, unknown>): Promise<void> {
  const f = opts as TrainCommandFlags;
  const launched = process.env.WORLD_SIZE !== undefined && process.env.WORLD_SIZE !== '';
  if (f.nproc !== undefined && !launched) {
    if (!(f.nproc >= 1 && f.nproc <= 1024)) throw new ConfigError(`--nproc must be in [1, 1024], got ${f.nproc}`);
    if (f.nproc > 1) {
      process.exitCode = await launchLocal(f.nproc);
      return;
    }
  }
  const fromFile = f.config !== undefined ? readConfigFile(f.config) : {};
  const cfg = resolveConfig(mergeConfig(fromFile, configFromFlags(opts)), f.config ?? 'flags');
  // Under torchrun (or --nproc): one rank of a group; its other members run this same command.
  let group: ProcessGroup | undefined;
  if (launched && Number(process.env.WORLD_SIZE) > 1) {
    if (f.distTimeout !== undefined && !(f.distTimeout > 0)) throw new ConfigError(`--dist-timeout must be positive, got ${f.distTimeout}`);
    // NCCL binds this process to one GPU: cuda:N as given, plain cuda the local rank's.
    const gpu = /^cuda(?::(\d+))?$/.exec(cfg.device ?? 'cpu');
    const backend = f.distBackend === undefined || f.distBackend === 'auto' ? (gpu !== null && ncclAvailable() ? 'nccl' : 'gloo') : f.distBackend;
    group = initProcessGroup({ backend, device: gpu?.[1] === undefined ? undefined : Number(gpu[1]), timeoutMs: Math.round((f.distTimeout ?? 1800) * 1000) });
  }
  const root = (group?.rank ?? 0) === 0;
  const progress = root ? trainProgress() : { options: {}, stop() {} };
  let result: Awaited<ReturnType<typeof train>>;
  try {
    result = await train(cfg, { resume: f.resume, ...progress.options, group: group as Collective | undefined });
  } catch (e) {
    // A failed collective: name the ranks that stopped answering.
    if (group !== undefined && e instanceof TorchError) e.message += group.diagnoseFailure();
    throw e;
  } finally {
    progress.stop();
    group?.destroy();
  }
  if (!root) return;
  const s = result.summary;
  if (s.nmi_labels !== undefined) {
    console.log(`cluster labels vs true classes: NMI ${(s.nmi_labels as number).toFixed(4)}, ACC ${(s.acc_labels as number).toFixed(4)}`);
  }
  console.log(`done: ${result.outDir}`);
}
