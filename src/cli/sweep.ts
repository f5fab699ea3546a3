/** `odc sweep`: --config and --set flags → the grid → runSweep. */
import { parseSet } from '../sweep/grid.ts';
import { runSweep } from '../sweep/sweep.ts';
import { ConfigError } from '../tensor/errors.ts';
import { mergeConfig, nested, readConfigFile } from '../train/config.ts';

export interface SweepFlags {
  config?: string;
  set?: string[];
  seeds?: string;
  out?: string;
  debug?: boolean;
}

export async function runSweepCommand(f: SweepFlags): Promise<void> {
  const sets = (f.set ?? []).map(parseSet);
  // A key given one value is a shared setting; keys given several are the sweep's axes.
  const fixed = Object.fromEntries(sets.filter((a) => a.values.length === 1).map((a) => [a.key, a.values[0]]));
  const axes = sets.filter((a) => a.values.length > 1);
  const seeds = (f.seeds ?? '0').split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new ConfigError(`--seeds expects non-negative integers, got '${s}'`);
    return n;
  });
  const base = mergeConfig(f.config !== undefined ? readConfigFile(f.config) : {}, nested(fixed));
  await runSweep({ base, axes, seeds, out: f.out ?? 'runs/sweep' });
}
