// Node -> kernel params translation shared by the reference executor and the fast runtime.
#include "reference/node_params.h"

#include <cmath>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "ir/shape_inference.h"

namespace hqp::reference {

namespace {

int64_t prod(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end && i < s.size(); ++i) p *= s[i];
  return p;
}

Status invalid(std::string message) { return Status(StatusCode::kInvalidArgument, std::move(message)); }

// Per-tensor quantization of `v`: exactly one scale and at most one zero point, no axis.
Status per_tensor(const ir::Value* v, const char* what, float* scale, int32_t* zero_point) {
  if (v == nullptr || !v->quant || v->quant->axis || v->quant->scale.size() != 1 || v->quant->zero_point.size() > 1) {
    return invalid(fmt::format("{} '{}' has no per-tensor quantization parameters", what, v == nullptr ? "" : v->name));
  }
  *scale = v->quant->scale[0];
  *zero_point = v->quant->zero_point.empty() ? 0 : v->quant->zero_point[0];
  return Status();
}

// Copies the window geometry of one conv / pool over spatial input sizes `in_sp` into kernel params
// (ConvParams has no pad_end: its end padding is implied by the output size).
template <typename Params>
void fill_window(const Shape& in_sp, const ir::WindowGeometry& g, Params* p) {
  p->spatial_rank = static_cast<int>(in_sp.size());
  for (size_t i = 0; i < in_sp.size(); ++i) {
    p->in_size[i] = in_sp[i];
    p->out_size[i] = g.out[i];
    p->kernel[i] = g.kernel[i];
    p->stride[i] = g.stride[i];
    p->dilation[i] = g.dilation[i];
    p->pad_begin[i] = g.pad_begin[i];
    if constexpr (requires { p->pad_end[i]; }) p->pad_end[i] = g.pad_end[i];
  }
}

}  // namespace

const ir::ConvAttrs& conv_attrs(const ir::Node& node) {
  return node.kind == ir::OpKind::Conv ? node.attr<ir::ConvAttrs>() : node.attr<ir::FusedConvAttrs>().conv;
}

const ir::GemmAttrs& gemm_attrs(const ir::Node& node) {
  return node.kind == ir::OpKind::Gemm ? node.attr<ir::GemmAttrs>() : node.attr<ir::FusedGemmAttrs>().gemm;
}

ir::PostOps post_ops(const ir::Node& node) {
  switch (node.kind) {
    case ir::OpKind::FusedConv:
    case ir::OpKind::QConv: return node.attr<ir::FusedConvAttrs>().post;
    case ir::OpKind::FusedGemm:
    case ir::OpKind::QGemm: return node.attr<ir::FusedGemmAttrs>().post;
    default: return {};
  }
}

Result<kernels::ConvParams> conv_params(const ir::ConvAttrs& a, const Shape& x, const Shape& w) {
  if (x.size() < 3 || x.size() > 2 + static_cast<size_t>(kernels::kMaxSpatialRank) || w.size() != x.size()) {
    return invalid(fmt::format("input {} and weights {} are not [N, C, spatial...] and [OC, C/group, kernel...] "
                               "with 1..{} spatial dims",
                               shape_to_string(x), shape_to_string(w), kernels::kMaxSpatialRank));
  }
  const Shape in_sp(x.begin() + 2, x.end());
  const Shape k_sp(w.begin() + 2, w.end());
  HQP_ASSIGN_OR_RETURN(ir::WindowGeometry g, ir::conv_geometry(a, in_sp, k_sp));
  kernels::ConvParams p;
  p.batch = x[0];
  p.in_channels = x[1];
  p.out_channels = w[0];
  p.groups = a.group;
  fill_window(in_sp, g, &p);
  return p;
}

Result<kernels::PoolParams> pool_params(const ir::PoolAttrs& a, const Shape& x, bool is_max) {
  if (x.size() < 3 || x.size() > 2 + static_cast<size_t>(kernels::kMaxSpatialRank)) {
    return invalid(fmt::format("input {} is not [N, C, spatial...] with 1..{} spatial dims", shape_to_string(x),
                               kernels::kMaxSpatialRank));
  }
  const Shape in_sp(x.begin() + 2, x.end());
  HQP_ASSIGN_OR_RETURN(ir::WindowGeometry g, ir::pool_geometry(a, in_sp, is_max));
  kernels::PoolParams p;
  p.batch = x[0];
  p.channels = x[1];
  fill_window(in_sp, g, &p);
  p.count_include_pad = a.count_include_pad != 0;
  return p;
}

