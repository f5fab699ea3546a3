// Process-wide settings of libtorch: threads, seeds and generators, devices, and memory counters.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "addon_data.h"
#include "guard.h"
#include "handle.h"
#include "native_api.h"

namespace odc {

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "set_num_threads", DescribeArgs(info), {
    int n = info[0].As<Napi::Number>().Int32Value();
    if (n < 1) throw ArgError("set_num_threads: expected a positive integer, got " + std::to_string(n));
    at::set_num_threads(n);
  })
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

// Accepted once, before any inter-op parallel work; later calls raise a TorchError.
Napi::Value SetNumInteropThreads(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "set_num_interop_threads", DescribeArgs(info), {
    at::set_num_interop_threads(info[0].As<Napi::Number>().Int32Value());
  })
  return info.Env().Undefined();
}

uint64_t SeedOf(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < 0 || d != static_cast<double>(static_cast<uint64_t>(d))) throw ArgError("seed must be a non-negative integer");
  return static_cast<uint64_t>(d);
}

// A CUDA device's default generator through the Context: its hooks method was renamed after 1.13
// (getDefaultCUDAGenerator → getDefaultGenerator), the Context call exists in both.
static at::Generator CudaDefaultGenerator(int index) {
  return at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index)));
}

// manualSeed(seed): seeds the default CPU generator and every CUDA device's (dropout, default rand*).
Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "manual_seed", DescribeArgs(info), {
    uint64_t seed = SeedOf(info[0]);
    {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
    auto& hooks = at::detail::getCUDAHooks();
    if (hooks.hasCUDA()) {
      for (int i = 0; i < hooks.getNumGPUs(); i++) {
        auto gen = CudaDefaultGenerator(i);
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_current_seed(seed);
      }
    }
  })
  return info.Env().Undefined();
}

// newGenerator(seed, device?): an independent generator; CPU unless a CUDA device is named.
Napi::Value NewGenerator(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "generator", DescribeArgs(info), {
    uint64_t seed = SeedOf(info[0]);
    std::string device = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "cpu";
    c10::Device dev(device);
    at::Generator gen;
    if (dev.is_cpu()) {
      gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    } else {
      // A fresh CUDA generator: clone the device default, then re-seed the clone.
      gen = CudaDefaultGenerator(dev.has_index() ? dev.index() : 0).clone();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
    return WrapGenerator(info.Env(), gen);
  })
  return info.Env().Undefined();
}

// defaultGenerator(device?): the generator used by ops given none (dropout, for one).
Napi::Value DefaultGenerator(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "default_generator", DescribeArgs(info), {
    std::string device = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "cpu";
    return WrapGenerator(info.Env(), at::globalContext().defaultGenerator(c10::Device(device)));
  })
  return info.Env().Undefined();
}

// generatorState(gen): a uint8 tensor snapshot; setGeneratorState(gen, tensor) restores it exactly.
Napi::Value GeneratorState(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "generator_state", DescribeArgs(info), {
    auto gen = UnwrapGenerator(info[0], "generator_state");
    std::lock_guard<std::mutex> lock(gen.mutex());
    return WrapTensor(info.Env(), gen.get_state());
  })
  return info.Env().Undefined();
}

Napi::Value SetGeneratorState(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "set_generator_state", DescribeArgs(info), {
    auto gen = UnwrapGenerator(info[0], "set_generator_state");
    const auto& state = UnwrapTensor(info[1], "set_generator_state");
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
  })
  return info.Env().Undefined();
}

Napi::Value GeneratorSeed(const Napi::CallbackInfo& info) {
  GUARD(info.Env(), "generator_seed", DescribeArgs(info), {
    auto gen = UnwrapGenerator(info[0], "generator_seed");
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(gen.current_seed()));
  })
  return info.Env().Undefined();
}

// Keeps large tensor buffers in the heap instead of a fresh mmap per allocation: glibc's default
// maps every block over 32 MiB anew and unmaps it on free, so each training step page-faults
// gigabytes of activations and gradients (measured: ~20 % of a ResNet-18 step on 2 cores). The
// heap is not trimmed either, so the resident size settles at the peak and stays flat.
// Process-wide, so applied only on request (the CLI, or configureProcess() in a library user's
// program), once; ODC_MALLOC=default keeps glibc's behaviour. Returns whether it is in effect.
bool TuneAllocator() {
  const char* mode = std::getenv("ODC_MALLOC");
  if (mode != nullptr && std::strcmp(mode, "default") == 0) return false;
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  return true;
}

