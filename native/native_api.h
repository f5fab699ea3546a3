// Declarations of every function exported to JavaScript (one line each in addon.cc).
#pragma once
#include <napi.h>

namespace odc {
Napi::Value FromBuffer(const Napi::CallbackInfo& info);
Napi::Value ToBuffer(const Napi::CallbackInfo& info);
Napi::Value Meta(const Napi::CallbackInfo& info);
Napi::Value Strides(const Napi::CallbackInfo& info);
Napi::Value Free(const Napi::CallbackInfo& info);
Napi::Value IsAlive(const Napi::CallbackInfo& info);
Napi::Value SameStorage(const Napi::CallbackInfo& info);

Napi::Value Backward(const Napi::CallbackInfo& info);
Napi::Value Grad(const Napi::CallbackInfo& info);
Napi::Value SetGrad(const Napi::CallbackInfo& info);
Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info);
Napi::Value IsLeaf(const Napi::CallbackInfo& info);
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info);
Napi::Value IsGradEnabled(const Napi::CallbackInfo& info);
Napi::Value AutocastEnter(const Napi::CallbackInfo& info);
Napi::Value AutocastExit(const Napi::CallbackInfo& info);
Napi::Value IsAutocastEnabled(const Napi::CallbackInfo& info);
Napi::Value SetData(const Napi::CallbackInfo& info);

Napi::Value SetNumThreads(const Napi::CallbackInfo& info);
Napi::Value GetNumThreads(const Napi::CallbackInfo& info);
Napi::Value SetNumInteropThreads(const Napi::CallbackInfo& info);
Napi::Value ManualSeed(const Napi::CallbackInfo& info);
Napi::Value NewGenerator(const Napi::CallbackInfo& info);
Napi::Value DefaultGenerator(const Napi::CallbackInfo& info);
Napi::Value GeneratorState(const Napi::CallbackInfo& info);
Napi::Value SetGeneratorState(const Napi::CallbackInfo& info);
Napi::Value GeneratorSeed(const Napi::CallbackInfo& info);
Napi::Value CudaAvailable(const Napi::CallbackInfo& info);
Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info);
Napi::Value SetTf32(const Napi::CallbackInfo& info);
Napi::Value GetTf32(const Napi::CallbackInfo& info);
Napi::Value LiveTensors(const Napi::CallbackInfo& info);
Napi::Value ReportedBytesJs(const Napi::CallbackInfo& info);
Napi::Value BuildInfo(const Napi::CallbackInfo& info);
Napi::Value TuneAllocatorJs(const Napi::CallbackInfo& info);
Napi::Value HeapBytesInUse(const Napi::CallbackInfo& info);
// host_read.cc
Napi::Value CopyToHostAsync(const Napi::CallbackInfo& info);
Napi::Value EventQuery(const Napi::CallbackInfo& info);
Napi::Value EventWait(const Napi::CallbackInfo& info);
bool TuneAllocator();
Napi::Value SetErrorClassJs(const Napi::CallbackInfo& info);

Napi::Value DistributedAvailable(const Napi::CallbackInfo& info);
Napi::Value NewTcpStore(const Napi::CallbackInfo& info);
Napi::Value NewFileStore(const Napi::CallbackInfo& info);
Napi::Value CloseStore(const Napi::CallbackInfo& info);
Napi::Value StoreSet(const Napi::CallbackInfo& info);
Napi::Value StoreCheck(const Napi::CallbackInfo& info);
Napi::Value NewProcessGroupGloo(const Napi::CallbackInfo& info);
Napi::Value NewProcessGroupNccl(const Napi::CallbackInfo& info);
Napi::Value NcclAvailable(const Napi::CallbackInfo& info);
Napi::Value DestroyProcessGroup(const Napi::CallbackInfo& info);
Napi::Value Allreduce(const Napi::CallbackInfo& info);
Napi::Value Allgather(const Napi::CallbackInfo& info);
Napi::Value Broadcast(const Napi::CallbackInfo& info);
Napi::Value Barrier(const Napi::CallbackInfo& info);
Napi::Value DifferentiableAllreduce(const Napi::CallbackInfo& info);
Napi::Value BackwardAllreduce(const Napi::CallbackInfo& info);
}  // namespace odc
