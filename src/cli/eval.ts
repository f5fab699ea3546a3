/** `odc eval`: flags → evaluation protocols → markdown tables on stdout, eval.json + eval.md on disk. */
import cliProgress from 'cli-progress';
import { defaultEvalPath, evaluate, FAST_PROTOCOLS, PROTOCOLS, type Protocol, writeEvalResults } from '../eval/evaluate.ts';
import { tablesToMarkdown } from '../eval/tables.ts';
import { CONV_TAPS, type Tap } from '../models/backbone.ts';
import type { Arch } from '../models/cluster_model.ts';
import { setNumThreads } from '../runtime.ts';
import { ConfigError } from '../tensor/errors.ts';

export interface EvalFlags {
  checkpoint?: string;
  baseline?: 'random' | 'pixels';
  dataset?: string;
  imageSize?: number;
  protocol?: string;
  arch?: Arch;
  width?: number;
  stem?: 'auto' | 'cifar' | 'imagenet';
  sobel?: boolean;
  taps?: string;
  linearEpochs?: number;
  linearLr?: number;
  knnK?: string;
  svmCosts?: string;
  svmFolds?: number;
  shots?: string;
  lowshotSamples?: number;
  cache?: boolean;
  trainSubset?: number;
  testSubset?: number;
  out?: string;
  seed?: number;
  kmeansRestarts?: number;
  threads?: number;
  device?: string;
  workers?: number;
}

const list = (flag: string, v: string | undefined, parse: (s: string) => number): number[] | undefined => {
  if (v === undefined) return undefined;
  const out = v.split(',').map((s) => parse(s.trim()));
  if (out.some((x) => !Number.isFinite(x))) throw new ConfigError(`${flag} expects comma-separated numbers, got '${v}'`);
  return out;
};

export function parseProtocols(v: string | undefined): Protocol[] {
  if (v === undefined) return [...FAST_PROTOCOLS];
  const names = v.split(',').map((s) => s.trim());
  if (names.includes('all')) return [...PROTOCOLS];
  for (const n of names) {
    if (!(PROTOCOLS as readonly string[]).includes(n)) throw new ConfigError(`Expected --protocol one of ${PROTOCOLS.join(', ')} or all (comma-separated) but received '${n}'`);
  }
  return names as Protocol[];
}

/** A progress bar per stage on a terminal; a line every 10 % otherwise (CI logs). */
function progressReporter(): { update: (stage: string, done: number, total: number) => void; stop: () => void } {
  const tty = process.stderr.isTTY === true;
  let bar: cliProgress.SingleBar | undefined;
  let current = '';
  let lastDecile = -1;
  return {
    update(stage, done, total) {
      if (stage !== current) {
        bar?.stop();
        bar = undefined;
        current = stage;
        lastDecile = -1;
        if (tty) {
          bar = new cliProgress.SingleBar({ format: `${stage.padEnd(28)} {bar} {percentage}% | {value}/{total} | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
          bar.start(total, 0);
        }
      }
      if (bar) bar.update(done);
      else {
        const decile = Math.floor((10 * done) / Math.max(1, total));
        if (decile !== lastDecile && (decile % 5 === 0 || done === total)) {
          lastDecile = decile;
          process.stderr.write(`${stage}: ${done}/${total}\n`);
        }
      }
      if (done >= total && bar) {
        bar.stop();
        bar = undefined;
        current = '';
      }
    },
    stop() {
      bar?.stop();
    },
  };
}

export async function runEval(f: EvalFlags): Promise<void> {
  if (f.checkpoint !== undefined && f.baseline !== undefined) throw new ConfigError('pass either --checkpoint or --baseline, not both');
  if (f.threads !== undefined) setNumThreads(f.threads);
  const taps = f.taps?.split(',').map((s) => s.trim());
  for (const t of taps ?? []) {
    if (![...CONV_TAPS, 'pool'].includes(t as Tap)) throw new ConfigError(`Expected --taps from ${[...CONV_TAPS, 'pool'].join(', ')} but received '${t}'`);
  }
  const progress = progressReporter();
  try {
    const result = await evaluate({
      checkpoint: f.checkpoint, baseline: f.baseline, dataset: f.dataset, imageSize: f.imageSize, protocols: parseProtocols(f.protocol),
      arch: { arch: f.arch, width: f.width, stem: f.stem, sobel: f.sobel },
      linearTaps: taps as Tap[] | undefined,
      linear: { epochs: f.linearEpochs, lr: f.linearLr },
      knnKs: list('--knn-k', f.knnK, Number),
      svm: { costs: list('--svm-costs', f.svmCosts, Number), folds: f.svmFolds, threads: f.threads },
      lowshot: { shots: list('--shots', f.shots, Number), samples: f.lowshotSamples, costs: list('--svm-costs', f.svmCosts, Number), threads: f.threads },
      cache: f.cache, trainSubset: f.trainSubset, testSubset: f.testSubset, seed: f.seed, kmeansRestarts: f.kmeansRestarts, workers: f.workers, device: f.device,
      log: (l) => process.stderr.write(`${l}\n`),
      onProgress: progress.update,
    });
    progress.stop();
    const path = writeEvalResults(result, f.out ?? defaultEvalPath(f));
    console.log(tablesToMarkdown(result.tables));
    console.log(`results: ${path} (and ${path.replace(/\.json$/, '.md')})`);
  } finally {
    progress.stop();
  }
}
