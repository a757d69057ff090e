// Runtime ops of the reference executor: translate one IR node (attributes, concrete shapes)
// into reference-kernel params and call the kernel. Shapes and shape errors come from
// ir::infer_node, so this file only binds pointers.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ir/shape_inference.h"
#include "kernels/ref/conv.h"
#include "kernels/ref/conv_int8.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/gemm.h"
#include "kernels/ref/gemm_int8.h"
#include "kernels/ref/layout.h"
#include "kernels/ref/pool.h"
#include "kernels/ref/quantize.h"
#include "kernels/ref/softmax.h"
#include "runtime/reference/executor.h"

namespace hqp::runtime {

namespace {

using ir::Node;
using ir::OpKind;
namespace k = hqp::kernels;

struct OpCtx {
  const Node& node;
  std::span<const Tensor* const> in;
  std::vector<Tensor>& out;
  int64_t opset;

  const Tensor* input(size_t i) const { return i < in.size() ? in[i] : nullptr; }
  const Tensor& x(size_t i) const { return *in[i]; }

  template <typename... Args>
  Status error(StatusCode code, fmt::format_string<Args...> f, Args&&... args) const {
    return Status(code, fmt::format("cannot run node '{}' ({}): ", node.name, ir::op_name(node.kind)) +
                            fmt::format(f, std::forward<Args>(args)...));
  }
};

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
  }
}

Result<k::ConvParams> conv_params(const ir::ConvAttrs& a, const Tensor& x, const Tensor& w) {
  const Shape in_sp(x.shape().begin() + 2, x.shape().end());
  const Shape k_sp(w.shape().begin() + 2, w.shape().end());
  HQP_ASSIGN_OR_RETURN(ir::WindowGeometry g, ir::conv_geometry(a, in_sp, k_sp));
  k::ConvParams p;
  p.batch = x.dim(0);
  p.in_channels = x.dim(1);
  p.out_channels = w.dim(0);
  p.groups = a.group;
  p.spatial_rank = static_cast<int>(in_sp.size());
  for (size_t i = 0; i < in_sp.size(); ++i) {
    p.in_size[i] = in_sp[i];
    p.out_size[i] = g.out[i];
    p.kernel[i] = g.kernel[i];
    p.stride[i] = g.stride[i];
    p.dilation[i] = g.dilation[i];
    p.pad_begin[i] = g.pad_begin[i];
  }
  return p;
}

Status run_conv(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const Tensor& w = c.x(1);
  const Tensor* b = c.input(2);
  const bool fused = c.node.kind == OpKind::FusedConv;
  const auto& a = fused ? c.node.attr<ir::FusedConvAttrs>().conv : c.node.attr<ir::ConvAttrs>();
  HQP_ASSIGN_OR_RETURN(k::ConvParams p, conv_params(a, x, w));
  k::conv_f32__ref(p, x.data<float>(), w.data<float>(), b ? b->data<float>() : nullptr, c.out[0].data<float>());
  if (fused) apply_post_ops(c.node.attr<ir::FusedConvAttrs>().post, c.input(3), c.out[0]);
  return Status();
}

// Quantization of a QConv / QGemm from the Value::quant of its inputs and output (ops.def):
// X per-tensor, W per output channel (or one scale for all), Y u8/s8 per-tensor or f32, Sum
// quantized like Y. Fills `out` and the per-channel weight scales.
Status int8_output_params(const OpCtx& c, const ir::PostOps& post, int64_t channels, k::Int8OutputParams* out,
                          std::vector<float>* wei_scales) {
  auto per_tensor = [&](const ir::Value* v, const char* what, float* scale, int32_t* zero_point) -> Status {
    if (v == nullptr || !v->quant || v->quant->scale.size() != 1 || v->quant->zero_point.size() != 1) {
      return c.error(StatusCode::kInvalidArgument, "{} '{}' has no per-tensor quantization parameters", what,
                     v == nullptr ? "" : v->name);
    }
    *scale = v->quant->scale[0];
    *zero_point = v->quant->zero_point[0];
    return Status();
  };
  HQP_RETURN_IF_ERROR(per_tensor(c.node.input(0), "input", &out->src_scale, &out->src_zero_point));
  const ir::Value* w = c.node.input(1);
  if (!w->quant || (w->quant->scale.size() != 1 && static_cast<int64_t>(w->quant->scale.size()) != channels)) {
    return c.error(StatusCode::kInvalidArgument, "weight '{}' has no per-channel quantization parameters ({} channels)",
                   w->name, channels);
  }
  wei_scales->assign(static_cast<size_t>(channels), w->quant->scale[0]);
  if (w->quant->scale.size() != 1) *wei_scales = w->quant->scale;
  out->dst_dtype = c.out[0].dtype();
  if (out->dst_dtype != DType::kF32) {
    HQP_RETURN_IF_ERROR(per_tensor(c.node.output(0), "output", &out->dst_scale, &out->dst_zero_point));
  }
  const Tensor* sum = c.input(3);
  out->has_sum = post.has_sum && sum != nullptr;
  if (out->has_sum) {
    if (sum->dtype() != out->dst_dtype || sum->shape() != c.out[0].shape()) {
      return c.error(StatusCode::kInvalidArgument, "sum input {}[{}] differs from the output {}[{}]",
                     dtype_name(sum->dtype()), shape_to_string(sum->shape()), dtype_name(out->dst_dtype),
                     shape_to_string(c.out[0].shape()));
    }
    if (out->dst_dtype != DType::kF32) {
      HQP_RETURN_IF_ERROR(per_tensor(c.node.input(3), "sum input", &out->sum_scale, &out->sum_zero_point));
    }
  }
  switch (post.activation) {
    case ir::Activation::kNone: break;
    case ir::Activation::kRelu: out->act_min = 0.0f; break;
    case ir::Activation::kClip:
      out->act_min = post.alpha;
      out->act_max = post.beta;
      break;
    default:
      return c.error(StatusCode::kUnsupported, "INT8 output stage supports only clamp activations (None, Relu, Clip)");
  }
  return Status();
}

