// Per-op type/shape inference (one definition used by graph inference and by the executors),
// symbolic shape-value propagation for Shape->Gather->Concat->Reshape chains, and conv/pool
// window geometry.
#include "ir/shape_inference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

namespace hqp::ir {

namespace {

// Limit on the element count of tensors whose content is tracked symbolically.
constexpr int64_t kMaxShapeValueElems = 64;

using Outputs = std::vector<InferOutput>;

struct Ctx {
  const Node& node;
  std::span<const InferInput> in;
  int64_t opset;

  const InferInput& input(size_t i) const {
    static const InferInput kAbsent;
    return i < in.size() ? in[i] : kAbsent;
  }
  bool has(size_t i) const { return i < in.size() && in[i].present; }

  template <typename... Args>
  Status error(fmt::format_string<Args...> f, Args&&... args) const {
    return Status(StatusCode::kInvalidArgument, fmt::format("cannot infer shapes of node '{}' ({}): ", node.name,
                                                            op_name(node.kind)) +
                                                    fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  Status unsupported(fmt::format_string<Args...> f, Args&&... args) const {
    return Status(StatusCode::kUnsupported, fmt::format("cannot run node '{}' ({}): ", node.name, op_name(node.kind)) +
                                                fmt::format(f, std::forward<Args>(args)...));
  }
};

InferOutput out_of(DType dtype, std::optional<Dims> shape) {
  InferOutput o;
  o.dtype = dtype;
  o.shape = std::move(shape);
  return o;
}

// Integer content of an input known at inference time (a constant or a tracked shape value).
std::optional<Dims> int_values(const InferInput& x) {
  if (x.shape_value != nullptr) return *x.shape_value;
  if (x.value != nullptr && x.value->defined() &&
      (x.value->dtype() == DType::kS64 || x.value->dtype() == DType::kS32) && x.value->rank() <= 1 &&
      x.value->numel() <= kMaxShapeValueElems) {
    Dims d;
    for (int64_t i = 0; i < x.value->numel(); ++i) d.push_back(Dim::fixed(x.value->element_as_int64(i)));
    return d;
  }
  return std::nullopt;
}

std::optional<std::vector<int64_t>> static_ints(const InferInput& x) {
  auto v = int_values(x);
  if (!v) return std::nullopt;
  std::vector<int64_t> out;
  for (const Dim& d : *v) {
    if (!d.is_static()) return std::nullopt;
    out.push_back(d.value);
  }
  return out;
}

Status expect_dtype(const Ctx& c, size_t i, std::initializer_list<DType> allowed, const char* what) {
  const InferInput& x = c.input(i);
  if (!x.present || x.dtype == DType::kUndefined) return Status();
  for (DType t : allowed) {
    if (x.dtype == t) return Status();
  }
  std::string names;
  for (DType t : allowed) names += std::string(names.empty() ? "" : "|") + std::string(dtype_name(t));
  return Status(StatusCode::kUnsupported, fmt::format("cannot run node '{}' ({}): {} has dtype {} (expected {})",
                                                      c.node.name, op_name(c.node.kind), what, dtype_name(x.dtype),
                                                      names));
}

// Merges two dims that must be equal; nullopt when they conflict.
std::optional<Dim> unify(const Dim& a, const Dim& b) {
  if (a.is_static() && b.is_static()) return a.value == b.value ? std::optional<Dim>(a) : std::nullopt;
  if (a.is_static()) return a;
  if (b.is_static()) return b;
  if (a.is_symbolic()) return a;
  return b;
}

// Numpy multidirectional broadcasting of two shapes.
Result<Dims> broadcast(const Ctx& c, const Dims& a, const Dims& b) {
  const size_t rank = std::max(a.size(), b.size());
  Dims out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const Dim da = i < rank - a.size() ? Dim::fixed(1) : a[i - (rank - a.size())];
    const Dim db = i < rank - b.size() ? Dim::fixed(1) : b[i - (rank - b.size())];
    if (da.is_static() && da.value == 1) {
      out[i] = db;
    } else if (db.is_static() && db.value == 1) {
      out[i] = da;
    } else if (da.is_static() && db.is_static()) {
      if (da.value != db.value) {
        return c.error("shapes {} and {} do not broadcast (dim {}: {} vs {})", dims_to_string(a), dims_to_string(b),
                       i, da.value, db.value);
      }
      out[i] = da;
    } else if (da == db) {
      out[i] = da;
    } else if (da.is_static()) {
      out[i] = da;
    } else if (db.is_static()) {
      out[i] = db;
    } else {
      out[i] = Dim::unknown();
    }
  }
  return out;
}

std::optional<Shape> spatial_static(const Dims& d) {
  Shape s;
  for (size_t i = 2; i < d.size(); ++i) {
    if (!d[i].is_static()) return std::nullopt;
    s.push_back(d[i].value);
  }
  return s;
}

// Stands for an unknown spatial dim in window geometry: larger than any window the geometry
// accepts (kernel, dilation <= 2^20), and small enough that (out - 1) * stride cannot overflow.
constexpr int64_t kUnknownSpatialPlaceholder = int64_t{1} << 41;

// The spatial dims of `d` with unknown ones replaced by kUnknownSpatialPlaceholder.
Shape spatial_with_placeholders(const Dims& d) {
  Shape s;
  for (size_t i = 2; i < d.size(); ++i) s.push_back(d[i].is_static() ? d[i].value : kUnknownSpatialPlaceholder);
  return s;
}

// Appends the window outputs: every spatial output depends on its own input dim alone, so it is
// static wherever that input dim is (as ONNX's inference computes it), unknown elsewhere.
void append_window_out(const Dims& xs, const WindowGeometry& g, Dims& out) {
  for (size_t i = 2; i < xs.size(); ++i) {
    out.push_back(xs[i].is_static() ? Dim::fixed(g.out[i - 2]) : Dim::unknown());
  }
}

// Product of a dim range: static when all static, the single non-1 symbol when exactly one
// symbolic dim and the rest multiply to 1, otherwise unknown.
Dim product(const Dims& d, size_t begin, size_t end) {
  int64_t p = 1;
  const Dim* sym = nullptr;
  int n_sym = 0;
  for (size_t i = begin; i < end; ++i) {
    if (d[i].is_static()) {
      p *= d[i].value;
    } else if (d[i].is_symbolic()) {
      sym = &d[i];
      ++n_sym;
    } else {
      return Dim::unknown();
    }
  }
  if (n_sym == 0) return Dim::fixed(p);
  if (n_sym == 1 && p == 1) return *sym;
  return Dim::unknown();
}

Result<Outputs> infer_unary_same(const Ctx& c) { return Outputs{out_of(c.input(0).dtype, c.input(0).shape)}; }

Result<Outputs> infer_float_unary(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32}, "input"));
  return infer_unary_same(c);
}

// Output dtype of an internal INT8 op: the quantized storage of its output value, else f32.
DType quantized_output_dtype(const Ctx& c) {
  const Value* y = c.node.output(0);
  return y != nullptr && y->quant ? y->quant->storage : DType::kF32;
}

Result<Outputs> infer_conv_like(const Ctx& c, const ConvAttrs& a, DType out_dtype);

Result<Outputs> infer_conv(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32}, "input X"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kF32}, "weight W"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 2, {DType::kF32}, "bias B"));
  const ConvAttrs& a = c.node.kind == OpKind::Conv ? c.node.attr<ConvAttrs>() : c.node.attr<FusedConvAttrs>().conv;
  return infer_conv_like(c, a, DType::kF32);
}

Status check_sum_input(const Ctx& c, size_t index, const Outputs& outs) {
  if (!c.has(index)) return Status();
  const InferInput& s = c.input(index);
  if (s.shape && outs[0].shape && !(*s.shape == *outs[0].shape)) {
    bool compatible = s.shape->size() == outs[0].shape->size();
    for (size_t i = 0; compatible && i < s.shape->size(); ++i) {
      compatible = unify((*s.shape)[i], (*outs[0].shape)[i]).has_value();
    }
    if (!compatible) {
      return c.error("sum input shape {} differs from output shape {}", dims_to_string(*s.shape),
                     dims_to_string(*outs[0].shape));
    }
  }
  return Status();
}

Result<Outputs> infer_fused_conv(const Ctx& c) {
  HQP_ASSIGN_OR_RETURN(Outputs outs, infer_conv(c));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 3, {DType::kF32}, "sum input"));
  HQP_RETURN_IF_ERROR(check_sum_input(c, 3, outs));
  return outs;
}

Result<Outputs> infer_qconv(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kU8, DType::kS8}, "input X"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kS8}, "weight W"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 2, {DType::kS32}, "bias B"));
  HQP_ASSIGN_OR_RETURN(Outputs outs, infer_conv_like(c, c.node.attr<FusedConvAttrs>().conv, quantized_output_dtype(c)));
  HQP_RETURN_IF_ERROR(check_sum_input(c, 3, outs));
  return outs;
}

Result<Outputs> infer_conv_like(const Ctx& c, const ConvAttrs& a, DType out_dtype) {
  const InferInput& x = c.input(0);
  const InferInput& w = c.input(1);
  if (a.group < 1) return c.error("group must be >= 1 (group={})", a.group);
  if (!x.shape || !w.shape) return Outputs{out_of(out_dtype, std::nullopt)};
  const Dims& xs = *x.shape;
  const Dims& ws = *w.shape;
  if (xs.size() < 3 || xs.size() > 5) return c.error("input rank must be 3..5 (rank={})", xs.size());
  if (ws.size() != xs.size()) {
    return c.error("weight rank {} differs from input rank {} (weight {}, input {})", ws.size(), xs.size(),
                   dims_to_string(ws), dims_to_string(xs));
  }
  if (xs[1].is_static() && ws[1].is_static() && xs[1].value != ws[1].value * a.group) {
    return c.error("input has {} channels but weight {} with group={} expects {}", xs[1].value, dims_to_string(ws),
                   a.group, ws[1].value * a.group);
  }
  if (ws[0].is_static() && ws[0].value % a.group != 0) {
    return c.error("output channels {} not divisible by group {}", ws[0].value, a.group);
  }
  if (c.has(2) && c.input(2).shape) {
    const Dims& bs = *c.input(2).shape;
    if (bs.size() != 1 || !unify(bs[0], ws[0])) {
      return c.error("bias shape {} does not match output channels {}", dims_to_string(bs), dim_to_string(ws[0]));
    }
  }
  if (!a.kernel_shape.empty() && a.kernel_shape.size() != xs.size() - 2) {
    return c.error("kernel_shape has {} dims for {} spatial dims", a.kernel_shape.size(), xs.size() - 2);
  }
  Dims out = {xs[0], ws[0]};
  // The kernel: the weight's spatial dims, else the kernel_shape attribute; with neither known the
  // window attributes are still checked (on a 1-wide stand-in) but no output dim is.
  const std::optional<Shape> w_sp = spatial_static(ws);
  const bool kernel_known = w_sp.has_value() || !a.kernel_shape.empty();
  const Shape kernel = w_sp ? *w_sp : (!a.kernel_shape.empty() ? a.kernel_shape : Shape(xs.size() - 2, 1));
  HQP_ASSIGN_OR_RETURN(WindowGeometry g, conv_geometry(a, spatial_with_placeholders(xs), kernel));
  if (kernel_known) {
    append_window_out(xs, g, out);
  } else {
    for (size_t i = 2; i < xs.size(); ++i) out.push_back(Dim::unknown());
  }
  return Outputs{out_of(out_dtype, out)};
}

