/**
 * The frozen backbone an evaluation reads features from: rebuilt from a checkpoint (its run's
 * config.json names the architecture) or freshly initialised (the random-network baseline).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Backbone } from '../models/backbone.ts';
import { ARCHS, type Arch, buildBackbone } from '../models/cluster_model.ts';
import { Sobel } from '../models/sobel.ts';
import { ConfigError } from '../tensor/errors.ts';
import { Generator } from '../tensor/random.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { loadCheckpoint } from '../train/checkpoint.ts';

export interface ArchSpec {
  arch: Arch;
  width: number;
  stem: 'auto' | 'cifar' | 'imagenet';
  sobel: boolean;
}

export interface EvalModel {
  readonly backbone: Backbone;
  readonly spec: ArchSpec;
  /** What the features come from, for tables and JSON. */
  readonly description: string;
  /** The backbone's input: Sobel-filtered when the run trained with Sobel. */
  prepare(x: Tensor): Tensor;
  dispose(): void;
}

/** The run configuration saved next to a checkpoint (`config.json`), if any. */
export function runConfigOf(checkpoint: string): Record<string, unknown> | undefined {
  const path = join(dirname(checkpoint), 'config.json');
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** Architecture from explicit options over the run's config.json over the training defaults. */
export function resolveArch(partial: Partial<ArchSpec>, runConfig?: Record<string, unknown>): ArchSpec {
  const arch = (partial.arch ?? runConfig?.arch ?? 'resnet18') as Arch;
  if (!ARCHS.includes(arch)) throw new ConfigError(`Expected --arch one of ${ARCHS.join(', ')} but received '${arch}'`);
  return {
    arch,
    width: partial.width ?? (runConfig?.width as number | undefined) ?? 16,
    stem: partial.stem ?? (runConfig?.stem as ArchSpec['stem'] | undefined) ?? 'auto',
    sobel: partial.sobel ?? (runConfig?.sobel as boolean | undefined) ?? false,
  };
}

function build(spec: ArchSpec, inChannels: number, height: number, seed: number): { backbone: Backbone; sobel?: Sobel } {
  const stem = spec.stem === 'auto' ? (height <= 64 ? 'cifar' : 'imagenet') : spec.stem;
  const generator = new Generator(seed);
  const backbone = buildBackbone({ arch: spec.arch, width: spec.width, stem, inChannels: spec.sobel ? 2 : inChannels, generator });
  return { backbone, sobel: spec.sobel ? new Sobel(inChannels) : undefined };
}

function wrapModel(backbone: Backbone, sobel: Sobel | undefined, spec: ArchSpec, description: string): EvalModel {
  backbone.eval();
  return {
    backbone, spec, description,
    prepare: (x) => (sobel === undefined ? x : sobel.forward(x)),
    dispose: () => {
      backbone.dispose();
      sobel?.dispose();
    },
  };
}

/**
 * Loads the backbone of a training checkpoint, a model.safetensors or a bare backbone state dict
 * (keys with or without the `backbone.` prefix). Every backbone tensor must be present.
 */
export function loadEvalModel(checkpoint: string, o: { arch?: Partial<ArchSpec>; inChannels: number; height: number }): EvalModel {
  if (!existsSync(checkpoint)) throw new ConfigError(`--checkpoint ${checkpoint}: no such file`);
  const spec = resolveArch(o.arch ?? {}, runConfigOf(checkpoint));
  const { backbone, sobel } = build(spec, o.inChannels, o.height, 0);
  const ck = loadCheckpoint(checkpoint);
  try {
    const own = backbone.stateDict();
    const src = new Map<string, Tensor>();
    for (const [k, v] of ck.model) {
      const key = k.startsWith('backbone.') ? k.slice('backbone.'.length) : k;
      if (own.has(key)) src.set(key, v);
    }
    const missing = [...own.keys()].filter((k) => !src.has(k));
    if (missing.length > 0) {
      backbone.dispose();
      throw new ConfigError(
        `--checkpoint ${checkpoint}: ${missing.length} of ${own.size} ${spec.arch} (width ${spec.width}) backbone tensors are missing, e.g. '${missing[0]}'; ` +
          'pass --arch/--width/--stem matching the checkpoint when its config.json is not beside it',
      );
    }
    backbone.loadStateDict(src, { strict: false });
  } finally {
    ck.dispose();
  }
  return wrapModel(backbone, sobel, spec, `${spec.arch} width ${spec.width} from ${checkpoint}`);
}

/** A randomly initialised backbone (PyTorch's default init, seeded): the random-network baseline. */
export function randomEvalModel(spec: ArchSpec, o: { inChannels: number; height: number; seed?: number }): EvalModel {
  const { backbone, sobel } = build(spec, o.inChannels, o.height, o.seed ?? 0);
  return wrapModel(backbone, sobel, spec, `random ${spec.arch} width ${spec.width} (seed ${o.seed ?? 0})`);
}
