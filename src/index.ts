/** odc: Online Deep Clustering on a libtorch engine. Public API barrel (re-exports only). */


// Training, clustering, data
export * from './cluster/kmeans.ts';
export * from './cluster/odc_memory.ts';
export { type TwoMeansOptions, twoMeans } from './cluster/two_means.ts';
export { type AugmentConfig, augmentBatch, extractBatch, presetFor } from './data/augment.ts';
export { type BatchSource, batchSource, type ImageSet, isStreamed, type StreamedSet } from './data/image_set.ts';
export { loadDataset, loadImageSet } from './data/spec.ts';
export type { ImageStore } from './data/store.ts';
export { longTail, randomSubset } from './data/store.ts';
// Multi-process collectives (c10d: TCPStore or FileStore rendezvous, a Gloo group on CPU tensors)
// and data-parallel training (train(config, { group }))
export { type Collective, singleProcess } from './distributed/collective.ts';
export { broadcastModule, gatherShards, padToMultiple, shardOf } from './distributed/data_parallel.ts';
export { type DistributedEnv, distributedEnv } from './distributed/env.ts';
export { launchLocal } from './distributed/launch.ts';
export {
  type Backend as ProcessGroupBackend,
  type FileInitOptions,
  type InitProcessGroupOptions,
  initProcessGroup,
  ncclAvailable,
  ProcessGroup,
  type ReduceOp,
  type TcpInitOptions,
} from './distributed/process_group.ts';
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
export { ARCHS, type Arch, buildBackbone, ClusterModel, type ClusterModelOptions } from './models/cluster_model.ts';
export { ClsHead, OdcNeck, type OdcNeckOptions } from './models/odc_neck.ts';
export * from './models/resnet.ts';
export { Sobel } from './models/sobel.ts';
export * as F from './nn/functional.ts';
export * as init from './nn/init.ts';
export * from './nn/layers.ts';
export * from './nn/module.ts';
export * from './optim/schedules.ts';
export * from './optim/sgd.ts';
// TensorBoard event files (training writes them); the HTML report and the cluster browser are `odc/report`
export * from './report/tfevents.ts';
export * from './runtime.ts';
export { opSchema } from './tensor/aten.ts';
export * from './tensor/creation.ts';
export type { Device, DType } from './tensor/dtype.ts';
export * from './tensor/errors.ts';
export { HostRead } from './tensor/host_read.ts';
export * from './tensor/random.ts';
export * from './tensor/scope.ts';
export * from './tensor/tensor.ts';
export type { AlgorithmContext, ClusterAlgorithm, StepResult } from './train/algorithm.ts';
export { resolveConfig, type TrainConfig, type TrainConfigInput } from './train/config.ts';
export { DeepClusterAlgorithm } from './train/deepcluster.ts';
export { OdcAlgorithm } from './train/odc.ts';
export { loadTrainingSet, type TrainOptions, type TrainResult, train } from './train/trainer.ts';