Result<Outputs> infer_pool(const Ctx& c, bool is_max) {
  const auto& a = c.node.attr<PoolAttrs>();
  if (is_max) {
    HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32, DType::kU8, DType::kS8}, "input X"));
  } else {
    HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32}, "input X"));
  }
  const InferInput& x = c.input(0);
  Outputs outs;
  if (!x.shape) {
    outs.push_back(out_of(x.dtype, std::nullopt));
  } else {
    const Dims& xs = *x.shape;
    if (xs.size() < 3 || xs.size() > 5) return c.error("input rank must be 3..5 (rank={})", xs.size());
    if (a.kernel_shape.size() != xs.size() - 2) {
      return c.error("kernel_shape has {} dims for {} spatial dims", a.kernel_shape.size(), xs.size() - 2);
    }
    Dims out = {xs[0], xs[1]};
    HQP_ASSIGN_OR_RETURN(WindowGeometry g, pool_geometry(a, spatial_with_placeholders(xs), is_max));
    append_window_out(xs, g, out);
    outs.push_back(out_of(x.dtype, out));
  }
  if (c.node.num_outputs() > 1 && c.node.output(1) != nullptr) {
    if (a.storage_order != 0) return c.unsupported("Indices output with storage_order=1 is not supported");
    outs.push_back(out_of(DType::kS64, outs[0].shape));
  }
  return outs;
}

Result<Outputs> infer_batchnorm(const Ctx& c) {
  const auto& a = c.node.attr<BatchNormAttrs>();
  if (a.training_mode != 0) return c.unsupported("training_mode=1 is not supported (inference only)");
  for (size_t i = 1; i < c.node.num_outputs(); ++i) {
    if (c.node.output(i) != nullptr) return c.unsupported("training outputs (running mean/var) are not supported");
  }
  for (size_t i = 0; i < 5; ++i) HQP_RETURN_IF_ERROR(expect_dtype(c, i, {DType::kF32}, "input"));
  const InferInput& x = c.input(0);
  if (x.shape) {
    if (x.shape->size() < 2) return c.error("input rank must be >= 2 (rank={})", x.shape->size());
    // The channel count: the input's dim 1 unified with every parameter's length.
    Dim channels = (*x.shape)[1];
    for (size_t i = 1; i < 5; ++i) {
      const auto& s = c.input(i).shape;
      if (!s) continue;
      std::optional<Dim> merged = s->size() == 1 ? unify((*s)[0], channels) : std::nullopt;
      if (!merged) {
        return c.error("parameter {} has shape {} (expected [{}])", i, dims_to_string(*s), dim_to_string(channels));
      }
      channels = *merged;
    }
    Dims out = *x.shape;
    out[1] = channels;
    return Outputs{out_of(DType::kF32, out)};
  }
  return Outputs{out_of(DType::kF32, x.shape)};
}

Result<Outputs> infer_clip(const Ctx& c) {
  const InferInput& x = c.input(0);
  HQP_RETURN_IF_ERROR(
      expect_dtype(c, 0, {DType::kF32, DType::kS8, DType::kU8, DType::kS32, DType::kS64}, "input"));
  for (size_t i = 1; i < 3; ++i) {
    if (!c.has(i)) continue;
    const InferInput& b = c.input(i);
    if (b.dtype != x.dtype) {
      return c.error("bound {} has dtype {} but input has {}", i, dtype_name(b.dtype), dtype_name(x.dtype));
    }
    if (b.shape && !(b.shape->empty() || (b.shape->size() == 1 && b.shape->at(0) == Dim::fixed(1)))) {
      return c.error("bound {} must be a scalar (shape {})", i, dims_to_string(*b.shape));
    }
  }
  return infer_unary_same(c);
}

// Add/Sub/Mul/Div of two integer shape values whose entries are all static (exporters compute
// Slice bounds and Reshape targets this way: Shape -> Gather -> Add -> Div -> Mul): the result,
// with the reference kernel's integer semantics (Div truncates toward zero, x / 0 = 0). A
// symbolic entry, or anything else, is not tracked.
std::optional<Dims> shape_value_arithmetic(const Ctx& c, const InferInput& a, const InferInput& b) {
  if (a.dtype != DType::kS64 && a.dtype != DType::kS32) return std::nullopt;
  const auto va = static_ints(a);
  const auto vb = static_ints(b);
  if (!va || !vb || !a.shape || !b.shape || a.shape->size() > 1 || b.shape->size() > 1) return std::nullopt;
  const size_t n = std::max(va->size(), vb->size());
  if ((va->size() != n && va->size() != 1) || (vb->size() != n && vb->size() != 1)) return std::nullopt;
  Dims out;
  for (size_t i = 0; i < n; ++i) {
    const int64_t x = (*va)[va->size() == 1 ? 0 : i];
    const int64_t y = (*vb)[vb->size() == 1 ? 0 : i];
    using U = uint64_t;  // wrap-around like the kernel, free of signed overflow
    int64_t r = 0;
    switch (c.node.kind) {
      case OpKind::Add: r = static_cast<int64_t>(static_cast<U>(x) + static_cast<U>(y)); break;
      case OpKind::Sub: r = static_cast<int64_t>(static_cast<U>(x) - static_cast<U>(y)); break;
      case OpKind::Mul: r = static_cast<int64_t>(static_cast<U>(x) * static_cast<U>(y)); break;
      case OpKind::Div:
        r = y == 0 ? 0 : y == -1 ? static_cast<int64_t>(U{0} - static_cast<U>(x)) : x / y;
        break;
      default: return std::nullopt;
    }
    if (a.dtype == DType::kS32) r = static_cast<int32_t>(static_cast<uint32_t>(static_cast<U>(r)));
    out.push_back(Dim::fixed(r));
  }
  return out;
}

Result<Outputs> infer_binary(const Ctx& c) {
  const InferInput& a = c.input(0);
  const InferInput& b = c.input(1);
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32, DType::kU8, DType::kS8, DType::kS32, DType::kS64}, "input A"));
  if (a.dtype != b.dtype) {
    return c.error("input dtypes differ ({} vs {})", dtype_name(a.dtype), dtype_name(b.dtype));
  }
  if (!a.shape || !b.shape) return Outputs{out_of(a.dtype, std::nullopt)};
  HQP_ASSIGN_OR_RETURN(Dims out, broadcast(c, *a.shape, *b.shape));
  InferOutput o = out_of(a.dtype, out);
  o.shape_value = shape_value_arithmetic(c, a, b);
  return Outputs{o};
}

// Pow (output of the base's dtype, kernels/ref/elementwise.h) and PRelu (the slope broadcasts to
// X, the output has X's shape).
Result<Outputs> infer_pow(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32, DType::kS32, DType::kS64}, "base"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kF32, DType::kS32, DType::kS64, DType::kU8, DType::kS8}, "exponent"));
  const InferInput& a = c.input(0);
  const InferInput& b = c.input(1);
  if (!a.shape || !b.shape) return Outputs{out_of(a.dtype, std::nullopt)};
  HQP_ASSIGN_OR_RETURN(Dims out, broadcast(c, *a.shape, *b.shape));
  return Outputs{out_of(a.dtype, out)};
}

Result<Outputs> infer_prelu(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32}, "X"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kF32}, "slope"));
  const InferInput& x = c.input(0);
  const InferInput& s = c.input(1);
  if (!x.shape) return Outputs{out_of(DType::kF32, std::nullopt)};
  if (s.shape) {
    Dims slope = *s.shape;
    if (c.opset < 7 && slope.size() == 1 && x.shape->size() >= 2) slope.resize(x.shape->size() - 1, Dim::fixed(1));
    HQP_ASSIGN_OR_RETURN(Dims out, broadcast(c, *x.shape, slope));
    if (out.size() != x.shape->size()) {
      return c.error("slope of rank {} does not broadcast to X of rank {}", s.shape->size(), x.shape->size());
    }
    for (size_t i = 0; i < out.size(); ++i) {
      const Dim& d = (*x.shape)[i];
      if (out[i].is_static() && d.is_static() && out[i].value != d.value) {
        return c.error("slope {} does not broadcast to X {}", dims_to_string(*s.shape), dims_to_string(*x.shape));
      }
    }
  }
  return Outputs{out_of(DType::kF32, *x.shape)};
}

Result<Outputs> infer_global_pool(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32}, "input"));
  const InferInput& x = c.input(0);
  if (!x.shape) return Outputs{out_of(DType::kF32, std::nullopt)};
  if (x.shape->size() < 3) return c.error("input rank must be >= 3 (rank={})", x.shape->size());
  Dims out = {(*x.shape)[0], (*x.shape)[1]};
  for (size_t i = 2; i < x.shape->size(); ++i) out.push_back(Dim::fixed(1));
  return Outputs{out_of(DType::kF32, out)};
}

Result<Outputs> infer_flatten(const Ctx& c) {
  const InferInput& x = c.input(0);
  if (!x.shape) return Outputs{out_of(x.dtype, Dims{Dim::unknown(), Dim::unknown()})};
  const int64_t r = static_cast<int64_t>(x.shape->size());
  int64_t axis = c.node.attr<FlattenAttrs>().axis;
  if (axis < -r || axis > r) return c.error("axis {} out of range for rank {}", axis, r);
  if (axis < 0) axis += r;
  Dims out = {product(*x.shape, 0, static_cast<size_t>(axis)), product(*x.shape, static_cast<size_t>(axis), x.shape->size())};
  return Outputs{out_of(x.dtype, out)};
}

