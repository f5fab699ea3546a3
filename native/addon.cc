// Module entry: one line per exported function, grouped by file.
#include <napi.h>

#include "dispatch.h"
#include "guard.h"
#include "native_api.h"

namespace odc {

// Each export runs inside GUARD under its JS name, so no C++ exception (from libtorch, from N-API
// on a wrong argument type, or from the function itself) can reach the runtime and abort the process.
#define EXPORT(name, fn)                                                                             \
  exports.Set(name, Napi::Function::New(                                                             \
                        env,                                                                         \
                        [](const Napi::CallbackInfo& info) -> Napi::Value {                          \
                          GUARD(info.Env(), name, DescribeArgs(info), return fn(info);)              \
                          return info.Env().Undefined();                                             \
                        },                                                                           \
                        name))

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // dispatch.cc
  EXPORT("resolveOp", ResolveOp);
  EXPORT("callOp", CallOp);
  EXPORT("callOpInPlace", CallOpInPlace);
  EXPORT("opSchema", OpSchema);
  // tensor_io.cc
  EXPORT("fromBuffer", FromBuffer);
  EXPORT("toBuffer", ToBuffer);
  EXPORT("meta", Meta);
  EXPORT("strides", Strides);
  EXPORT("free", Free);
  EXPORT("isAlive", IsAlive);
  EXPORT("sameStorage", SameStorage);
  // autograd.cc
  EXPORT("backward", Backward);
  EXPORT("grad", Grad);
  EXPORT("setGrad", SetGrad);
  EXPORT("setRequiresGrad", SetRequiresGrad);
  EXPORT("isLeaf", IsLeaf);
  EXPORT("setGradEnabled", SetGradEnabled);
  EXPORT("isGradEnabled", IsGradEnabled);
  EXPORT("autocastEnter", AutocastEnter);
  EXPORT("autocastExit", AutocastExit);
  EXPORT("isAutocastEnabled", IsAutocastEnabled);
  EXPORT("setData", SetData);
  // runtime.cc
  EXPORT("setNumThreads", SetNumThreads);
  EXPORT("getNumThreads", GetNumThreads);
  EXPORT("setNumInteropThreads", SetNumInteropThreads);
  EXPORT("manualSeed", ManualSeed);
  EXPORT("newGenerator", NewGenerator);
  EXPORT("defaultGenerator", DefaultGenerator);
  EXPORT("generatorState", GeneratorState);
  EXPORT("setGeneratorState", SetGeneratorState);
  EXPORT("generatorSeed", GeneratorSeed);
  EXPORT("cudaAvailable", CudaAvailable);
  EXPORT("cudaDeviceCount", CudaDeviceCount);
  EXPORT("setTf32", SetTf32);
  EXPORT("getTf32", GetTf32);
  EXPORT("liveTensors", LiveTensors);
  EXPORT("reportedBytes", ReportedBytesJs);
  EXPORT("buildInfo", BuildInfo);
  EXPORT("tuneAllocator", TuneAllocatorJs);
  EXPORT("heapBytesInUse", HeapBytesInUse);
  EXPORT("setErrorClass", SetErrorClassJs);
  // host_read.cc
  EXPORT("copyToHostAsync", CopyToHostAsync);
  EXPORT("eventQuery", EventQuery);
  EXPORT("eventWait", EventWait);
  // distributed.cc
  EXPORT("distributedAvailable", DistributedAvailable);
  EXPORT("tcpStore", NewTcpStore);
  EXPORT("fileStore", NewFileStore);
  EXPORT("closeStore", CloseStore);
  EXPORT("storeSet", StoreSet);
  EXPORT("storeCheck", StoreCheck);
  EXPORT("processGroupGloo", NewProcessGroupGloo);
  EXPORT("processGroupNccl", NewProcessGroupNccl);
  EXPORT("ncclAvailable", NcclAvailable);
  EXPORT("destroyProcessGroup", DestroyProcessGroup);
  EXPORT("allreduce", Allreduce);
  EXPORT("allgather", Allgather);
  EXPORT("broadcast", Broadcast);
  EXPORT("barrier", Barrier);
  // data_parallel.cc
  EXPORT("differentiableAllreduce", DifferentiableAllreduce);
  EXPORT("backwardAllreduce", BackwardAllreduce);
  return exports;
}

}  // namespace odc

static Napi::Object InitOdcTorch(Napi::Env env, Napi::Object exports) { return odc::Init(env, exports); }

NODE_API_MODULE(odc_torch, InitOdcTorch)
