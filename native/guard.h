// Every exported function runs inside GUARD (addon.cc wraps each one; some also guard their own
// body to name a finer op): libtorch, argument and N-API errors become JS errors of the class
// registered by TypeScript (TorchError), naming the op and the inputs; nothing escapes as an abort.
#pragma once
#include <c10/util/Exception.h>
#include <napi.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace odc {

// An error in the arguments a JS caller passed (wrong handle kind, bad dtype name...).
struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A TorchError already built for JavaScript: outer guards pass it through unchanged.
struct TorchJsError : Napi::Error {
  TorchJsError(Napi::Env env, napi_value value) : Napi::Error(env, value) {}
};

// Throws the registered TorchError (or a plain Error before registration) as a JS exception.
[[noreturn]] void ThrowTorchError(Napi::Env env, const std::string& op, const std::string& message,
                                  const std::vector<std::string>& inputs);
void SetErrorClass(const Napi::CallbackInfo& info);

// "[2,3] float32 cpu" for every tensor handle among the call's arguments (one level into arrays):
// built only on the error path, so a successful call pays nothing for its error message.
std::vector<std::string> DescribeArgs(const Napi::CallbackInfo& info);

}  // namespace odc

// `describe` is an expression yielding std::vector<std::string>; it is evaluated only when the body throws.
#define GUARD(env, op, describe, ...)                                                  \
  try {                                                                                \
    __VA_ARGS__                                                                        \
  } catch (const ::odc::TorchJsError&) {                                               \
    throw;                                                                             \
  } catch (const Napi::Error& e) {                                                     \
    ::odc::ThrowTorchError(env, op, e.Message(), describe);                            \
  } catch (const c10::Error& e) {                                                      \
    ::odc::ThrowTorchError(env, op, e.what_without_backtrace(), describe);             \
  } catch (const std::exception& e) {                                                  \
    ::odc::ThrowTorchError(env, op, e.what(), describe);                               \
  } catch (...) {                                                                      \
    ::odc::ThrowTorchError(env, op, "unknown C++ exception", describe);                \
  }
