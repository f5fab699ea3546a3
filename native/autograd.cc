// Autograd entry points that are not ATen operators: grad access, grad mode, backward.
#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>

#include "guard.h"
#include "handle.h"
#include "native_api.h"

namespace odc {

// backward(loss, gradient?, retainGraph?)
Napi::Value Backward(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "backward", DescribeArgs(info), {
    const auto& t = UnwrapTensor(info[0], "backward");
    at::Tensor grad;
    if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) grad = UnwrapTensor(info[1], "backward");
    c10::optional<bool> retain;
    if (info.Length() > 2 && info[2].IsBoolean()) retain = info[2].As<Napi::Boolean>().Value();
    t.backward(grad, retain);
  })
  return info.Env().Undefined();
}

// grad(handle): the accumulated gradient, or undefined.
Napi::Value Grad(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "grad", DescribeArgs(info), {
    const auto& t = UnwrapTensor(info[0], "grad");
    return WrapTensor(info.Env(), t.grad());
  })
  return info.Env().Undefined();
}

// setGrad(handle, grad | undefined): undefined clears it (zero_grad(set_to_none=True)).
Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "set_grad", DescribeArgs(info), {
    const auto& t = UnwrapTensor(info[0], "set_grad");
    if (info[1].IsUndefined() || info[1].IsNull()) {
      t.mutable_grad() = at::Tensor();
    } else {
      const auto& g = UnwrapTensor(info[1], "set_grad");
      if (!g.sizes().equals(t.sizes())) throw ArgError("gradient shape must match the tensor's");
      t.mutable_grad() = g;
    }
  })
  return info.Env().Undefined();
}

// setRequiresGrad(handle, flag)
Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "requires_grad_", DescribeArgs(info), {
    const auto& t = UnwrapTensor(info[0], "requires_grad_");
    t.set_requires_grad(info[1].ToBoolean().Value());
  })
  return info.Env().Undefined();
}

// isLeaf(handle)
Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  const auto& t = UnwrapTensor(info[0], "is_leaf");
  return Napi::Boolean::New(info.Env(), t.is_leaf());
}

// setGradEnabled(flag): returns the previous mode (no_grad scopes restore it).
Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  bool prev = at::GradMode::is_enabled();
  at::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

}  // namespace odc

namespace odc {
// setData(handle, source): swaps the tensor's data for `source`'s (PyTorch's `param.data = x`), keeping
// the handle, its autograd identity and every JS reference valid (moving a module to a device).
Napi::Value SetData(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "set_data", DescribeArgs(info), {
    const auto& t = UnwrapTensor(info[0], "set_data");
    const auto& src = UnwrapTensor(info[1], "set_data");
    at::Tensor dst = t;
    dst.set_data(src);
  })
  return info.Env().Undefined();
}
}  // namespace odc

namespace odc {
// Mixed precision as torch.autocast: autocastEnter(device, dtype) turns autocast on for 'cpu' or
// 'cuda' with 'bfloat16' or 'float16' (convolutions and matrix products in that type, the ops that
// need it kept in float32) and returns what to restore; autocastExit(device, state) restores it and,
// leaving the outermost region, frees the casts autocast cached. Thread-local, as in libtorch: it
// covers the ops this (the JS) thread dispatches.
static at::ScalarType AutocastType(const std::string& name) {
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float16") return at::kHalf;
  throw ArgError("autocast: expected dtype 'bfloat16' or 'float16', got '" + name + "'");
}

Napi::Value AutocastEnter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object prev = Napi::Object::New(env);
  GUARD(env, "autocast", DescribeArgs(info), {
    std::string device = info[0].As<Napi::String>().Utf8Value();
    at::ScalarType type = AutocastType(info[1].As<Napi::String>().Utf8Value());
    if (device == "cpu") {
      if (type != at::kBFloat16) throw ArgError("autocast on the CPU takes bfloat16 only, got float16");
      prev.Set("enabled", at::autocast::is_cpu_enabled());
      prev.Set("dtype", DtypeName(at::autocast::get_autocast_cpu_dtype()));
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(type);
    } else if (device == "cuda") {
      prev.Set("enabled", at::autocast::is_enabled());
      prev.Set("dtype", DtypeName(at::autocast::get_autocast_gpu_dtype()));
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(type);
    } else {
      throw ArgError("autocast: expected device 'cpu' or 'cuda', got '" + device + "'");
    }
    at::autocast::increment_nesting();
  })
  return prev;
}

Napi::Value AutocastExit(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "autocast", DescribeArgs(info), {
    std::string device = info[0].As<Napi::String>().Utf8Value();
    Napi::Object prev = info[1].As<Napi::Object>();
    bool enabled = prev.Get("enabled").ToBoolean().Value();
    std::string dtype = prev.Get("dtype").As<Napi::String>().Utf8Value();
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::ScalarType type = dtype == "float16" ? at::kHalf : at::kBFloat16;
    if (device == "cpu") {
      at::autocast::set_cpu_enabled(enabled);
      at::autocast::set_autocast_cpu_dtype(type);
    } else {
      at::autocast::set_enabled(enabled);
      at::autocast::set_autocast_gpu_dtype(type);
    }
  })
  return info.Env().Undefined();
}

Napi::Value IsAutocastEnabled(const Napi::CallbackInfo& info) {
  std::string device = info[0].As<Napi::String>().Utf8Value();
  return Napi::Boolean::New(info.Env(), device == "cpu" ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled());
}
}  // namespace odc