Result<Outputs> infer_reshape(const Ctx& c) {
  const InferInput& x = c.input(0);
  const InferInput& s = c.input(1);
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kS64}, "shape"));
  if (s.shape && s.shape->size() != 1) return c.error("shape input must be 1-D (shape {})", dims_to_string(*s.shape));
  const bool allowzero = c.node.attr<ReshapeAttrs>().allowzero != 0;
  auto target = int_values(s);
  if (!target) {
    if (s.shape && (*s.shape)[0].is_static()) {
      return Outputs{out_of(x.dtype, Dims(static_cast<size_t>((*s.shape)[0].value), Dim::unknown()))};
    }
    return Outputs{out_of(x.dtype, std::nullopt)};
  }
  Dims out = *target;
  int minus_one = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].is_static()) continue;
    const int64_t v = out[i].value;
    if (v == -1) {
      if (minus_one >= 0) return c.error("shape has more than one -1 ({})", dims_to_string(out));
      minus_one = static_cast<int>(i);
    } else if (v == 0 && !allowzero) {
      if (!x.shape) {
        out[i] = Dim::unknown();
      } else if (i >= x.shape->size()) {
        return c.error("shape {} copies dim {} (0) but the input has rank {}", dims_to_string(*target), i,
                       x.shape->size());
      } else {
        out[i] = (*x.shape)[i];
      }
    } else if (v < -1) {
      return c.error("shape has invalid dim {} ({})", v, dims_to_string(*target));
    }
  }
  if (allowzero && minus_one >= 0) {
    for (const Dim& d : out) {
      if (d.is_static() && d.value == 0) return c.error("allowzero=1 with both 0 and -1 in shape {}", dims_to_string(out));
    }
  }
  if (x.shape) {
    // Cancel symbols between input and output; the rest must multiply out exactly.
    std::map<std::string, int> syms;
    int64_t in_static = 1;
    bool unknown = false;
    for (const Dim& d : *x.shape) {
      if (d.is_static()) in_static *= d.value;
      else if (d.is_symbolic()) ++syms[d.symbol];
      else unknown = true;
    }
    int64_t out_static = 1;
    for (size_t i = 0; i < out.size(); ++i) {
      if (static_cast<int>(i) == minus_one) continue;
      const Dim& d = out[i];
      if (d.is_static()) out_static *= d.value;
      else if (d.is_symbolic()) --syms[d.symbol];
      else unknown = true;
    }
    bool syms_cancel = std::all_of(syms.begin(), syms.end(), [](const auto& p) { return p.second == 0; });
    if (!unknown && syms_cancel) {
      if (minus_one >= 0) {
        if (out_static == 0 || in_static % out_static != 0) {
          return c.error("cannot reshape {} to {}: element counts do not divide", dims_to_string(*x.shape),
                         dims_to_string(*target));
        }
        out[static_cast<size_t>(minus_one)] = Dim::fixed(in_static / out_static);
      } else if (in_static != out_static) {
        return c.error("cannot reshape {} to {}: element counts differ ({} vs {})", dims_to_string(*x.shape),
                       dims_to_string(*target), in_static, out_static);
      }
    } else if (minus_one >= 0) {
      out[static_cast<size_t>(minus_one)] = Dim::unknown();
    }
  } else if (minus_one >= 0) {
    out[static_cast<size_t>(minus_one)] = Dim::unknown();
  }
  return Outputs{out_of(x.dtype, out)};
}

Result<Outputs> infer_transpose(const Ctx& c) {
  const InferInput& x = c.input(0);
  if (!x.shape) return Outputs{out_of(x.dtype, std::nullopt)};
  const size_t r = x.shape->size();
  std::vector<int64_t> perm = c.node.attr<TransposeAttrs>().perm;
  if (perm.empty()) {
    for (size_t i = 0; i < r; ++i) perm.push_back(static_cast<int64_t>(r - 1 - i));
  }
  if (perm.size() != r) return c.error("perm has {} entries for rank {}", perm.size(), r);
  std::vector<bool> seen(r, false);
  Dims out;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(r) || seen[static_cast<size_t>(p)]) {
      return c.error("perm is not a permutation of 0..{}", r - 1);
    }
    seen[static_cast<size_t>(p)] = true;
    out.push_back((*x.shape)[static_cast<size_t>(p)]);
  }
  return Outputs{out_of(x.dtype, out)};
}

Result<std::optional<std::vector<int64_t>>> axes_of(const Ctx& c) {
  const auto& a = c.node.attr<AxesAttrs>();
  if (a.axes) return std::optional<std::vector<int64_t>>(*a.axes);
  if (!c.has(1)) return std::optional<std::vector<int64_t>>();
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kS64}, "axes"));
  auto v = static_ints(c.input(1));
  if (!v) return c.error("axes input is not a constant");
  return std::optional<std::vector<int64_t>>(*v);
}

// Squeeze/Unsqueeze (opset >= 13) whose axes input is not a constant: its content is known only
// when the node runs, so graph-level inference knows at most the output rank (as for Reshape).
bool axes_known_only_at_run_time(const Ctx& c) {
  return !c.node.attr<AxesAttrs>().axes && c.has(1) && !static_ints(c.input(1));
}

// Cast: same shape, the attribute's dtype; integer shape values stay tracked through an integer cast.
Result<Outputs> infer_cast(const Ctx& c) {
  const InferInput& x = c.input(0);
  const DType to = c.node.attr<CastAttrs>().to;
  if (to == DType::kUndefined) return c.error("target dtype is undefined");
  InferOutput o = out_of(to, x.shape);
  if (to == DType::kS64 || to == DType::kS32) {
    if (auto sv = int_values(x); sv && (x.dtype == DType::kS64 || x.dtype == DType::kS32)) o.shape_value = sv;
  }
  return Outputs{o};
}

// Integer contents of inputs first..last of a node (nullopt: absent or not known here).
std::vector<std::optional<std::vector<int64_t>>> int_inputs(const Ctx& c, size_t first, size_t last) {
  std::vector<std::optional<std::vector<int64_t>>> v;
  for (size_t i = first; i <= last; ++i) v.push_back(c.has(i) ? static_ints(c.input(i)) : std::nullopt);
  return v;
}

// Slice: starts/ends/axes/steps from the attributes (opset < 10) or inputs 1..4 (s32/s64). Output
// dims: computed where the input dim is static; a dim that is symbolic stays when the axis is not
// sliced or is sliced whole ([0, >= INT64_MAX / 2) step 1); otherwise unknown.
Result<Outputs> infer_slice(const Ctx& c) {
  const InferInput& x = c.input(0);
  const auto& a = c.node.attr<SliceAttrs>();
  for (size_t i = 1; i <= 4; ++i) HQP_RETURN_IF_ERROR(expect_dtype(c, i, {DType::kS64, DType::kS32}, "slice argument"));
  std::vector<int64_t> starts, ends;
  std::optional<std::vector<int64_t>> axes = a.axes, steps;
  if (a.starts || a.ends) {
    if (!a.starts || !a.ends) return c.error("attributes 'starts' and 'ends' are required");
    starts = *a.starts;
    ends = *a.ends;
  } else {
    if (!c.has(1) || !c.has(2)) return c.error("inputs 'starts' and 'ends' are required");
    const auto v = int_inputs(c, 1, 4);
    const bool known = v[0] && v[1] && (!c.has(3) || v[2]) && (!c.has(4) || v[3]);
    if (!known) {
      // Bounds known only when the node runs: the rank is all that is known here.
      if (x.shape) return Outputs{out_of(x.dtype, Dims(x.shape->size(), Dim::unknown()))};
      return Outputs{out_of(x.dtype, std::nullopt)};
    }
    starts = *v[0];
    ends = *v[1];
    axes = v[2];
    steps = v[3];
  }
  if (!x.shape) return Outputs{out_of(x.dtype, std::nullopt)};
  const Dims& xs = *x.shape;
  Result<std::vector<std::optional<SliceSpec>>> specs =
      slice_specs(static_cast<int64_t>(xs.size()), starts, ends, axes, steps);
  if (!specs.ok()) return c.error("{}", specs.status().message());
  Dims out;
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::optional<SliceSpec>& sp = (*specs)[i];
    if (!sp) {
      out.push_back(xs[i]);
    } else if (xs[i].is_static()) {
      out.push_back(Dim::fixed(slice_range(xs[i].value, sp->start, sp->end, sp->step).count));
    } else {
      const bool whole = sp->start == 0 && sp->step == 1 && sp->end >= std::numeric_limits<int64_t>::max() / 2;
      out.push_back(whole ? xs[i] : Dim::unknown());
    }
  }
  InferOutput o = out_of(x.dtype, out);
  // A slice of a tracked 1-D shape value (Shape -> Slice) stays tracked.
  if (auto sv = int_values(x); sv && xs.size() == 1 && out[0].is_static()) {
    const SliceRange r = slice_range(static_cast<int64_t>(sv->size()), (*specs)[0] ? (*specs)[0]->start : 0,
                                     (*specs)[0] ? (*specs)[0]->end : static_cast<int64_t>(sv->size()),
                                     (*specs)[0] ? (*specs)[0]->step : 1);
    Dims v;
    for (int64_t k = 0; k < r.count; ++k) v.push_back((*sv)[static_cast<size_t>(r.start + k * r.step)]);
    o.shape_value = std::move(v);
  }
  return Outputs{o};
}

