/**
 * Dynamic loss scaling for float16 training (torch.cuda.amp.GradScaler's rule): the loss is
 * multiplied by `scale` before backward so that small gradients survive float16; the gradients are
 * divided by it before the step, and a step whose gradients hold an inf or NaN is skipped and
 * halves the scale; after `interval` good steps in a row the scale doubles.
 */
import { stack } from '../tensor/creation.ts';
import { noGrad, tidy } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';

export interface LossScalerState {
  scale: number;
  /** Good steps since the scale last changed. */
  good: number;
}

export class LossScaler {
  scale: number;
  good = 0;
  /** Steps skipped for non-finite gradients so far. */
  skipped = 0;

  constructor(readonly o: { initScale?: number; growth?: number; backoff?: number; interval?: number } = {}) {
    this.scale = o.initScale ?? 2 ** 16;
  }

  /** The loss to back-propagate. */
  scaleLoss(loss: Tensor): Tensor {
    return loss.mul(this.scale);
  }

  /**
   * Divides every gradient by the scale and updates the scale; returns whether the optimiser should
   * step (false: a gradient was not finite, the step is skipped). One host read per call.
   */
  unscale(params: readonly Tensor[]): boolean {
    const finite = tidy(() =>
      noGrad(() => {
        const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== undefined);
        for (const g of grads) g.mul_(1 / this.scale);
        if (grads.length === 0) return true;
        return stack(grads.map((g) => g.isfinite().all())).all().item() === 1;
      }),
    );
    if (!finite) {
      this.scale *= this.o.backoff ?? 0.5;
      this.good = 0;
      this.skipped++;
      return false;
    }
    this.good++;
    if (this.good >= (this.o.interval ?? 2000)) {
      this.scale *= this.o.growth ?? 2;
      this.good = 0;
    }
    return true;
  }

  state(): LossScalerState {
    return { scale: this.scale, good: this.good };
  }

  load(s: LossScalerState): void {
    this.scale = s.scale;
    this.good = s.good;
  }
}
