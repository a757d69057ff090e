// Runtime ops of the reference executor: one IR node on concrete tensors -> the reference kernel.
// Kernel params come from node_params.h (shared with the fast runtime). run_node_reference gets
// output shapes and shape errors from ir::infer_node; run_node_reference_into trusts the caller's
// (plan-time) shapes. The run_<Kind> functions are named after the OpKind tokens of ops.def (the
// one exception to snake_case: the dispatch is generated from those tokens).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ir/shape_inference.h"
#include "kernels/ref/cast.h"
#include "kernels/ref/conv.h"
#include "kernels/ref/conv_int8.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/gemm.h"
#include "kernels/ref/gemm_int8.h"
#include "kernels/ref/resize.h"
#include "kernels/ref/layout.h"
#include "kernels/ref/normalization.h"
#include "kernels/ref/pool.h"
#include "kernels/ref/quantize.h"
#include "kernels/ref/reduce.h"
#include "kernels/ref/softmax.h"
#include "reference/executor.h"
#include "reference/node_params.h"

namespace hqp::reference {

namespace {

using ir::Node;
using ir::OpKind;
namespace k = hqp::kernels;

struct OpCtx {
  const Node& node;
  std::span<const Tensor* const> in;
  std::span<Tensor> out;
  int64_t opset;

  const Tensor* input(size_t i) const { return i < in.size() ? in[i] : nullptr; }
  const Tensor& x(size_t i) const { return *in[i]; }

