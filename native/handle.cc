#include "handle.h"

#include <atomic>
#include <sstream>

#include "guard.h"

namespace odc {
namespace {

// Random 128-bit tags: a tensor handle can never be mistaken for a generator or another addon's External.
const napi_type_tag kTensorTag = {0x6f64637465e5a0b1ULL, 0x8f3c2a9d11b7e402ULL};
const napi_type_tag kGeneratorTag = {0x6f646367656e0c31ULL, 0x52ab09de77c4f1a8ULL};

std::atomic<int64_t> live_tensors{0};
std::atomic<int64_t> reported_bytes{0};

// Host bytes owned by this handle: only a freshly allocated storage counts, so views of a large
// bank (a slice per iteration, say) do not inflate V8's idea of native memory.
int64_t OwnedBytes(const at::Tensor& t) {
  if (!t.defined() || !t.has_storage() || !t.device().is_cpu()) return 0;
  const auto& storage = t.storage();
  if (storage.use_count() != 1) return 0;
  return static_cast<int64_t>(storage.nbytes());
}

void Release(napi_env env, TensorBox* box) {
  if (!box->t.defined()) return;
  box->t.reset();
  live_tensors--;
  if (box->bytes != 0) {
    int64_t unused;
    if (env != nullptr) napi_adjust_external_memory(env, -box->bytes, &unused);
    reported_bytes -= box->bytes;
    box->bytes = 0;
  }
}

}  // namespace

Napi::Value WrapTensor(Napi::Env env, const at::Tensor& t) {
  if (!t.defined()) return env.Undefined();
  auto* box = new TensorBox{t, OwnedBytes(t)};
  live_tensors++;
  if (box->bytes != 0) {
    int64_t unused;
    napi_adjust_external_memory(env, box->bytes, &unused);
    reported_bytes += box->bytes;
  }
  auto ext = Napi::External<TensorBox>::New(env, box, [](Napi::Env env, TensorBox* b) {
    Release(env, b);
    delete b;
  });
  ext.TypeTag(&kTensorTag);
  return ext;
}

bool IsTensorHandle(const Napi::Value& v) {
  return v.IsExternal() && v.As<Napi::External<TensorBox>>().CheckTypeTag(&kTensorTag);
}

TensorBox* TensorBoxOf(const Napi::Value& v) {
  if (!IsTensorHandle(v)) return nullptr;
  return v.As<Napi::External<TensorBox>>().Data();
}

const at::Tensor& UnwrapTensor(const Napi::Value& v, const char* what) {
  auto* box = TensorBoxOf(v);
  if (box == nullptr) throw ArgError(std::string(what) + ": expected a tensor handle");
  if (!box->t.defined()) throw ArgError(std::string(what) + ": use of disposed tensor");
  return box->t;
}

void ReleaseTensor(Napi::Env env, TensorBox* box) { Release(env, box); }

Napi::Value WrapGenerator(Napi::Env env, at::Generator g) {
  auto ext = Napi::External<GeneratorBox>::New(env, new GeneratorBox{std::move(g)},
                                                [](Napi::Env, GeneratorBox* b) { delete b; });
  ext.TypeTag(&kGeneratorTag);
  return ext;
}

bool IsGeneratorHandle(const Napi::Value& v) {
  return v.IsExternal() && v.As<Napi::External<GeneratorBox>>().CheckTypeTag(&kGeneratorTag);
}

at::Generator UnwrapGenerator(const Napi::Value& v, const char* what) {
  if (!IsGeneratorHandle(v)) throw ArgError(std::string(what) + ": expected a generator handle");
  return v.As<Napi::External<GeneratorBox>>().Data()->g;
}

int64_t LiveTensorCount() { return live_tensors.load(); }
int64_t ReportedBytes() { return reported_bytes.load(); }

std::string DtypeName(at::ScalarType s) {
  switch (s) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(s);
  }
}

std::string Describe(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream os;
  os << "[";
  auto sizes = t.sizes();
  for (size_t i = 0; i < sizes.size(); i++) os << (i ? "," : "") << sizes[i];
  os << "] " << DtypeName(t.scalar_type()) << " " << t.device().str();
  return os.str();
}

namespace {
void DescribeInto(const Napi::Value& v, std::vector<std::string>& out) {
  if (auto* box = TensorBoxOf(v)) out.push_back(box->t.defined() ? Describe(box->t) : "disposed tensor");
}
}  // namespace

std::vector<std::string> DescribeArgs(const Napi::CallbackInfo& info) {
  std::vector<std::string> out;
  for (size_t i = 0; i < info.Length(); i++) {
    Napi::Value v = info[i];
    if (v.IsArray()) {
      auto a = v.As<Napi::Array>();
      for (uint32_t j = 0; j < a.Length(); j++) {
        Napi::Value e = a.Get(j);
        if (e.IsArray()) {
          auto inner = e.As<Napi::Array>();
          for (uint32_t k = 0; k < inner.Length(); k++) DescribeInto(inner.Get(k), out);
        } else {
          DescribeInto(e, out);
        }
      }
    } else {
      DescribeInto(v, out);
    }
  }
  return out;
}

}  // namespace odc
