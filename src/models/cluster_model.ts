/**
 * The network ODC and DeepCluster train: [Sobel] → backbone → [ODC neck] → linear head over the
 * clusters. State-dict keys follow the released code (`backbone.*`, `neck.*`, `head.fc.*`).
 */
import { Module } from '../nn/module.ts';
import { ConfigError } from '../tensor/errors.ts';
import type { Generator } from '../tensor/random.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { AlexNet } from './alexnet.ts';
import type { Backbone } from './backbone.ts';
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
  numClasses: number;
  /** ODC: the fc-bn-relu-dropout-fc-relu neck to 256-d; DeepCluster: the pooled feature directly. */
  neck: boolean;
  neckDropout?: number;
  sobel?: boolean;
  generator?: Generator;
}

export function buildBackbone(o: Pick<ClusterModelOptions, 'arch' | 'width' | 'stem' | 'inChannels' | 'generator'>): Backbone {
  if (o.arch === 'alexnet') {
    return new AlexNet({ stem: o.stem, inChannels: o.inChannels, widthFactor: (o.width ?? 64) / 64, generator: o.generator });
  }
  const depth = Number(o.arch.replace('resnet', '')) as ResNetDepth;
  if (![18, 34, 50].includes(depth)) throw new ConfigError(`Expected --arch one of resnet18, resnet34, resnet50, alexnet but received '${o.arch}'`);
  return new ResNet({ depth, stem: o.stem, inChannels: o.inChannels, width: o.width ?? 64, generator: o.generator });
}

export class ClusterModel extends Module {
  readonly sobel: Sobel | undefined;
  readonly backbone: Backbone;
  readonly neck: OdcNeck | undefined;
  readonly head: ClsHead;
  readonly featureDim: number;

  constructor(readonly options: ClusterModelOptions) {
    super();
    this.sobel = options.sobel ? this.registerModule('sobel', new Sobel(options.inChannels)) : undefined;
    this.backbone = this.registerModule('backbone', buildBackbone({ ...options, inChannels: options.sobel ? 2 : options.inChannels }));
    this.neck = options.neck
      ? this.registerModule('neck', new OdcNeck({ inChannels: this.backbone.featureDim, dropout: options.neckDropout, generator: options.generator }))
      : undefined;
    this.featureDim = this.neck?.outChannels ?? this.backbone.featureDim;
    this.head = this.registerModule('head', new ClsHead(this.featureDim, options.numClasses, options.generator));
  }

  /** Input after the optional Sobel filter. */
  prepare(x: Tensor): Tensor {
    return this.sobel === undefined ? x : this.sobel.forward(x);
  }

  /** The clustered feature: the neck output (ODC) or the pooled backbone feature (DeepCluster). */
  feature(x: Tensor): Tensor {
    const pooled = this.backbone.pooled(this.prepare(x));
    return this.neck === undefined ? pooled : this.neck.forward(pooled);
  }

  forward(x: Tensor): Tensor {
    return this.head.forward(this.feature(x));
  }

  /** Parameter groups of the released optimiser config: the head trains without momentum. */
  paramGroups(): { params: [string, Tensor][]; momentum?: number }[] {
    const all = this.namedParameters();
    return [{ params: all.filter(([n]) => !n.startsWith('head.')) }, { params: all.filter(([n]) => n.startsWith('head.')), momentum: 0 }];
  }
}