Result<kernels::GemmParams> gemm_params(const ir::GemmAttrs& a, const Shape& A, const Shape& B, const Shape* C) {
  if (A.size() != 2 || B.size() != 2) {
    return invalid(fmt::format("A {} and B {} are not 2-D", shape_to_string(A), shape_to_string(B)));
  }
  kernels::GemmParams p;
  p.trans_a = a.trans_a != 0;
  p.trans_b = a.trans_b != 0;
  p.m = p.trans_a ? A[1] : A[0];
  p.k = p.trans_a ? A[0] : A[1];
  p.n = p.trans_b ? B[0] : B[1];
  p.alpha = a.alpha;
  p.beta = a.beta;
  if (C != nullptr) {
    if (C->size() > 2) return invalid(fmt::format("C {} has rank > 2", shape_to_string(*C)));
    // Unidirectional broadcast of C (rank <= 2) to [M, N].
    const int64_t cm = C->size() == 2 ? (*C)[0] : 1;
    const int64_t cn = C->empty() ? 1 : C->back();
    p.c_stride_m = cm == 1 ? 0 : cn;
    p.c_stride_n = cn == 1 ? 0 : 1;
  }
  return p;
}

Result<kernels::ResizeParams> resize_params(const ir::ResizeAttrs& attrs, const Shape& x,
                                            const std::optional<std::vector<float>>& scales,
                                            const std::optional<std::vector<int64_t>>& sizes) {
  namespace k = kernels;
  if (x.size() > static_cast<size_t>(k::kMaxKernelRank)) {
    return Status(StatusCode::kUnsupported, fmt::format("rank {} exceeds the kernel limit {}", x.size(),
                                                        k::kMaxKernelRank));
  }
  std::optional<std::vector<float>> given_scales = scales;
  if (given_scales && given_scales->empty()) given_scales.reset();
  HQP_ASSIGN_OR_RETURN(ir::ResizeGeometry g,
                       ir::resize_geometry(std::vector<int64_t>(x.begin(), x.end()), given_scales, sizes));
  k::ResizeParams p;
  p.rank = static_cast<int>(x.size());
  for (int i = 0; i < p.rank; ++i) {
    p.src_shape[i] = x[static_cast<size_t>(i)];
    p.dst_shape[i] = g.out[static_cast<size_t>(i)];
    p.scale[i] = g.scale[static_cast<size_t>(i)];
  }
  p.mode = attrs.mode == ir::ResizeMode::kLinear ? k::ResizeMode::kLinear : k::ResizeMode::kNearest;
  switch (attrs.coordinates) {
    case ir::ResizeCoordinates::kHalfPixel: p.coordinates = k::ResizeCoordinates::kHalfPixel; break;
    case ir::ResizeCoordinates::kPytorchHalfPixel: p.coordinates = k::ResizeCoordinates::kPytorchHalfPixel; break;
    case ir::ResizeCoordinates::kAlignCorners: p.coordinates = k::ResizeCoordinates::kAlignCorners; break;
    case ir::ResizeCoordinates::kAsymmetric: p.coordinates = k::ResizeCoordinates::kAsymmetric; break;
    case ir::ResizeCoordinates::kTfHalfPixelForNn: p.coordinates = k::ResizeCoordinates::kTfHalfPixelForNn; break;
  }
  switch (attrs.nearest) {
    case ir::ResizeNearest::kRoundPreferFloor: p.nearest = k::ResizeNearest::kRoundPreferFloor; break;
    case ir::ResizeNearest::kRoundPreferCeil: p.nearest = k::ResizeNearest::kRoundPreferCeil; break;
    case ir::ResizeNearest::kFloor: p.nearest = k::ResizeNearest::kFloor; break;
    case ir::ResizeNearest::kCeil: p.nearest = k::ResizeNearest::kCeil; break;
  }
  return p;
}

Result<kernels::QuantizeParams> quantize_params(const ir::Node& node, const Shape& x, const Shape& scale) {
  kernels::QuantizeParams p;
  const int64_t scale_numel = prod(scale, 0, scale.size());
  if (scale_numel == 1 && scale.size() <= 1) {
    p.inner = prod(x, 0, x.size());
    return p;
  }
  const auto& a = node.attr<ir::AxisAttrs>();
  HQP_ASSIGN_OR_RETURN(int64_t axis,
                       ir::normalize_axis(a.present ? a.axis : 1, static_cast<int64_t>(x.size()), "quantization axis"));
  p.outer = prod(x, 0, static_cast<size_t>(axis));
  p.axis_len = x[static_cast<size_t>(axis)];
  p.inner = prod(x, static_cast<size_t>(axis) + 1, x.size());
  if (scale.size() != 1 || scale_numel != p.axis_len) {
    return invalid(fmt::format("scale has shape {} but axis {} has size {} (expected [{}])", shape_to_string(scale),
                               axis, p.axis_len, p.axis_len));
  }
  return p;
}