  template <typename... Args>
  Status error(StatusCode code, fmt::format_string<Args...> f, Args&&... args) const {
    return Status(code, fmt::format("cannot run node '{}' ({}): ", node.name, ir::op_name(node.kind)) +
                            fmt::format(f, std::forward<Args>(args)...));
  }
  // A node_params.h result with this node named in its error.
  template <typename T>
  Result<T> check(Result<T> r) const {
    if (r.ok()) return r;
    return error(r.status().code(), "{}", r.status().message());
  }
};

using reference::Int8Quantization;

int64_t prod(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < s.size(); ++i) p *= s[i];
  return p;
}

// Applies a fused op's post-ops in place on dst: optional residual sum, then the activation.
void apply_post_ops(const ir::PostOps& post, const Tensor* sum, Tensor& dst) {
  float* d = dst.data<float>();
  const int64_t n = dst.numel();
  if (post.has_sum && sum != nullptr) {
    const float* s = sum->data<float>();
    for (int64_t i = 0; i < n; ++i) d[i] += s[i];
  }
  switch (post.activation) {
    case ir::Activation::kNone: break;
    case ir::Activation::kRelu: k::relu_f32__ref(n, d, d); break;
    case ir::Activation::kClip: k::clip_f32__ref(n, post.alpha, post.beta, d, d); break;
    case ir::Activation::kHardSwish: k::hardswish_f32__ref(n, d, d); break;
    case ir::Activation::kHardSigmoid: k::hardsigmoid_f32__ref(n, post.alpha, post.beta, d, d); break;
    case ir::Activation::kSigmoid: k::sigmoid_f32__ref(n, d, d); break;
    case ir::Activation::kGelu: k::gelu_erf_f32__ref(n, d, d); break;
    case ir::Activation::kSilu: k::silu_f32__ref(n, d, d); break;
  }
}

Status run_conv(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const Tensor& w = c.x(1);
  const Tensor* b = c.input(2);
  HQP_ASSIGN_OR_RETURN(k::ConvParams p, c.check(conv_params(conv_attrs(c.node), x.shape(), w.shape())));
  k::conv_f32__ref(p, x.data<float>(), w.data<float>(), b ? b->data<float>() : nullptr, c.out[0].data<float>());
  if (c.node.kind == OpKind::FusedConv) apply_post_ops(post_ops(c.node), c.input(3), c.out[0]);
  return Status();
}

// The Sum tensor of a QConv must match the output it is added to (node_params checked the values).
Status check_sum_input(const OpCtx& c, const k::Int8OutputParams& out) {
  const Tensor* sum = c.input(3);
  if (!out.has_sum) return Status();
  if (sum == nullptr || sum->dtype() != out.dst_dtype || sum->shape() != c.out[0].shape()) {
    return c.error(StatusCode::kInvalidArgument, "sum input {}[{}] differs from the output {}[{}]",
                   sum ? dtype_name(sum->dtype()) : "absent", sum ? shape_to_string(sum->shape()) : "",
                   dtype_name(out.dst_dtype), shape_to_string(c.out[0].shape()));
  }
  return Status();
}

Status run_qconv(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const Tensor& w = c.x(1);
  const Tensor* b = c.input(2);
  HQP_ASSIGN_OR_RETURN(k::ConvParams p, c.check(conv_params(conv_attrs(c.node), x.shape(), w.shape())));
  HQP_ASSIGN_OR_RETURN(Int8Quantization q, c.check(int8_quantization(c.node, w.dim(0))));
  HQP_RETURN_IF_ERROR(check_sum_input(c, q.out));
  const int32_t* bias = b ? b->data<int32_t>() : nullptr;
  const void* sum = q.out.has_sum ? c.input(3)->raw_data() : nullptr;
  if (x.dtype() == DType::kU8) {
    k::conv_u8s8__ref(p, q.out, x.data<uint8_t>(), w.data<int8_t>(), q.wei_scales.data(), bias, sum,
                      c.out[0].raw_data());
  } else {
    k::conv_s8s8__ref(p, q.out, x.data<int8_t>(), w.data<int8_t>(), q.wei_scales.data(), bias, sum,
                      c.out[0].raw_data());
  }
  return Status();
}

Status run_pool(const OpCtx& c, bool is_max) {
  const Tensor& x = c.x(0);
  HQP_ASSIGN_OR_RETURN(k::PoolParams p, c.check(pool_params(c.node.attr<ir::PoolAttrs>(), x.shape(), is_max)));
  if (!is_max) {
    k::averagepool_f32__ref(p, x.data<float>(), c.out[0].data<float>());
    return Status();
  }
  int64_t* indices = c.out.size() > 1 && c.out[1].defined() ? c.out[1].data<int64_t>() : nullptr;
  switch (x.dtype()) {
    case DType::kF32: k::maxpool_f32__ref(p, x.data<float>(), c.out[0].data<float>(), indices); break;
    case DType::kU8: k::maxpool_u8__ref(p, x.data<uint8_t>(), c.out[0].data<uint8_t>(), indices); break;
    case DType::kS8: k::maxpool_s8__ref(p, x.data<int8_t>(), c.out[0].data<int8_t>(), indices); break;
    default: return c.error(StatusCode::kUnsupported, "dtype {} is not supported", dtype_name(x.dtype()));
  }
  return Status();
}

Status run_batchnorm(const OpCtx& c) {
  const Tensor& x = c.x(0);
  k::BatchNormParams p;
  p.batch = x.dim(0);
  p.channels = x.dim(1);
  p.spatial_size = prod(x.shape(), 2, x.shape().size());
  p.epsilon = c.node.attr<ir::BatchNormAttrs>().epsilon;
  k::batchnorm_f32__ref(p, x.data<float>(), c.x(1).data<float>(), c.x(2).data<float>(), c.x(3).data<float>(),
                        c.x(4).data<float>(), c.out[0].data<float>());
  return Status();
}

template <typename T>
std::pair<T, T> clip_bounds(const OpCtx& c) {
  T lo = std::numeric_limits<T>::lowest();
  T hi = std::numeric_limits<T>::max();
  const auto& a = c.node.attr<ir::ClipAttrs>();
  if constexpr (std::is_same_v<T, float>) {
    if (a.min) lo = *a.min;
    if (a.max) hi = *a.max;
  }
  if (const Tensor* t = c.input(1)) lo = t->data<T>()[0];
  if (const Tensor* t = c.input(2)) hi = t->data<T>()[0];
  return {lo, hi};
}

Status run_clip(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const int64_t n = x.numel();
  switch (x.dtype()) {
    case DType::kF32: {
      auto [lo, hi] = clip_bounds<float>(c);
      k::clip_f32__ref(n, lo, hi, x.data<float>(), c.out[0].data<float>());
      break;
    }
    case DType::kU8: {
      auto [lo, hi] = clip_bounds<uint8_t>(c);
      k::clip_u8__ref(n, lo, hi, x.data<uint8_t>(), c.out[0].data<uint8_t>());
      break;
    }
    case DType::kS8: {
      auto [lo, hi] = clip_bounds<int8_t>(c);
      k::clip_s8__ref(n, lo, hi, x.data<int8_t>(), c.out[0].data<int8_t>());
      break;
    }
    case DType::kS32: {
      auto [lo, hi] = clip_bounds<int32_t>(c);
      k::clip_s32__ref(n, lo, hi, x.data<int32_t>(), c.out[0].data<int32_t>());
      break;
    }
    case DType::kS64: {
      auto [lo, hi] = clip_bounds<int64_t>(c);
      k::clip_s64__ref(n, lo, hi, x.data<int64_t>(), c.out[0].data<int64_t>());
      break;
    }
    default: return c.error(StatusCode::kUnsupported, "dtype {} is not supported", dtype_name(x.dtype()));
  }
  return Status();
}

Status run_binary(const OpCtx& c, k::BinaryOp op) {
  const Tensor& a = c.x(0);
  const Tensor& b = c.x(1);
  k::BroadcastParams p;
  if (!k::make_broadcast_params(a.shape(), b.shape(), &p)) {
    return c.error(StatusCode::kInvalidArgument, "shapes {} and {} do not broadcast", shape_to_string(a.shape()),
                   shape_to_string(b.shape()));
  }
  Tensor& d = c.out[0];
  switch (a.dtype()) {
    case DType::kF32: k::binary_f32__ref(op, p, a.data<float>(), b.data<float>(), d.data<float>()); break;
    case DType::kU8: k::binary_u8__ref(op, p, a.data<uint8_t>(), b.data<uint8_t>(), d.data<uint8_t>()); break;
    case DType::kS8: k::binary_s8__ref(op, p, a.data<int8_t>(), b.data<int8_t>(), d.data<int8_t>()); break;
    case DType::kS32: k::binary_s32__ref(op, p, a.data<int32_t>(), b.data<int32_t>(), d.data<int32_t>()); break;
    case DType::kS64: k::binary_s64__ref(op, p, a.data<int64_t>(), b.data<int64_t>(), d.data<int64_t>()); break;
    default: return c.error(StatusCode::kUnsupported, "dtype {} is not supported", dtype_name(a.dtype()));
  }
  return Status();
}

// Copies the input bytes into the output (Identity, Dropout, Flatten, Reshape, Squeeze, Unsqueeze:
// the output has the same row-major data under another shape).
Status run_copy(const OpCtx& c) {
  const Tensor& x = c.x(0);
  if (x.nbytes() != c.out[0].nbytes()) {
    return c.error(StatusCode::kInternal, "byte sizes differ ({} vs {})", x.nbytes(), c.out[0].nbytes());
  }
  if (x.nbytes() > 0) std::memcpy(c.out[0].raw_data(), x.raw_data(), static_cast<size_t>(x.nbytes()));
  return Status();
}

Status run_dropout(const OpCtx& c) {
  HQP_RETURN_IF_ERROR(run_copy(c));
  if (c.out.size() > 1 && c.out[1].defined()) {
    uint8_t* mask = static_cast<uint8_t*>(c.out[1].raw_data());
    std::fill(mask, mask + c.out[1].numel(), uint8_t{1});
  }
  return Status();
}

Status run_transpose(const OpCtx& c) {
  const Tensor& x = c.x(0);
  std::vector<int64_t> perm = c.node.attr<ir::TransposeAttrs>().perm;
  const int r = static_cast<int>(x.rank());
  if (perm.empty()) {
    for (int i = 0; i < r; ++i) perm.push_back(r - 1 - i);
  }
  k::TransposeParams p;
  p.rank = r;
  for (int i = 0; i < r; ++i) {
    p.src_shape[i] = x.dim(i);
    p.perm[i] = static_cast<int>(perm[static_cast<size_t>(i)]);
  }
  k::transpose_any__ref(p, dtype_size(x.dtype()), x.raw_data(), c.out[0].raw_data());
  return Status();
}

Status run_reduce(const OpCtx& c, k::ReduceOp op) {
  const Tensor& x = c.x(0);
  if (x.rank() > k::kMaxKernelRank) {
    return c.error(StatusCode::kUnsupported, "rank {} exceeds the kernel limit {}", x.rank(), k::kMaxKernelRank);
  }
  std::optional<std::vector<int64_t>> axes_input;
  if (c.node.input(1) != nullptr) {
    const Tensor& t = c.x(1);
    axes_input.emplace();
    for (int64_t i = 0; i < t.numel(); ++i) axes_input->push_back(t.element_as_int64(i));
  }
  HQP_ASSIGN_OR_RETURN(std::vector<bool> reduce,
                       c.check(ir::reduced_axes(c.node.attr<ir::ReduceAttrs>(), axes_input, x.rank())));
  k::ReduceParams p;
  p.rank = static_cast<int>(x.rank());
  for (int i = 0; i < p.rank; ++i) {
    p.shape[i] = x.dim(i);
    p.reduce[i] = reduce[static_cast<size_t>(i)];
  }
  k::reduce_f32__ref(p, op, x.data<float>(), c.out[0].data<float>());
  return Status();
}

Status run_shape(const OpCtx& c) {
  const Shape& s = c.x(0).shape();
  const auto& a = c.node.attr<ir::ShapeAttrs>();
  const int64_t r = static_cast<int64_t>(s.size());
  auto clamp = [r](int64_t v) { return std::clamp(v < 0 ? v + r : v, int64_t{0}, r); };
  const int64_t start = clamp(a.start.value_or(0));
  int64_t* d = c.out[0].data<int64_t>();
  for (int64_t i = 0; i < c.out[0].numel(); ++i) d[i] = s[static_cast<size_t>(start + i)];
  return Status();
}

Status run_gather(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const Tensor& idx = c.x(1);
  HQP_ASSIGN_OR_RETURN(int64_t axis, ir::normalize_axis(c.node.attr<ir::AxisAttrs>().axis, x.rank(), "gather axis"));
  std::vector<int64_t> ids(static_cast<size_t>(idx.numel()));
  for (int64_t i = 0; i < idx.numel(); ++i) ids[static_cast<size_t>(i)] = idx.element_as_int64(i);
  k::GatherParams p;
  p.outer = prod(x.shape(), 0, static_cast<size_t>(axis));
  p.axis_len = x.dim(axis);
  p.inner = prod(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  p.num_indices = idx.numel();
  if (!k::gather_indices_valid(ids.data(), p.num_indices, p.axis_len)) {
    return c.error(StatusCode::kInvalidArgument, "an index is out of range for axis {} of size {}", axis, p.axis_len);
  }
  k::gather_any__ref(p, dtype_size(x.dtype()), x.raw_data(), ids.data(), c.out[0].raw_data());
  return Status();
}

Status run_concat(const OpCtx& c) {
  const Tensor& first = c.x(0);
  HQP_ASSIGN_OR_RETURN(int64_t axis,
                       ir::normalize_axis(c.node.attr<ir::AxisAttrs>().axis, first.rank(), "concat axis"));
  std::vector<const void*> srcs;
  std::vector<int64_t> lens;
  for (const Tensor* t : c.in) {
    srcs.push_back(t->raw_data());
    lens.push_back(t->dim(axis));
  }
  k::concat_any__ref(srcs, lens, prod(first.shape(), 0, static_cast<size_t>(axis)),
                     prod(first.shape(), static_cast<size_t>(axis) + 1, first.shape().size()),
                     dtype_size(first.dtype()), c.out[0].raw_data());
  return Status();
}

// Integer contents of input i (nullopt when absent).
std::optional<std::vector<int64_t>> int_input(const OpCtx& c, size_t i) {
  const Tensor* t = c.input(i);
  if (t == nullptr) return std::nullopt;
  std::vector<int64_t> v(static_cast<size_t>(t->numel()));
  for (int64_t k = 0; k < t->numel(); ++k) v[static_cast<size_t>(k)] = t->element_as_int64(k);
  return v;
}

Status check_kernel_rank(const OpCtx& c, size_t rank) {
  if (rank > static_cast<size_t>(k::kMaxKernelRank)) {
    return c.error(StatusCode::kUnsupported, "rank {} exceeds the kernel limit {}", rank, k::kMaxKernelRank);
  }
  return Status();
}

// Copies the part of x that `specs` selects into dst (whose shape the caller computed).
Status run_slice_into(const OpCtx& c, const Tensor& x, const std::vector<std::optional<ir::SliceSpec>>& specs,
                      Tensor& dst) {
  HQP_RETURN_IF_ERROR(check_kernel_rank(c, x.rank()));
  k::SliceParams p;
  p.rank = static_cast<int>(x.rank());
  for (int i = 0; i < p.rank; ++i) {
    const auto& sp = specs[static_cast<size_t>(i)];
    const ir::SliceRange r = sp ? ir::slice_range(x.dim(i), sp->start, sp->end, sp->step) : ir::SliceRange{0, 1, x.dim(i)};
    if (r.count != dst.dim(i)) {
      return c.error(StatusCode::kInternal, "output dim {} is {} but the slice has {}", i, dst.dim(i), r.count);
    }
    p.src_shape[i] = x.dim(i);
    p.dst_shape[i] = r.count;
    p.start[i] = r.start;
    p.step[i] = r.step;
  }
  k::slice_any__ref(p, dtype_size(x.dtype()), x.raw_data(), dst.raw_data());
  return Status();
}

Status run_slice(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const auto& a = c.node.attr<ir::SliceAttrs>();
  std::vector<int64_t> starts, ends;
  std::optional<std::vector<int64_t>> axes = a.axes, steps;
  if (a.starts && a.ends) {
    starts = *a.starts;
    ends = *a.ends;
  } else {
    if (c.input(1) == nullptr || c.input(2) == nullptr) {
      return c.error(StatusCode::kInvalidArgument, "inputs 'starts' and 'ends' are required");
    }
    starts = *int_input(c, 1);
    ends = *int_input(c, 2);
    axes = int_input(c, 3);
    steps = int_input(c, 4);
  }
  HQP_ASSIGN_OR_RETURN(auto specs, c.check(ir::slice_specs(x.rank(), starts, ends, axes, steps)));
  return run_slice_into(c, x, specs, c.out[0]);
}

// Split: each output is a slice [offset, offset + size) along the axis.
Status run_split(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const auto& a = c.node.attr<ir::SplitAttrs>();
  HQP_ASSIGN_OR_RETURN(int64_t axis, c.check(ir::normalize_axis(a.axis, x.rank(), "split axis")));
  const std::optional<std::vector<int64_t>> split = a.split ? a.split : int_input(c, 1);
  HQP_ASSIGN_OR_RETURN(std::vector<int64_t> sizes, c.check(ir::split_sizes(x.dim(axis), split, c.out.size())));
  std::vector<std::optional<ir::SliceSpec>> specs(x.rank());
  int64_t offset = 0;
  for (size_t i = 0; i < c.out.size(); ++i) {
    specs[static_cast<size_t>(axis)] = ir::SliceSpec{offset, offset + sizes[i], 1};
    offset += sizes[i];
    if (!c.out[i].defined()) continue;
    HQP_RETURN_IF_ERROR(run_slice_into(c, x, specs, c.out[i]));
  }
  return Status();
}

Status run_pad(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const auto& a = c.node.attr<ir::PadAttrs>();
  HQP_RETURN_IF_ERROR(check_kernel_rank(c, x.rank()));
  HQP_ASSIGN_OR_RETURN(std::vector<int64_t> pads, c.check(ir::pad_amounts(a, int_input(c, 1), x.rank())));
  // The fill value in X's dtype: input 2, else the attribute (opset < 11), else 0.
  HQP_ASSIGN_OR_RETURN(Tensor fill, Tensor::zeros(x.dtype(), Shape{}));
  if (c.input(2) != nullptr) {
    if (c.input(2)->dtype() != x.dtype() || c.input(2)->numel() != 1) {
      return c.error(StatusCode::kInvalidArgument, "constant_value must be one {} value", dtype_name(x.dtype()));
    }
    std::memcpy(fill.raw_data(), c.input(2)->raw_data(), dtype_size(x.dtype()));
  } else if (a.value && *a.value != 0.0f) {
    const float v = *a.value;
    if (!k::cast__ref(1, DType::kF32, &v, x.dtype(), fill.raw_data())) {
      return c.error(StatusCode::kUnsupported, "constant value for dtype {}", dtype_name(x.dtype()));
    }
  }
  k::PadParams p;
  p.rank = static_cast<int>(x.rank());
  p.mode = a.mode == ir::PadMode::kConstant ? k::PadMode::kConstant
           : a.mode == ir::PadMode::kReflect ? k::PadMode::kReflect
                                              : k::PadMode::kEdge;
  for (int i = 0; i < p.rank; ++i) {
    p.src_shape[i] = x.dim(i);
    p.begin[i] = pads[static_cast<size_t>(i)];
    p.dst_shape[i] = c.out[0].dim(i);
    if (p.dst_shape[i] != x.dim(i) + pads[static_cast<size_t>(i)] + pads[static_cast<size_t>(i + p.rank)]) {
      return c.error(StatusCode::kInternal, "output dim {} is {} but the pads give another", i, p.dst_shape[i]);
    }
    if (p.mode != k::PadMode::kConstant && x.dim(i) == 0 && p.dst_shape[i] > 0) {
      return c.error(StatusCode::kInvalidArgument, "axis {} is empty: reflect / edge padding has nothing to repeat", i);
    }
  }
  k::pad_any__ref(p, dtype_size(x.dtype()), x.raw_data(), fill.raw_data(), c.out[0].raw_data());
  return Status();
}

Status run_resize(const OpCtx& c) {
  const Tensor& x = c.x(0);
  std::optional<std::vector<float>> scales;
  if (const Tensor* t = c.input(2); t != nullptr && t->numel() > 0) {
    scales = std::vector<float>(t->data<float>(), t->data<float>() + t->numel());
  }
  HQP_ASSIGN_OR_RETURN(k::ResizeParams p,
                       c.check(resize_params(c.node.attr<ir::ResizeAttrs>(), x.shape(), scales, int_input(c, 3))));
  if (p.mode == k::ResizeMode::kLinear) {
    k::resize_linear_f32__ref(p, x.data<float>(), c.out[0].data<float>());
  } else {
    k::resize_nearest_any__ref(p, dtype_size(x.dtype()), x.raw_data(), c.out[0].raw_data());
  }
  return Status();
}

Status run_expand(const OpCtx& c) {
  const Tensor& x = c.x(0);
  Tensor& y = c.out[0];
  HQP_RETURN_IF_ERROR(check_kernel_rank(c, y.rank()));
  if (x.rank() > y.rank()) return c.error(StatusCode::kInternal, "output rank {} below input rank {}", y.rank(), x.rank());
  k::ExpandParams p;
  p.rank = static_cast<int>(y.rank());
  const int lead = p.rank - static_cast<int>(x.rank());
  for (int i = 0; i < p.rank; ++i) {
    p.src_shape[i] = i < lead ? 1 : x.dim(i - lead);
    p.dst_shape[i] = y.dim(i);
    if (p.src_shape[i] != 1 && p.src_shape[i] != p.dst_shape[i]) {
      return c.error(StatusCode::kInvalidArgument, "input {} does not broadcast to {}", shape_to_string(x.shape()),
                     shape_to_string(y.shape()));
    }
  }
  k::expand_any__ref(p, dtype_size(x.dtype()), x.raw_data(), y.raw_data());
  return Status();
}

Status run_layer_norm(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const Tensor& scale = c.x(1);
  const Tensor* bias = c.input(2);
  const auto& a = c.node.attr<ir::LayerNormAttrs>();
  HQP_ASSIGN_OR_RETURN(int64_t axis, c.check(ir::normalize_axis(a.axis, x.rank(), "layer norm axis")));
  const int64_t rows = prod(x.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = prod(x.shape(), static_cast<size_t>(axis), x.shape().size());
  for (const Tensor* t : {&scale, bias}) {
    if (t != nullptr && t->numel() != inner && t->numel() != 1) {
      return c.error(StatusCode::kInvalidArgument, "Scale / B has {} elements for {} normalized ones", t->numel(),
                     inner);
    }
  }
  float* mean = c.out.size() > 1 && c.out[1].defined() ? c.out[1].data<float>() : nullptr;
  float* inv = c.out.size() > 2 && c.out[2].defined() ? c.out[2].data<float>() : nullptr;
  k::layer_norm_f32__ref(rows, inner, a.epsilon, x.data<float>(), scale.data<float>(), scale.numel(),
                         bias ? bias->data<float>() : nullptr, bias ? bias->numel() : 0, c.out[0].data<float>(), mean,
                         inv);
  return Status();
}

Status run_gemm(const OpCtx& c) {
  const Tensor& A = c.x(0);
  const Tensor& B = c.x(1);
  const Tensor* C = c.input(2);
  // A FusedGemm's A of rank > 2 (transA = 0) is [rows, K] in memory: Y [..., N] is [rows, N].
  Shape a_shape = A.shape();
  if (a_shape.size() > 2) a_shape = {A.numel() / std::max<int64_t>(a_shape.back(), 1), a_shape.back()};
  HQP_ASSIGN_OR_RETURN(k::GemmParams p,
                       c.check(gemm_params(gemm_attrs(c.node), a_shape, B.shape(), C ? &C->shape() : nullptr)));
  k::gemm_f32__ref(p, A.data<float>(), B.data<float>(), C ? C->data<float>() : nullptr, c.out[0].data<float>());
  if (c.node.kind == OpKind::FusedGemm) apply_post_ops(post_ops(c.node), nullptr, c.out[0]);
  return Status();
}

Status run_qgemm(const OpCtx& c) {
  const auto& a = c.node.attr<ir::FusedGemmAttrs>();
  if (a.gemm.trans_a != 0 || a.gemm.trans_b != 1 || a.gemm.alpha != 1.0f || a.gemm.beta != 1.0f) {
    return c.error(StatusCode::kUnsupported, "QGemm requires transA=0, transB=1, alpha=1, beta=1 (got {}, {}, {}, {})",
                   a.gemm.trans_a, a.gemm.trans_b, a.gemm.alpha, a.gemm.beta);
  }
  const Tensor& A = c.x(0);
  const Tensor& B = c.x(1);
  const Tensor* C = c.input(2);
  if (C != nullptr && (C->rank() != 1 || C->dim(0) != B.dim(0))) {
    return c.error(StatusCode::kInvalidArgument, "bias C has shape {} (expected [{}])", shape_to_string(C->shape()),
                   B.dim(0));
  }
  if (a.post.has_sum) return c.error(StatusCode::kUnsupported, "a residual sum on QGemm is not supported");
  HQP_ASSIGN_OR_RETURN(Int8Quantization q, c.check(int8_quantization(c.node, B.dim(0))));
  const int32_t* bias = C ? C->data<int32_t>() : nullptr;
  // A [..., K]: every leading dim is rows (a lowered MatMul by a constant).
  const int64_t kk = A.rank() >= 1 ? A.dim(A.rank() - 1) : 0;
  const int64_t m = kk > 0 ? A.numel() / kk : 0, n = B.dim(0);
  if (A.rank() < 2 || B.dim(1) != kk) {
    return c.error(StatusCode::kInvalidArgument, "A {} and B {} do not multiply (expected A [..., K], B [N, K])",
                   shape_to_string(A.shape()), shape_to_string(B.shape()));
  }
  if (A.dtype() == DType::kU8) {
    k::gemm_u8s8__ref(m, n, kk, q.out, A.data<uint8_t>(), B.data<int8_t>(), q.wei_scales.data(), bias, nullptr,
                      c.out[0].raw_data());
  } else {
    k::gemm_s8s8__ref(m, n, kk, q.out, A.data<int8_t>(), B.data<int8_t>(), q.wei_scales.data(), bias, nullptr,
                      c.out[0].raw_data());
  }
  return Status();
}

Status run_matmul(const OpCtx& c) {
  k::MatMulParams p;
  if (!k::make_matmul_params(c.x(0).shape(), c.x(1).shape(), &p)) {
    return c.error(StatusCode::kInvalidArgument, "shapes {} and {} are not compatible",
                   shape_to_string(c.x(0).shape()), shape_to_string(c.x(1).shape()));
  }
  k::matmul_f32__ref(p, c.x(0).data<float>(), c.x(1).data<float>(), c.out[0].data<float>());
  return Status();
}

Status run_softmax(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const auto& a = c.node.attr<ir::SoftmaxAttrs>();
  const int64_t r = x.rank();
  int64_t axis = a.axis < 0 ? a.axis + r : a.axis;
  const int64_t outer = prod(x.shape(), 0, static_cast<size_t>(axis));
  if (a.legacy_coerce_2d) {
    k::softmax_f32__ref(outer, prod(x.shape(), static_cast<size_t>(axis), x.shape().size()), 1, x.data<float>(),
                        c.out[0].data<float>());
  } else {
    k::softmax_f32__ref(outer, x.dim(axis), prod(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size()),
                        x.data<float>(), c.out[0].data<float>());
  }
  return Status();
}

Status check_scales(const OpCtx& c, const Tensor& scale) {
  for (float s : scale.span<float>()) {
    if (!(s > 0.0f) || !std::isfinite(s)) {
      return c.error(StatusCode::kInvalidArgument, "scale {} is not positive and finite", s);
    }
  }
  return Status();
}

Status run_quantize(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const Tensor& scale = c.x(1);
  const Tensor* zp = c.input(2);
  if (x.dtype() != DType::kF32) return c.error(StatusCode::kUnsupported, "input dtype {} is not supported", dtype_name(x.dtype()));
  HQP_RETURN_IF_ERROR(check_scales(c, scale));
  HQP_ASSIGN_OR_RETURN(k::QuantizeParams p, c.check(quantize_params(c.node, x.shape(), scale.shape())));
  if (c.out[0].dtype() == DType::kU8) {
    k::quantize_linear_u8__ref(p, x.data<float>(), scale.data<float>(), zp ? zp->data<uint8_t>() : nullptr,
                               c.out[0].data<uint8_t>());
  } else {
    k::quantize_linear_s8__ref(p, x.data<float>(), scale.data<float>(), zp ? zp->data<int8_t>() : nullptr,
                               c.out[0].data<int8_t>());
  }
  return Status();
}

Status run_dequantize(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const Tensor& scale = c.x(1);
  const Tensor* zp = c.input(2);
  HQP_RETURN_IF_ERROR(check_scales(c, scale));
  HQP_ASSIGN_OR_RETURN(k::QuantizeParams p, c.check(quantize_params(c.node, x.shape(), scale.shape())));
  float* d = c.out[0].data<float>();
  switch (x.dtype()) {
    case DType::kU8:
      k::dequantize_linear_u8__ref(p, x.data<uint8_t>(), scale.data<float>(), zp ? zp->data<uint8_t>() : nullptr, d);
      break;
    case DType::kS8:
      k::dequantize_linear_s8__ref(p, x.data<int8_t>(), scale.data<float>(), zp ? zp->data<int8_t>() : nullptr, d);
      break;
    case DType::kS32:
      if (zp != nullptr) {
        for (int32_t z : zp->span<int32_t>()) {
          if (z != 0) return c.error(StatusCode::kInvalidArgument, "s32 input requires zero point 0 (got {})", z);
        }
      }
      k::dequantize_linear_s32__ref(p, x.data<int32_t>(), scale.data<float>(), nullptr, d);
      break;
    default: return c.error(StatusCode::kUnsupported, "input dtype {} is not supported", dtype_name(x.dtype()));
  }
  return Status();
}

// A Constant's value: shared when the caller left the output undefined, copied into caller-owned
// memory otherwise.
Status run_constant(const OpCtx& c) {
  const Tensor& value = c.node.attr<ir::ConstantAttrs>().value;
  if (!c.out[0].defined()) {
    c.out[0] = value;
    return Status();
  }
  if (c.out[0].dtype() != value.dtype() || c.out[0].shape() != value.shape()) {
    return c.error(StatusCode::kInternal, "output buffer {}[{}] does not fit the value {}[{}]",
                   dtype_name(c.out[0].dtype()), shape_to_string(c.out[0].shape()), dtype_name(value.dtype()),
                   shape_to_string(value.shape()));
  }
  if (value.nbytes() > 0) std::memcpy(c.out[0].raw_data(), value.raw_data(), static_cast<size_t>(value.nbytes()));
  return Status();
}

// One function per op kind, named run_<Kind>: the dispatch below is generated from ops.def, so an
// op added there without a reference implementation does not compile.
Status run_Conv(const OpCtx& c) { return run_conv(c); }
Status run_FusedConv(const OpCtx& c) { return run_conv(c); }
Status run_QConv(const OpCtx& c) { return run_qconv(c); }
Status run_BatchNormalization(const OpCtx& c) { return run_batchnorm(c); }
Status run_Relu(const OpCtx& c) {
  k::relu_f32__ref(c.x(0).numel(), c.x(0).data<float>(), c.out[0].data<float>());
  return Status();
}
Status run_Sigmoid(const OpCtx& c) {
  k::sigmoid_f32__ref(c.x(0).numel(), c.x(0).data<float>(), c.out[0].data<float>());
  return Status();
}
Status run_HardSwish(const OpCtx& c) {
  k::hardswish_f32__ref(c.x(0).numel(), c.x(0).data<float>(), c.out[0].data<float>());
  return Status();
}
Status run_LeakyRelu(const OpCtx& c) {
  k::leaky_relu_f32__ref(c.x(0).numel(), c.node.attr<ir::LeakyReluAttrs>().alpha, c.x(0).data<float>(),
                         c.out[0].data<float>());
  return Status();
}
Status run_Tanh(const OpCtx& c) {
  k::tanh_f32__ref(c.x(0).numel(), c.x(0).data<float>(), c.out[0].data<float>());
  return Status();
}
Status run_Exp(const OpCtx& c) {
  k::exp_f32__ref(c.x(0).numel(), c.x(0).data<float>(), c.out[0].data<float>());
  return Status();
}
Status run_Sqrt(const OpCtx& c) {
  k::sqrt_f32__ref(c.x(0).numel(), c.x(0).data<float>(), c.out[0].data<float>());
  return Status();
}
Status run_Erf(const OpCtx& c) {
  k::erf_f32__ref(c.x(0).numel(), c.x(0).data<float>(), c.out[0].data<float>());
  return Status();
}
Status run_Gelu(const OpCtx& c) {
  k::gelu_erf_f32__ref(c.x(0).numel(), c.x(0).data<float>(), c.out[0].data<float>());
  return Status();
}
Status run_Silu(const OpCtx& c) {
  k::silu_f32__ref(c.x(0).numel(), c.x(0).data<float>(), c.out[0].data<float>());
  return Status();
}
Status run_HardSigmoid(const OpCtx& c) {
  const auto& a = c.node.attr<ir::HardSigmoidAttrs>();
  k::hardsigmoid_f32__ref(c.x(0).numel(), a.alpha, a.beta, c.x(0).data<float>(), c.out[0].data<float>());
  return Status();
}
Status run_Clip(const OpCtx& c) { return run_clip(c); }
Status run_Add(const OpCtx& c) { return run_binary(c, k::BinaryOp::kAdd); }
Status run_Sub(const OpCtx& c) { return run_binary(c, k::BinaryOp::kSub); }
Status run_Mul(const OpCtx& c) { return run_binary(c, k::BinaryOp::kMul); }
Status run_Div(const OpCtx& c) { return run_binary(c, k::BinaryOp::kDiv); }
Status run_Pow(const OpCtx& c) {
  const Tensor& a = c.x(0);
  const Tensor& b = c.x(1);
  k::BroadcastParams p;
  if (!k::make_broadcast_params(a.shape(), b.shape(), &p)) {
    return c.error(StatusCode::kInvalidArgument, "shapes {} and {} do not broadcast", shape_to_string(a.shape()),
                   shape_to_string(b.shape()));
  }
  if (!k::pow__ref(p, a.dtype(), a.raw_data(), b.dtype(), b.raw_data(), c.out[0].raw_data())) {
    return c.error(StatusCode::kUnsupported, "base {} and exponent {} (expected f32/s32/s64 and f32/s32/s64/u8/s8)",
                   dtype_name(a.dtype()), dtype_name(b.dtype()));
  }
  return Status();
}
Status run_PRelu(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const Tensor& slope = c.x(1);
  const std::vector<int64_t> s = ir::prelu_slope_shape(slope.shape(), x.rank(), c.opset);
  k::BroadcastParams p;
  if (!k::make_broadcast_params(x.shape(), s, &p)) {
    return c.error(StatusCode::kInvalidArgument, "slope {} does not broadcast to X {}", shape_to_string(slope.shape()),
                   shape_to_string(x.shape()));
  }
  k::prelu_f32__ref(p, x.data<float>(), slope.data<float>(), c.out[0].data<float>());
  return Status();
}
Status run_GlobalAveragePool(const OpCtx& c) {
  const Tensor& x = c.x(0);
  k::global_average_pool_f32__ref(x.dim(0), x.dim(1), prod(x.shape(), 2, x.shape().size()), x.data<float>(),
                                  c.out[0].data<float>());
  return Status();
}
Status run_AveragePool(const OpCtx& c) { return run_pool(c, false); }
Status run_MaxPool(const OpCtx& c) { return run_pool(c, true); }
Status run_Flatten(const OpCtx& c) { return run_copy(c); }
Status run_Reshape(const OpCtx& c) { return run_copy(c); }
Status run_Squeeze(const OpCtx& c) { return run_copy(c); }
Status run_Unsqueeze(const OpCtx& c) { return run_copy(c); }
Status run_Identity(const OpCtx& c) { return run_copy(c); }
Status run_Dropout(const OpCtx& c) { return run_dropout(c); }
Status run_Transpose(const OpCtx& c) { return run_transpose(c); }
Status run_Shape(const OpCtx& c) { return run_shape(c); }
Status run_ReduceMean(const OpCtx& c) { return run_reduce(c, k::ReduceOp::kMean); }
Status run_Cast(const OpCtx& c) {
  const Tensor& x = c.x(0);
  if (!k::cast__ref(x.numel(), x.dtype(), x.raw_data(), c.out[0].dtype(), c.out[0].raw_data())) {
    return c.error(StatusCode::kUnsupported, "cast from {} to {}", dtype_name(x.dtype()), dtype_name(c.out[0].dtype()));
  }
  return Status();
}
Status run_ReduceMax(const OpCtx& c) { return run_reduce(c, k::ReduceOp::kMax); }
Status run_ReduceSum(const OpCtx& c) { return run_reduce(c, k::ReduceOp::kSum); }
Status run_Gather(const OpCtx& c) { return run_gather(c); }
Status run_Concat(const OpCtx& c) { return run_concat(c); }
Status run_Pad(const OpCtx& c) { return run_pad(c); }
Status run_Slice(const OpCtx& c) { return run_slice(c); }
Status run_Split(const OpCtx& c) { return run_split(c); }
Status run_Expand(const OpCtx& c) { return run_expand(c); }
Status run_Resize(const OpCtx& c) { return run_resize(c); }
Status run_Gemm(const OpCtx& c) { return run_gemm(c); }
Status run_FusedGemm(const OpCtx& c) { return run_gemm(c); }
Status run_QGemm(const OpCtx& c) { return run_qgemm(c); }
Status run_QAdd(const OpCtx& c) {
  const Tensor& a = c.x(0);
  const Tensor& b = c.x(1);
  if (a.shape() != b.shape() || a.dtype() != b.dtype() || c.out[0].dtype() != a.dtype()) {
    return c.error(StatusCode::kInvalidArgument, "inputs {}[{}] and {}[{}] and output {} must match", dtype_name(a.dtype()),
                   shape_to_string(a.shape()), dtype_name(b.dtype()), shape_to_string(b.shape()),
                   dtype_name(c.out[0].dtype()));
  }
  HQP_ASSIGN_OR_RETURN(k::QAddParams p, c.check(qadd_params(c.node, a.numel())));
  if (a.dtype() == DType::kU8) {
    k::qadd_u8__ref(p, a.data<uint8_t>(), b.data<uint8_t>(), c.out[0].data<uint8_t>());
  } else {
    k::qadd_s8__ref(p, a.data<int8_t>(), b.data<int8_t>(), c.out[0].data<int8_t>());
  }
  return Status();
}
Status run_QMul(const OpCtx& c) {
  const Tensor& a = c.x(0);
  const Tensor& b = c.x(1);
  if (a.dtype() != b.dtype() || c.out[0].dtype() != a.dtype() || (a.dtype() != DType::kU8 && a.dtype() != DType::kS8)) {
    return c.error(StatusCode::kInvalidArgument, "inputs {} and {} and output {} must be one 8-bit type",
                   dtype_name(a.dtype()), dtype_name(b.dtype()), dtype_name(c.out[0].dtype()));
  }
  HQP_ASSIGN_OR_RETURN(k::QMulParams p, c.check(qmul_params(c.node, a.shape(), b.shape(), /*channels_last=*/false)));
  if (a.dtype() == DType::kU8) {
    k::qmul_u8__ref(p, a.data<uint8_t>(), b.data<uint8_t>(), c.out[0].data<uint8_t>());
  } else {
    k::qmul_s8__ref(p, a.data<int8_t>(), b.data<int8_t>(), c.out[0].data<int8_t>());
  }
  return Status();
}
Status run_QLut(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const Tensor& table = c.x(1);
  const bool bytes = [](DType t) { return t == DType::kU8 || t == DType::kS8; }(x.dtype());
  if (!bytes || table.numel() != 256 || table.dtype() != c.out[0].dtype() ||
      (table.dtype() != DType::kU8 && table.dtype() != DType::kS8)) {
    return c.error(StatusCode::kInvalidArgument, "input {}, table {}[{}] and output {} must be 8-bit with a [256] table",
                   dtype_name(x.dtype()), dtype_name(table.dtype()), shape_to_string(table.shape()),
                   dtype_name(c.out[0].dtype()));
  }
  k::lut8__ref(x.numel(), static_cast<const uint8_t*>(x.raw_data()), x.dtype() == DType::kS8,
               static_cast<const uint8_t*>(table.raw_data()), static_cast<uint8_t*>(c.out[0].raw_data()));
  return Status();
}
Status run_QGlobalAveragePool(const OpCtx& c) {
  const Tensor& x = c.x(0);
  if (c.out[0].dtype() != x.dtype() || (x.dtype() != DType::kU8 && x.dtype() != DType::kS8)) {
    return c.error(StatusCode::kInvalidArgument, "input {} and output {} must be one 8-bit type", dtype_name(x.dtype()),
                   dtype_name(c.out[0].dtype()));
  }
  HQP_ASSIGN_OR_RETURN(k::QGlobalAveragePoolParams p,
                       c.check(qglobal_average_pool_params(c.node, x.shape(), /*channels_last=*/false)));
  if (x.dtype() == DType::kU8) {
    k::qglobal_average_pool_u8__ref(p, x.data<uint8_t>(), c.out[0].data<uint8_t>(), nullptr);
  } else {
    k::qglobal_average_pool_s8__ref(p, x.data<int8_t>(), c.out[0].data<int8_t>(), nullptr);
  }
  return Status();
}
Status run_MatMul(const OpCtx& c) { return run_matmul(c); }
Status run_Constant(const OpCtx& c) { return run_constant(c); }
Status run_Softmax(const OpCtx& c) { return run_softmax(c); }
Status run_LayerNormalization(const OpCtx& c) { return run_layer_norm(c); }
Status run_QuantizeLinear(const OpCtx& c) { return run_quantize(c); }
Status run_DequantizeLinear(const OpCtx& c) { return run_dequantize(c); }

Status dispatch(const OpCtx& c) {
  switch (c.node.kind) {
#define HQP_OP(kind, ...) \
  case OpKind::kind: return run_##kind(c);
#include "ir/ops.def"
#undef HQP_OP
  }
  return c.error(StatusCode::kUnsupported, "no reference implementation");
}

}  // namespace

Result<std::vector<Tensor>> run_node_reference(const ir::Node& node, std::span<const Tensor* const> inputs,
                                               int64_t opset) {
  std::vector<ir::InferInput> infer(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] == nullptr) continue;
    infer[i].present = true;
    infer[i].dtype = inputs[i]->dtype();
    infer[i].shape = ir::dims_from_shape(inputs[i]->shape());
    infer[i].value = inputs[i];
  }
  HQP_ASSIGN_OR_RETURN(std::vector<ir::InferOutput> types, ir::infer_node(node, infer, opset));
  std::vector<Tensor> outs(node.num_outputs());
  if (node.kind != OpKind::Constant) {
    for (size_t i = 0; i < node.num_outputs(); ++i) {
      if (node.output(i) == nullptr) continue;
      const auto shape = types[i].shape ? ir::static_shape(*types[i].shape) : std::nullopt;
      if (!shape) {
        return make_error(StatusCode::kInternal, "cannot run node '{}' ({}): output {} has no concrete shape",
                          node.name, ir::op_name(node.kind), i);
      }
      Result<Tensor> t = Tensor::zeros(types[i].dtype, *shape);
      if (!t.ok()) return t.status().with_context(fmt::format("cannot run node '{}'", node.name));
      outs[i] = std::move(t).value();
    }
  }
  OpCtx c{node, inputs, outs, opset};
  HQP_RETURN_IF_ERROR(dispatch(c));
  return outs;
}

Status run_node_reference_into(const ir::Node& node, std::span<const Tensor* const> inputs, std::span<Tensor> outputs,
                               int64_t opset) {
  HQP_CHECK(outputs.size() == node.num_outputs());
  OpCtx c{node, inputs, outputs, opset};
  return dispatch(c);
}

}  // namespace hqp::reference
