// c10d for multi-process training: rendezvous stores (TCPStore, FileStore), a Gloo process group
// (CPU buffers), an NCCL process group (one GPU per process) where the libtorch has one, and four
// collectives (allreduce, allgather, broadcast, barrier).
//
// - Every collective is synchronous: it enqueues the work and blocks the calling (JS) thread
//   until the work is done or fails. Gloo bounds every transfer by the group's timeout, so a peer
//   that never joins makes the call throw after about that long; a peer that died makes it throw
//   at once ("Connection closed by peer"). NCCL is put in blocking-wait mode (NCCL_BLOCKING_WAIT,
//   unless the user set it), so that its wait, too, throws after the timeout instead of its
//   watchdog ending the process.
// - A collective takes tensors on any device: those not on the group's (a CUDA tensor for Gloo, a
//   CPU one for NCCL) travel through a copy there and back, so callers need not know the backend.
// - Failures are TorchErrors named "<collective> on rank R of W", so a log line from any rank says
//   which rank saw what.
// - Stores and process groups are type-tagged Externals. Their options arrive as one object whose
//   every field is checked before anything can block, so no stray value starts a store that waits.
// - Compiled only with ODC_DISTRIBUTED (scripts/torch-config.cjs defines it when Gloo's headers or
//   NCCL's are there); without it every entry point throws "built without c10d". The Gloo group
//   needs ODC_GLOO too (with USE_C10D_GLOO), the NCCL group ODC_NCCL (with USE_C10D_NCCL: a CUDA
//   libtorch and nccl.h).
#include <torch/version.h>

#include <chrono>
#include <limits>
#include <string>
#include <vector>

#include "guard.h"
#include "handle.h"
#include "native_api.h"
#include "process_group.h"

#ifdef ODC_DISTRIBUTED
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef ODC_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef ODC_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <cstdlib>
#endif

namespace odc {

#ifdef ODC_DISTRIBUTED
namespace {

struct StoreBox {
  c10::intrusive_ptr<c10d::Store> store;
};

const napi_type_tag kStoreTag = {0x6f6463733731b0e5ULL, 0x2c9d4e81a6f35b17ULL};
const napi_type_tag kGroupTag = {0x6f646370677c5a93ULL, 0xd14b7e2208c6a9f1ULL};

// ---- argument checks (all before anything that can block) ----

Napi::Object OptionsArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsObject() || info[i].IsArray() || info[i].IsFunction()) {
    throw ArgError("expected an options object");
  }
  return info[i].As<Napi::Object>();
}

bool Has(const Napi::Object& o, const char* key) {
  return o.Has(key) && !o.Get(key).IsUndefined();
}

int64_t IntField(const Napi::Object& o, const char* key, int64_t lo, int64_t hi) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw ArgError("'" + std::string(key) + "' must be an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || d != static_cast<double>(static_cast<int64_t>(d))) {
    throw ArgError("'" + std::string(key) + "' must be an integer in [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "], got " + v.ToString().Utf8Value());
  }
  return static_cast<int64_t>(d);
}

