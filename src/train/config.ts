/**
 * Training configuration: one validated object, from defaults ← config file (YAML or JSON) ←
 * command-line flags. Errors name the key at fault.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../tensor/errors.ts';

const pair = z.tuple([z.number(), z.number()]);

export const TrainConfigSchema = z
  .object({
    /** The clustering methods (odc, deepcluster) and the pretext methods to start them from (rotation, npid). */
    method: z.enum(['odc', 'deepcluster', 'rotation', 'npid']).default('odc'),
    /** fashion-mnist | mnist | idx:DIR | cifar:DIR | folder:DIR (in memory) | stream:DIR | shards:PATH (streamed) */
    dataset: z.string().default('fashion-mnist'),
    split: z.enum(['train', 'test', 'all']).default('train'),
    /** Use a seeded random subset of this many images. */
    subset: z.number().int().positive().optional(),
    /** Long-tail subsampling: largest/smallest class ratio (1..64), needs labels. */
    longTail: z.number().min(1).max(64).optional(),
    /** Folder, stream and shard datasets: side images are resized or cropped to (default: their median shorter side, at most 64 for folders, 224 streamed). */
    imageSize: z.number().int().min(8).optional(),
    onBadImage: z.enum(['skip', 'fail']).default('skip'),
    arch: z.enum(['resnet18', 'resnet34', 'resnet50', 'alexnet']).default('resnet18'),
    /** ResNet first-stage width (64 = standard) / AlexNet widths × width/64. */
    width: z.number().int().positive().default(16),
    /** 'auto': CIFAR stem for images up to 64 px, ImageNet stem above. */
    stem: z.enum(['auto', 'cifar', 'imagenet']).default('auto'),
    /** Default: by the number of images (budget.ts, `defaultClusters`). Pretext methods: the final clustering's K. */
    clusters: z.number().int().positive().optional(),
    /** The training budget in epochs (the same as budget `<n>ep`; give one of the two). */
    epochs: z.number().int().nonnegative().optional(),
    /**
     * The training budget: `3750it` (iterations), `4ep` (epochs), `15m` / `2h` / `90s` (wall time,
     * turned into iterations by timing the first ones). Default: budget.ts, `DEFAULT_ITERATIONS`.
     */
    budget: z
      .string()
      .regex(/^\d+(\.\d+)?(it|ep|s|m|h)$/, "expected a number and a unit: 'it' (iterations), 'ep' (epochs), 's', 'm' or 'h' (wall time), e.g. 3750it, 4ep, 15m")
      .optional(),
    batchSize: z.number().int().min(2).default(64),
    lr: z.number().positive().optional(),
    momentum: z.number().min(0).default(0.9),
    weightDecay: z.number().min(0).default(1e-5),
    lrSchedule: z
      .discriminatedUnion('type', [
        z.object({ type: z.literal('constant') }),
        z.object({ type: z.literal('step'), milestones: z.array(z.number().nonnegative()), gamma: z.number().positive() }),
        z.object({ type: z.literal('cosine'), minFactor: z.number().min(0).default(0), warmupEpochs: z.number().min(0).default(0) }),
      ])
      .default({ type: 'constant' }),
    memory: z
      .object({
        momentum: z.number().gt(0).max(1).default(0.5),
        minCluster: z.number().int().nonnegative().default(20),
        centroidInterval: z.number().int().positive().default(10),
        smallClusterInterval: z.number().int().positive().default(1),
        /** 'dot': the released code's rule; 'euclidean': the paper's Eq. 3. */
        assign: z.enum(['dot', 'euclidean']).default('dot'),
        /**
         * How re-assignment scores the centroids: 'float32', 'checked' (bfloat16 scores with a float32
         * re-check: the same labels, about half the cost), 'auto' (checked from 1,024 clusters on a
         * CPU with native bfloat16).
         */
        scoring: z.enum(['auto', 'float32', 'checked']).default('auto'),
        reweightPower: z.number().min(0).default(0.5),
        /**
         * Where the samples memory's features (N x 256 float32) are kept: on the run's device, or in
         * host RAM (as the released code keeps its ImageNet bank) when the device is too small; only
         * each batch's rows cross. The labels, centroids and statistics stay on the device.
         */
        featuresOn: z.enum(['device', 'host']).default('device'),
        /**
         * Epochs at the start during which memory features update but labels are not re-assigned, so the
         * network first learns the initial clustering (0: the paper; 1 measured better, docs/odc.md).
         */
        warmupEpochs: z.number().nonnegative().default(1),
      })
      .prefault({}),
    kmeans: z
      .object({
        iterations: z.number().int().positive().default(20),
        init: z.enum(['random', 'kmeans++']).default('random'),
        restarts: z.number().int().positive().default(1),
      })
      .prefault({}),
    /** NPID (Wu et al., 2018): embedding size, softmax temperature, memory momentum, exact softmax or NCE. */
    npid: z
      .object({
        dim: z.number().int().positive().default(128),
        temperature: z.number().positive().default(0.07),
        momentum: z.number().gt(0).max(1).default(0.5),
        /** 'softmax': the exact non-parametric softmax over the whole bank; 'nce': noise-contrastive estimation. */
        loss: z.enum(['softmax', 'nce']).default('softmax'),
        /** NCE: negatives drawn per image (the paper's m = 4,096). */
        negatives: z.number().int().positive().default(4096),
      })
      .prefault({}),
    /** DeepCluster PCA dimension (with whitening); -1 disables. Default: 256 for DeepCluster, -1 for ODC. */
    pcaDim: z.number().int().optional(),
    sobel: z.boolean().default(false),
    neckDropout: z.number().min(0).max(1).default(0.5),
    augment: z
      .object({
        scale: pair.optional(),
        ratio: pair.optional(),
        flip: z.number().min(0).max(1).optional(),
        rotation: z.number().min(0).optional(),
        brightness: z.number().min(0).optional(),
        contrast: z.number().min(0).optional(),
        saturation: z.number().min(0).optional(),
        hue: z.number().min(0).max(0.5).optional(),
        grayscale: z.number().min(0).max(1).optional(),
      })
      .prefault({}),
    seed: z.number().int().nonnegative().default(0),
    /**
     * Where the model, optimiser state, memories, k-means and batches live: 'cpu', 'cuda' or
     * 'cuda:N' (a libtorch built with CUDA: LIBTORCH=..., README). Checkpoints hold CPU tensors
     * either way, so a run continues on another device.
     */
    device: z
      .string()
      .regex(/^(cpu|cuda(:\d+)?)$/, "expected 'cpu', 'cuda' or 'cuda:N'")
      .default('cpu'),
    /**
     * Mixed precision of the network's forward pass (autocast): 'fp32' (default), 'bf16' (CPU or
     * CUDA) or 'fp16' (CUDA, with dynamic loss scaling). Losses, BatchNorm statistics, the memories
     * and the optimiser stay float32.
     */
    precision: z.enum(['fp32', 'bf16', 'fp16']).default('fp32'),
    threads: z.number().int().positive().optional(),
    /**
     * Worker threads preparing batches (0: inline). Default for in-memory data: 1 when the machine has
     * a core to spare beyond libtorch's threads, else 0 (on 2 cores a worker slowed the loop 3-7 %:
     * measured, README); for streamed data, which decodes every image, every core beyond libtorch's
     * threads, at least 1.
     */
    workers: z.number().int().nonnegative().optional(),
    /**
     * Where an in-memory set's training batches are augmented: by the worker threads (per pixel, in
     * JavaScript) or on the run's device as tensor ops (the same batches within float rounding).
     * 'auto': on the device when it is a GPU (small images would keep it waiting for the CPU),
     * else by the workers. Streamed sets are always made whole in their workers.
     */
    augmentOn: z.enum(['auto', 'workers', 'device']).default('auto'),
    /**
     * CUDA: whether float32 matrix products and convolutions may round their inputs to TF32 on GPUs
     * that have it (set for the process when the run starts; PyTorch's own defaults differ between
     * the two: matmul off, cuDNN on). No effect on the CPU.
     */
    tf32: z.boolean().default(true),
    /**
     * The ResNet's activation and weight layout: NCHW ('contiguous', the default) or NHWC
     * ('channelsLast', what cuDNN's half-precision convolutions prefer). On this libtorch's CPU
     * kernels channels-last is 8-18 % faster per step but its backward through the first stage is
     * inaccurate with several threads (README), hence not the default. AlexNet keeps NCHW.
     */
    memoryFormat: z.enum(['contiguous', 'channelsLast']).default('contiguous'),
    /**
     * Several processes: BatchNorm statistics over the global batch instead of each process's slice
     * (the released code keeps them per process).
     */
    syncBn: z.boolean().default(false),
    /** Several processes: gradients are averaged in buckets of about this many MiB (PyTorch DDP: 25). */
    gradBucketMb: z.number().positive().default(25),
    /** Several processes: send each bucket while the rest of backward runs (false: all after backward). */
    overlapGradients: z.boolean().default(true),
    /** Backbone (or whole-model) safetensors checkpoint to start from. */
    initFrom: z.string().optional(),
    out: z.string().default('runs/odc'),
    /** Write a checkpoint every this many iterations (and at every epoch end). */
    checkpointEvery: z.number().int().positive().default(200),
    /** Iterations between progress lines, metrics.jsonl 'iter' records and TensorBoard iteration scalars. */
    logEvery: z.number().int().positive().default(20),
    /** Write TensorBoard event files (scalars and cluster-size histograms) to `<out>/tb/`. */
    tensorboard: z.boolean().default(true),
    /** After training, cluster the backbone features into as many groups as true classes and report NMI/ACC (labelled data only). */
    evalFeatures: z.boolean().default(true),
    /**
     * Stop after this many iterations in total (for tests and time-boxed runs): a checkpoint is
     * written and train() returns, as after a kill right after a checkpoint; `resume` continues
     * exactly as if the run had not stopped.
     */
    maxIterations: z.number().int().positive().optional(),
  })
  .strict();

