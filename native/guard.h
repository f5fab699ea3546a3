// Every exported function runs inside GUARD: libtorch and argument errors become JS errors of the
// class registered by TypeScript (TorchError), naming the op and the inputs; nothing escapes as an abort.
#pragma once
#include <napi.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace odc {

// An error in the arguments a JS caller passed (wrong handle kind, bad dtype name...).
struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws the registered TorchError (or a plain Error before registration) as a JS exception.
[[noreturn]] void ThrowTorchError(Napi::Env env, const std::string& op, const std::string& message,
                                  const std::vector<std::string>& inputs);
void SetErrorClass(const Napi::CallbackInfo& info);

}  // namespace odc

// `inputs` is a std::vector<std::string> in scope describing the tensor inputs (may be empty).
#define GUARD(env, op, inputs, ...)                                                    \
  try {                                                                                \
    __VA_ARGS__                                                                        \
  } catch (const Napi::Error&) {                                                       \
    throw;                                                                             \
  } catch (const c10::Error& e) {                                                      \
    ::odc::ThrowTorchError(env, op, e.what_without_backtrace(), inputs);               \
  } catch (const std::exception& e) {                                                  \
    ::odc::ThrowTorchError(env, op, e.what(), inputs);                                 \
  }