std::string StringField(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw ArgError("'" + std::string(key) + "' must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.empty()) throw ArgError("'" + std::string(key) + "' must not be empty");
  return s;
}

bool BoolField(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) throw ArgError("'" + std::string(key) + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

constexpr int64_t kMaxWorld = 1 << 20;
constexpr int64_t kMaxTimeoutMs = std::numeric_limits<int32_t>::max();  // about 24.8 days

std::chrono::milliseconds TimeoutField(const Napi::Object& o) {
  return std::chrono::milliseconds(IntField(o, "timeoutMs", 1, kMaxTimeoutMs));
}

Napi::Value WrapStore(Napi::Env env, c10::intrusive_ptr<c10d::Store> store) {
  auto ext = Napi::External<StoreBox>::New(env, new StoreBox{std::move(store)},
                                           [](Napi::Env, StoreBox* b) { delete b; });
  ext.TypeTag(&kStoreTag);
  return ext;
}


// The box behind argument i when it is a handle of this kind (type tag), whether or not it is still open.
template <typename Box>
Box* TaggedArg(const Napi::CallbackInfo& info, size_t i, const napi_type_tag& tag, const char* what) {
  Napi::Value v = info.Length() > i ? info[i] : info.Env().Undefined();
  if (!v.IsExternal() || !v.As<Napi::External<Box>>().CheckTypeTag(&tag)) throw ArgError(std::string("expected a ") + what + " handle");
  return v.As<Napi::External<Box>>().Data();
}

StoreBox* StoreOf(const Napi::CallbackInfo& info, size_t i) {
  auto* box = TaggedArg<StoreBox>(info, i, kStoreTag, "store");
  if (!box->store) throw ArgError("use of a closed store");
  return box;
}

// What every process group is made from: (store, {rank, worldSize, timeoutMs, ...backend's own}).
struct GroupArgs {
  StoreBox* store;
  Napi::Object options;
  int rank;
  int world;
  std::chrono::milliseconds timeout;
  std::string op;  // "<name> on rank R of W", for errors
};

GroupArgs GroupArgsOf(const Napi::CallbackInfo& info, const char* name) {
  StoreBox* store = StoreOf(info, 0);
  auto o = OptionsArg(info, 1);
  auto world = IntField(o, "worldSize", 1, kMaxWorld);
  auto rank = IntField(o, "rank", 0, world - 1);
  auto timeout = TimeoutField(o);
  std::string op = std::string(name) + " on rank " + std::to_string(rank) + " of " + std::to_string(world);
  return {store, o, static_cast<int>(rank), static_cast<int>(world), timeout, op};
}

// The JS handle of a group made from `a`, whose buffers live on `device`.
Napi::Value WrapGroup(Napi::Env env, const GroupArgs& a, c10::intrusive_ptr<GroupBase> group, at::Device device, bool nccl) {
  auto ext = Napi::External<GroupBox>::New(env, new GroupBox{std::move(group), a.rank, a.world, a.timeout, device, nccl},
                                           [](Napi::Env, GroupBox* b) { delete b; });
  ext.TypeTag(&kGroupTag);
  return ext;
}

GroupBox* GroupOf(const Napi::CallbackInfo& info) {
  auto* box = TaggedArg<GroupBox>(info, 0, kGroupTag, "process group");
  if (!box->group) throw ArgError("use of a destroyed process group");
  return box;
}

// The element types the backend reduces and copies (checked here, so a wrong one fails on this
// rank at once instead of in the backend's worker while the peers wait).
void CheckGroupTensor(const GroupBox& g, const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat: case at::kDouble: case at::kHalf: case at::kChar: case at::kByte: case at::kInt: case at::kLong:
      break;
    case at::kBFloat16:
      if (g.nccl) break;
      [[fallthrough]];
    default:
      throw ArgError(std::string(g.nccl ? "NCCL" : "Gloo") + " does not handle " + DtypeName(t.scalar_type()) +
                     " tensors (float32, float64, float16, " + (g.nccl ? "bfloat16, " : "") + "int8, uint8, int32, int64 only)");
  }
  if (t.layout() != at::kStrided) throw ArgError("expected a dense tensor");
}

// `t` itself when it is contiguous and on the group's device, else a contiguous copy there (a
// CPU tensor goes to the GPU of an NCCL group, a CUDA tensor to the host for Gloo).
at::Tensor ToGroupDevice(const GroupBox& g, const at::Tensor& t) {
  if (t.device() == g.device && t.is_contiguous()) return t;
  return t.detach().to(g.device).contiguous();
}

// Waits for a collective. Gloo times the transfers out itself (the group's timeout), with a
// message naming the operation; the wait allows a margin over that so Gloo's error, not a bare
// "Operation timed out!", is the one that reaches JavaScript.
void Await(const c10::intrusive_ptr<c10d::Work>& work, std::chrono::milliseconds timeout) {
  auto margin = std::max(std::chrono::milliseconds(2000), timeout / 10);
  auto limit = timeout.count() > kMaxTimeoutMs - margin.count() ? std::chrono::milliseconds(kMaxTimeoutMs) : timeout + margin;
  work->wait(limit);
}

// Runs a collective's body; any failure becomes "<name> on rank R of W: <message>".
template <typename Body>
Napi::Value Collective(const Napi::CallbackInfo& info, const char* name, Body&& body) {
  GroupBox* g = GroupOf(info);
  std::string op = std::string(name) + " on rank " + std::to_string(g->rank) + " of " + std::to_string(g->size);
  GUARD(info.Env(), op, DescribeArgs(info), return body(*g);)
  return info.Env().Undefined();
}

c10d::ReduceOp ReduceOpOf(const Napi::Value& v) {
  if (!v.IsString()) throw ArgError("op must be one of 'sum', 'product', 'min', 'max'");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "sum") return c10d::ReduceOp::SUM;
  if (s == "product") return c10d::ReduceOp::PRODUCT;
  if (s == "min") return c10d::ReduceOp::MIN;
  if (s == "max") return c10d::ReduceOp::MAX;
  throw ArgError("op must be one of 'sum', 'product', 'min', 'max', got '" + s + "'");
}

}  // namespace