Status run_qconv(const OpCtx& c) {
  const Tensor& x = c.x(0);
  const Tensor& w = c.x(1);
  const Tensor* b = c.input(2);
  const auto& a = c.node.attr<ir::FusedConvAttrs>();
  HQP_ASSIGN_OR_RETURN(k::ConvParams p, conv_params(a.conv, x, w));
  k::Int8OutputParams out;
  std::vector<float> wei_scales;
  HQP_RETURN_IF_ERROR(int8_output_params(c, a.post, w.dim(0), &out, &wei_scales));
  const int32_t* bias = b ? b->data<int32_t>() : nullptr;
  const void* sum = out.has_sum ? c.input(3)->raw_data() : nullptr;
  if (x.dtype() == DType::kU8) {
    k::conv_u8s8__ref(p, out, x.data<uint8_t>(), w.data<int8_t>(), wei_scales.data(), bias, sum, c.out[0].raw_data());
  } else {
    k::conv_s8s8__ref(p, out, x.data<int8_t>(), w.data<int8_t>(), wei_scales.data(), bias, sum, c.out[0].raw_data());
  }
  return Status();
}

Status run_pool(const OpCtx& c, bool is_max) {
  const Tensor& x = c.x(0);
  const auto& a = c.node.attr<ir::PoolAttrs>();
  const Shape in_sp(x.shape().begin() + 2, x.shape().end());
  HQP_ASSIGN_OR_RETURN(ir::WindowGeometry g, ir::pool_geometry(a, in_sp, is_max));
  k::PoolParams p;
  p.batch = x.dim(0);
  p.channels = x.dim(1);
  p.spatial_rank = static_cast<int>(in_sp.size());
  for (size_t i = 0; i < in_sp.size(); ++i) {
    p.in_size[i] = in_sp[i];
    p.out_size[i] = g.out[i];
    p.kernel[i] = g.kernel[i];
    p.stride[i] = g.stride[i];
    p.dilation[i] = g.dilation[i];
    p.pad_begin[i] = g.pad_begin[i];
    p.pad_end[i] = g.pad_end[i];
  }
  p.count_include_pad = a.count_include_pad != 0;
  if (!is_max) {
    k::averagepool_f32__ref(p, x.data<float>(), c.out[0].data<float>());
    return Status();
  }
  int64_t* indices = c.out.size() > 1 && c.out[1].defined() ? c.out[1].data<int64_t>() : nullptr;
  switch (x.dtype()) {
    case DType::kF32: k::maxpool_f32__ref(p, x.data<float>(), c.out[0].data<float>(), indices); break;
    case DType::kU8: k::maxpool_u8__ref(p, x.data<uint8_t>(), c.out[0].data<uint8_t>(), indices); break;
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

Status run_gemm(const OpCtx& c) {
  const bool fused = c.node.kind == OpKind::FusedGemm;
  const auto& a = fused ? c.node.attr<ir::FusedGemmAttrs>().gemm : c.node.attr<ir::GemmAttrs>();
  const Tensor& A = c.x(0);
  const Tensor& B = c.x(1);
  const Tensor* C = c.input(2);
  k::GemmParams p;
  p.trans_a = a.trans_a != 0;
  p.trans_b = a.trans_b != 0;
  p.m = p.trans_a ? A.dim(1) : A.dim(0);
  p.k = p.trans_a ? A.dim(0) : A.dim(1);
  p.n = p.trans_b ? B.dim(0) : B.dim(1);
  p.alpha = a.alpha;
  p.beta = a.beta;
  if (C != nullptr) {
    // Unidirectional broadcast of C (rank <= 2) to [M, N].
    const Shape& cs = C->shape();
    const int64_t cm = cs.size() == 2 ? cs[0] : 1;
    const int64_t cn = cs.empty() ? 1 : cs.back();
    p.c_stride_m = cm == 1 ? 0 : cn;
    p.c_stride_n = cn == 1 ? 0 : 1;
  }
  k::gemm_f32__ref(p, A.data<float>(), B.data<float>(), C ? C->data<float>() : nullptr, c.out[0].data<float>());
  if (fused) apply_post_ops(c.node.attr<ir::FusedGemmAttrs>().post, nullptr, c.out[0]);
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
  k::Int8OutputParams out;
  std::vector<float> wei_scales;
  HQP_RETURN_IF_ERROR(int8_output_params(c, a.post, B.dim(0), &out, &wei_scales));
  const int32_t* bias = C ? C->data<int32_t>() : nullptr;
  const int64_t m = A.dim(0), n = B.dim(0), kk = A.dim(1);
  if (A.dtype() == DType::kU8) {
    k::gemm_u8s8__ref(m, n, kk, out, A.data<uint8_t>(), B.data<int8_t>(), wei_scales.data(), bias, nullptr,
                      c.out[0].raw_data());
  } else {
    k::gemm_s8s8__ref(m, n, kk, out, A.data<int8_t>(), B.data<int8_t>(), wei_scales.data(), bias, nullptr,
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

// Quantization geometry for Q/DQ: per-tensor when scale has one element, per-axis otherwise.
Result<k::QuantizeParams> quant_params(const OpCtx& c, const Tensor& x, const Tensor& scale) {
  k::QuantizeParams p;
  if (scale.numel() == 1 && scale.rank() <= 1) {
    p.inner = x.numel();
    return p;
  }
  const auto& a = c.node.attr<ir::AxisAttrs>();
  HQP_ASSIGN_OR_RETURN(int64_t axis, ir::normalize_axis(a.present ? a.axis : 1, x.rank(), "quantization axis"));
  p.outer = prod(x.shape(), 0, static_cast<size_t>(axis));
  p.axis_len = x.dim(axis);
  p.inner = prod(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  if (scale.numel() != p.axis_len) {
    return c.error(StatusCode::kInvalidArgument, "scale has {} entries but axis {} has size {}", scale.numel(), axis,
                   p.axis_len);
  }
  return p;
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
  HQP_ASSIGN_OR_RETURN(k::QuantizeParams p, quant_params(c, x, scale));
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
  HQP_ASSIGN_OR_RETURN(k::QuantizeParams p, quant_params(c, x, scale));
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

Status dispatch(const OpCtx& c) {
  const Tensor* x0 = c.input(0);
  switch (c.node.kind) {
    case OpKind::Conv: return run_conv(c);
    case OpKind::BatchNormalization: return run_batchnorm(c);
    case OpKind::Relu: k::relu_f32__ref(x0->numel(), x0->data<float>(), c.out[0].data<float>()); return Status();
    case OpKind::Sigmoid: k::sigmoid_f32__ref(x0->numel(), x0->data<float>(), c.out[0].data<float>()); return Status();
    case OpKind::HardSwish:
      k::hardswish_f32__ref(x0->numel(), x0->data<float>(), c.out[0].data<float>());
      return Status();
    case OpKind::HardSigmoid: {
      const auto& a = c.node.attr<ir::HardSigmoidAttrs>();
      k::hardsigmoid_f32__ref(x0->numel(), a.alpha, a.beta, x0->data<float>(), c.out[0].data<float>());
      return Status();
    }
    case OpKind::Clip: return run_clip(c);
    case OpKind::Add: return run_binary(c, k::BinaryOp::kAdd);
    case OpKind::Sub: return run_binary(c, k::BinaryOp::kSub);
    case OpKind::Mul: return run_binary(c, k::BinaryOp::kMul);
    case OpKind::Div: return run_binary(c, k::BinaryOp::kDiv);
    case OpKind::GlobalAveragePool:
      k::global_average_pool_f32__ref(x0->dim(0), x0->dim(1), prod(x0->shape(), 2, x0->shape().size()),
                                      x0->data<float>(), c.out[0].data<float>());
      return Status();
    case OpKind::AveragePool: return run_pool(c, false);
    case OpKind::MaxPool: return run_pool(c, true);
    case OpKind::Flatten:
    case OpKind::Reshape:
    case OpKind::Squeeze:
    case OpKind::Unsqueeze:
    case OpKind::Identity: return run_copy(c);
    case OpKind::Dropout: return run_dropout(c);
    case OpKind::Transpose: return run_transpose(c);
    case OpKind::Shape: return run_shape(c);
    case OpKind::Gather: return run_gather(c);
    case OpKind::Concat: return run_concat(c);
    case OpKind::Gemm: return run_gemm(c);
    case OpKind::MatMul: return run_matmul(c);
    case OpKind::Constant: c.out[0] = c.node.attr<ir::ConstantAttrs>().value; return Status();
    case OpKind::Softmax: return run_softmax(c);
    case OpKind::QuantizeLinear: return run_quantize(c);
    case OpKind::DequantizeLinear: return run_dequantize(c);
    case OpKind::FusedConv: return run_conv(c);
    case OpKind::FusedGemm: return run_gemm(c);
    case OpKind::QConv: return run_qconv(c);
    case OpKind::QGemm: return run_qgemm(c);
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

}  // namespace hqp::runtime
