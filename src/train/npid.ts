/**
 * Non-parametric instance discrimination (Wu et al., CVPR 2018, "Unsupervised feature learning via
 * non-parametric instance discrimination"), the paper's Table 3 peer and the origin of ODC's samples
 * memory: every image is its own class. The network maps an image to a unit 128-d embedding f; a
 * memory bank holds one unit embedding v per image (the same store and momentum update as ODC's
 * samples memory, `SampleBank`); the loss is the non-parametric softmax
 *   P(i | f) = exp(v_i·f / τ) / Σ_j exp(v_j·f / τ),   τ = 0.07,
 * either exactly over the whole bank ('softmax') or by noise-contrastive estimation with m uniform
 * negatives and the normaliser Z fixed from the first batch ('nce', the paper's estimate for large N).
 * The bank rows of the batch are then moved towards the new embeddings with momentum 0.5.
 */
import { SampleBank } from '../cluster/sample_bank.ts';
import type { Batch } from '../data/loader.ts';
import * as F from '../nn/functional.ts';
import { cat, randint, tensor, zeros } from '../tensor/creation.ts';
import { ConfigError } from '../tensor/errors.ts';
import { Generator } from '../tensor/random.ts';
import { keep, noGrad } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { AlgorithmContext, ClusteringOptions, StepResult } from './algorithm.ts';
import type { RunConfig } from './budget.ts';
import { PretextAlgorithm } from './pretext.ts';

/** Scores v_j·f / τ of unit embeddings f [B, D] against every bank row [N, D]: [B, N]. */
export function instanceLogits(f: Tensor, bank: Tensor, temperature: number): Tensor {
  return f.mm(bank.t()).div(temperature);
}

/**
 * NCE loss of Wu et al. Eq. 6-8 from scores [B, 1 + m] (column 0: the image's own bank row; the
 * rest: m negatives drawn uniformly from N): P = exp(score) / Z, h = P / (P + m/N),
 * loss = −(Σ log h(pos) + Σ log(1 − h(neg))) / B.
 */
export function nceLoss(scores: Tensor, z: number, n: number): Tensor {
  const m = scores.size(1) - 1;
  const noise = m / n;
  const p = scores.exp().div(z);
  const pos = p.narrow(1, 0, 1);
  const neg = p.narrow(1, 1, m);
  const logH = pos.div(pos.add(noise)).log().sum();
  const logNotH = neg.add(noise).reciprocal().mul(noise).log().sum();
  return logH.add(logNotH).neg().div(scores.size(0));
}

export type NpidOptions = ClusteringOptions & Pick<RunConfig, 'npid'>;

export class NpidAlgorithm extends PretextAlgorithm {
  #bank: SampleBank | undefined;
  /** The NCE normaliser, estimated from the first batch (then fixed, as in the paper) and checkpointed. */
  #z: number | undefined;
  /** The global batch's indices and embeddings, written to the bank after the backward pass. */
  #pending: [Tensor, Tensor] | undefined;

  constructor(private readonly npid: NpidOptions) {
    super(npid);
  }

  #ensureBank(ctx: AlgorithmContext): SampleBank {
    if (this.#bank === undefined) {
      const o = this.npid.npid;
      if (ctx.model.featureDim !== o.dim) throw new ConfigError(`npid: the model's embedding has ${ctx.model.featureDim} dimensions, npid.dim is ${o.dim}`);
      this.#bank = new SampleBank(ctx.store.n, o.dim, o.momentum);
    }
    return this.#bank;
  }

  override async init(ctx: AlgorithmContext): Promise<Record<string, number>> {
    // Every rank draws the same start from the seed.
    this.#ensureBank(ctx).fillRandom(new Generator(this.o.seed + 0x1d));
    return {};
  }

  step(ctx: AlgorithmContext, batch: Batch): StepResult {
    const bank = this.#ensureBank(ctx);
    const o = this.npid.npid;
    const { group } = ctx;
    const f = F.normalize(ctx.model.feature(batch.images));
    // The bank is read before this batch's update (applied in afterStep, once backward no longer needs it).
    this.#pending = [keep(group.allGatherStacked(batch.index).flatten()), keep(group.allGatherStacked(f.detach()).flatten(0, 1))];
    if (o.loss === 'softmax') {
      const logits = instanceLogits(f, bank.features, o.temperature);
      return { loss: F.crossEntropy(logits, batch.index), target: batch.index, logits };
    }
    const b = batch.index.numel;
    const picks = cat([batch.index.unsqueeze(1), randint(0, bank.length, [b, o.negatives])], 1);
    const rows = bank.features.indexSelect(0, picks.flatten()).view(b, o.negatives + 1, o.dim);
    const scores = rows.bmm(f.unsqueeze(2)).squeeze(2).div(o.temperature);
    if (this.#z === undefined) {
      // Z ≈ N · E[exp(score)], the ranks' estimates averaged.
      const mean = noGrad(() => group.allReduce(tensor(Float64Array.of(scores.exp().mean().item())), 'avg').toArray()[0]);
      this.#z = mean * bank.length;
    }
    return { loss: nceLoss(scores, this.#z, bank.length), target: zeros([b], { dtype: 'int64' }), logits: scores };
  }

  override afterStep(): Record<string, number> {
    if (this.#pending !== undefined) {
      const [index, feats] = this.#pending;
      (this.#bank as SampleBank).update(index, feats);
      index.dispose();
      feats.dispose();
      this.#pending = undefined;
    }
    return {};
  }

  override stateDict(): Map<string, Tensor> {
    return new Map([['memory.features', (this.#bank as SampleBank).features]]);
  }

  override loadStateDict(ctx: AlgorithmContext, state: Map<string, Tensor>, meta: Record<string, unknown>): void {
    const bank = this.#ensureBank(ctx);
    const t = state.get('memory.features');
    if (t === undefined) throw new ConfigError("checkpoint lacks 'memory.features' (the NPID memory bank)");
    if (t.size(0) !== bank.length || t.size(1) !== bank.featDim) throw new ConfigError(`checkpoint 'memory.features' has shape [${t.shape}], the bank expects [${bank.length},${bank.featDim}]`);
    noGrad(() => bank.features.copy_(t));
    this.#z = typeof meta.nce_z === 'number' ? meta.nce_z : undefined;
  }

  override meta(): Record<string, unknown> {
    return this.#z === undefined ? {} : { nce_z: this.#z };
  }

  override dispose(): void {
    this.#bank?.dispose();
    for (const t of this.#pending ?? []) t.dispose();
  }
}
