// Data-parallel training on a process group:
// - differentiableAllreduce: a sum over the group whose backward is also a sum over the group (the
//   statistics of synchronised BatchNorm: every rank's gradient reaches every other rank's input);
// - backwardAllreduce: loss.backward() with the parameters' gradients averaged over the group in
//   buckets, each bucket's allreduce started as soon as its last gradient is ready, so Gloo's
//   threads (or NCCL's stream) send while the rest of the backward pass runs (or, with overlap
//   off, all after it). The buckets live on the group's device: on the rank's GPU for NCCL, on
//   the host for Gloo whatever device the parameters are on.
#include <ATen/core/grad_mode.h>
#include <torch/autograd.h>

#include <string>
#include <vector>

#include "guard.h"
#include "handle.h"
#include "native_api.h"
#include "process_group.h"

namespace odc {

#ifdef ODC_DISTRIBUTED
namespace {

struct GroupSum : torch::autograd::Function<GroupSum> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, GroupBox* g) {
    ctx->saved_data["group"] = c10::IValue::make_capsule(c10::static_intrusive_pointer_cast<torch::CustomClassHolder>(g->group));
    ctx->saved_data["timeout"] = static_cast<int64_t>(g->timeout.count());
    ctx->saved_data["device"] = g->device;
    return Reduce(x, g->group, g->timeout, g->device);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto group = c10::static_intrusive_pointer_cast<GroupBase>(ctx->saved_data["group"].toCapsule());
    std::chrono::milliseconds timeout(ctx->saved_data["timeout"].toInt());
    return {Reduce(grads[0], group, timeout, ctx->saved_data["device"].toDevice()), at::Tensor()};
  }
  // The sum, on x's device; the backend works on a copy on its own device.
  static at::Tensor Reduce(const at::Tensor& x, const c10::intrusive_ptr<GroupBase>& group, std::chrono::milliseconds timeout, at::Device device) {
    // One copy, contiguous, on the group's device (the backend writes the sum into it).
    std::vector<at::Tensor> buf{x.detach().to(device, x.scalar_type(), /*non_blocking=*/false, /*copy=*/true, at::MemoryFormat::Contiguous)};
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    AwaitWork(group->allreduce(buf, opts), timeout);
    return buf[0].to(x.device());
  }
};

// One flat buffer per bucket; its parameters' gradients are copied in as they become ready.
struct Bucket {
  at::Tensor flat;
  std::vector<size_t> params;
  std::vector<int64_t> offsets;
  size_t pending = 0;
  c10::intrusive_ptr<c10d::Work> work;
};

// Parameters in reverse order (the order backward produces their gradients), cut into buckets of
// about capBytes, on `device`.
std::vector<Bucket> MakeBuckets(const std::vector<at::Tensor>& params, int64_t capBytes, at::Device device) {
  std::vector<Bucket> buckets;
  int64_t bytes = capBytes;
  for (size_t i = params.size(); i-- > 0;) {
    const auto& p = params[i];
    if (bytes >= capBytes || buckets.back().flat.scalar_type() != p.scalar_type()) {
      buckets.emplace_back();
      buckets.back().flat = at::empty({0}, p.options().device(device).requires_grad(false));
      bytes = 0;
    }
    Bucket& b = buckets.back();
    b.offsets.push_back(b.flat.numel());
    b.params.push_back(i);
    b.flat = at::empty({b.flat.numel() + p.numel()}, b.flat.options());
    bytes += p.numel() * static_cast<int64_t>(p.element_size());
  }
  for (auto& b : buckets) {
    b.flat.zero_();
    b.pending = b.params.size();
  }
  return buckets;
}

}  // namespace

// differentiableAllreduce(group, tensor): a new tensor, the sum of `tensor` over the group; its
// gradient is the sum over the group of the gradients reaching the result.
Napi::Value DifferentiableAllreduce(const Napi::CallbackInfo& info) {
  return RunCollective(info, "allreduce (differentiable)", [&](GroupBox& g) -> Napi::Value {
    const at::Tensor& t = UnwrapTensor(info[1], "allreduce (differentiable)");
    CheckCollectiveTensor(g, t);
    return WrapTensor(info.Env(), GroupSum::apply(t, &g));
  });
}