Napi::Value TuneAllocatorJs(const Napi::CallbackInfo& info) {
  static const bool tuned = TuneAllocator();
  return Napi::Boolean::New(info.Env(), tuned);
}

// Bytes glibc's malloc has handed out and not had back (heap blocks plus mmapped ones), the whole
// process's: libtorch's CPU tensors, Node's buffers and V8's heap alike. Unlike the resident size it
// falls when memory is freed, with the heap left untrimmed (TuneAllocator), so a leak shows at once
// instead of only past the high-water mark. -1 where the C library is not glibc 2.33 or later.
Napi::Value HeapBytesInUse(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 m = mallinfo2();
  return Napi::Number::New(info.Env(), static_cast<double>(m.uordblks + m.hblkhd));
#else
  return Napi::Number::New(info.Env(), -1);
#endif
}

Napi::Value CudaAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::detail::getCUDAHooks().hasCUDA());
}

Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  auto& hooks = at::detail::getCUDAHooks();
  return Napi::Number::New(info.Env(), hooks.hasCUDA() ? hooks.getNumGPUs() : 0);
}

// setTf32(matmul, cudnn): whether CUDA matrix products (cuBLAS) and convolutions (cuDNN) may round
// their float32 inputs to TF32 on GPUs that have it (Ampere and later). Process-wide settings of
// libtorch's global context; on a CPU-only build they are kept and change nothing.
Napi::Value SetTf32(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsBoolean() || !info[1].IsBoolean()) throw Napi::TypeError::New(info.Env(), "setTf32(matmul: boolean, cudnn: boolean)");
  at::globalContext().setAllowTF32CuBLAS(info[0].As<Napi::Boolean>().Value());
  at::globalContext().setAllowTF32CuDNN(info[1].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

// getTf32() -> [matmul, cudnn]: the settings in effect.
Napi::Value GetTf32(const Napi::CallbackInfo& info) {
  auto out = Napi::Array::New(info.Env(), 2);
  out.Set(0u, Napi::Boolean::New(info.Env(), at::globalContext().allowTF32CuBLAS()));
  out.Set(1u, Napi::Boolean::New(info.Env(), at::globalContext().allowTF32CuDNN()));
  return out;
}

// liveTensors(): handles whose tensor has not been released; reportedBytes(): bytes told to V8.
Napi::Value LiveTensors(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(LiveTensorCount()));
}

Napi::Value ReportedBytesJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(ReportedBytes()));
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("torchVersion", TORCH_VERSION);
  out.Set("config", at::show_config());
  out.Set("parallel", at::get_parallel_info());
  out.Set("cxx11Abi", Napi::Boolean::New(env, _GLIBCXX_USE_CXX11_ABI != 0));
  return out;
}

Napi::Value SetErrorClassJs(const Napi::CallbackInfo& info) {
  SetErrorClass(info);
  return info.Env().Undefined();
}

AddonData* GetAddonData(Napi::Env env) {
  auto* data = env.GetInstanceData<AddonData>();
  if (data == nullptr) {
    data = new AddonData();
    env.SetInstanceData(data);
  }
  return data;
}

void SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "setErrorClass expects a constructor");
  GetAddonData(info.Env())->error_class = Napi::Persistent(info[0].As<Napi::Function>());
}

void ThrowTorchError(Napi::Env env, const std::string& op, const std::string& message,
                     const std::vector<std::string>& inputs) {
  auto list = Napi::Array::New(env, inputs.size());
  for (size_t i = 0; i < inputs.size(); i++) list.Set(static_cast<uint32_t>(i), Napi::String::New(env, inputs[i]));
  auto* data = GetAddonData(env);
  if (data->error_class.IsEmpty()) {
    throw TorchJsError(env, Napi::Error::New(env, op + ": " + message).Value());
  }
  Napi::Object err = data->error_class.New({Napi::String::New(env, op), Napi::String::New(env, message), list});
  throw TorchJsError(env, err);
}

}  // namespace odc
