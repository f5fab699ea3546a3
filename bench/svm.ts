/**
 * SVM part of `npm run bench:eval`: training 10 one-vs-rest linear SVMs on 60,000 x 512 features,
 * odc's solver against scikit-learn's LinearSVC (bench/svm_peer.py, Debian python3-sklearn) in the
 * same run, same features, same costs, same settings (the reference's: class_weight {1: 2, -1: 1},
 * squared hinge, tol 1e-4, max_iter 2000, intercept_scaling 1); test mAP (VOC AP) on the 10,000
 * test images for both. Features: Fashion-MNIST pixels / 255 through a fixed seeded Gaussian
 * projection 784 → 512 and ReLU, L2-normalised (deterministic, realistic without a trained network).
 *
 * Timed: for odc, copying the features in + starting the threads + every fit and its test scoring;
 * for scikit-learn, every fit and its test scoring (the .npy load excluded). odc runs twice, on one
 * thread (scikit-learn's liblinear is single-threaded) and on all cores; the order is odc 1 thread,
 * scikit-learn, odc all cores, so drifting background load shows. Prints one JSON line.
 *
 * Costs: 1, 0.5^4, 0.5^7, 0.5^10 from the reference's list by default (env SVM_COSTS, comma list):
 * C = 10 takes about 25-45 s per class in scikit-learn here (840 outer iterations), which would put
 * the bench well past 10 minutes on this 2-core machine. Env: SVM_CLASSES (first N classes),
 * SVM_THREADS (default: available cores), SVM_PEER=0 skips scikit-learn.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeRng } from '../src/data/rng.ts';
import { loadDataset } from '../src/data/spec.ts';
import { type LabelledFeatures, rowRange, type SvmTask, setUpSvm } from '../src/eval/svm_pool.ts';
import { tensor, tidy } from '../src/index.ts';
import { writeNpy } from '../src/io/npy.ts';
import { ensurePeer, PYTHON } from './peer.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BENCH_COSTS = [1, 0.5 ** 4, 0.5 ** 7, 0.5 ** 10];

export interface BenchSvmOptions {
  costs?: number[];
  /** First N classes only (default all 10). */
  classes?: number;
  threads?: number;
  peer?: boolean;
  log?: (msg: string) => void;
}