Result<Int8Quantization> int8_quantization(const ir::Node& node, int64_t channels) {
  const ir::PostOps post = post_ops(node);
  Int8Quantization q;
  kernels::Int8OutputParams& o = q.out;
  const ir::Value* x = node.input(0);
  const bool src_per_channel = x != nullptr && x->quant && x->quant->axis;
  if (!src_per_channel) HQP_RETURN_IF_ERROR(per_tensor(x, "input", &o.src_scale, &o.src_zero_point));
  const ir::Value* w = node.input(1);
  if (w == nullptr || !w->quant || w->quant->scale.empty()) return invalid("weights carry no quantization scales");
  for (int32_t z : w->quant->zero_point) {
    if (z != 0) return invalid("weights are not symmetric (zero point != 0)");
  }
  if (w->quant->scale.size() == 1) {
    q.wei_scales.assign(static_cast<size_t>(channels), w->quant->scale[0]);
  } else if (static_cast<int64_t>(w->quant->scale.size()) == channels && w->quant->axis.value_or(0) == 0) {
    q.wei_scales = w->quant->scale;
  } else {
    return invalid(fmt::format("weight scales are not per output channel ({} scales, {} channels)",
                               w->quant->scale.size(), channels));
  }
  if (src_per_channel) {
    // A depthwise conv's per-channel input: fold s_x of each output channel's input channel.
    const ir::QuantParams& xq = *x->quant;
    const int64_t group = node.kind == ir::OpKind::QConv ? node.attr<ir::FusedConvAttrs>().conv.group : 0;
    const int64_t in_channels = static_cast<int64_t>(xq.scale.size());
    if (*xq.axis != 1 || group != in_channels || w->shape == std::nullopt || w->shape->size() < 2 ||
        !((*w->shape)[1].is_static() && (*w->shape)[1].value == 1) || in_channels < 1 || channels % in_channels != 0 ||
        xq.zero_point.size() != xq.scale.size()) {
      return invalid(
          fmt::format("input '{}' is quantized per channel, which only a depthwise QConv takes", x->name));
    }
    for (int32_t z : xq.zero_point) {
      if (z != xq.zero_point[0]) return invalid(fmt::format("input '{}' has per-channel zero points", x->name));
    }
    o.src_scale = 1.0f;
    o.src_zero_point = xq.zero_point[0];
    const int64_t per_input = channels / in_channels;
    for (int64_t oc = 0; oc < channels; ++oc) {
      float& w_oc = q.wei_scales[static_cast<size_t>(oc)];
      w_oc = xq.scale[static_cast<size_t>(oc / per_input)] * w_oc;
    }
  }
  const ir::Value* y = node.output(0);
  o.dst_dtype = y->dtype;
  const bool dst_per_channel = y->dtype != DType::kF32 && y->quant && y->quant->axis;
  if (y->dtype != DType::kF32 && !dst_per_channel) {
    HQP_RETURN_IF_ERROR(per_tensor(y, "output", &o.dst_scale, &o.dst_zero_point));
  }
  if (post.has_sum) {
    const ir::Value* s = node.num_inputs() > 3 ? node.input(3) : nullptr;
    if (s == nullptr) return invalid("sum input missing");
    if (s->dtype != y->dtype) return invalid("sum dtype differs from output dtype");
    o.has_sum = true;
    if (s->dtype != DType::kF32) HQP_RETURN_IF_ERROR(per_tensor(s, "sum input", &o.sum_scale, &o.sum_zero_point));
  }
  switch (post.activation) {
    case ir::Activation::kNone: break;
    case ir::Activation::kRelu: o.act_min = 0.0f; break;
    case ir::Activation::kClip:
      o.act_min = post.alpha;
      o.act_max = post.beta;
      break;
    default:
      return Status(StatusCode::kUnsupported, "only relu/clip activations fuse into INT8 output stages");
  }
  if (dst_per_channel) {
    // Per-channel Y: one clamp for all channels (checked), then dst scale 1 with s_y folded.
    const ir::QuantParams& yq = *y->quant;
    if (node.kind != ir::OpKind::QConv || o.has_sum || *yq.axis != 1 ||
        static_cast<int64_t>(yq.scale.size()) != channels || yq.zero_point.size() != yq.scale.size()) {
      return invalid(
          fmt::format("output '{}' is quantized per channel, which only a QConv without sum writes", y->name));
    }
    o.dst_zero_point = yq.zero_point[0];
    std::optional<kernels::Int8Clamp> clamp;
    for (size_t oc = 0; oc < yq.scale.size(); ++oc) {
      if (yq.zero_point[oc] != o.dst_zero_point) {
        return invalid(fmt::format("output '{}' has per-channel zero points", y->name));
      }
      o.dst_scale = yq.scale[oc];
      const kernels::Int8Clamp c = kernels::int8_output_clamp(o);
      if (clamp && (c.lo != clamp->lo || c.hi != clamp->hi)) {
        return invalid(fmt::format("output '{}': the activation clamps channels differently", y->name));
      }
      clamp = c;
      // (s_x * s_w) / s_y, the per-tensor multiplier's FP32 operations in its order.
      q.wei_scales[oc] = (o.src_scale * q.wei_scales[oc]) / yq.scale[oc];
    }
    o.src_scale = 1.0f;
    o.dst_scale = 1.0f;
    const int32_t qmin = o.dst_dtype == DType::kU8 ? kernels::kU8Min : kernels::kS8Min;
    const int32_t qmax = o.dst_dtype == DType::kU8 ? kernels::kU8Max : kernels::kS8Max;
    const float inf = std::numeric_limits<float>::infinity();
    o.act_min = clamp->lo == qmin ? -inf : static_cast<float>(clamp->lo - o.dst_zero_point);
    o.act_max = clamp->hi == qmax ? inf : static_cast<float>(clamp->hi - o.dst_zero_point);
  }
  return q;
}

