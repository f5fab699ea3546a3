/**
 * The frozen backbone an evaluation reads features from: rebuilt from a checkpoint (its run's
 * config.json names the architecture, and the dataset and image size its input follows) or freshly
 * initialised (the random-network baseline).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Backbone } from '../models/backbone.ts';
import { ARCHS, type Arch, buildBackbone } from '../models/cluster_model.ts';
import { Sobel } from '../models/sobel.ts';
import { ConfigError, ShapeError } from '../tensor/errors.ts';
import { Generator } from '../tensor/random.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { loadCheckpoint } from '../train/checkpoint.ts';
import { resolveConfig, type TrainConfig, TrainConfigSchema } from '../train/config.ts';

export interface ArchSpec {
  arch: Arch;
  width: number;
  stem: 'auto' | 'cifar' | 'imagenet';
  sobel: boolean;
}

export interface EvalModel {
  readonly backbone: Backbone;
  /** The architecture built (its stem resolved: never 'auto'). */
  readonly spec: ArchSpec;
  /** What the features come from, for tables and JSON. */
  readonly description: string;
  /** The backbone's input: Sobel-filtered when the run trained with Sobel. */
  prepare(x: Tensor): Tensor;
  dispose(): void;
}

/**
 * The run configuration saved next to a checkpoint (`config.json`) as a validated TrainConfig, if
 * there is one. Keys this version does not know are ignored, and so is the learning rate (evaluation
 * does not need it), so the config.json of an older or newer run still loads.
 */
export function runConfigOf(checkpoint: string): TrainConfig | undefined {
  const path = join(dirname(checkpoint), 'config.json');
  if (!existsSync(path)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${path}: expected a mapping of keys to values`);
  const known = Object.fromEntries(Object.entries(raw).filter(([k]) => k in TrainConfigSchema.shape && k !== 'lr'));
  return resolveConfig(known, path);
}

/** Architecture from explicit options over the run's config.json over the training defaults. */
export function resolveArch(partial: Partial<ArchSpec>, runConfig?: TrainConfig): ArchSpec {
  const arch = (partial.arch ?? runConfig?.arch ?? 'resnet18') as Arch;
  if (!ARCHS.includes(arch)) throw new ConfigError(`Expected --arch one of ${ARCHS.join(', ')} but received '${arch}'`);
  return {
    arch,
    width: partial.width ?? runConfig?.width ?? 16,
    stem: partial.stem ?? runConfig?.stem ?? 'auto',
    sobel: partial.sobel ?? runConfig?.sobel ?? false,
  };
}

/** What shapes the model and its input in an evaluation, resolved (see `resolveEvalSettings`). */
export interface EvalSettings {
  arch: ArchSpec;
  /** Dataset spec of the labelled splits. */
  dataset: string;
  /** Folder datasets: the side images are resized to (other datasets keep their own size). */
  imageSize: number;
  /** Folder datasets: unreadable files are skipped (and reported) or fail the load. */
  onBadImage: 'skip' | 'fail';
  /**
   * The side the backbone was trained at, when the run's config.json tells (a folder run's
   * imageSize; other datasets' sizes are the images' own). An 'auto' stem and the normalisation
   * statistics follow it, so evaluating at another --image-size keeps the run's model and input scale.
   */
  trainedSize?: number;
}

/**
 * Everything that shapes the model and its input: explicit options (the eval flags) over the run's
 * config.json over the training defaults, for every dataset kind.
 */
export function resolveEvalSettings(o: { arch?: Partial<ArchSpec>; dataset?: string; imageSize?: number }, runConfig?: TrainConfig): EvalSettings {
  if (o.imageSize !== undefined && !(Number.isInteger(o.imageSize) && o.imageSize >= 8)) {
    throw new ConfigError(`Expected integer >= 8 for --image-size but received ${o.imageSize}`);
  }
  const trainedOnFolder = runConfig?.dataset.startsWith('folder:') ?? false;
  return {
    arch: resolveArch(o.arch ?? {}, runConfig),
    dataset: o.dataset ?? runConfig?.dataset ?? 'fashion-mnist',
    imageSize: o.imageSize ?? runConfig?.imageSize ?? 64,
    onBadImage: runConfig?.onBadImage ?? 'skip',
    trainedSize: trainedOnFolder ? runConfig?.imageSize : undefined,
  };
}

/** The stem a spec builds for inputs of `height` px ('auto': CIFAR stem up to 64 px, as `odc train`). */
export function resolveStem(spec: ArchSpec, height: number): 'cifar' | 'imagenet' {
  return spec.stem === 'auto' ? (height <= 64 ? 'cifar' : 'imagenet') : spec.stem;
}

function build(spec: ArchSpec, inChannels: number, height: number, seed: number): { backbone: Backbone; sobel?: Sobel } {
  const stem = resolveStem(spec, height);
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
 * (keys with or without the `backbone.` prefix). Every backbone tensor must be present, with the
 * shape the model has. `height`: the side an 'auto' stem is chosen by (the size the run trained
 * at); `arch` overrides the run's config.json.
 */
export function loadEvalModel(checkpoint: string, o: { arch?: Partial<ArchSpec>; inChannels: number; height: number }): EvalModel {
  if (!existsSync(checkpoint)) throw new ConfigError(`--checkpoint ${checkpoint}: no such file`);
  const spec = resolveArch(o.arch ?? {}, runConfigOf(checkpoint));
  const stem = resolveStem(spec, o.height);
  const built = `${spec.arch} (width ${spec.width}, ${stem} stem${spec.stem === 'auto' ? ` by 'auto' at ${o.height} px` : ''}, ${o.inChannels} input channels${spec.sobel ? ', Sobel' : ''})`;
  const hint = "pass --arch/--width/--stem/--image-size matching the run when its config.json is not beside the checkpoint";
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
      throw new ConfigError(`--checkpoint ${checkpoint}: ${missing.length} of ${own.size} backbone tensors of ${built} are missing, e.g. '${missing[0]}'; ${hint}`);
    }
    try {
      backbone.loadStateDict(src, { strict: false });
    } catch (e) {
      if (!(e instanceof ShapeError)) throw e;
      throw new ConfigError(`--checkpoint ${checkpoint}: ${e.message}, built as ${built}; ${hint}`);
    }
  } catch (e) {
    backbone.dispose();
    sobel?.dispose();
    throw e;
  } finally {
    ck.dispose();
  }
  return wrapModel(backbone, sobel, { ...spec, stem }, `${spec.arch} width ${spec.width} (${stem} stem${spec.sobel ? ', Sobel' : ''}) from ${checkpoint}`);
}

/** A randomly initialised backbone (PyTorch's default init, seeded): the random-network baseline. */
export function randomEvalModel(spec: ArchSpec, o: { inChannels: number; height: number; seed?: number }): EvalModel {
  const { backbone, sobel } = build(spec, o.inChannels, o.height, o.seed ?? 0);
  return wrapModel(backbone, sobel, { ...spec, stem: resolveStem(spec, o.height) }, `random ${spec.arch} width ${spec.width} (seed ${o.seed ?? 0})`);
}
