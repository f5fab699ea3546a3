/** odc: Online Deep Clustering on a libtorch engine. Public API barrel (re-exports only). */


// Training, clustering, data
export * from './cluster/kmeans.ts';
export * from './cluster/odc_memory.ts';
export { loadDataset } from './data/spec.ts';
export type { ImageStore } from './data/store.ts';
export { longTail, randomSubset } from './data/store.ts';
// Evaluation
export * from './eval/cluster_metrics.ts';
export { defaultEvalPath, type EvalOptions, type EvalResult, evaluate, PROTOCOLS, writeEvalResults } from './eval/evaluate.ts';
export { knnClassify } from './eval/knn.ts';
export { linearProbe } from './eval/linear_probe.ts';
export { decisionFunction, trainLinearSvc } from './eval/linear_svm.ts';
export { lowShotSvm } from './eval/lowshot.ts';
export { svmProtocol } from './eval/svm_protocol.ts';
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
// Seeing a run
export { type ReportOptions, writeReport } from './report/report.ts';
export * from './report/tfevents.ts';
export * from './runtime.ts';
export { type ServeOptions, startServer } from './serve/server.ts';
export { opSchema } from './tensor/aten.ts';
export * from './tensor/creation.ts';
export type { Device, DType } from './tensor/dtype.ts';
export * from './tensor/errors.ts';
export * from './tensor/random.ts';
export * from './tensor/scope.ts';
export * from './tensor/tensor.ts';
export { resolveConfig, type TrainConfig, type TrainConfigInput } from './train/config.ts';
export { loadTrainingData, type TrainOptions, type TrainResult, train } from './train/trainer.ts';
