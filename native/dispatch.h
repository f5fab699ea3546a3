#pragma once
#include <napi.h>

namespace odc {
Napi::Value ResolveOp(const Napi::CallbackInfo& info);
Napi::Value CallOp(const Napi::CallbackInfo& info);
Napi::Value CallOpInPlace(const Napi::CallbackInfo& info);
Napi::Value OpSchema(const Napi::CallbackInfo& info);
}  // namespace odc
