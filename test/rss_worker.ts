/**
 * One training run for the resident-memory test of test/stream_train.test.ts: trains with the
 * config in ODC_RSS_CONFIG (JSON) on one thread and prints its peak resident size and its resident
 * size after the run and a full garbage collection (run with --expose-gc), in KiB.
 */
import { setNumThreads } from '../src/runtime.ts';
import { resolveConfig } from '../src/train/config.ts';
import { train } from '../src/train/trainer.ts';

setNumThreads(1);
await train(resolveConfig(JSON.parse(process.env.ODC_RSS_CONFIG as string)), { log: () => {} });
const peak = process.resourceUsage().maxRSS;
(globalThis as { gc?: () => void }).gc?.();
process.stdout.write(`maxrss ${peak} rss ${Math.round(process.memoryUsage().rss / 1024)}\n`);
