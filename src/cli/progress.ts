/**
 * Training progress for the CLI: on a terminal, one cli-progress bar per epoch (loss, label-change
 * ratio, lr, img/s, ETA) with log lines printed above it; elsewhere (pipes, CI logs) nothing here,
 * and the trainer's plain line every `logEvery` iterations.
 */
import { MultiBar } from 'cli-progress';
import pc from 'picocolors';
import { formatDuration, type TrainOptions } from '../train/trainer.ts';

export interface TrainProgress {
  /** Trainer options that draw the progress (log, hooks); empty when the stream is not a TTY. */
  options: Pick<TrainOptions, 'log' | 'iterationLines' | 'onEpochStart' | 'onIteration' | 'onEpochEnd'>;
  /** Ends a bar still drawn (a run stopped by an error or --max-iterations). */
  stop(): void;
}

/** Progress bars on `stream` when it is a TTY (default stdout, where the log lines go). */
export function trainProgress(stream: NodeJS.WriteStream = process.stdout): TrainProgress {
  if (!stream.isTTY) return { options: {}, stop() {} };
  let bars: MultiBar | undefined;
  let bar: ReturnType<MultiBar['create']> | undefined;
  let lastLr = 0;
  let drawn = 0;
  const stop = () => {
    if (bars === undefined) return;
    bars.update(); // draws the last values and flushes pending log lines
    bars.stop();
    bars = undefined;
    bar = undefined;
  };
  const stats = (loss: number, change: number | undefined, lr: number, imgPerS: number) =>
    `loss ${loss.toFixed(4)}${change !== undefined ? ` change ${change.toFixed(3)}` : ''} lr ${lr.toPrecision(3)} ${imgPerS.toFixed(1)} img/s`;
  return {
    options: {
      iterationLines: false,
      log: (line) => {
        if (bars === undefined) {
          stream.write(`${line}\n`);
          return;
        }
        bars.log(`${line}\n`);
        bars.update();
      },
      onEpochStart: (e) => {
        stop();
        // About 90 columns of text around the bar; the bar takes what is left of the width, 10-40 columns.
        const barsize = Math.max(10, Math.min(40, (stream.columns ?? 120) - 95));
        bars = new MultiBar({
          // linewrap true: the terminal's wrapping is left alone (a killed run cannot leave it off) and lines are cut to its width.
          stream, barsize, hideCursor: false, linewrap: true, etaBuffer: 50, fps: 5,
          format: `${pc.bold('epoch {epoch}')} {bar} {value}/{total} {stats} eta {eta_formatted}{run}`,
          barCompleteChar: '\u2588', barIncompleteChar: '\u2591',
        });
        bar = bars.create(e.itersPerEpoch, e.fromStep, { epoch: `${e.epoch}/${e.epochs}`, stats: '', run: '' });
      },
      onIteration: (i) => {
        lastLr = i.lr;
        const run = i.epochs > 1 && i.epoch < i.epochs ? pc.dim(` (run ${formatDuration(i.etaS)})`) : '';
        bar?.update(i.step, { stats: stats(i.loss, i.changeRatio, i.lr, i.imgPerS), run });
        // The training loop rarely yields to timers, so cli-progress's own redraw timer seldom fires: redraw here, 5 times a second at most.
        const now = performance.now();
        if (now - drawn >= 200) {
          drawn = now;
          bars?.update();
        }
      },
      onEpochEnd: (rec) => {
        // The finished bar stays on screen with the epoch's means.
        const change = typeof rec.change_ratio === 'number' && Number.isFinite(rec.change_ratio) ? rec.change_ratio : undefined;
        bar?.update({ stats: stats(rec.loss as number, change, lastLr, rec.img_per_s as number), run: '' });
        stop();
      },
    },
    stop,
  };
}