/** Standard normal draws (Box-Muller on the project's seeded generator). */
function gaussian(n: number, seed: number): Float32Array {
  const rng = makeRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
    const t = 2 * Math.PI * rng.next();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** Fashion-MNIST `split` through the fixed projection: [n, 512] float32, L2-normalised rows. */
export async function benchFeatures(split: 'train' | 'test', dims = 512): Promise<LabelledFeatures> {
  const s = await loadDataset('fashion-mnist', split);
  const size = s.channels * s.height * s.width;
  const proj = gaussian(size * dims, 1234);
  const data = tidy(() => {
    const f = tensor(s.pixels, { shape: [s.n, size] }).to('float32').div(255).mm(tensor(proj, { shape: [size, dims] })).relu();
    return f.div(f.norm(2, [1], true).add(1e-5)).data<Float32Array>();
  });
  return { data, n: s.n, d: dims, labels: s.labels as Int32Array };
}

/** Trains every class x cost on `threads` threads; returns seconds and test mAP per cost. */
async function runOdc(train: LabelledFeatures, test: LabelledFeatures, costs: number[], nClasses: number, threads: number): Promise<{ seconds: number; map: number[]; notConverged: number }> {
  const t0 = performance.now();
  const { pool, nTrain, nTest, classes } = setUpSvm(train, test, { normalize: false, threads });
  try {
    const trainRows = rowRange(0, nTrain);
    const evalRows = rowRange(nTrain, nTrain + nTest);
    const used = classes.slice(0, nClasses);
    const jobs = costs.flatMap((c, ki) => used.map((positive, ci) => ({ ki, ci, task: { positive, trainRows, evalRows, c, posWeight: 2, negWeight: 1, tol: 1e-4, maxIter: 2000, seed: ci, scoring: 'voc' } as SvmTask })));
    jobs.sort((a, b) => b.task.c - a.task.c);
    const ap = costs.map(() => new Array<number>(used.length).fill(0));
    let notConverged = 0;
    await Promise.all(jobs.map(async (j) => {
      const r = await pool.run(j.task);
      ap[j.ki][j.ci] = r.ap;
      if (!r.converged) notConverged++;
    }));
    return { seconds: (performance.now() - t0) / 1000, map: ap.map((a) => a.reduce((x, y) => x + y, 0) / a.length), notConverged };
  } finally {
    await pool.close();
  }
}

export async function benchSvm(opts: BenchSvmOptions = {}): Promise<Record<string, unknown>> {
  const costs = opts.costs ?? BENCH_COSTS;
  const nClasses = opts.classes ?? 10;
  const threads = opts.threads ?? availableParallelism();
  const log = opts.log ?? ((m: string) => console.error(m));
  const load = () => loadavg()[0].toFixed(2);
  if (opts.peer ?? true) ensurePeer({ scripts: [join(root, 'bench', 'svm_peer.py')], modules: ['numpy', 'sklearn'], log });
  const t0 = performance.now();
  const train = await benchFeatures('train');
  const test = await benchFeatures('test');
  log(`svm bench: features ${train.n} + ${test.n} x ${train.d} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const one = await runOdc(train, test, costs, nClasses, 1);
  log(`svm bench: odc 1 thread ${one.seconds.toFixed(1)} s (load ${load()})`);
  let peer: { seconds: number; not_converged: number; per_cost: { c: number; map: number }[] } | undefined;
  if (opts.peer ?? true) {
    const dir = mkdtempSync(join(tmpdir(), 'odc-bench-svm-'));
    try {
      for (const [split, s] of [['train', train], ['test', test]] as const) {
        writeNpy(join(dir, `${split}_x.npy`), s.data as Float32Array, [s.n, s.d]);
        writeNpy(join(dir, `${split}_y.npy`), Int32Array.from(s.labels));
      }
      const r = spawnSync(PYTHON, [join(root, 'bench', 'svm_peer.py'), '--dir', dir, '--costs', costs.join(','), '--classes', String(nClasses)], {
        encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
      });
      if (r.status !== 0) throw new Error(`svm_peer.py failed:\n${r.stderr}`);
      peer = JSON.parse(r.stdout.trim().split('\n').pop() as string);
      log(`svm bench: scikit-learn ${peer?.seconds.toFixed(1)} s (load ${load()})`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const many = threads > 1 ? await runOdc(train, test, costs, nClasses, threads) : one;
  if (threads > 1) log(`svm bench: odc ${threads} threads ${many.seconds.toFixed(1)} s (load ${load()})`);

  const r3 = (v: number) => Number(v.toFixed(3));
  const skMap = costs.map((_, i) => peer?.per_cost[i]?.map ?? Number.NaN);
  const bestOdc = Math.max(...one.map);
  const bestSk = Math.max(...skMap);
  const diff = Math.max(...costs.map((_, i) => Math.abs(one.map[i] - skMap[i])));
  return {
    bench: 'svm', n_train: train.n, n_test: test.n, dims: train.d, classes: nClasses, costs, threads,
    odc_s: r3(many.seconds), odc_1thread_s: r3(one.seconds), sklearn_s: peer ? r3(peer.seconds) : null,
    ratio: peer ? r3(peer.seconds / many.seconds) : null, ratio_1thread: peer ? r3(peer.seconds / one.seconds) : null,
    // mAP at the best cost (chosen on the test set, as the reference's low-shot protocol); the
    // difference is the largest over all costs, in points
    odc_map: r3(100 * bestOdc), sklearn_map: peer ? r3(100 * bestSk) : null,
    map_diff_points: peer ? r3(100 * diff) : null,
    per_cost: costs.map((c, i) => ({ c, odc_map: r3(100 * one.map[i]), sklearn_map: peer ? r3(100 * skMap[i]) : null })),
    odc_not_converged: one.notConverged, sklearn_not_converged: peer?.not_converged ?? null,
    load_avg_1m: Number(load()),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { configureProcess } = await import('../src/runtime.ts');
  configureProcess(); // as the odc command runs
  const env = process.env;
  const result = await benchSvm({
    costs: env.SVM_COSTS ? env.SVM_COSTS.split(',').map(Number) : undefined,
    classes: env.SVM_CLASSES ? Number(env.SVM_CLASSES) : undefined,
    threads: env.SVM_THREADS ? Number(env.SVM_THREADS) : undefined,
    peer: env.SVM_PEER !== '0',
  });
  console.log(JSON.stringify(result));
}
