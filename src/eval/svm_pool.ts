/**
 * Runs SVM fits (train on some rows, score others, return the AP) on worker threads that share one
 * {@link SvmData} and one label array, or inline on the main thread when there is one core.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { averagePrecisionScore, vocAveragePrecision } from './average_precision.ts';
import { decisionFunction, type FeatureMatrix, SvmData, type SvmDataParts, trainLinearSvc } from './linear_svm.ts';

/** One fit: one-vs-rest for class `positive` on `trainRows`, scored on `evalRows`. */
export interface SvmTask {
  positive: number;
  trainRows: Int32Array;
  evalRows: Int32Array;
  c: number;
  posWeight: number;
  negWeight: number;
  tol: number;
  maxIter: number;
  seed: number;
  /** 'voc': VOC all-points AP (reference test AP); 'sklearn': average_precision_score (reference CV). */
  scoring: 'voc' | 'sklearn';
}

export interface SvmTaskResult {
  ap: number;
  iterations: number;
  converged: boolean;
}

/** Per-thread state: the data, the labels and this thread's scratch slot. */
export class SvmContext {
  readonly #signs = new Map<number, Int8Array>();
  constructor(
    readonly data: SvmData,
    readonly labels: Int32Array,
    readonly slot: number,
  ) {}

  /** +1 where labels == positive, −1 elsewhere (cached per class). */
  signs(positive: number): Int8Array {
    let s = this.#signs.get(positive);
    if (s === undefined) {
      s = new Int8Array(this.labels.length);
      for (let i = 0; i < s.length; i++) s[i] = this.labels[i] === positive ? 1 : -1;
      this.#signs.set(positive, s);
    }
    return s;
  }

  run(t: SvmTask): SvmTaskResult {
    const y = this.signs(t.positive);
    const model = trainLinearSvc(this.data, y, { c: t.c, posWeight: t.posWeight, negWeight: t.negWeight, tol: t.tol, maxIter: t.maxIter, seed: t.seed, slot: this.slot }, t.trainRows);
    const scores = decisionFunction(model, this.data, t.evalRows, this.slot);
    const truth = new Int8Array(t.evalRows.length);
    for (let i = 0; i < truth.length; i++) truth[i] = y[t.evalRows[i]];
    const ap = t.scoring === 'voc' ? vocAveragePrecision(scores, truth) : averagePrecisionScore(scores, truth);
    return { ap, iterations: model.iterations, converged: model.converged };
  }
}

export interface SvmWorkerInit {
  parts: SvmDataParts;
  labels: SharedArrayBuffer;
  slot: number;
}

/** Worker threads by default: the available cores; 1 means inline. */
export function defaultThreads(): number {
  return availableParallelism();
}

interface Job {
  task: SvmTask;
  resolve: (r: SvmTaskResult) => void;
  reject: (e: Error) => void;
}

export class SvmPool {
  readonly threads: number;
  readonly #inline: SvmContext | undefined;
  readonly #workers: Worker[] = [];
  readonly #idle: Worker[] = [];
  readonly #queue: Job[] = [];
  readonly #running = new Map<Worker, { resolve: (r: SvmTaskResult) => void; reject: (e: Error) => void }>();
  #failed: Error | undefined;
  #inlineBusy = false;

