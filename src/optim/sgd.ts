/**
 * SGD with momentum, dampening, weight decay and Nesterov, exactly PyTorch's update rule:
 *   d = g + wd·p;  buf = d (first step) or momentum·buf + (1 − dampening)·d;
 *   d = nesterov ? d + momentum·buf : buf;  p −= lr·d.
 * Parameters are named, so the momentum buffers can be checkpointed by parameter name.
 */
import type { Device } from '../tensor/dtype.ts';
import { ConfigError } from '../tensor/errors.ts';
import { keep, noGrad } from '../tensor/scope.ts';
import type { Tensor } from '../tensor/tensor.ts';

export interface SgdHyper {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export interface ParamGroup extends Required<SgdHyper> {
  /** Parameters with their names (e.g. `model.namedParameters()`). */
  params: [string, Tensor][];
  /** The lr this group started with; schedules scale it. */
  readonly initialLr: number;
}

export class SGD {
  readonly groups: ParamGroup[];
  /** Momentum buffer per parameter name. */
  readonly momentumBuffers = new Map<string, Tensor>();

  /**
   * @param groups parameter groups, each with its own hyper-parameters over `defaults`
   *   (the reference trains its classifier head without momentum: `{params: head, momentum: 0}`).
   */
  constructor(groups: ({ params: [string, Tensor][] } & Partial<SgdHyper>)[], defaults: SgdHyper) {
    const seen = new Set<string>();
    this.groups = groups.map((g, i) => {
      const group: ParamGroup = {
        params: g.params,
        lr: g.lr ?? defaults.lr,
        momentum: g.momentum ?? defaults.momentum ?? 0,
        dampening: g.dampening ?? defaults.dampening ?? 0,
        weightDecay: g.weightDecay ?? defaults.weightDecay ?? 0,
        nesterov: g.nesterov ?? defaults.nesterov ?? false,
        initialLr: g.lr ?? defaults.lr,
      };
      const at = `SGD param group ${i}`;
      if (!(group.lr >= 0)) throw new ConfigError(`Expected non-negative lr for ${at} but received ${group.lr}`);
      if (!(group.momentum >= 0)) throw new ConfigError(`Expected non-negative momentum for ${at} but received ${group.momentum}`);
      if (!(group.weightDecay >= 0)) throw new ConfigError(`Expected non-negative weightDecay for ${at} but received ${group.weightDecay}`);
      if (group.nesterov && (group.momentum <= 0 || group.dampening !== 0)) {
        throw new ConfigError(`${at}: Nesterov momentum requires momentum > 0 and zero dampening`);
      }
      for (const [name] of g.params) {
        if (seen.has(name)) throw new ConfigError(`parameter '${name}' appears in more than one SGD group`);
        seen.add(name);
      }
      return group;
    });
  }

  /** Clears every gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const g of this.groups) for (const [, p] of g.params) p.grad = undefined;
  }

  /** Sets each group's lr to its initial lr times `factor` (what an LR schedule returns). */
  setLrFactor(factor: number): void {
    for (const g of this.groups) g.lr = g.initialLr * factor;
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    noGrad(() => {
      for (const g of this.groups) this.#stepGroup(g);
    });
  }

  /**
   * One parameter at a time (as PyTorch does on CPU): each parameter's gradient, buffer and weights
   * stay in cache across the three updates, where multi-tensor kernels would stream every tensor
   * through memory once per update (measured slower here).
   */
  #stepGroup(g: ParamGroup): void {
    for (const [name, p] of g.params) {
      const grad = p.grad;
      if (grad === undefined) continue;
      const d = g.weightDecay !== 0 ? grad.add(p, g.weightDecay) : grad;
      let update = d;
      let buf: Tensor | undefined;
      if (g.momentum !== 0) {
        buf = this.momentumBuffers.get(name);
        if (buf === undefined) {
          buf = keep(d.clone());
          this.momentumBuffers.set(name, buf);
        } else {
          buf.mul_(g.momentum).add_(d, 1 - g.dampening);
        }
        update = g.nesterov ? d.add(buf, g.momentum) : buf;
      }
      p.add_(update, -g.lr);
      if (update !== d && update !== buf) update.dispose();
      if (d !== grad) d.dispose();
      grad.dispose();
    }
  }

  /** Momentum buffers keyed `<param name>.momentum_buffer` (live tensors; for checkpoints). */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, buf] of this.momentumBuffers) out.set(`${name}.momentum_buffer`, buf);
    return out;
  }

  /** Restores momentum buffers (copies); unknown parameter names are an error. */
  loadStateDict(state: Map<string, Tensor>): void {
    const known = new Map(this.groups.flatMap((g) => g.params));
    noGrad(() => {
      for (const [key, t] of state) {
        const name = key.replace(/\.momentum_buffer$/, '');
        const p = known.get(name);
        if (p === undefined || name === key) throw new ConfigError(`optimizer state '${key}' names no parameter of this optimizer`);
        const ps = p.shape;
        const ts = t.shape;
        if (ps.length !== ts.length || ps.some((v, i) => v !== ts[i])) {
          throw new ConfigError(`optimizer state '${key}' has shape [${ts}], parameter has [${ps}]`);
        }
        this.momentumBuffers.get(name)?.dispose();
        // On the parameter's device (a checkpoint holds CPU tensors).
        this.momentumBuffers.set(name, keep(t.to({ device: p.device as Device, copy: true })));
      }
    });
  }

  dispose(): void {
    for (const b of this.momentumBuffers.values()) b.dispose();
    this.momentumBuffers.clear();
  }
}