// Pad: pads from the attribute (opset < 11) or input 1 (s64); the constant value from the
// attribute or input 2 (X's dtype, a scalar). Reflect / edge need every padded axis non-empty.
Result<Outputs> infer_pad(const Ctx& c) {
  const InferInput& x = c.input(0);
  const auto& a = c.node.attr<PadAttrs>();
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32, DType::kU8, DType::kS8, DType::kS32, DType::kS64}, "input"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kS64}, "pads"));
  if (c.has(2)) {
    const InferInput& v = c.input(2);
    if (v.dtype != x.dtype) return c.error("constant_value has dtype {} but input has {}", dtype_name(v.dtype), dtype_name(x.dtype));
    if (v.shape && !(v.shape->empty() || (v.shape->size() == 1 && (*v.shape)[0] == Dim::fixed(1)))) {
      return c.error("constant_value must be a scalar (shape {})", dims_to_string(*v.shape));
    }
    if (a.mode != PadMode::kConstant) return c.error("constant_value is given but mode is not 'constant'");
  }
  std::optional<std::vector<int64_t>> pads_input;
  if (!a.pads) {
    if (!c.has(1)) return c.error("input 'pads' is required");
    pads_input = static_ints(c.input(1));
    if (!pads_input) {
      if (x.shape) return Outputs{out_of(x.dtype, Dims(x.shape->size(), Dim::unknown()))};
      return Outputs{out_of(x.dtype, std::nullopt)};
    }
  }
  if (!x.shape) return Outputs{out_of(x.dtype, std::nullopt)};
  const Dims& xs = *x.shape;
  Result<std::vector<int64_t>> pads = pad_amounts(a, pads_input, static_cast<int64_t>(xs.size()));
  if (!pads.ok()) return c.error("{}", pads.status().message());
  Dims out;
  for (size_t i = 0; i < xs.size(); ++i) {
    const int64_t b = (*pads)[i];
    const int64_t e = (*pads)[i + xs.size()];
    if (b == 0 && e == 0) {
      out.push_back(xs[i]);
      continue;
    }
    if (!xs[i].is_static()) {
      out.push_back(Dim::unknown());
      continue;
    }
    int64_t n = 0;
    if (__builtin_add_overflow(xs[i].value, b, &n) || __builtin_add_overflow(n, e, &n)) {
      return c.error("pads {} and {} of axis {} overflow", b, e, i);
    }
    if (n < 0) return c.error("pads {} and {} leave axis {} of size {} with a negative size", b, e, i, xs[i].value);
    if (a.mode != PadMode::kConstant && xs[i].value == 0) {
      return c.error("axis {} is empty: reflect / edge padding has nothing to repeat", i);
    }
    out.push_back(Dim::fixed(n));
  }
  return Outputs{out_of(x.dtype, out)};
}

// Resize (opset >= 11): X, roi (unused by the supported modes), scales (f32), sizes (s64). Static
// output dims when X's dims and the scales / sizes values are known.
Result<Outputs> infer_resize(const Ctx& c) {
  const InferInput& x = c.input(0);
  const auto& a = c.node.attr<ResizeAttrs>();
  if (a.mode == ResizeMode::kLinear) {
    HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32}, "input (linear mode)"));
  } else {
    HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32, DType::kU8, DType::kS8, DType::kS32, DType::kS64}, "input"));
  }
  HQP_RETURN_IF_ERROR(expect_dtype(c, 2, {DType::kF32}, "scales"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 3, {DType::kS64}, "sizes"));
  const bool has_scales = c.has(2) && !(c.input(2).shape && c.input(2).shape->size() == 1 &&
                                           (*c.input(2).shape)[0] == Dim::fixed(0));
  const bool has_sizes = c.has(3);
  if (has_scales == has_sizes) return c.error("exactly one of scales and sizes must be given");
  if (!x.shape) return Outputs{out_of(x.dtype, std::nullopt)};
  const Dims& xs = *x.shape;
  std::optional<std::vector<float>> scales;
  std::optional<std::vector<int64_t>> sizes;
  if (has_scales && c.input(2).value != nullptr) {
    const Tensor& t = *c.input(2).value;
    scales = std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
  }
  if (has_sizes) sizes = static_ints(c.input(3));
  const std::optional<Shape> in = static_shape(xs);
  if ((!scales && !sizes) || (!in && !sizes)) return Outputs{out_of(x.dtype, Dims(xs.size(), Dim::unknown()))};
  if (!in) {  // sizes known, input dims not: the output is the sizes
    if (sizes->size() != xs.size()) return c.error("sizes has {} values for an input of rank {}", sizes->size(), xs.size());
    Dims out;
    for (int64_t s : *sizes) out.push_back(Dim::fixed(s));
    return Outputs{out_of(x.dtype, out)};
  }
  Result<ResizeGeometry> g = resize_geometry(std::vector<int64_t>(in->begin(), in->end()), scales, sizes);
  if (!g.ok()) return c.error("{}", g.status().message());
  Dims out;
  for (int64_t d : g->out) out.push_back(Dim::fixed(d));
  return Outputs{out_of(x.dtype, out)};
}

// Split: one output per part along the axis; sizes from the attribute (opset < 13), input 1 (s64)
// or equal parts.
Result<Outputs> infer_split(const Ctx& c) {
  const InferInput& x = c.input(0);
  const auto& a = c.node.attr<SplitAttrs>();
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kS64}, "split"));
  const size_t parts = c.node.num_outputs();
  std::optional<std::vector<int64_t>> split = a.split;
  bool split_known = true;
  if (!split && c.has(1)) {
    split = static_ints(c.input(1));
    split_known = split.has_value();
  }
  if (!x.shape) return Outputs(parts, out_of(x.dtype, std::nullopt));
  const Dims& xs = *x.shape;
  HQP_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(a.axis, static_cast<int64_t>(xs.size()), "split axis"));
  Outputs outs;
  const Dim& d = xs[static_cast<size_t>(axis)];
  std::vector<int64_t> sizes;
  if (split_known && d.is_static()) {
    Result<std::vector<int64_t>> r = split_sizes(d.value, split, parts);
    if (!r.ok()) return c.error("{}", r.status().message());
    sizes = std::move(r).value();
  } else if (split_known && split) {
    if (split->size() != parts) return c.error("split has {} sizes for {} outputs", split->size(), parts);
    sizes = *split;
  }
  for (size_t i = 0; i < parts; ++i) {
    Dims o = xs;
    o[static_cast<size_t>(axis)] = sizes.empty() ? Dim::unknown() : Dim::fixed(sizes[i]);
    outs.push_back(out_of(x.dtype, o));
  }
  return outs;
}

// Expand: numpy broadcasting of X against the shape input (a dim of 1 there keeps X's dim).
Result<Outputs> infer_expand(const Ctx& c) {
  const InferInput& x = c.input(0);
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kS64}, "shape"));
  const InferInput& s = c.input(1);
  if (s.shape && s.shape->size() != 1) return c.error("shape must be 1-D (shape {})", dims_to_string(*s.shape));
  const std::optional<Dims> target = int_values(s);
  if (target) {
    for (const Dim& d : *target) {
      if (d.is_static() && d.value < 0) return c.error("shape {} has a negative dim", dims_to_string(*target));
    }
  }
  if (!x.shape || !target) {
    if (x.shape && s.shape && (*s.shape)[0].is_static()) {
      const size_t r = std::max(x.shape->size(), static_cast<size_t>((*s.shape)[0].value));
      return Outputs{out_of(x.dtype, Dims(r, Dim::unknown()))};
    }
    return Outputs{out_of(x.dtype, std::nullopt)};
  }
  HQP_ASSIGN_OR_RETURN(Dims out, broadcast(c, *x.shape, *target));
  return Outputs{out_of(x.dtype, out)};
}

// LayerNormalization: Y has X's shape; Mean / InvStdDev keep the dims before `axis` and have 1
// from it on. Scale and B hold one value per normalized element (X.shape[axis:]) or a single one.
Result<Outputs> infer_layer_norm(const Ctx& c) {
  const auto& a = c.node.attr<LayerNormAttrs>();
  for (size_t i = 0; i < 3; ++i) HQP_RETURN_IF_ERROR(expect_dtype(c, i, {DType::kF32}, "input"));
  if (a.stash_type != 1) return c.unsupported("stash_type={} (only 1, float statistics, is supported)", a.stash_type);
  const InferInput& x = c.input(0);
  const size_t outputs = c.node.num_outputs();
  if (!x.shape) return Outputs(outputs, out_of(DType::kF32, std::nullopt));
  const Dims& xs = *x.shape;
  HQP_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(a.axis, static_cast<int64_t>(xs.size()), "layer norm axis"));
  const Dim inner = product(xs, static_cast<size_t>(axis), xs.size());
  for (size_t i = 1; i < 3; ++i) {
    if (!c.has(i) || !c.input(i).shape || !inner.is_static()) continue;
    const Dim n = product(*c.input(i).shape, 0, c.input(i).shape->size());
    if (n.is_static() && n.value != inner.value && n.value != 1) {
      return c.error("{} has {} elements for {} normalized ones", i == 1 ? "Scale" : "B", n.value, inner.value);
    }
  }
  Dims stats = xs;
  for (size_t i = static_cast<size_t>(axis); i < stats.size(); ++i) stats[i] = Dim::fixed(1);
  Outputs outs = {out_of(DType::kF32, xs)};
  for (size_t i = 1; i < outputs; ++i) outs.push_back(out_of(DType::kF32, stats));
  return outs;
}

// ReduceMean / ReduceMax / ReduceSum (f32).
Result<Outputs> infer_reduce(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32}, "input"));
  const auto& a = c.node.attr<ReduceAttrs>();
  std::optional<std::vector<int64_t>> axes_input;
  const InferInput& x = c.input(0);
  if (c.has(1)) {
    HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kS64}, "axes"));
    axes_input = static_ints(c.input(1));
    if (!axes_input) {
      // Axes known only when the node runs (as for Squeeze): at most the output rank is known here.
      if (x.shape && a.keepdims != 0) return Outputs{out_of(DType::kF32, Dims(x.shape->size(), Dim::unknown()))};
      return Outputs{out_of(DType::kF32, std::nullopt)};
    }
  }
  if (!x.shape) return Outputs{out_of(DType::kF32, std::nullopt)};
  Result<std::vector<bool>> reduce = reduced_axes(a, axes_input, static_cast<int64_t>(x.shape->size()));
  if (!reduce.ok()) return c.error("{}", reduce.status().message());
  Dims out;
  for (size_t i = 0; i < x.shape->size(); ++i) {
    if (!(*reduce)[i]) {
      out.push_back((*x.shape)[i]);
    } else if (a.keepdims != 0) {
      out.push_back(Dim::fixed(1));
    }
  }
  return Outputs{out_of(DType::kF32, out)};
}

