// What the c10d entry points share across files: the process group behind a JS handle, running a
// collective with failures named "<name> on rank R of W", waiting for a collective's work, and
// the device the group's backend works on.
#pragma once
#ifdef ODC_DISTRIBUTED
#include <napi.h>
#include <torch/version.h>

#include <chrono>
#include <functional>
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

namespace odc {

// Gloo and NCCL are ProcessGroups in libtorch 1.x and Backends from 2.0 on; both declare the collectives.
#if TORCH_VERSION_MAJOR >= 2
using GroupBase = c10d::Backend;
#else
using GroupBase = c10d::ProcessGroup;
#endif

struct GroupBox {
  c10::intrusive_ptr<GroupBase> group;
  int rank;
  int size;
  std::chrono::milliseconds timeout;
  // Where the backend's buffers live: the CPU for Gloo, the rank's GPU for NCCL.
  at::Device device;
  bool nccl;
};

// Runs body with the group of argument 0; any failure becomes "<name> on rank R of W: <message>".
Napi::Value RunCollective(const Napi::CallbackInfo& info, const char* name, const std::function<Napi::Value(GroupBox&)>& body);
// Waits for a collective with a margin over the group's own timeout (so Gloo's message wins).
void AwaitWork(const c10::intrusive_ptr<c10d::Work>& work, std::chrono::milliseconds timeout);
// Throws an ArgError for a tensor the group's backend cannot reduce or copy (dtype, layout).
void CheckCollectiveTensor(const GroupBox& g, const at::Tensor& t);

}  // namespace odc
#endif
