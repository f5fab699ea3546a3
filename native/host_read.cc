// Reads of device tensors that do not stall the device's queue: the copy to host is enqueued behind
// the work already submitted, an event marks its completion, and the caller waits on that event
// only when it needs the value, by which time later work (the next forward pass) is queued behind
// it. A plain .item() on a CUDA tensor instead waits for everything submitted so far.
#include <c10/core/Event.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

#include <thread>

#include "guard.h"
#include "handle.h"
#include "native_api.h"

namespace odc {

namespace {

const napi_type_tag kEventTag = {0x6f6463686f737472ULL, 0x65616465766e7431ULL};

struct EventBox {
  c10::Event event;
};

c10::Event& UnwrapEvent(const Napi::Value& v, const char* what) {
  if (!v.IsExternal() || !v.As<Napi::External<EventBox>>().CheckTypeTag(&kEventTag)) throw ArgError(std::string(what) + ": expected an event handle");
  return v.As<Napi::External<EventBox>>().Data()->event;
}

}  // namespace

// copyToHostAsync(t) -> [host, event | null]: a host copy of `t`. From a CPU tensor the copy is
// made at once and there is no event; from a device tensor it lands in pinned memory
// asynchronously, and `event` completes when it has (wait for it before reading `host`).
Napi::Value CopyToHostAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor& t = UnwrapTensor(info[0], "copy_to_host_async");
  auto result = Napi::Array::New(env, 2);
  if (t.device().is_cpu()) {
    result.Set(0u, WrapTensor(env, t.clone()));
    result.Set(1u, env.Null());
    return result;
  }
  auto host = at::empty(t.sizes(), t.options().device(at::kCPU).pinned_memory(true));
  host.copy_(t, /*non_blocking=*/true);
  const auto* impl = c10::impl::getDeviceGuardImpl(t.device().type());
  auto* box = new EventBox{c10::Event(t.device().type())};
  box->event.record(impl->getStream(t.device()));
  auto ext = Napi::External<EventBox>::New(env, box, [](Napi::Env, EventBox* b) { delete b; });
  ext.TypeTag(&kEventTag);
  result.Set(0u, WrapTensor(env, host));
  result.Set(1u, ext);
  return result;
}

// eventQuery(event) -> whether the work before it has completed (never blocks).
Napi::Value EventQuery(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), UnwrapEvent(info[0], "event_query").query());
}

// eventWait(event): returns once the work before the event has completed. Polls (with a yield):
// the event API of every libtorch this builds against has query(), not all have synchronize().
Napi::Value EventWait(const Napi::CallbackInfo& info) {
  auto& event = UnwrapEvent(info[0], "event_wait");
  while (!event.query()) std::this_thread::yield();
  return info.Env().Undefined();
}

}  // namespace odc