Result<Outputs> infer_squeeze(const Ctx& c) {
  const InferInput& x = c.input(0);
  if (axes_known_only_at_run_time(c)) {
    HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kS64}, "axes"));
    return Outputs{out_of(x.dtype, std::nullopt)};
  }
  HQP_ASSIGN_OR_RETURN(auto axes, axes_of(c));
  if (!x.shape) return Outputs{out_of(x.dtype, std::nullopt)};
  const int64_t r = static_cast<int64_t>(x.shape->size());
  std::vector<bool> drop(static_cast<size_t>(r), false);
  if (axes) {
    for (int64_t a : *axes) {
      HQP_ASSIGN_OR_RETURN(int64_t n, normalize_axis(a, r, "squeeze axis"));
      const Dim& d = (*x.shape)[static_cast<size_t>(n)];
      if (d.is_static() && d.value != 1) return c.error("cannot squeeze axis {} of size {}", a, d.value);
      drop[static_cast<size_t>(n)] = true;
    }
  } else {
    for (int64_t i = 0; i < r; ++i) {
      const Dim& d = (*x.shape)[static_cast<size_t>(i)];
      if (!d.is_static()) return Outputs{out_of(x.dtype, std::nullopt)};
      drop[static_cast<size_t>(i)] = d.value == 1;
    }
  }
  Dims out;
  for (int64_t i = 0; i < r; ++i) {
    if (!drop[static_cast<size_t>(i)]) out.push_back((*x.shape)[static_cast<size_t>(i)]);
  }
  InferOutput o = out_of(x.dtype, out);
  if (auto sv = int_values(x); sv && out.size() <= 1) o.shape_value = sv;
  return Outputs{o};
}

Result<Outputs> infer_unsqueeze(const Ctx& c) {
  const InferInput& x = c.input(0);
  if (axes_known_only_at_run_time(c)) {
    HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kS64}, "axes"));
    const std::optional<Dims>& s = c.input(1).shape;
    if (x.shape && s && s->size() == 1 && (*s)[0].is_static()) {
      return Outputs{out_of(x.dtype, Dims(x.shape->size() + static_cast<size_t>((*s)[0].value), Dim::unknown()))};
    }
    return Outputs{out_of(x.dtype, std::nullopt)};
  }
  HQP_ASSIGN_OR_RETURN(auto axes, axes_of(c));
  if (!axes) return c.error("axes are required");
  if (!x.shape) return Outputs{out_of(x.dtype, std::nullopt)};
  const int64_t r = static_cast<int64_t>(x.shape->size() + axes->size());
  std::vector<bool> inserted(static_cast<size_t>(r), false);
  for (int64_t a : *axes) {
    HQP_ASSIGN_OR_RETURN(int64_t n, normalize_axis(a, r, "unsqueeze axis"));
    if (inserted[static_cast<size_t>(n)]) return c.error("axis {} is repeated", a);
    inserted[static_cast<size_t>(n)] = true;
  }
  Dims out;
  size_t j = 0;
  for (int64_t i = 0; i < r; ++i) {
    out.push_back(inserted[static_cast<size_t>(i)] ? Dim::fixed(1) : (*x.shape)[j++]);
  }
  InferOutput o = out_of(x.dtype, out);
  if (auto sv = int_values(x); sv && out.size() <= 1) o.shape_value = sv;
  return Outputs{o};
}

Result<Outputs> infer_shape(const Ctx& c) {
  const InferInput& x = c.input(0);
  const auto& a = c.node.attr<ShapeAttrs>();
  if (!x.shape) return Outputs{out_of(DType::kS64, Dims{Dim::unknown()})};
  const int64_t r = static_cast<int64_t>(x.shape->size());
  auto clamp = [r](int64_t v) { return std::clamp(v < 0 ? v + r : v, int64_t{0}, r); };
  const int64_t start = clamp(a.start.value_or(0));
  const int64_t end = clamp(a.end.value_or(r));
  Dims sv;
  for (int64_t i = start; i < end; ++i) sv.push_back((*x.shape)[static_cast<size_t>(i)]);
  InferOutput o = out_of(DType::kS64, Dims{Dim::fixed(static_cast<int64_t>(sv.size()))});
  o.shape_value = std::move(sv);
  return Outputs{o};
}

Result<Outputs> infer_gather(const Ctx& c) {
  const InferInput& x = c.input(0);
  const InferInput& idx = c.input(1);
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kS64, DType::kS32}, "indices"));
  if (!x.shape || !idx.shape) return Outputs{out_of(x.dtype, std::nullopt)};
  const int64_t r = static_cast<int64_t>(x.shape->size());
  if (r == 0) return c.error("data must have rank >= 1");
  HQP_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(c.node.attr<AxisAttrs>().axis, r, "gather axis"));
  Dims out(x.shape->begin(), x.shape->begin() + axis);
  out.insert(out.end(), idx.shape->begin(), idx.shape->end());
  out.insert(out.end(), x.shape->begin() + axis + 1, x.shape->end());
  InferOutput o = out_of(x.dtype, out);
  auto data = int_values(x);
  auto ids = static_ints(idx);
  const Dim& axis_dim = (*x.shape)[static_cast<size_t>(axis)];
  if (ids && axis_dim.is_static()) {
    for (int64_t i : *ids) {
      if (i < -axis_dim.value || i >= axis_dim.value) {
        return c.error("index {} out of range for axis of size {}", i, axis_dim.value);
      }
    }
  }
  if (data && ids && r == 1 && idx.shape->size() <= 1) {
    Dims sv;
    const int64_t n = static_cast<int64_t>(data->size());
    for (int64_t i : *ids) {
      const int64_t k = i < 0 ? i + n : i;
      if (k < 0 || k >= n) return c.error("index {} out of range for axis of size {}", i, n);
      sv.push_back((*data)[static_cast<size_t>(k)]);
    }
    o.shape_value = std::move(sv);
  }
  return Outputs{o};
}

Result<Outputs> infer_concat(const Ctx& c) {
  const auto& a = c.node.attr<AxisAttrs>();
  if (!a.present) return c.error("attribute 'axis' is required");
  const InferInput& first = c.input(0);
  std::optional<Dims> out;
  Dims sv;
  bool all_sv = true;
  bool shapes_known = true;
  for (size_t i = 0; i < c.in.size(); ++i) {
    const InferInput& x = c.input(i);
    if (!x.present) return c.error("input {} is missing", i);
    if (x.dtype != first.dtype) {
      return c.error("input {} has dtype {} but input 0 has {}", i, dtype_name(x.dtype), dtype_name(first.dtype));
    }
    auto v = int_values(x);
    if (v) sv.insert(sv.end(), v->begin(), v->end());
    else all_sv = false;
    if (!x.shape) {
      shapes_known = false;
      continue;
    }
    const int64_t r = static_cast<int64_t>(x.shape->size());
    HQP_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(a.axis, r, "concat axis"));
    if (!out) {
      out = *x.shape;
      continue;
    }
    if (out->size() != x.shape->size()) {
      return c.error("input {} has rank {} but input 0 has rank {}", i, x.shape->size(), out->size());
    }
    for (size_t d = 0; d < out->size(); ++d) {
      if (static_cast<int64_t>(d) == axis) {
        const Dim& p = (*out)[d];
        const Dim& q = (*x.shape)[d];
        (*out)[d] = p.is_static() && q.is_static() ? Dim::fixed(p.value + q.value) : Dim::unknown();
      } else {
        auto u = unify((*out)[d], (*x.shape)[d]);
        if (!u) {
          return c.error("input {} shape {} does not match {} outside axis {}", i, dims_to_string(*x.shape),
                         dims_to_string(*out), a.axis);
        }
        (*out)[d] = *u;
      }
    }
  }
  InferOutput o = out_of(first.dtype, shapes_known ? out : std::nullopt);
  if (all_sv && out && out->size() == 1) o.shape_value = std::move(sv);
  return Outputs{o};
}

Result<Outputs> infer_gemm_like(const Ctx& c, const GemmAttrs& g, DType out_dtype);

// FusedGemm (internal) also takes an A of rank > 2 when transA = 0, as fuse_matmul_bias writes it:
// A [..., K] times B is one GEMM over A's rows, Y [..., N]; C then holds the N bias values.
Result<Outputs> infer_fused_gemm_rows(const Ctx& c, const GemmAttrs& g, DType out_dtype) {
  const Dims& as = *c.input(0).shape;
  const InferInput& b = c.input(1);
  if (!b.shape || b.shape->size() != 2) return c.error("B must be 2-D (B {})", b.shape ? dims_to_string(*b.shape) : "?");
  const Dim kb = (*b.shape)[g.trans_b ? 1 : 0];
  const Dim n = (*b.shape)[g.trans_b ? 0 : 1];
  if (!unify(as.back(), kb)) {
    return c.error("inner dimensions differ (A {}, B {} transB={})", dims_to_string(as), dims_to_string(*b.shape),
                   g.trans_b);
  }
  if (c.has(2) && c.input(2).shape) {
    const Dims& cs = *c.input(2).shape;
    const bool vector = cs.size() == 1 || (cs.size() == 2 && cs[0].is_static() && cs[0].value == 1);
    if (!vector || !unify(cs.back(), n)) {
      return c.error("C {} is not a bias of {} values (A of rank {})", dims_to_string(cs), dim_to_string(n), as.size());
    }
  }
  Dims out(as.begin(), as.end() - 1);
  out.push_back(n);
  return Outputs{out_of(out_dtype, out)};
}

Result<Outputs> infer_gemm(const Ctx& c) {
  for (size_t i = 0; i < 3; ++i) HQP_RETURN_IF_ERROR(expect_dtype(c, i, {DType::kF32}, "input"));
  const GemmAttrs& g = c.node.kind == OpKind::Gemm ? c.node.attr<GemmAttrs>() : c.node.attr<FusedGemmAttrs>().gemm;
  const InferInput& a = c.input(0);
  if (c.node.kind == OpKind::FusedGemm && g.trans_a == 0 && a.shape && a.shape->size() > 2) {
    return infer_fused_gemm_rows(c, g, DType::kF32);
  }
  return infer_gemm_like(c, g, DType::kF32);
}

Result<Outputs> infer_qgemm(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kU8, DType::kS8}, "input A"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kS8}, "weight B"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 2, {DType::kS32}, "bias C"));
  const GemmAttrs& g = c.node.attr<FusedGemmAttrs>().gemm;
  const InferInput& a = c.input(0);
  // Like FusedGemm: an A of rank > 2 is a stack of rows [..., K] (a lowered MatMul by a constant).
  if (g.trans_a == 0 && a.shape && a.shape->size() > 2) return infer_fused_gemm_rows(c, g, quantized_output_dtype(c));
  return infer_gemm_like(c, g, quantized_output_dtype(c));
}

