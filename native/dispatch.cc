// Calls any ATen operator by its schema name through the c10 dispatcher, converting JS values to
// IValues by the schema's argument types. One entry point covers the whole ATen surface (autograd
// included: the dispatcher routes through the Autograd kernels), so the native layer holds no per-op code.
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>

#include <unordered_map>

#include "dispatch.h"
#include "guard.h"
#include "handle.h"

namespace odc {
namespace {

struct OpEntry {
  c10::OperatorHandle handle;
  std::string label;  // "aten::add.Tensor"
};

std::vector<OpEntry*>& Registry() {
  static std::vector<OpEntry*> ops;
  return ops;
}

[[noreturn]] void BadArg(const OpEntry& op, const c10::Argument& arg, const std::string& expected) {
  throw ArgError("argument '" + arg.name() + "' of " + op.label + " expects " + expected);
}

int64_t ToInt(const OpEntry& op, const c10::Argument& arg, const Napi::Value& v) {
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d))) BadArg(op, arg, "an integer, got " + std::to_string(d));
    return static_cast<int64_t>(d);
  }
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Int64Value(&lossless);
  }
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? 1 : 0;
  BadArg(op, arg, "an integer");
}

c10::IValue ToIValue(const OpEntry& op, const c10::Argument& arg, const c10::TypePtr& type,
                     const Napi::Value& v);

// The enum type (ScalarType, Layout, MemoryFormat) behind an int argument, optional or not; null otherwise.
c10::TypePtr EnumType(const c10::Argument& arg) {
  c10::TypePtr real = arg.real_type();
  if (real->kind() == c10::TypeKind::OptionalType) real = real->expectRef<c10::OptionalType>().getElementType();
  switch (real->kind()) {
    case c10::TypeKind::ScalarTypeType:
    case c10::TypeKind::LayoutType:
    case c10::TypeKind::MemoryFormatType:
      return real;
    default:
      return nullptr;
  }
}

int64_t InRange(const OpEntry& op, const c10::Argument& arg, int64_t x, int64_t limit, const char* what) {
  if (x < 0 || x >= limit) BadArg(op, arg, std::string(what) + " in [0, " + std::to_string(limit) + "), got " + std::to_string(x));
  return x;
}

c10::IValue ToList(const OpEntry& op, const c10::Argument& arg, const c10::ListType& list, const Napi::Value& v) {
  const auto& elem = list.getElementType();
  auto kind = elem->kind();
  if (kind == c10::TypeKind::IntType || kind == c10::TypeKind::SymIntType) {
    c10::List<int64_t> out;
    if (v.IsNumber()) {  // int[2] stride=1 accepts a single int, repeated N times
      int64_t x = ToInt(op, arg, v);
      for (int i = 0; i < arg.N().value_or(1); i++) out.push_back(x);
      return out;
    }
    if (!v.IsArray()) BadArg(op, arg, "an array of integers");
    auto a = v.As<Napi::Array>();
    out.reserve(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++) out.push_back(ToInt(op, arg, a.Get(i)));
    return out;
  }
  if (!v.IsArray()) BadArg(op, arg, "an array");
  auto a = v.As<Napi::Array>();
  if (kind == c10::TypeKind::TensorType) {
    c10::List<at::Tensor> out;
    out.reserve(a.Length());
    for (uint32_t i = 0; i < a.Length(); i++) {
      const auto& t = UnwrapTensor(a.Get(i), arg.name().c_str());
      out.push_back(t);
    }
    return out;
  }
  if (kind == c10::TypeKind::OptionalType) {  // Tensor?[] indices of index/index_put
    c10::List<c10::optional<at::Tensor>> out;
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value e = a.Get(i);
      if (e.IsUndefined() || e.IsNull()) {
        out.push_back(c10::nullopt);
      } else {
        const auto& t = UnwrapTensor(e, arg.name().c_str());
        out.push_back(t);
      }
    }
    return out;
  }
  if (kind == c10::TypeKind::FloatType) {
    c10::List<double> out;
    for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).ToNumber().DoubleValue());
    return out;
  }
  if (kind == c10::TypeKind::BoolType) {
    c10::List<bool> out;
    for (uint32_t i = 0; i < a.Length(); i++) out.push_back(a.Get(i).ToBoolean().Value());
    return out;
  }
  if (kind == c10::TypeKind::NumberType) {
    std::vector<at::Scalar> out;
    for (uint32_t i = 0; i < a.Length(); i++) out.push_back(ToIValue(op, arg, elem, a.Get(i)).toScalar());
    return c10::IValue(out);
  }
  BadArg(op, arg, "a list of " + elem->str() + " (unsupported from JavaScript)");
}