export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

/**
 * The method's learning rate when none is given: ODC 0.06, DeepCluster 0.1 (Sobel) / 0.3, rotation
 * 0.1 (the released 0.2 at batch 128, scaled to 64), NPID 0.03 (Wu et al.).
 */
export function defaultLr(c: Pick<TrainConfig, 'method' | 'sobel'>): number {
  if (c.method === 'odc') return 0.06;
  if (c.method === 'rotation') return 0.1;
  if (c.method === 'npid') return 0.03;
  return c.sobel ? 0.1 : 0.3;
}

function formatIssues(err: z.ZodError, where: string): string {
  return err.issues
    .map((i) => `${where}: '${i.path.join('.') || '(root)'}': ${i.message}`)
    .join('\n');
}

/** Validates a partial config over the defaults; a ConfigError lists every key at fault. */
export function resolveConfig(input: unknown, where = 'config'): TrainConfig {
  const r = TrainConfigSchema.safeParse(input);
  if (!r.success) throw new ConfigError(formatIssues(r.error, where));
  return r.data;
}

/** Reads a YAML or JSON config file (partial; validated when merged). */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`--config ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const v = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a mapping of keys to values');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`--config ${path}: ${(e as Error).message}`);
  }
}

/** Deep merge of plain objects (later wins), for defaults ← file ← flags. */
export function mergeConfig(...parts: Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of parts) {
    for (const [k, v] of Object.entries(p)) {
      if (v === undefined) continue;
      const prev = out[k];
      out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) && prev !== null && typeof prev === 'object' && !Array.isArray(prev)
        ? mergeConfig(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
    }
  }
  return out;
}

/** A nested partial config from dotted settings: {'memory.minCluster': 20} → {memory: {minCluster: 20}}. */
export function nested(settings: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(settings)) {
    const path = key.split('.');
    let o = out;
    for (const p of path.slice(0, -1)) {
      if (o[p] === undefined) o[p] = {};
      o = o[p] as Record<string, unknown>;
    }
    o[path[path.length - 1]] = v;
  }
  return out;
}