Result<Outputs> infer_gemm_like(const Ctx& c, const GemmAttrs& g, DType out_dtype) {
  const InferInput& a = c.input(0);
  const InferInput& b = c.input(1);
  if (!a.shape || !b.shape) return Outputs{out_of(out_dtype, Dims{Dim::unknown(), Dim::unknown()})};
  if (a.shape->size() != 2 || b.shape->size() != 2) {
    return c.error("A and B must be 2-D (A {}, B {})", dims_to_string(*a.shape), dims_to_string(*b.shape));
  }
  const Dim m = (*a.shape)[g.trans_a ? 1 : 0];
  const Dim ka = (*a.shape)[g.trans_a ? 0 : 1];
  const Dim kb = (*b.shape)[g.trans_b ? 1 : 0];
  const Dim n = (*b.shape)[g.trans_b ? 0 : 1];
  if (!unify(ka, kb)) {
    return c.error("inner dimensions differ (A {} transA={}, B {} transB={})", dims_to_string(*a.shape), g.trans_a,
                   dims_to_string(*b.shape), g.trans_b);
  }
  Dims out = {m, n};
  if (c.has(2) && c.input(2).shape) {
    const Dims& cs = *c.input(2).shape;
    if (cs.size() > 2) return c.error("C must have rank <= 2 (C {})", dims_to_string(cs));
    HQP_ASSIGN_OR_RETURN(Dims bc, broadcast(c, out, cs));
    if (bc.size() != 2 || !unify(bc[0], out[0]) || !unify(bc[1], out[1]) ||
        (out[0].is_static() && bc[0].is_static() && bc[0].value != out[0].value) ||
        (out[1].is_static() && bc[1].is_static() && bc[1].value != out[1].value)) {
      return c.error("C {} is not broadcastable to [{},{}]", dims_to_string(cs), dim_to_string(m), dim_to_string(n));
    }
  }
  return Outputs{out_of(out_dtype, out)};
}

Result<Outputs> infer_matmul(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32}, "input A"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kF32}, "input B"));
  const InferInput& a = c.input(0);
  const InferInput& b = c.input(1);
  if (!a.shape || !b.shape) return Outputs{out_of(DType::kF32, std::nullopt)};
  Dims as = *a.shape;
  Dims bs = *b.shape;
  if (as.empty() || bs.empty()) return c.error("inputs must have rank >= 1");
  const bool a_vec = as.size() == 1;
  const bool b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), Dim::fixed(1));
  if (b_vec) bs.push_back(Dim::fixed(1));
  if (!unify(as.back(), bs[bs.size() - 2])) {
    return c.error("inner dimensions differ (A {}, B {})", dims_to_string(*a.shape), dims_to_string(*b.shape));
  }
  Dims batch_a(as.begin(), as.end() - 2);
  Dims batch_b(bs.begin(), bs.end() - 2);
  HQP_ASSIGN_OR_RETURN(Dims out, broadcast(c, batch_a, batch_b));
  if (!a_vec) out.push_back(as[as.size() - 2]);
  if (!b_vec) out.push_back(bs.back());
  return Outputs{out_of(DType::kF32, out)};
}

Result<Outputs> infer_dropout(const Ctx& c) {
  Outputs outs = {out_of(c.input(0).dtype, c.input(0).shape)};
  if (c.has(2) && c.input(2).value != nullptr && c.input(2).value->numel() == 1 &&
      c.input(2).value->element_as_int64(0) != 0) {
    return c.unsupported("training_mode=true is not supported (inference only)");
  }
  if (c.node.num_outputs() > 1 && c.node.output(1) != nullptr) outs.push_back(out_of(DType::kBool, c.input(0).shape));
  return outs;
}

Result<Outputs> infer_constant(const Ctx& c) {
  const Tensor& v = c.node.attr<ConstantAttrs>().value;
  InferOutput o = out_of(v.dtype(), dims_from_shape(v.shape()));
  InferInput as_input;
  as_input.present = true;
  as_input.value = &v;
  o.shape_value = int_values(as_input);
  return Outputs{o};
}

Result<Outputs> infer_softmax(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32}, "input"));
  const InferInput& x = c.input(0);
  if (x.shape) {
    const int64_t r = static_cast<int64_t>(x.shape->size());
    const int64_t axis = c.node.attr<SoftmaxAttrs>().axis;
    if (c.node.attr<SoftmaxAttrs>().legacy_coerce_2d ? (axis < -r || axis > r) : (axis < -r || axis >= r)) {
      return c.error("axis {} out of range for rank {}", axis, r);
    }
  }
  return infer_unary_same(c);
}

Status check_quant_params(const Ctx& c, const InferInput& x, size_t scale_i, size_t zp_i) {
  const InferInput& s = c.input(scale_i);
  HQP_RETURN_IF_ERROR(expect_dtype(c, scale_i, {DType::kF32}, "scale"));
  if (c.has(zp_i) && s.shape && c.input(zp_i).shape && !(*s.shape == *c.input(zp_i).shape)) {
    return c.error("zero point shape {} differs from scale shape {}", dims_to_string(*c.input(zp_i).shape),
                   dims_to_string(*s.shape));
  }
  if (!s.shape || s.shape->empty()) return Status();
  if (s.shape->size() != 1) return c.error("scale must be a scalar or 1-D (shape {})", dims_to_string(*s.shape));
  if (s.shape->at(0) == Dim::fixed(1) && !x.shape) return Status();
  if (!x.shape) return Status();
  HQP_ASSIGN_OR_RETURN(int64_t axis,
                       normalize_axis(c.node.attr<AxisAttrs>().present ? c.node.attr<AxisAttrs>().axis : 1,
                                      static_cast<int64_t>(x.shape->size()), "quantization axis"));
  if (!unify((*x.shape)[static_cast<size_t>(axis)], s.shape->at(0)) && !(s.shape->at(0) == Dim::fixed(1))) {
    return c.error("per-axis scale has {} entries but axis {} has size {}", dim_to_string(s.shape->at(0)), axis,
                   dim_to_string((*x.shape)[static_cast<size_t>(axis)]));
  }
  return Status();
}

Result<Outputs> infer_quantize(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kF32, DType::kS32}, "input"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 2, {DType::kU8, DType::kS8}, "zero point"));
  HQP_RETURN_IF_ERROR(check_quant_params(c, c.input(0), 1, 2));
  const DType out = c.has(2) ? c.input(2).dtype : DType::kU8;
  return Outputs{out_of(out, c.input(0).shape)};
}

Result<Outputs> infer_dequantize(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kU8, DType::kS8, DType::kS32}, "input"));
  if (c.has(2) && c.input(2).dtype != c.input(0).dtype) {
    return c.error("zero point dtype {} differs from input dtype {}", dtype_name(c.input(2).dtype),
                   dtype_name(c.input(0).dtype));
  }
  HQP_RETURN_IF_ERROR(check_quant_params(c, c.input(0), 1, 2));
  return Outputs{out_of(DType::kF32, c.input(0).shape)};
}

// One function per op kind, named infer_<Kind>: the dispatch below is generated from ops.def, so
// an op added there without shape inference does not compile.
Result<Outputs> infer_Conv(const Ctx& c) { return infer_conv(c); }
Result<Outputs> infer_BatchNormalization(const Ctx& c) { return infer_batchnorm(c); }
Result<Outputs> infer_Relu(const Ctx& c) { return infer_float_unary(c); }
Result<Outputs> infer_HardSigmoid(const Ctx& c) { return infer_float_unary(c); }
Result<Outputs> infer_HardSwish(const Ctx& c) { return infer_float_unary(c); }
Result<Outputs> infer_Sigmoid(const Ctx& c) { return infer_float_unary(c); }
Result<Outputs> infer_LeakyRelu(const Ctx& c) { return infer_float_unary(c); }
Result<Outputs> infer_Tanh(const Ctx& c) { return infer_float_unary(c); }
Result<Outputs> infer_Exp(const Ctx& c) { return infer_float_unary(c); }
Result<Outputs> infer_Sqrt(const Ctx& c) { return infer_float_unary(c); }
Result<Outputs> infer_Erf(const Ctx& c) { return infer_float_unary(c); }
Result<Outputs> infer_Gelu(const Ctx& c) { return infer_float_unary(c); }
Result<Outputs> infer_Silu(const Ctx& c) { return infer_float_unary(c); }
Result<Outputs> infer_Clip(const Ctx& c) { return infer_clip(c); }
Result<Outputs> infer_Add(const Ctx& c) { return infer_binary(c); }
Result<Outputs> infer_Pow(const Ctx& c) { return infer_pow(c); }
Result<Outputs> infer_PRelu(const Ctx& c) { return infer_prelu(c); }
Result<Outputs> infer_Sub(const Ctx& c) { return infer_binary(c); }
Result<Outputs> infer_Mul(const Ctx& c) { return infer_binary(c); }
Result<Outputs> infer_Div(const Ctx& c) { return infer_binary(c); }
Result<Outputs> infer_GlobalAveragePool(const Ctx& c) { return infer_global_pool(c); }
Result<Outputs> infer_AveragePool(const Ctx& c) { return infer_pool(c, false); }
Result<Outputs> infer_MaxPool(const Ctx& c) { return infer_pool(c, true); }
Result<Outputs> infer_Flatten(const Ctx& c) { return infer_flatten(c); }
Result<Outputs> infer_Reshape(const Ctx& c) { return infer_reshape(c); }
Result<Outputs> infer_Transpose(const Ctx& c) { return infer_transpose(c); }
Result<Outputs> infer_Squeeze(const Ctx& c) { return infer_squeeze(c); }
Result<Outputs> infer_ReduceMean(const Ctx& c) { return infer_reduce(c); }
Result<Outputs> infer_Cast(const Ctx& c) { return infer_cast(c); }
Result<Outputs> infer_ReduceMax(const Ctx& c) { return infer_reduce(c); }
Result<Outputs> infer_ReduceSum(const Ctx& c) { return infer_reduce(c); }
Result<Outputs> infer_Unsqueeze(const Ctx& c) { return infer_unsqueeze(c); }
Result<Outputs> infer_Shape(const Ctx& c) { return infer_shape(c); }
Result<Outputs> infer_Gather(const Ctx& c) { return infer_gather(c); }
Result<Outputs> infer_Concat(const Ctx& c) { return infer_concat(c); }
Result<Outputs> infer_Pad(const Ctx& c) { return infer_pad(c); }
Result<Outputs> infer_Slice(const Ctx& c) { return infer_slice(c); }
Result<Outputs> infer_Split(const Ctx& c) { return infer_split(c); }
Result<Outputs> infer_Expand(const Ctx& c) { return infer_expand(c); }
Result<Outputs> infer_Resize(const Ctx& c) { return infer_resize(c); }
Result<Outputs> infer_Gemm(const Ctx& c) { return infer_gemm(c); }
Result<Outputs> infer_FusedGemm(const Ctx& c) { return infer_gemm(c); }
Result<Outputs> infer_MatMul(const Ctx& c) { return infer_matmul(c); }
Result<Outputs> infer_Identity(const Ctx& c) {
  Outputs o = {out_of(c.input(0).dtype, c.input(0).shape)};
  o[0].shape_value = int_values(c.input(0));
  return o;
}
Result<Outputs> infer_Dropout(const Ctx& c) { return infer_dropout(c); }
Result<Outputs> infer_Constant(const Ctx& c) { return infer_constant(c); }
Result<Outputs> infer_Softmax(const Ctx& c) { return infer_softmax(c); }
Result<Outputs> infer_LayerNormalization(const Ctx& c) { return infer_layer_norm(c); }
Result<Outputs> infer_QuantizeLinear(const Ctx& c) { return infer_quantize(c); }
Result<Outputs> infer_DequantizeLinear(const Ctx& c) { return infer_dequantize(c); }
Result<Outputs> infer_FusedConv(const Ctx& c) { return infer_fused_conv(c); }
Result<Outputs> infer_QConv(const Ctx& c) { return infer_qconv(c); }
Result<Outputs> infer_QGemm(const Ctx& c) { return infer_qgemm(c); }
Result<Outputs> infer_QAdd(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kU8, DType::kS8}, "input A"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {c.input(0).dtype}, "input B"));
  const InferInput& a = c.input(0);
  const InferInput& b = c.input(1);
  if (a.shape && b.shape) {
    bool same = a.shape->size() == b.shape->size();
    for (size_t i = 0; same && i < a.shape->size(); ++i) same = unify((*a.shape)[i], (*b.shape)[i]).has_value();
    if (!same) return c.error("input shapes {} and {} differ (QAdd does not broadcast)", dims_to_string(*a.shape), dims_to_string(*b.shape));
  }
  return Outputs{out_of(quantized_output_dtype(c), a.shape)};
}

