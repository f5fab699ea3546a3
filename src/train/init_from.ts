/**
 * `--init-from`: starts a run from another model's backbone (ODC as an unsupervised fine-tuning
 * scheme, paper section 3.3). Accepts an odc checkpoint (latest.safetensors), an odc model file
 * (model.safetensors), a bare backbone state dict, or a torchvision/mmselfsup-keyed ResNet
 * exported to safetensors (keys optionally under `module.` and `backbone.`). Only the backbone is
 * loaded: the neck and head keys are counted and left out, since the head's shape follows the
 * number of clusters and a fresh clustering re-initialises it anyway.
 */
import type { ClusterModel } from '../models/cluster_model.ts';
import { ConfigError, ShapeError } from '../tensor/errors.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { loadCheckpoint } from './checkpoint.ts';

/** The checkpoint key as a backbone key: without a leading `module.` (DDP) and `backbone.`. */
const backboneKey = (k: string): string => k.replace(/^module\./, '').replace(/^backbone\./, '');

/**
 * Loads the backbone of `model` from the safetensors file at `path`. Throws a ConfigError naming
 * the file when no key matches, when the backbone's tensors are not all there (running-statistics
 * counters excepted) or when a shape differs. Returns what was loaded and left out.
 */
export function initFrom(model: ClusterModel, path: string, log: (l: string) => void = () => {}): { loaded: number; ignored: string[] } {
  const ck = loadCheckpoint(path);
  try {
    const own = model.backbone.stateDict();
    const src = new Map<string, Tensor>();
    const ignored: string[] = [];
    for (const [k, v] of ck.model) {
      const key = backboneKey(k);
      if (own.has(key)) src.set(key, v);
      else ignored.push(k);
    }
    const arch = `${model.options.arch} (width ${model.options.width ?? 64})`;
    if (src.size === 0) {
      throw new ConfigError(`--init-from ${path}: no key matches the ${arch} backbone (it has e.g. '${[...own.keys()][0]}', the file e.g. '${[...ck.model.keys()][0] ?? 'nothing'}')`);
    }
    const missing = [...own.keys()].filter((k) => !src.has(k) && !k.endsWith('num_batches_tracked'));
    if (missing.length > 0) {
      throw new ConfigError(`--init-from ${path}: ${missing.length} of the ${arch} backbone's ${own.size} tensors are not in the file (e.g. '${missing[0]}'): another architecture?`);
    }
    try {
      model.backbone.loadStateDict(src, { strict: false });
    } catch (e) {
      if (e instanceof ShapeError) throw new ConfigError(`--init-from ${path}: ${e.message.replace(/^loadStateDict into \w+: /, '')} (the ${arch} backbone): another width or architecture?`);
      throw e;
    }
    log(`initialised the backbone from ${path}: ${src.size} tensors${ignored.length ? `; ${ignored.length} other tensors left out (e.g. ${ignored.slice(0, 3).join(', ')})` : ''}`);
    return { loaded: src.size, ignored };
  } finally {
    ck.dispose();
  }
}
