/** odc: Online Deep Clustering on a libtorch engine. Public API barrel (re-exports only). */

export * from './io/safetensors.ts';
export * from './models/alexnet.ts';
export * from './models/backbone.ts';
export * from './models/resnet.ts';
export * as F from './nn/functional.ts';
export * as init from './nn/init.ts';
export * from './nn/layers.ts';
export * from './nn/module.ts';
export * from './optim/schedules.ts';
export * from './optim/sgd.ts';
export * from './runtime.ts';
export { opSchema } from './tensor/aten.ts';
export * from './tensor/creation.ts';
export type { Device, DType } from './tensor/dtype.ts';
export * from './tensor/errors.ts';
export * from './tensor/random.ts';
export * from './tensor/scope.ts';
export * from './tensor/tensor.ts';