// QMul's B: A's shape, or [N, C, 1...] against A [N, C, spatial...] (one gate value per channel).
Result<Outputs> infer_QMul(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kU8, DType::kS8}, "input A"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {c.input(0).dtype}, "input B"));
  const InferInput& a = c.input(0);
  const InferInput& b = c.input(1);
  if (a.shape && b.shape) {
    const size_t rank = a.shape->size();
    bool equal = b.shape->size() == rank;
    bool gate = b.shape->size() == rank && rank >= 3;
    for (size_t i = 0; i < rank && (equal || gate); ++i) {
      const Dim& db = (*b.shape)[i];
      const bool same_dim = unify((*a.shape)[i], db).has_value();
      equal = equal && same_dim;
      gate = gate && (i < 2 ? same_dim : db.is_static() && db.value == 1);
    }
    if (!equal && !gate) {
      return c.error("input B {} is neither A's shape {} nor one value per channel", dims_to_string(*b.shape),
                     dims_to_string(*a.shape));
    }
  }
  return Outputs{out_of(quantized_output_dtype(c), a.shape)};
}
Result<Outputs> infer_QLut(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kU8, DType::kS8}, "input X"));
  HQP_RETURN_IF_ERROR(expect_dtype(c, 1, {DType::kU8, DType::kS8}, "table"));
  const InferInput& t = c.input(1);
  if (t.shape && !(t.shape->size() == 1 && (*t.shape)[0].is_static() && (*t.shape)[0].value == 256)) {
    return c.error("table has shape {} (expected [256])", dims_to_string(*t.shape));
  }
  return Outputs{out_of(t.dtype, c.input(0).shape)};
}
Result<Outputs> infer_QGlobalAveragePool(const Ctx& c) {
  HQP_RETURN_IF_ERROR(expect_dtype(c, 0, {DType::kU8, DType::kS8}, "input X"));
  const InferInput& x = c.input(0);
  if (!x.shape) return Outputs{out_of(x.dtype, std::nullopt)};
  if (x.shape->size() < 3) return c.error("input rank must be >= 3 (rank={})", x.shape->size());
  Dims out = {(*x.shape)[0], (*x.shape)[1]};
  for (size_t i = 2; i < x.shape->size(); ++i) out.push_back(Dim::fixed(1));
  return Outputs{out_of(x.dtype, out)};
}

Result<Outputs> dispatch(const Ctx& c) {
  switch (c.node.kind) {
#define HQP_OP(kind, ...) \
  case OpKind::kind: return infer_##kind(c);
#include "ir/ops.def"
#undef HQP_OP
  }
  return c.unsupported("no shape inference");
}

// Merges a declared shape (from the model file) with an inferred one.
Result<std::optional<Dims>> merge_declared(const Value& v, const std::optional<Dims>& inferred) {
  if (!v.shape) return inferred;
  if (!inferred) return v.shape;
  const Dims& d = *v.shape;
  const Dims& i = *inferred;
  if (d.size() != i.size()) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot infer shape of value '{}': declared shape {} has rank {} but the graph computes {}",
                      v.name, dims_to_string(d), d.size(), dims_to_string(i));
  }
  Dims out(d.size());
  for (size_t k = 0; k < d.size(); ++k) {
    if (d[k].is_static() && i[k].is_static() && d[k].value != i[k].value) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot infer shape of value '{}': declared shape {} differs from computed shape {}", v.name,
                        dims_to_string(d), dims_to_string(i));
    }
    out[k] = i[k].is_static() ? i[k] : (d[k].is_unknown() ? i[k] : d[k]);
  }
  return std::optional<Dims>(std::move(out));
}

int64_t apply_window(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, bool ceil_mode) {
  const int64_t span = (k - 1) * d + 1;
  const int64_t num = in + pb + pe - span;
  if (num < 0) return 0;
  int64_t out = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
  // ceil_mode: a last window that would start beyond the input and its begin padding is dropped
  // (PyTorch and ONNX Runtime do the same; every window must touch the input).
  if (ceil_mode && (out - 1) * s >= in + pb) --out;
  return out;
}

Result<WindowGeometry> window_geometry(std::span<const int64_t> in, std::span<const int64_t> kernel,
                                       const std::vector<int64_t>& strides, const std::vector<int64_t>& dilations,
                                       const std::vector<int64_t>& pads, AutoPad auto_pad, bool ceil_mode,
                                       const char* what) {
  const size_t n = in.size();
  WindowGeometry g;
  auto check_len = [&](const std::vector<int64_t>& v, size_t want, const char* name) -> Status {
    if (!v.empty() && v.size() != want) {
      return make_error(StatusCode::kInvalidArgument, "cannot compute {} geometry: {} has {} entries (expected {})",
                        what, name, v.size(), want);
    }
    return Status();
  };
  HQP_RETURN_IF_ERROR(check_len(strides, n, "strides"));
  HQP_RETURN_IF_ERROR(check_len(dilations, n, "dilations"));
  HQP_RETURN_IF_ERROR(check_len(pads, 2 * n, "pads"));
  for (size_t i = 0; i < n; ++i) {
    const int64_t k = kernel[i];
    const int64_t s = strides.empty() ? 1 : strides[i];
    const int64_t d = dilations.empty() ? 1 : dilations[i];
    int64_t pb = pads.empty() ? 0 : pads[i];
    int64_t pe = pads.empty() ? 0 : pads[i + n];
    if (k < 1 || s < 1 || d < 1 || pb < 0 || pe < 0) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot compute {} geometry: invalid window (kernel={}, stride={}, dilation={}, pads={},{}; "
                        "expected kernel, stride, dilation >= 1 and pads >= 0)",
                        what, k, s, d, pb, pe);
    }
    if (k > (int64_t{1} << 20) || s > (int64_t{1} << 20) || d > (int64_t{1} << 20) || pb > (int64_t{1} << 20) ||
        pe > (int64_t{1} << 20)) {
      return make_error(StatusCode::kOutOfRange, "cannot compute {} geometry: window parameters too large", what);
    }
    int64_t out = 0;
    const int64_t span = (k - 1) * d + 1;
    switch (auto_pad) {
      case AutoPad::kNotSet: out = apply_window(in[i], k, s, d, pb, pe, ceil_mode); break;
      case AutoPad::kValid:
        pb = pe = 0;
        out = in[i] >= span ? (in[i] - span) / s + 1 : 0;
        break;
      case AutoPad::kSameUpper:
      case AutoPad::kSameLower: {
        out = (in[i] + s - 1) / s;
        const int64_t total = std::max<int64_t>(0, (out - 1) * s + span - in[i]);
        const int64_t small = total / 2;
        pb = auto_pad == AutoPad::kSameUpper ? small : total - small;
        pe = total - pb;
        break;
      }
    }
    if (out < 1) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot compute {} geometry: window {} (dilation {}) larger than padded input {} on spatial "
                        "dim {}",
                        what, k, d, in[i] + pb + pe, i);
    }
    g.kernel.push_back(k);
    g.stride.push_back(s);
    g.dilation.push_back(d);
    g.pad_begin.push_back(pb);
    g.pad_end.push_back(pe);
    g.out.push_back(out);
  }
  return g;
}

}  // namespace

std::vector<int64_t> prelu_slope_shape(std::vector<int64_t> slope, size_t x_rank, int64_t opset) {
  constexpr int64_t kOpsetNumpyPRelu = 7;
  if (opset < kOpsetNumpyPRelu && slope.size() == 1 && x_rank >= 2) slope.resize(x_rank - 1, 1);
  return slope;
}

Result<std::vector<bool>> reduced_axes(const ReduceAttrs& attrs, const std::optional<std::vector<int64_t>>& axes_input,
                                       int64_t rank) {
  const std::optional<std::vector<int64_t>>& axes = axes_input ? axes_input : attrs.axes;
  std::vector<bool> reduce(static_cast<size_t>(rank), false);
  if (!axes || axes->empty()) {
    if (attrs.noop_with_empty_axes == 0) reduce.assign(static_cast<size_t>(rank), true);
    return reduce;
  }
  for (int64_t a : *axes) {
    HQP_ASSIGN_OR_RETURN(int64_t n, normalize_axis(a, rank, "reduce axis"));
    if (reduce[static_cast<size_t>(n)]) {
      return make_error(StatusCode::kInvalidArgument, "invalid reduce axes: axis {} is repeated", a);
    }
    reduce[static_cast<size_t>(n)] = true;
  }
  return reduce;
}