  /**
   * @param data features; needs `threads + 1` slots when threads > 1
   * @param labels [data.n] class of every row
   * @param threads worker threads (≤ 1: inline)
   */
  constructor(data: SvmData, labels: Int32Array, threads = defaultThreads()) {
    if (labels.length !== data.n) throw new RangeError(`${labels.length} labels for ${data.n} rows`);
    this.threads = Math.max(1, Math.floor(threads));
    if (this.threads === 1) {
      this.#inline = new SvmContext(data, labels, 0);
      return;
    }
    if (data.slots < this.threads + 1) throw new RangeError(`SvmData has ${data.slots} slots for ${this.threads} workers (+1)`);
    const shared = new SharedArrayBuffer(labels.byteLength);
    new Int32Array(shared).set(labels);
    const ts = import.meta.url.endsWith('.ts');
    const entry = new URL(ts ? './svm_worker.ts' : './svm_worker.js', import.meta.url);
    const url = ts ? new URL('../data/ts_worker_boot.mjs', import.meta.url) : entry;
    for (let i = 0; i < this.threads; i++) {
      const init: SvmWorkerInit = { parts: data.parts(), labels: shared, slot: i + 1 };
      const w = new Worker(url, { workerData: { ...init, __entry: entry.href } });
      w.on('message', (m: { result?: SvmTaskResult; error?: string }) => {
        const p = this.#running.get(w);
        this.#running.delete(w);
        if (m.error !== undefined) p?.reject(new Error(`SVM worker: ${m.error}`));
        else if (m.result) p?.resolve(m.result);
        this.#idle.push(w);
        this.#pump();
      });
      w.on('error', (err) => this.#fail(err));
      this.#workers.push(w);
      this.#idle.push(w);
    }
  }

  /** Runs a fit (queued until a worker is free; inline fits run one per event-loop turn). */
  run(task: SvmTask): Promise<SvmTaskResult> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#queue.push({ task, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#inline) {
      if (this.#inlineBusy || this.#queue.length === 0) return;
      this.#inlineBusy = true;
      setImmediate(() => {
        const job = this.#queue.shift() as Job;
        try {
          job.resolve((this.#inline as SvmContext).run(job.task));
        } catch (e) {
          job.reject(e as Error);
        }
        this.#inlineBusy = false;
        this.#pump();
      });
      return;
    }
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const w = this.#idle.pop() as Worker;
      const job = this.#queue.shift() as Job;
      this.#running.set(w, job);
      w.postMessage(job.task);
    }
  }

  #fail(err: Error): void {
    this.#failed = err;
    for (const p of this.#running.values()) p.reject(err);
    for (const q of this.#queue) q.reject(err);
    this.#running.clear();
    this.#queue.length = 0;
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#workers.length = 0;
    this.#idle.length = 0;
  }
}

/** Train and test features with one class label per row. */
export interface LabelledFeatures extends FeatureMatrix {
  readonly labels: ArrayLike<number>;
}

export interface SvmSetup {
  data: SvmData;
  pool: SvmPool;
  /** Data rows [0, nTrain) are the training set, [nTrain, nTrain + nTest) the test set. */
  nTrain: number;
  nTest: number;
  labels: Int32Array;
  /** The classes of the training set, ascending. */
  classes: number[];
}

/**
 * Copies train and test features into one {@link SvmData} (L2-normalised by default, as the
 * reference) and starts a pool on it. Close the pool when done.
 */
export function setUpSvm(train: LabelledFeatures, test: LabelledFeatures, o: { normalize?: boolean; interceptScaling?: number; threads?: number } = {}): SvmSetup {
  for (const [name, s] of [['train', train], ['test', test]] as const) {
    if (s.labels.length !== s.n) throw new RangeError(`${name}: ${s.labels.length} labels for ${s.n} rows`);
  }
  const threads = Math.max(1, Math.floor(o.threads ?? defaultThreads()));
  const data = SvmData.from([train, test], { normalize: o.normalize ?? true, interceptScaling: o.interceptScaling, slots: threads + 1 });
  const labels = new Int32Array(train.n + test.n);
  for (let i = 0; i < train.n; i++) labels[i] = train.labels[i];
  for (let i = 0; i < test.n; i++) labels[train.n + i] = test.labels[i];
  const classes = [...new Set(labels.subarray(0, train.n))].sort((a, b) => a - b);
  if (classes.length < 2) throw new RangeError(`the training set has ${classes.length} class; one-vs-rest SVMs need at least 2`);
  return { data, pool: new SvmPool(data, labels, threads), nTrain: train.n, nTest: test.n, labels, classes };
}

/** Rows [from, to) as an index array. */
export function rowRange(from: number, to: number): Int32Array {
  const r = new Int32Array(to - from);
  for (let i = 0; i < r.length; i++) r[i] = from + i;
  return r;
}

/** A 32-bit seed from several integers (FNV-1a style), so each fit's seed is independent of scheduling. */
export function mixSeed(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) h = Math.imul(h ^ (x | 0), 0x01000193);
  return h >>> 0;
}
