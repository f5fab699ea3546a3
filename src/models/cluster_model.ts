/**
 * The network every method trains: [Sobel] → backbone → [neck] → [linear head]. ODC: the ODC neck
 * and a head over the clusters; DeepCluster: a head over the clusters on the pooled feature;
 * rotation: a head over the 4 rotations; NPID: a linear neck to the embedding, no head.
 * State-dict keys follow the released code (`backbone.*`, `neck.*`, `head.fc.*`).
 */
import { autocast, type Precision } from '../nn/autocast.ts';
import { Module } from '../nn/module.ts';
import type { Device } from '../tensor/dtype.ts';
import { ConfigError } from '../tensor/errors.ts';
import type { Generator } from '../tensor/random.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { AlexNet } from './alexnet.ts';
import type { Backbone } from './backbone.ts';
import { LinearNeck } from './linear_neck.ts';
import { ClsHead, OdcNeck } from './odc_neck.ts';
import { ResNet, type ResNetDepth } from './resnet.ts';
import { Sobel } from './sobel.ts';

export type Arch = 'resnet18' | 'resnet34' | 'resnet50' | 'alexnet';
export const ARCHS: readonly Arch[] = ['resnet18', 'resnet34', 'resnet50', 'alexnet'];

export interface ClusterModelOptions {
  arch: Arch;
  /** ResNet first-stage width (64 standard) or AlexNet width factor × 64. */
  width?: number;
  stem: 'imagenet' | 'cifar';
  inChannels: number;
  /** Outputs of the linear head; 0: no head (NPID). */
  numClasses: number;
  /**
   * 'odc' (or true): the fc-bn-relu-dropout-fc-relu neck to 256-d; 'linear': one linear map to
   * `neckDim` (NPID); 'none' (or false): the pooled feature directly (DeepCluster, rotation).
   */
  neck: boolean | 'odc' | 'linear' | 'none';
  /** The 'linear' neck's output size (128). */
  neckDim?: number;
  neckDropout?: number;
  sobel?: boolean;
  /** ResNet layout (ResNetOptions.memoryFormat); AlexNet keeps NCHW. */
  memoryFormat?: 'contiguous' | 'channelsLast';
  generator?: Generator;
}

export function buildBackbone(o: Pick<ClusterModelOptions, 'arch' | 'width' | 'stem' | 'inChannels' | 'memoryFormat' | 'generator'>): Backbone {
  if (o.arch === 'alexnet') {
    if (o.memoryFormat === 'channelsLast') throw new ConfigError('--memory-format channels-last: ResNets only (AlexNet keeps NCHW)');
    return new AlexNet({ stem: o.stem, inChannels: o.inChannels, widthFactor: (o.width ?? 64) / 64, generator: o.generator });
  }
  const depth = Number(o.arch.replace('resnet', '')) as ResNetDepth;
  if (![18, 34, 50].includes(depth)) throw new ConfigError(`Expected --arch one of resnet18, resnet34, resnet50, alexnet but received '${o.arch}'`);
  return new ResNet({ depth, stem: o.stem, inChannels: o.inChannels, width: o.width ?? 64, memoryFormat: o.memoryFormat, generator: o.generator });
}

export class ClusterModel extends Module {
  readonly sobel: Sobel | undefined;
  readonly backbone: Backbone;
  readonly neck: OdcNeck | LinearNeck | undefined;
  readonly #head: ClsHead | undefined;
  readonly featureDim: number;
  #precision: { precision: Precision; device: Device } = { precision: 'fp32', device: 'cpu' };

  constructor(readonly options: ClusterModelOptions) {
    super();
    this.sobel = options.sobel ? this.registerModule('sobel', new Sobel(options.inChannels)) : undefined;
    this.backbone = this.registerModule('backbone', buildBackbone({ ...options, inChannels: options.sobel ? 2 : options.inChannels }));
    const neck = options.neck === true ? 'odc' : options.neck === false ? 'none' : options.neck;
    const inChannels = this.backbone.featureDim;
    this.neck =
      neck === 'odc'
        ? this.registerModule('neck', new OdcNeck({ inChannels, dropout: options.neckDropout, generator: options.generator }))
        : neck === 'linear'
          ? this.registerModule('neck', new LinearNeck(inChannels, options.neckDim ?? 128, options.generator))
          : undefined;
    this.featureDim = this.neck?.outChannels ?? this.backbone.featureDim;
    this.#head = options.numClasses > 0 ? this.registerModule('head', new ClsHead(this.featureDim, options.numClasses, options.generator)) : undefined;
  }

  /** The linear head (every method but NPID has one). */
  get head(): ClsHead {
    if (this.#head === undefined) throw new ConfigError('this model has no classifier head (NPID trains its embedding against a memory bank)');
    return this.#head;
  }

  /** Input after the optional Sobel filter. */
  prepare(x: Tensor): Tensor {
    return this.sobel === undefined ? x : this.sobel.forward(x);
  }

  /**
   * Mixed precision of `feature` and `forward` (what the methods train and cluster with): under
   * autocast on `device`, their outputs returned as float32, so losses and memories stay float32.
   */
  setPrecision(precision: Precision, device: Device): void {
    this.#precision = { precision, device };
  }

  #mixed(fn: () => Tensor): Tensor {
    const p = this.#precision;
    if (p.precision === 'fp32') return fn();
    return autocast(p.device, p.precision, fn).float();
  }

  /** The clustered feature: the neck output (ODC) or the pooled backbone feature (DeepCluster). */
  feature(x: Tensor): Tensor {
    return this.#mixed(() => this.#feature(x));
  }

  forward(x: Tensor): Tensor {
    return this.#mixed(() => this.head.forward(this.#feature(x)));
  }

  #feature(x: Tensor): Tensor {
    const pooled = this.backbone.pooled(this.prepare(x));
    return this.neck === undefined ? pooled : this.neck.forward(pooled);
  }

  /** Parameter groups of the released optimiser config: the head trains without momentum. */
  paramGroups(): { params: [string, Tensor][]; momentum?: number }[] {
    const all = this.namedParameters();
    return [{ params: all.filter(([n]) => !n.startsWith('head.')) }, { params: all.filter(([n]) => n.startsWith('head.')), momentum: 0 }];
  }
}
