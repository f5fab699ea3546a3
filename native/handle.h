// Ownership of native objects handed to JavaScript: every tensor and generator lives in a
// type-tagged napi External; its bytes are reported to V8 so the collector sees native memory.
#pragma once
#include <ATen/ATen.h>
#include <napi.h>

namespace odc {

struct TensorBox {
  at::Tensor t;
  int64_t bytes = 0;  // what was reported to V8 for this handle; given back exactly once
};

struct GeneratorBox {
  at::Generator g;
};

// Wraps a tensor in a new JS handle (an undefined tensor becomes `undefined`).
Napi::Value WrapTensor(Napi::Env env, const at::Tensor& t);
// The tensor behind a JS handle; throws a JS-facing error for a non-handle or a disposed tensor.
const at::Tensor& UnwrapTensor(const Napi::Value& v, const char* what);
bool IsTensorHandle(const Napi::Value& v);
TensorBox* TensorBoxOf(const Napi::Value& v);
// Releases the tensor now (idempotent); the External itself is reclaimed by the collector.
void ReleaseTensor(Napi::Env env, TensorBox* box);

Napi::Value WrapGenerator(Napi::Env env, at::Generator g);
at::Generator UnwrapGenerator(const Napi::Value& v, const char* what);
bool IsGeneratorHandle(const Napi::Value& v);

int64_t LiveTensorCount();
int64_t ReportedBytes();

// Human-readable "[2,3] float32 cpu" description used in error messages.
std::string Describe(const at::Tensor& t);
std::string DtypeName(at::ScalarType s);

}  // namespace odc