// backwardAllreduce(group, loss, params[], {bucketBytes, overlap}): runs loss.backward(), then
// leaves in every parameter's .grad the mean over the group of the ranks' gradients. Every rank
// must pass the same parameters in the same order. Returns the milliseconds spent waiting for the
// allreduces after the backward pass.
Napi::Value BackwardAllreduce(const Napi::CallbackInfo& info) {
  return RunCollective(info, "allreduce (gradients)", [&](GroupBox& g) -> Napi::Value {
    const at::Tensor& loss = UnwrapTensor(info[1], "allreduce (gradients)");
    if (!info[2].IsArray()) throw ArgError("params must be an array of tensors");
    auto arr = info[2].As<Napi::Array>();
    std::vector<at::Tensor> params;
    for (uint32_t i = 0; i < arr.Length(); i++) {
      const at::Tensor& p = UnwrapTensor(arr.Get(i), "allreduce (gradients)");
      if (!p.requires_grad()) throw ArgError("params[" + std::to_string(i) + "] does not require grad");
      CheckCollectiveTensor(g, p);
      params.push_back(p);
    }
    if (!info[3].IsObject()) throw ArgError("expected an options object {bucketBytes, overlap}");
    auto o = info[3].As<Napi::Object>();
    int64_t cap = o.Get("bucketBytes").IsNumber() ? o.Get("bucketBytes").As<Napi::Number>().Int64Value() : 25 << 20;
    if (cap < 1) throw ArgError("bucketBytes must be positive");
    bool overlap = o.Get("overlap").IsBoolean() ? o.Get("overlap").As<Napi::Boolean>().Value() : true;

    std::vector<Bucket> buckets = MakeBuckets(params, cap, g.device);
    std::vector<size_t> launchOrder;
    auto launch = [&](size_t b) {
      std::vector<at::Tensor> t{buckets[b].flat};
      c10d::AllreduceOptions opts;
      opts.reduceOp = c10d::ReduceOp::SUM;
      buckets[b].work = g.group->allreduce(t, opts);
      launchOrder.push_back(b);
    };
    // Hooks are removed however backward ends.
    struct Hooks {
      std::vector<std::pair<at::Tensor, unsigned>> list;
      ~Hooks() {
        for (auto& [t, h] : list) t.remove_hook(h);
      }
    } hooks;
    if (overlap) {
      for (size_t b = 0; b < buckets.size(); b++) {
        for (size_t j = 0; j < buckets[b].params.size(); j++) {
          at::Tensor p = params[buckets[b].params[j]];
          int64_t off = buckets[b].offsets[j];
          unsigned h = p.register_hook([&, b, off](const at::Tensor& grad) {
            at::NoGradGuard no_grad;
            buckets[b].flat.narrow(0, off, grad.numel()).copy_(grad.reshape({-1}));
            if (--buckets[b].pending == 0) launch(b);
          });
          hooks.list.emplace_back(p, h);
        }
      }
    }
    loss.backward();
    at::NoGradGuard no_grad;
    if (!overlap) {
      for (auto& b : buckets) {
        for (size_t j = 0; j < b.params.size(); j++) {
          const at::Tensor& grad = params[b.params[j]].grad();
          if (grad.defined()) b.flat.narrow(0, b.offsets[j], grad.numel()).copy_(grad.reshape({-1}));
        }
        b.pending = 0;
      }
    }
    // Buckets holding a parameter without a gradient (unused in this graph, on every rank alike).
    for (size_t b = 0; b < buckets.size(); b++) {
      if (!buckets[b].work) launch(b);
    }
    auto t0 = std::chrono::steady_clock::now();
    for (size_t b : launchOrder) AwaitWork(buckets[b].work, g.timeout);
    double waitMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    for (auto& b : buckets) {
      b.flat.div_(g.size);
      for (size_t j = 0; j < b.params.size(); j++) {
        at::Tensor p = params[b.params[j]];
        if (p.grad().defined()) p.mutable_grad().copy_(b.flat.narrow(0, b.offsets[j], p.numel()).view_as(p));
      }
    }
    return Napi::Number::New(info.Env(), waitMs);
  });
}

#else  // !ODC_DISTRIBUTED

Napi::Value DifferentiableAllreduce(const Napi::CallbackInfo&) {
  throw ArgError("this odc addon was built without c10d (install libgloo-dev and rebuild the addon)");
}
Napi::Value BackwardAllreduce(const Napi::CallbackInfo&) {
  throw ArgError("this odc addon was built without c10d (install libgloo-dev and rebuild the addon)");
}

#endif  // ODC_DISTRIBUTED

}  // namespace odc