// tcpStore({host, port, isMaster, worldSize, timeoutMs, prefix?}): the master (rank 0) listens on port
// and waits up to timeoutMs for worldSize members, itself included (libtorch 1.13 then returns
// even if some are missing; creating the group on it fails instead); the others connect to
// host:port, retrying for about timeoutMs (libtorch counts whole seconds). `prefix`: keys are kept
// under it (a launcher's own store, which serves other keys too, shared by every member as clients).
Napi::Value NewTcpStore(const Napi::CallbackInfo& info) {
  auto o = OptionsArg(info, 0);
  std::string host = StringField(o, "host");
  auto port = IntField(o, "port", 1, 65535);
  bool master = BoolField(o, "isMaster");
  auto world = IntField(o, "worldSize", 1, kMaxWorld);
  auto timeout = TimeoutField(o);
  std::string prefix = Has(o, "prefix") ? StringField(o, "prefix") : "";
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(port);
  opts.isServer = master;
  opts.numWorkers = static_cast<std::size_t>(world);
  opts.waitWorkers = true;
  opts.timeout = timeout;
  std::string op = std::string("tcpStore ") + (master ? "master on " : "client of ") + host + ":" + std::to_string(port);
  GUARD(info.Env(), op, std::vector<std::string>{}, {
    c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(host, opts);
    if (!prefix.empty()) store = c10::make_intrusive<c10d::PrefixStore>(prefix, store);
    return WrapStore(info.Env(), store);
  })
  return info.Env().Undefined();
}

// fileStore({path, worldSize, timeoutMs}): rendezvous through a file every member can open (one
// machine, or a shared file system). The file must not exist before the group's first member
// opens it; the last member to close the store deletes it.
Napi::Value NewFileStore(const Napi::CallbackInfo& info) {
  auto o = OptionsArg(info, 0);
  std::string path = StringField(o, "path");
  auto world = IntField(o, "worldSize", 1, kMaxWorld);
  auto timeout = TimeoutField(o);
  GUARD(info.Env(), "fileStore " + path, std::vector<std::string>{}, {
    auto store = c10::make_intrusive<c10d::FileStore>(path, static_cast<int>(world));
    store->setTimeout(timeout);
    return WrapStore(info.Env(), store);
  })
  return info.Env().Undefined();
}

// storeSet(store, key, value): writes a string value under key.
Napi::Value StoreSet(const Napi::CallbackInfo& info) {
  StoreBox* box = StoreOf(info, 0);
  if (!info[1].IsString() || !info[2].IsString()) throw ArgError("key and value must be strings");
  std::string key = info[1].As<Napi::String>().Utf8Value();
  std::string value = info[2].As<Napi::String>().Utf8Value();
  GUARD(info.Env(), "store set '" + key + "'", std::vector<std::string>{}, {
    box->store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
  })
  return info.Env().Undefined();
}

// storeCheck(store, keys[]): whether every key is set, without waiting.
Napi::Value StoreCheck(const Napi::CallbackInfo& info) {
  StoreBox* box = StoreOf(info, 0);
  if (!info[1].IsArray()) throw ArgError("keys must be an array of strings");
  auto arr = info[1].As<Napi::Array>();
  std::vector<std::string> keys;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    if (!arr.Get(i).IsString()) throw ArgError("keys must be an array of strings");
    keys.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
  }
  GUARD(info.Env(), "store check", std::vector<std::string>{}, {
    return Napi::Boolean::New(info.Env(), box->store->check(keys));
  })
  return info.Env().Undefined();
}

// closeStore(store): drops this handle's reference (a process group made on it keeps its own).
Napi::Value CloseStore(const Napi::CallbackInfo& info) {
  TaggedArg<StoreBox>(info, 0, kStoreTag, "store")->store.reset();
  return info.Env().Undefined();
}

