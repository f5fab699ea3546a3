// Per-environment state of the addon (main thread and each worker thread have their own).
#pragma once
#include <napi.h>

namespace odc {

struct AddonData {
  Napi::FunctionReference error_class;  // TorchError, registered from TypeScript
};

AddonData* GetAddonData(Napi::Env env);

}  // namespace odc
