/**
 * The trainer's TensorBoard log (`<out>/tb/`): metrics records → scalars, cluster labels → a
 * cluster-size histogram. Every event's step is the global iteration, so iteration and epoch curves
 * share one axis.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { eventFiles, TfEventsWriter, trimEventFiles } from '../report/tfevents.ts';

type Rec = Record<string, unknown>;

/** Scalar tags of a logged iteration: tag ← metrics.jsonl field. */
const ITERATION_TAGS: [string, string][] = [
  ['train/loss', 'loss'], ['train/change_ratio', 'change_ratio'], ['train/lr', 'lr'], ['train/img_per_s', 'img_per_s'],
];

/** Scalar tags of an epoch (and of the initial clustering, at step 0); absent or non-finite fields are skipped. */
const EPOCH_TAGS: [string, string][] = [
  ['epoch/loss', 'loss'], ['epoch/change_ratio', 'change_ratio'], ['epoch/acc_pseudo', 'acc_pseudo'], ['epoch/img_per_s', 'img_per_s'],
  ['epoch/cluster_size_min', 'min'], ['epoch/cluster_size_median', 'median'], ['epoch/cluster_size_max', 'max'],
  ['epoch/empty_clusters', 'empty'], ['epoch/small_clusters', 'small'], ['epoch/small_clusters_repaired', 'repaired'],
  ['epoch/nmi_labels', 'nmi_labels'],
];

export class TrainBoard {
  readonly writer: TfEventsWriter;

  /**
   * Opens a new event file in `dir`. A fresh run (`resumeAt` undefined) first deletes the event
   * files of an earlier run there; a resumed run first cuts what the interrupted run logged after
   * its checkpoint (`resumeAt`: the checkpoint's iteration), so no step appears twice, and, when the
   * checkpoint is mid-epoch (`midEpoch`), the summary of the epoch a stopped run ended in.
   */
  constructor(dir: string, resumeAt?: number, o: { midEpoch?: boolean } = {}) {
    mkdirSync(dir, { recursive: true });
    if (resumeAt === undefined) for (const f of eventFiles(dir)) rmSync(f);
    else trimEventFiles(dir, resumeAt, o.midEpoch ? { dropAtStep: (tag) => tag.startsWith('epoch/') } : {});
    this.writer = TfEventsWriter.inDir(dir);
  }

  /** A logged iteration's record (metrics.jsonl type 'iter'). */
  iteration(rec: Rec): void {
    this.#scalars(ITERATION_TAGS, rec, rec.iteration as number);
    this.writer.flush();
  }

  /** An epoch's record (or the initial clustering's, at step 0) and the cluster sizes of `labels`. */
  epoch(rec: Rec, step: number, labels: Int32Array | undefined, clusters: number): void {
    this.#scalars(EPOCH_TAGS, rec, step);
    if (labels === undefined) {
      this.writer.flush();
      return;
    }
    const sizes = new Float64Array(clusters);
    for (const c of labels) sizes[c]++;
    let min = Number.POSITIVE_INFINITY;
    let max = 0;
    for (const s of sizes) {
      min = Math.min(min, s);
      max = Math.max(max, s);
    }
    // One bucket per size while the sizes span at most 30 values, else 30 equal buckets.
    this.writer.addHistogram('epoch/cluster_sizes', sizes, step, { bins: Math.min(30, max - min + 1) });
    this.writer.flush();
  }

  close(): void {
    this.writer.close();
  }

  #scalars(tags: [string, string][], rec: Rec, step: number): void {
    const wallTime = Date.now() / 1000;
    for (const [tag, key] of tags) {
      const v = rec[key];
      if (typeof v === 'number' && Number.isFinite(v)) this.writer.addScalar(tag, v, step, wallTime);
    }
  }
}
