/**
 * What a run writes as it goes (rank 0 only): metrics.jsonl (one JSON record per line), TensorBoard
 * event files and config.json; a resumed run first drops the records its interrupted run wrote
 * after the checkpoint.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/safetensors.ts';
import type { Progress } from './checkpoint.ts';
import { TrainBoard } from './tensorboard.ts';

type Rec = Record<string, unknown>;

export class RunRecords {
  readonly metricsPath: string;
  #board: TrainBoard | undefined;

  constructor(
    private readonly outDir: string,
    /** Whether this process writes (rank 0). */
    private readonly writes: boolean,
    private readonly onRecord?: (rec: Rec) => void,
  ) {
    this.metricsPath = join(outDir, 'metrics.jsonl');
  }

  /** A fresh run: empty metrics, new event files. */
  start(tensorboard: boolean): void {
    if (!this.writes) return;
    writeFileSync(this.metricsPath, '');
    if (tensorboard) this.#board = new TrainBoard(join(this.outDir, 'tb'));
  }

  /** A run resumed at `p`: the records after it dropped, the event files continued from it. */
  resume(p: Progress, tensorboard: boolean): void {
    if (!this.writes) return;
    if (existsSync(this.metricsPath)) trimMetrics(this.metricsPath, p);
    if (tensorboard) this.#board = new TrainBoard(join(this.outDir, 'tb'), p.iteration, { midEpoch: p.step > 0 });
  }

  /** The settings as run (config.json), rewritten when a wall-time budget settles the run's length. */
  writeConfig(config: Rec): void {
    if (this.writes) writeFileSync(join(this.outDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  }

  /** An 'iter' record: metrics.jsonl and the TensorBoard scalars. */
  iteration(rec: Rec): void {
    this.#write(rec);
    this.#board?.iteration(rec);
  }

  /** An 'init' or 'epoch' record at `iteration`, with the labels for the cluster-size histogram. */
  clustering(rec: Rec, iteration: number, labels: Int32Array | undefined, clusters: number): void {
    this.#write(rec);
    this.#board?.epoch(rec, iteration, labels, clusters);
  }

  /** Any other record (an epoch's re-clustering). */
  other(rec: Rec): void {
    this.#write(rec);
  }

  close(): void {
    this.#board?.close();
  }

  #write(rec: Rec): void {
    if (!this.writes) return;
    appendFileSync(this.metricsPath, `${JSON.stringify(rec)}\n`);
    this.onRecord?.(rec);
  }
}

/**
 * Before resuming from `p`: drops the metrics records the interrupted run wrote after its
 * checkpoint (they will be written again), the record of an epoch it stopped in (`maxIterations`;
 * the resumed run writes the whole epoch's) and a line cut short by a kill.
 */
function trimMetrics(path: string, p: Progress): void {
  const keep = readFileSync(path, 'utf8').split('\n').filter((line) => {
    let r: { type?: string; iteration?: number; epoch?: number; partial?: boolean };
    try {
      r = JSON.parse(line);
    } catch {
      return false;
    }
    if (r.type === 'epoch' && r.partial === true) return false;
    if (r.type === 'iter' || r.type === 'epoch') return (r.iteration ?? 0) <= p.iteration;
    // An epoch's clustering record precedes its first batch: kept when the checkpoint is inside that epoch.
    if (r.type === 'cluster') return (r.epoch ?? 0) <= p.epoch + (p.step > 0 ? 1 : 0);
    return true;
  });
  writeFileAtomic(path, Buffer.from(keep.map((l) => `${l}\n`).join('')));
}
