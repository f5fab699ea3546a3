// Copies between JS TypedArrays and tensors, tensor metadata, and explicit release of handles.
#include <cstring>

#include "guard.h"
#include "handle.h"
#include "native_api.h"

namespace odc {

// fromBuffer(typedArray, dtype: number, shape: number[], pinned?: boolean): a new CPU tensor holding a
// copy of the bytes; `pinned` puts it in page-locked memory (CUDA builds only), from which a copy to
// the GPU can be asynchronous.
Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "from_buffer", DescribeArgs(info), {
    if (!info[0].IsTypedArray()) throw ArgError("from_buffer: expected a TypedArray");
    auto ta = info[0].As<Napi::TypedArray>();
    int code = info[1].As<Napi::Number>().Int32Value();
    if (code < 0 || code >= static_cast<int>(at::ScalarType::NumOptions)) throw ArgError("from_buffer: unknown dtype code " + std::to_string(code));
    auto dtype = static_cast<at::ScalarType>(code);
    auto dims = info[2].As<Napi::Array>();
    std::vector<int64_t> shape;
    for (uint32_t i = 0; i < dims.Length(); i++) shape.push_back(dims.Get(i).As<Napi::Number>().Int64Value());
    bool pinned = info.Length() > 3 && info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
    auto t = at::empty(shape, at::TensorOptions().dtype(dtype).pinned_memory(pinned));
    size_t want = t.numel() * t.element_size();
    if (ta.ByteLength() != want) {
      throw ArgError("from_buffer: " + std::to_string(ta.ByteLength()) + " bytes given for a " + Describe(t) +
                     " tensor needing " + std::to_string(want));
    }
    // The elements' address from the typed array itself: its buffer may be a SharedArrayBuffer (the
    // streamed batches' workers write into one), which ArrayBuffer() would refuse.
    void* src = nullptr;
    NAPI_THROW_IF_FAILED(info.Env(), napi_get_typedarray_info(info.Env(), ta, nullptr, nullptr, &src, nullptr, nullptr), info.Env().Undefined());
    if (want) std::memcpy(t.data_ptr(), src, want);
    return WrapTensor(info.Env(), t);
  })
  return info.Env().Undefined();
}

// toBuffer(handle): an ArrayBuffer with a contiguous CPU copy of the elements.
Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "to_buffer", DescribeArgs(info), {
    const auto& src = UnwrapTensor(info[0], "to_buffer");
    auto t = src.detach().to(at::kCPU).contiguous();
    size_t n = t.numel() * t.element_size();
    auto buf = Napi::ArrayBuffer::New(info.Env(), n);
    if (n) std::memcpy(buf.Data(), t.data_ptr(), n);
    return buf;
  })
  return info.Env().Undefined();
}

// meta(handle): [shape, dtype, device, requiresGrad] (read once per JS tensor and cached there).
Napi::Value Meta(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD(env, "meta", DescribeArgs(info), {
    const auto& t = UnwrapTensor(info[0], "meta");
    auto sizes = t.sizes();
    auto shape = Napi::Array::New(env, sizes.size());
    for (size_t i = 0; i < sizes.size(); i++) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, sizes[i]));
    auto out = Napi::Array::New(env, 4);
    out.Set(0u, shape);
    out.Set(1u, Napi::Number::New(env, static_cast<int>(t.scalar_type())));
    out.Set(2u, Napi::String::New(env, t.device().str()));
    out.Set(3u, Napi::Boolean::New(env, t.requires_grad()));
    return out;
  })
  return env.Undefined();
}

// strides(handle), isContiguous(handle, memoryFormat)
Napi::Value Strides(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GUARD(env, "strides", DescribeArgs(info), {
    const auto& t = UnwrapTensor(info[0], "strides");
    auto st = t.strides();
    auto out = Napi::Array::New(env, st.size());
    for (size_t i = 0; i < st.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, st[i]));
    return out;
  })
  return env.Undefined();
}

// free(handle): releases the tensor now; later use of the handle throws. Idempotent.
Napi::Value Free(const Napi::CallbackInfo& info) {
  auto* box = TensorBoxOf(info[0]);
  if (box != nullptr) ReleaseTensor(info.Env(), box);
  return info.Env().Undefined();
}

// isAlive(handle): false once freed.
Napi::Value IsAlive(const Napi::CallbackInfo& info) {
  auto* box = TensorBoxOf(info[0]);
  return Napi::Boolean::New(info.Env(), box != nullptr && box->t.defined());
}

// sameStorage(a, b): whether two handles view the same memory (is_same or shared storage).
Napi::Value SameStorage(const Napi::CallbackInfo& info) {
  const auto& a = UnwrapTensor(info[0], "same_storage");
  const auto& b = UnwrapTensor(info[1], "same_storage");
  return Napi::Boolean::New(info.Env(), a.has_storage() && b.has_storage() && a.storage().is_alias_of(b.storage()));
}

}  // namespace odc