c10::IValue ToIValue(const OpEntry& op, const c10::Argument& arg, const c10::TypePtr& type,
                     const Napi::Value& v) {
  switch (type->kind()) {
    case c10::TypeKind::OptionalType:
      if (v.IsUndefined() || v.IsNull()) return c10::IValue();
      return ToIValue(op, arg, type->expectRef<c10::OptionalType>().getElementType(), v);
    case c10::TypeKind::TensorType: {
      const auto& t = UnwrapTensor(v, arg.name().c_str());
      return t;
    }
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
      // `ScalarType dtype` and friends are ints in the schema's type, enums in its real type.
      if (auto real = EnumType(arg)) return ToIValue(op, arg, real, v);
      return ToInt(op, arg, v);
    // Enums travel as integers: one out of range would be cast blindly by the kernels.
    case c10::TypeKind::ScalarTypeType:
      return InRange(op, arg, ToInt(op, arg, v), static_cast<int64_t>(c10::ScalarType::NumOptions), "a dtype code");
    case c10::TypeKind::LayoutType:
      return InRange(op, arg, ToInt(op, arg, v), static_cast<int64_t>(c10::Layout::NumOptions), "a layout code");
    case c10::TypeKind::MemoryFormatType:
      return InRange(op, arg, ToInt(op, arg, v), static_cast<int64_t>(c10::MemoryFormat::NumOptions), "a memory-format code");
    case c10::TypeKind::FloatType:
      if (!v.IsNumber()) BadArg(op, arg, "a number");
      return v.As<Napi::Number>().DoubleValue();
    case c10::TypeKind::BoolType:
      if (!v.IsBoolean()) BadArg(op, arg, "a boolean");
      return v.As<Napi::Boolean>().Value();
    case c10::TypeKind::NumberType: {
      // JS has one number type: integral values become integer scalars, so int tensors stay int.
      if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
      if (!v.IsNumber()) BadArg(op, arg, "a number");
      double d = v.As<Napi::Number>().DoubleValue();
      if (std::isfinite(d) && d == std::trunc(d) && std::abs(d) < 9.007199254740992e15)
        return at::Scalar(static_cast<int64_t>(d));
      return at::Scalar(d);
    }
    case c10::TypeKind::StringType:
      if (!v.IsString()) BadArg(op, arg, "a string");
      return v.As<Napi::String>().Utf8Value();
    case c10::TypeKind::DeviceObjType:
      if (!v.IsString()) BadArg(op, arg, "a device string such as 'cpu' or 'cuda:0'");
      return c10::Device(v.As<Napi::String>().Utf8Value());
    case c10::TypeKind::GeneratorType:
      return UnwrapGenerator(v, arg.name().c_str());
    case c10::TypeKind::ListType:
      return ToList(op, arg, type->expectRef<c10::ListType>(), v);
    default:
      BadArg(op, arg, type->str() + " (unsupported from JavaScript)");
  }
}

Napi::Value FromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) return WrapTensor(env, v.toTensor());
  if (v.isNone()) return env.Undefined();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isScalar()) {
    auto s = v.toScalar();
    if (s.isBoolean()) return Napi::Boolean::New(env, s.toBool());
    return Napi::Number::New(env, s.toDouble());
  }
  if (v.isTensorList()) {
    auto list = v.toTensorList();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out.Set(static_cast<uint32_t>(i), WrapTensor(env, list.get(i)));
    return out;
  }
  if (v.isIntList()) {
    auto list = v.toIntList();
    auto out = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, list.get(i)));
    return out;
  }
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTuple()) {
    const auto& elems = v.toTupleRef().elements();
    auto out = Napi::Array::New(env, elems.size());
    for (size_t i = 0; i < elems.size(); i++) out.Set(static_cast<uint32_t>(i), FromIValue(env, elems[i]));
    return out;
  }
  throw ArgError("result of type " + v.tagKind() + " cannot be returned to JavaScript");
}