Result<kernels::QAddParams> qadd_params(const ir::Node& node, int64_t n) {
  kernels::QAddParams p;
  p.n = n;
  HQP_RETURN_IF_ERROR(per_tensor(node.input(0), "input A", &p.a_scale, &p.a_zero));
  HQP_RETURN_IF_ERROR(per_tensor(node.input(1), "input B", &p.b_scale, &p.b_zero));
  HQP_RETURN_IF_ERROR(per_tensor(node.output(0), "output Y", &p.y_scale, &p.y_zero));
  for (float s : {p.a_scale, p.b_scale, p.y_scale}) {
    if (!(s > 0.0f) || !std::isfinite(s)) return invalid(fmt::format("QAdd scale {} is not positive and finite", s));
  }
  return p;
}

namespace {

Status check_scales(const char* op, std::initializer_list<float> scales) {
  for (float s : scales) {
    if (!(s > 0.0f) || !std::isfinite(s)) return invalid(fmt::format("{} scale {} is not positive and finite", op, s));
  }
  return Status();
}

int64_t product(const Shape& s, size_t from) {
  int64_t p = 1;
  for (size_t i = from; i < s.size(); ++i) p *= s[i];
  return p;
}

}  // namespace

Result<kernels::QMulParams> qmul_params(const ir::Node& node, const Shape& a, const Shape& b, bool channels_last) {
  kernels::QMulParams p;
  HQP_RETURN_IF_ERROR(per_tensor(node.input(0), "input A", &p.a_scale, &p.a_zero));
  HQP_RETURN_IF_ERROR(per_tensor(node.input(1), "input B", &p.b_scale, &p.b_zero));
  HQP_RETURN_IF_ERROR(per_tensor(node.output(0), "output Y", &p.y_scale, &p.y_zero));
  HQP_RETURN_IF_ERROR(check_scales("QMul", {p.a_scale, p.b_scale, p.y_scale}));
  if (a == b) {
    p.batch = product(a, 0);
    p.channels_last = channels_last;
    return p;
  }
  bool gate = a.size() >= 3 && b.size() == a.size() && b[0] == a[0] && b[1] == a[1];
  for (size_t i = 2; gate && i < b.size(); ++i) gate = b[i] == 1;
  if (!gate) {
    return invalid(fmt::format("QMul input B {} is neither A's shape {} nor one value per channel", shape_to_string(b),
                               shape_to_string(a)));
  }
  p.batch = a[0];
  p.channels = a[1];
  p.spatial = product(a, 2);
  p.b_per_channel = true;
  p.channels_last = channels_last;
  return p;
}

Result<kernels::QGlobalAveragePoolParams> qglobal_average_pool_params(const ir::Node& node, const Shape& x,
                                                                      bool channels_last) {
  kernels::QGlobalAveragePoolParams p;
  HQP_RETURN_IF_ERROR(per_tensor(node.input(0), "input X", &p.x_scale, &p.x_zero));
  HQP_RETURN_IF_ERROR(per_tensor(node.output(0), "output Y", &p.y_scale, &p.y_zero));
  HQP_RETURN_IF_ERROR(check_scales("QGlobalAveragePool", {p.x_scale, p.y_scale}));
  if (x.size() < 3 || product(x, 2) < 1) {
    return invalid(fmt::format("QGlobalAveragePool input {} is not [N, C, spatial...]", shape_to_string(x)));
  }
  p.batch = x[0];
  p.channels = x[1];
  p.spatial = product(x, 2);
  p.channels_last = channels_last;
  return p;
}

}  // namespace hqp::reference