// processGroupGloo(store, {rank, worldSize, timeoutMs, hostname?, interface?, threads?}): connects
// every pair of members (blocks until all worldSize members have called it, or timeoutMs).
// The Gloo device binds to `interface` if given, else to the address `hostname` resolves to,
// else to this machine's hostname's address (libtorch's default).
#ifdef ODC_GLOO
Napi::Value NewProcessGroupGloo(const Napi::CallbackInfo& info) {
  GroupArgs a = GroupArgsOf(info, "processGroupGloo");
  std::string hostname = Has(a.options, "hostname") ? StringField(a.options, "hostname") : "";
  std::string iface = Has(a.options, "interface") ? StringField(a.options, "interface") : "";
  auto threads = Has(a.options, "threads") ? IntField(a.options, "threads", 1, 64) : 2;
  GUARD(info.Env(), a.op, std::vector<std::string>{}, {
    auto opts = c10d::ProcessGroupGloo::Options::create(a.timeout);
    opts->threads = static_cast<int>(threads);
    if (!iface.empty()) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
    } else if (!hostname.empty()) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(hostname));
    } else {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(a.store->store, a.rank, a.world, opts);
    return WrapGroup(info.Env(), a, std::move(group), at::Device(at::kCPU), false);
  })
  return info.Env().Undefined();
}
#else
Napi::Value NewProcessGroupGloo(const Napi::CallbackInfo&) {
  throw ArgError("this addon was built without Gloo (its headers were not found beside the libtorch): only the NCCL group is there");
}
#endif

#ifdef ODC_NCCL
// processGroupNccl(store, {rank, worldSize, timeoutMs, device}): the NCCL group of this process's
// GPU cuda:<device>, made the current device. NCCL connects the members at the first collective.
Napi::Value NewProcessGroupNccl(const Napi::CallbackInfo& info) {
  GroupArgs a = GroupArgsOf(info, "processGroupNccl");
  auto device = IntField(a.options, "device", 0, 1023);
  GUARD(info.Env(), a.op, std::vector<std::string>{}, {
    int count = static_cast<int>(c10::cuda::device_count());
    if (device >= count) {
      throw ArgError("cuda:" + std::to_string(device) + " does not exist: this process sees " + std::to_string(count) + " GPU(s)");
    }
    // Read when the group is made: wait() then blocks and throws after the timeout, where the
    // default (an asynchronous watchdog) would end the process.
#if TORCH_VERSION_MAJOR >= 2
    const char* blocking = "TORCH_NCCL_BLOCKING_WAIT";
#else
    const char* blocking = "NCCL_BLOCKING_WAIT";
#endif
    if (std::getenv("TORCH_NCCL_BLOCKING_WAIT") == nullptr && std::getenv("NCCL_BLOCKING_WAIT") == nullptr) setenv(blocking, "1", 0);
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(device));
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = a.timeout;
    auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(a.store->store, a.rank, a.world, opts);
    return WrapGroup(info.Env(), a, std::move(group), at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device)), true);
  })
  return info.Env().Undefined();
}
#else
Napi::Value NewProcessGroupNccl(const Napi::CallbackInfo&) {
  throw ArgError("this addon was built without NCCL: it needs a CUDA libtorch with c10d's NCCL group and nccl.h (LIBTORCH=, README \"Many GPUs and machines\")");
}
#endif

Napi::Value NcclAvailable(const Napi::CallbackInfo& info) {
#ifdef ODC_NCCL
  return Napi::Boolean::New(info.Env(), true);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// destroyProcessGroup(group): closes the connections now (idempotent; the collector would too).
Napi::Value DestroyProcessGroup(const Napi::CallbackInfo& info) {
  TaggedArg<GroupBox>(info, 0, kGroupTag, "process group")->group.reset();
  return info.Env().Undefined();
}

// allreduce(group, tensor, op): reduces in place across the group ('sum', 'product', 'min', 'max').
Napi::Value Allreduce(const Napi::CallbackInfo& info) {
  return Collective(info, "allreduce", [&](GroupBox& g) -> Napi::Value {
    const at::Tensor& t = UnwrapTensor(info[1], "allreduce");
    CheckGroupTensor(g, t);
    c10d::AllreduceOptions opts;
    opts.reduceOp = ReduceOpOf(info[2]);
    // The backend reads numel() elements from data_ptr(): a strided view goes through a contiguous copy.
    std::vector<at::Tensor> tensors{ToGroupDevice(g, t)};
    Await(g.group->allreduce(tensors, opts), g.timeout);
    at::NoGradGuard no_grad;  // like Gloo's own write into the buffer, the copy back is not recorded
    if (!tensors[0].is_same(t)) t.copy_(tensors[0]);
    return info.Env().Undefined();
  });
}

// allgather(group, tensor): a new tensor of shape [worldSize, ...tensor.shape], row r from rank r.
Napi::Value Allgather(const Napi::CallbackInfo& info) {
  return Collective(info, "allgather", [&](GroupBox& g) -> Napi::Value {
    const at::Tensor& t = UnwrapTensor(info[1], "allgather");
    CheckGroupTensor(g, t);
    std::vector<at::Tensor> inputs{ToGroupDevice(g, t.detach())};
    std::vector<int64_t> shape{g.size};
    for (auto s : t.sizes()) shape.push_back(s);
    at::Tensor out = at::empty(shape, inputs[0].options().requires_grad(false));
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < g.size; r++) outputs[0].push_back(out.select(0, r));
    Await(g.group->allgather(outputs, inputs), g.timeout);
    return WrapTensor(info.Env(), out.to(t.device()));
  });
}