OpEntry& EntryOf(const Napi::Value& v) {
  if (!v.IsNumber()) throw ArgError("expected an operator id from resolveOp()");
  auto id = v.As<Napi::Number>().Uint32Value();
  auto& ops = Registry();
  if (id >= ops.size()) throw ArgError("unknown operator id " + std::to_string(id));
  return *ops[id];
}

// Runs the operator; leaves the results on `stack`.
void RunOp(const Napi::CallbackInfo& info, OpEntry& op, torch::jit::Stack& stack) {
  GUARD(info.Env(), op.label, DescribeArgs(info), {
    const auto& schema = op.handle.schema();
    const auto& args = schema.arguments();
    Napi::Array given = info[1].IsArray() ? info[1].As<Napi::Array>() : Napi::Array::New(info.Env());
    if (given.Length() > args.size()) {
      throw ArgError(op.label + " takes " + std::to_string(args.size()) + " arguments, got " +
                     std::to_string(given.Length()));
    }
    stack.reserve(args.size());
    for (size_t i = 0; i < args.size(); i++) {
      const auto& arg = args[i];
      Napi::Value v = i < given.Length() ? given.Get(static_cast<uint32_t>(i)) : info.Env().Undefined();
      if (v.IsUndefined()) {
        if (arg.default_value().has_value()) {
          stack.push_back(*arg.default_value());
          continue;
        }
        if (arg.type()->kind() != c10::TypeKind::OptionalType) {
          throw ArgError(op.label + ": missing argument '" + arg.name() + "'");
        }
      }
      stack.push_back(ToIValue(op, arg, arg.type(), v));
    }
    op.handle.callBoxed(&stack);
  })
}

}  // namespace

// resolveOp(name: string, overload: string): number — looks the schema up once; JS caches the id.
Napi::Value ResolveOp(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::string overload = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  auto handle = c10::Dispatcher::singleton().findSchema({name, overload});
  std::string label = overload.empty() ? name : name + "." + overload;
  if (!handle.has_value()) {
    ThrowTorchError(info.Env(), label, "no such operator in this libtorch", {});
  }
  auto& ops = Registry();
  ops.push_back(new OpEntry{*handle, label});
  return Napi::Number::New(info.Env(), static_cast<double>(ops.size() - 1));
}

// callOp(id, args[]): the op's result(s): a handle, a number, an array for several returns.
Napi::Value CallOp(const Napi::CallbackInfo& info) {
  auto& op = EntryOf(info[0]);
  torch::jit::Stack stack;
  RunOp(info, op, stack);
  Napi::Env env = info.Env();
  GUARD(env, op.label, DescribeArgs(info), {
    if (stack.empty()) return env.Undefined();
    if (stack.size() == 1) return FromIValue(env, stack[0]);
    auto out = Napi::Array::New(env, stack.size());
    for (size_t i = 0; i < stack.size(); i++) out.Set(static_cast<uint32_t>(i), FromIValue(env, stack[i]));
    return out;
  })
  return env.Undefined();
}

// callOpInPlace(id, args[]): for ops that return their mutated input; no new handle is made.
Napi::Value CallOpInPlace(const Napi::CallbackInfo& info) {
  auto& op = EntryOf(info[0]);
  torch::jit::Stack stack;
  RunOp(info, op, stack);
  return info.Env().Undefined();
}

// opSchema(id): the schema string, for error messages and docs.
Napi::Value OpSchema(const Napi::CallbackInfo& info) {
  auto& op = EntryOf(info[0]);
  return Napi::String::New(info.Env(), c10::toString(op.handle.schema()));
}

}  // namespace odc
