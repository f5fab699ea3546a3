// Module entry: one line per exported function, grouped by file.
#include <napi.h>

#include "dispatch.h"
#include "native_api.h"

namespace odc {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // dispatch.cc
  exports.Set("resolveOp", Napi::Function::New(env, ResolveOp));
  exports.Set("callOp", Napi::Function::New(env, CallOp));
  exports.Set("callOpInPlace", Napi::Function::New(env, CallOpInPlace));
  exports.Set("opSchema", Napi::Function::New(env, OpSchema));
  // tensor_io.cc
  exports.Set("fromBuffer", Napi::Function::New(env, FromBuffer));
  exports.Set("toBuffer", Napi::Function::New(env, ToBuffer));
  exports.Set("meta", Napi::Function::New(env, Meta));
  exports.Set("strides", Napi::Function::New(env, Strides));
  exports.Set("free", Napi::Function::New(env, Free));
  exports.Set("isAlive", Napi::Function::New(env, IsAlive));
  exports.Set("sameStorage", Napi::Function::New(env, SameStorage));
  // autograd.cc
  exports.Set("backward", Napi::Function::New(env, Backward));
  exports.Set("grad", Napi::Function::New(env, Grad));
  exports.Set("setGrad", Napi::Function::New(env, SetGrad));
  exports.Set("setRequiresGrad", Napi::Function::New(env, SetRequiresGrad));
  exports.Set("isLeaf", Napi::Function::New(env, IsLeaf));
  exports.Set("setGradEnabled", Napi::Function::New(env, SetGradEnabled));
  exports.Set("isGradEnabled", Napi::Function::New(env, IsGradEnabled));
  exports.Set("setData", Napi::Function::New(env, SetData));
  // runtime.cc
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads));
  exports.Set("setNumInteropThreads", Napi::Function::New(env, SetNumInteropThreads));
  exports.Set("manualSeed", Napi::Function::New(env, ManualSeed));
  exports.Set("newGenerator", Napi::Function::New(env, NewGenerator));
  exports.Set("defaultGenerator", Napi::Function::New(env, DefaultGenerator));
  exports.Set("generatorState", Napi::Function::New(env, GeneratorState));
  exports.Set("setGeneratorState", Napi::Function::New(env, SetGeneratorState));
  exports.Set("generatorSeed", Napi::Function::New(env, GeneratorSeed));
  exports.Set("cudaAvailable", Napi::Function::New(env, CudaAvailable));
  exports.Set("cudaDeviceCount", Napi::Function::New(env, CudaDeviceCount));
  exports.Set("liveTensors", Napi::Function::New(env, LiveTensors));
  exports.Set("reportedBytes", Napi::Function::New(env, ReportedBytesJs));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo));
  exports.Set("allocatorTuned", Napi::Function::New(env, AllocatorTuned));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClassJs));
  return exports;
}

}  // namespace odc

static Napi::Object InitOdcTorch(Napi::Env env, Napi::Object exports) { return odc::Init(env, exports); }

NODE_API_MODULE(odc_torch, InitOdcTorch)