// broadcast(group, tensor, root): overwrites tensor, on every rank, with root's.
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  return Collective(info, "broadcast", [&](GroupBox& g) -> Napi::Value {
    const at::Tensor& t = UnwrapTensor(info[1], "broadcast");
    CheckGroupTensor(g, t);
    if (!info[2].IsNumber()) throw ArgError("root must be a rank number");
    double root = info[2].As<Napi::Number>().DoubleValue();
    if (!(root >= 0 && root < g.size) || root != static_cast<double>(static_cast<int>(root))) {
      throw ArgError("root must be a rank in [0, " + std::to_string(g.size - 1) + "], got " + info[2].ToString().Utf8Value());
    }
    c10d::BroadcastOptions opts;
    opts.rootRank = static_cast<int64_t>(root);
    std::vector<at::Tensor> tensors{ToGroupDevice(g, t)};
    Await(g.group->broadcast(tensors, opts), g.timeout);
    at::NoGradGuard no_grad;
    if (!tensors[0].is_same(t)) t.copy_(tensors[0]);
    return info.Env().Undefined();
  });
}

// barrier(group): returns once every member has entered it. On NCCL, an allreduce of one number
// on the rank's own GPU (NCCL's barrier guesses the GPU from the rank), waited for on the host.
Napi::Value Barrier(const Napi::CallbackInfo& info) {
  return Collective(info, "barrier", [&](GroupBox& g) -> Napi::Value {
    if (g.nccl) {
      std::vector<at::Tensor> one{at::zeros({1}, at::TensorOptions().dtype(at::kInt).device(g.device))};
      Await(g.group->allreduce(one), g.timeout);
      one[0].cpu();
    } else {
      Await(g.group->barrier(), g.timeout);
    }
    return info.Env().Undefined();
  });
}

Napi::Value DistributedAvailable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), true); }

Napi::Value RunCollective(const Napi::CallbackInfo& info, const char* name, const std::function<Napi::Value(GroupBox&)>& body) {
  return Collective(info, name, body);
}
void AwaitWork(const c10::intrusive_ptr<c10d::Work>& work, std::chrono::milliseconds timeout) { Await(work, timeout); }
void CheckCollectiveTensor(const GroupBox& g, const at::Tensor& t) { CheckGroupTensor(g, t); }

#else  // !ODC_DISTRIBUTED

namespace {
[[noreturn]] void NotBuilt() {
  throw ArgError("this addon was built without c10d (Gloo's headers were not found: install libgloo-dev and rebuild)");
}
}  // namespace

Napi::Value NewTcpStore(const Napi::CallbackInfo&) { NotBuilt(); }
Napi::Value NewFileStore(const Napi::CallbackInfo&) { NotBuilt(); }
Napi::Value CloseStore(const Napi::CallbackInfo&) { NotBuilt(); }
Napi::Value StoreSet(const Napi::CallbackInfo&) { NotBuilt(); }
Napi::Value StoreCheck(const Napi::CallbackInfo&) { NotBuilt(); }
Napi::Value NewProcessGroupGloo(const Napi::CallbackInfo&) { NotBuilt(); }
Napi::Value NewProcessGroupNccl(const Napi::CallbackInfo&) { NotBuilt(); }
Napi::Value NcclAvailable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), false); }
Napi::Value DestroyProcessGroup(const Napi::CallbackInfo&) { NotBuilt(); }
Napi::Value Allreduce(const Napi::CallbackInfo&) { NotBuilt(); }
Napi::Value Allgather(const Napi::CallbackInfo&) { NotBuilt(); }
Napi::Value Broadcast(const Napi::CallbackInfo&) { NotBuilt(); }
Napi::Value Barrier(const Napi::CallbackInfo&) { NotBuilt(); }
Napi::Value DistributedAvailable(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), false); }

#endif

}  // namespace odc