SliceRange slice_range(int64_t dim, int64_t start, int64_t end, int64_t step) {
  // start/end below -dim clamp the same as -dim; bounding them first keeps the additions in range.
  if (start < 0) start = std::max(start, -dim - 1) + dim;
  if (end < 0) end = std::max(end, -dim - 1) + dim;
  SliceRange r;
  r.step = step;
  if (step > 0) {
    start = std::clamp(start, int64_t{0}, dim);
    end = std::clamp(end, int64_t{0}, dim);
    if (end > start) r.count = (end - start - 1) / step + 1;
  } else {
    start = std::clamp(start, int64_t{-1}, dim - 1);
    end = std::clamp(end, int64_t{-1}, dim - 1);
    if (start > end) {
      r.count = step == std::numeric_limits<int64_t>::min() ? 1 : (start - end - 1) / -step + 1;
    }
  }
  r.start = r.count > 0 ? start : 0;
  return r;
}

Result<std::vector<std::optional<SliceSpec>>> slice_specs(int64_t rank, std::span<const int64_t> starts,
                                                          std::span<const int64_t> ends,
                                                          const std::optional<std::vector<int64_t>>& axes,
                                                          const std::optional<std::vector<int64_t>>& steps) {
  const size_t n = starts.size();
  if (ends.size() != n || (axes && axes->size() != n) || (steps && steps->size() != n)) {
    return make_error(StatusCode::kInvalidArgument, "starts, ends, axes and steps have different lengths ({}, {}, {}, {})",
                      n, ends.size(), axes ? axes->size() : n, steps ? steps->size() : n);
  }
  std::vector<std::optional<SliceSpec>> specs(static_cast<size_t>(rank));
  for (size_t i = 0; i < n; ++i) {
    const int64_t raw_axis = axes ? (*axes)[i] : static_cast<int64_t>(i);
    HQP_ASSIGN_OR_RETURN(int64_t axis, normalize_axis(raw_axis, rank, "slice axis"));
    if (specs[static_cast<size_t>(axis)]) {
      return make_error(StatusCode::kInvalidArgument, "slice axis {} is repeated", raw_axis);
    }
    const int64_t step = steps ? (*steps)[i] : 1;
    if (step == 0) return make_error(StatusCode::kInvalidArgument, "slice step of axis {} is 0", raw_axis);
    specs[static_cast<size_t>(axis)] = SliceSpec{starts[i], ends[i], step};
  }
  return specs;
}

Result<ResizeGeometry> resize_geometry(const std::vector<int64_t>& in, const std::optional<std::vector<float>>& scales,
                                       const std::optional<std::vector<int64_t>>& sizes) {
  const bool use_scales = scales && !scales->empty();
  if (use_scales == sizes.has_value()) {
    return make_error(StatusCode::kInvalidArgument, "exactly one of scales and sizes must be given");
  }
  const size_t n = use_scales ? scales->size() : sizes->size();
  if (n != in.size()) {
    return make_error(StatusCode::kInvalidArgument, "{} has {} values for an input of rank {}",
                      use_scales ? "scales" : "sizes", n, in.size());
  }
  ResizeGeometry g;
  for (size_t i = 0; i < n; ++i) {
    if (in[i] < 1) return make_error(StatusCode::kInvalidArgument, "input axis {} is empty", i);
    if (use_scales) {
      const float s = (*scales)[i];
      if (!(s > 0.0f) || !std::isfinite(s)) {
        return make_error(StatusCode::kInvalidArgument, "scale {} of axis {} is not positive and finite", s, i);
      }
      const double out = std::floor(static_cast<double>(in[i]) * static_cast<double>(s));
      if (out < 1.0 || out > 1e15) {
        return make_error(StatusCode::kInvalidArgument, "scale {} turns axis {} of size {} into size {}", s, i, in[i],
                          out);
      }
      g.out.push_back(static_cast<int64_t>(out));
      g.scale.push_back(static_cast<double>(s));
    } else {
      const int64_t out = (*sizes)[i];
      if (out < 1) return make_error(StatusCode::kInvalidArgument, "size {} of axis {} is not positive", out, i);
      g.out.push_back(out);
      g.scale.push_back(static_cast<double>(out) / static_cast<double>(in[i]));
    }
  }
  return g;
}

Result<std::vector<int64_t>> pad_amounts(const PadAttrs& attrs, const std::optional<std::vector<int64_t>>& pads_input,
                                         int64_t rank) {
  const std::optional<std::vector<int64_t>>& pads = attrs.pads ? attrs.pads : pads_input;
  if (!pads) return make_error(StatusCode::kInvalidArgument, "pads are missing");
  if (static_cast<int64_t>(pads->size()) != 2 * rank) {
    return make_error(StatusCode::kInvalidArgument, "pads has {} entries for rank {} (expected {})", pads->size(), rank,
                      2 * rank);
  }
  return *pads;
}

Result<std::vector<int64_t>> split_sizes(int64_t dim, const std::optional<std::vector<int64_t>>& split, size_t parts) {
  if (parts == 0) return make_error(StatusCode::kInvalidArgument, "split has no outputs");
  if (!split) {
    if (dim % static_cast<int64_t>(parts) != 0) {
      return make_error(StatusCode::kInvalidArgument, "axis of size {} does not split into {} equal parts", dim, parts);
    }
    return std::vector<int64_t>(parts, dim / static_cast<int64_t>(parts));
  }
  if (split->size() != parts) {
    return make_error(StatusCode::kInvalidArgument, "split has {} sizes for {} outputs", split->size(), parts);
  }
  int64_t sum = 0;
  for (int64_t v : *split) {
    if (v < 0) return make_error(StatusCode::kInvalidArgument, "split size {} is negative", v);
    sum += v;
  }
  if (sum != dim) {
    return make_error(StatusCode::kInvalidArgument, "split sizes sum to {} but the axis has size {}", sum, dim);
  }
  return *split;
}

Result<int64_t> normalize_axis(int64_t axis, int64_t rank, const char* what) {
  if (axis < -rank || axis >= rank) {
    return make_error(StatusCode::kInvalidArgument, "invalid {} {} (expected -{} <= axis < {})", what, axis, rank,
                      rank);
  }
  return axis < 0 ? axis + rank : axis;
}

Result<WindowGeometry> conv_geometry(const ConvAttrs& a, std::span<const int64_t> in_spatial,
                                     std::span<const int64_t> kernel) {
  if (!a.kernel_shape.empty() &&
      !std::equal(a.kernel_shape.begin(), a.kernel_shape.end(), kernel.begin(), kernel.end())) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot compute conv geometry: kernel_shape attribute does not match the weight's spatial dims");
  }
  return window_geometry(in_spatial, kernel, a.strides, a.dilations, a.pads, a.auto_pad, false, "conv");
}

Result<WindowGeometry> pool_geometry(const PoolAttrs& a, std::span<const int64_t> in_spatial, bool is_max_pool) {
  if (!is_max_pool && !a.dilations.empty()) {
    for (int64_t d : a.dilations) {
      if (d != 1) return make_error(StatusCode::kUnsupported, "cannot compute pool geometry: AveragePool dilations");
    }
  }
  return window_geometry(in_spatial, a.kernel_shape, a.strides, a.dilations, a.pads, a.auto_pad, a.ceil_mode != 0,
                         is_max_pool ? "max pool" : "average pool");
}

Result<std::vector<InferOutput>> infer_node(const Node& node, std::span<const InferInput> inputs, int64_t opset) {
  Ctx c{node, inputs, opset};
  Result<Outputs> inferred = dispatch(c);
  if (!inferred.ok()) {
    // Helpers shared with the kernels (normalize_axis, conv/pool_geometry) do not know the node.
    const Status& s = inferred.status();
    if (s.message().find(fmt::format("node '{}'", node.name)) != std::string::npos) return s;
    return s.with_context(fmt::format("cannot infer shapes of node '{}' ({})", node.name, op_name(node.kind)));
  }
  Outputs outs = std::move(inferred).value();
  outs.resize(node.num_outputs());
  for (InferOutput& o : outs) {
    if (o.shape_value && static_cast<int64_t>(o.shape_value->size()) > kMaxShapeValueElems) o.shape_value.reset();
  }
  return outs;
}

Status infer_shapes(Graph& graph) {
  HQP_ASSIGN_OR_RETURN(std::vector<Node*> order, graph.topological_order());
  const int64_t opset = graph.opset();
  for (Node* node : order) {
    std::vector<InferInput> ins(node->num_inputs());
    for (size_t i = 0; i < node->num_inputs(); ++i) {
      const Value* v = node->input(i);
      if (v == nullptr) continue;
      ins[i].present = true;
      ins[i].dtype = v->dtype;
      ins[i].shape = v->shape;
      if (v->is_initializer()) ins[i].value = &v->data;
      if (v->shape_value) ins[i].shape_value = &*v->shape_value;
    }
    HQP_ASSIGN_OR_RETURN(std::vector<InferOutput> outs, infer_node(*node, ins, opset));
    for (size_t i = 0; i < node->num_outputs(); ++i) {
      Value* v = node->output(i);
      if (v == nullptr) continue;
      if (v->dtype != DType::kUndefined && outs[i].dtype != DType::kUndefined && v->dtype != outs[i].dtype) {
        return make_error(StatusCode::kInvalidArgument,
                          "cannot infer type of value '{}': declared dtype {} but node '{}' produces {}", v->name,
                          dtype_name(v->dtype), node->name, dtype_name(outs[i].dtype));
      }
      if (outs[i].dtype != DType::kUndefined) v->dtype = outs[i].dtype;
      if (outs[i].shape && outs[i].shape->size() > kMaxRank) {
        return make_error(StatusCode::kOutOfRange,
                          "cannot infer shape of value '{}': node '{}' produces rank {} (expected <= {})", v->name,
                          node->name, outs[i].shape->size(), kMaxRank);
      }
      HQP_ASSIGN_OR_RETURN(v->shape, merge_declared(*v, outs[i].shape));
      v->shape_value = outs[i].shape_value;
    }
  }
  return Status();
}

}  // namespace hqp::ir
