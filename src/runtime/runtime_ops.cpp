// Candidate lists and the runtime ops behind them: oneDNN kernels (src/kernels/onednn) with the
// reference executor's per-node evaluation as the always-applicable fallback. Kernel params come
// from reference/node_params.h, the translation the reference executor uses too.
#include "runtime/runtime_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include <fmt/format.h>

#include "ir/rewrite.h"
#include "ir/shape_inference.h"
#include "kernels/onednn/conv_onednn.h"
#include "kernels/onednn/elementwise_onednn.h"
#include "kernels/onednn/gemm_onednn.h"
#include "kernels/onednn/normalization_onednn.h"
#include "kernels/onednn/pool_onednn.h"
#include "kernels/ref/int8_output.h"
#include "kernels/ref/layout.h"
#include "kernels/x86/int8_output_x86.h"
#include "kernels/x86/lut8.h"
#include "kernels/x86/quantize_x86.h"
#include "reference/executor.h"
#include "reference/node_params.h"

namespace hqp::runtime {

namespace {

namespace dnn = kernels::onednn;
using ir::Node;
using ir::OpKind;

// ---------------------------------------------------------------- helpers

const Tensor* constant_of(const Node& node, size_t i) { return ir::constant_of(node.input(i)); }

dnn::Layout to_dnn(Layout layout) {
  switch (layout) {
    case Layout::kNchw: return dnn::Layout::kNchw;
    case Layout::kNhwc: return dnn::Layout::kNhwc;
    case Layout::kNchw8c: return dnn::Layout::kNchw8c;
  }
  return dnn::Layout::kNchw;
}

dnn::Activation to_dnn(ir::Activation a) {
  switch (a) {
    case ir::Activation::kNone: return dnn::Activation::kNone;
    case ir::Activation::kRelu: return dnn::Activation::kRelu;
    case ir::Activation::kClip: return dnn::Activation::kClip;
    case ir::Activation::kHardSwish: return dnn::Activation::kHardSwish;
    case ir::Activation::kHardSigmoid: return dnn::Activation::kHardSigmoid;
    case ir::Activation::kSigmoid: return dnn::Activation::kSigmoid;
    case ir::Activation::kGelu: return dnn::Activation::kGeluErf;
    case ir::Activation::kSilu: return dnn::Activation::kSwish;
  }
  return dnn::Activation::kNone;
}

dnn::PostOps to_dnn(const ir::PostOps& p) {
  dnn::PostOps d;
  d.has_sum = p.has_sum;
  d.activation = to_dnn(p.activation);
  d.alpha = p.alpha;
  d.beta = p.beta;
  return d;
}

Status reject(std::string_view why) { return Status(StatusCode::kUnsupported, std::string(why)); }

// The constant weights (input 1) and optional constant bias (input 2) of a conv / gemm node.
struct ConstWeights {
  const Tensor* w = nullptr;
  const Tensor* b = nullptr;  // null when the node has no bias
};
Result<ConstWeights> constant_weights(const Node& node) {
  ConstWeights cw{constant_of(node, 1), constant_of(node, 2)};
  if (cw.w == nullptr) return reject("weights are not a constant initializer");
  if (node.input(2) != nullptr && cw.b == nullptr) return reject("bias is not a constant initializer");
  return cw;
}

// ---------------------------------------------------------------- reference fallback

// Runs the node with the reference kernels on views of the plan's buffers (NCHW, or any layout for
// element-wise per-tensor ops). The views are built once from the plan's static shapes and re-bound
// per run: no shape inference and no tensor memory per run (a kernel's small parameter vectors,
// e.g. Gather indices or INT8 weight scales, are still built per call).
class RefOp final : public RuntimeOp {
 public:
  static Result<std::unique_ptr<RefOp>> create(const Node& node, const std::vector<SlotInfo>& inputs, int64_t opset) {
    auto op = std::unique_ptr<RefOp>(new RefOp(node, opset));
    op->in_views_.resize(inputs.size());
    op->in_args_.assign(inputs.size(), nullptr);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].dtype == DType::kUndefined) continue;
      op->in_views_[i] = Tensor::view(inputs[i].dtype, inputs[i].shape, nullptr);
    }
    op->out_views_.resize(node.num_outputs());
    for (size_t i = 0; i < node.num_outputs(); ++i) {
      const ir::Value* v = node.output(i);
      if (v == nullptr) continue;
      const std::optional<Shape> shape = v->shape ? ir::static_shape(*v->shape) : std::nullopt;
      if (!shape) {
        return make_error(StatusCode::kInternal, "cannot compile node '{}': output '{}' has no static shape",
                          node.name, v->name);
      }
      op->out_views_[i] = Tensor::view(v->dtype, *shape, nullptr);
    }
    return op;
  }

  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    for (size_t i = 0; i < in.size() && i < in_views_.size(); ++i) {
      in_args_[i] = nullptr;
      if (in[i] == nullptr || !in_views_[i].defined()) continue;
      in_views_[i].rebind_view(const_cast<void*>(in[i]));
      in_args_[i] = &in_views_[i];
    }
    for (size_t i = 0; i < out_views_.size(); ++i) {
      if (out_views_[i].defined()) out_views_[i].rebind_view(i < out.size() ? out[i] : nullptr);
    }
    return reference::run_node_reference_into(node_, in_args_, out_views_, opset_);
  }
  std::string implementation() const override { return "ref"; }

 private:
  RefOp(const Node& node, int64_t opset) : node_(node), opset_(opset) {}
  const Node& node_;
  int64_t opset_;
  std::vector<Tensor> in_views_;
  std::vector<const Tensor*> in_args_;
  std::vector<Tensor> out_views_;
};

// ---------------------------------------------------------------- oneDNN ops

class ConvF32Op final : public RuntimeOp {
 public:
  explicit ConvF32Op(dnn::ConvF32Onednn k) : k_(std::move(k)) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    const void* sum = in.size() > 3 ? in[3] : nullptr;
    return k_.run(static_cast<const float*>(in[0]), static_cast<const float*>(sum), static_cast<float*>(out[0]));
  }
  std::string implementation() const override {
    const dnn::ConvF32OnednnParams& p = k_.params();
    if (p.src_layout && *p.src_layout != p.layout) {
      return fmt::format("{} ({}, {} -> {})", dnn::ConvF32Onednn::kName, k_.implementation(),
                         dnn::layout_name(*p.src_layout), dnn::layout_name(p.layout));
    }
    return fmt::format("{} ({}, {})", dnn::ConvF32Onednn::kName, k_.implementation(), dnn::layout_name(p.layout));
  }
  int64_t weight_bytes() const override { return k_.packed_weight_bytes(); }
  std::vector<size_t> packed_inputs() const override {
    return k_.params().has_bias ? std::vector<size_t>{1, 2} : std::vector<size_t>{1};
  }
  Status unpack_input(size_t input, Tensor& dst) const override {
    return input == 1 ? k_.unpack_weights(dst.data<float>()) : k_.unpack_bias(dst.data<float>());
  }

 private:
  dnn::ConvF32Onednn k_;
};

using Candidate = Result<OpChoice> (*)(const Node&, const std::vector<SlotInfo>&, const SelectOptions&);

struct NamedCandidate {
  const char* name;
  Candidate fn;
};

// The ordered fast candidates per op kind (defined at the end of this file).
std::vector<NamedCandidate> fast_candidates(OpKind kind);
// The candidates that run a kNchw8c input in kNchw8c (each checks blockable() itself).
Result<OpChoice> try_conv_f32(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions& options);
Result<OpChoice> try_pool(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&);
Result<OpChoice> try_eltwise(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&);
Result<OpChoice> try_batch_norm(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&);

// True when the first fast candidate of `kind` keeps a kNchw8c input blocked.
bool keeps_blocked(OpKind kind) {
  const std::vector<NamedCandidate> c = fast_candidates(kind);
  return !c.empty() &&
         (c[0].fn == try_conv_f32 || c[0].fn == try_pool || c[0].fn == try_eltwise || c[0].fn == try_batch_norm);
}

// True when the value's static shape is blockable (runtime/layout.h).
bool value_blockable(const ir::Value* v) {
  if (v == nullptr || !v->shape) return false;
  const std::optional<Shape> shape = ir::static_shape(*v->shape);
  return shape && blockable(*shape);
}

// True when every consumer of the node's first output runs on kNchw8c data as it is (keeps_blocked:
// convs, pooling, BatchNorm, element-wise activations; Add / Mul of blockable operands, Concat of
// blockable inputs along channels): a conv feeding anything else (Transpose, Flatten, a gate with
// fewer channels, ...) stays kNhwc, so no reorder runs between them.
bool consumers_keep_blocked(const Node& node) {
  const ir::Value* out = node.output(0);
  if (out == nullptr) return false;
  for (const ir::Use& use : out->uses()) {
    const Node& consumer = *use.node;
    if (consumer.kind == OpKind::Concat) {
      const int64_t axis = consumer.attr<ir::AxisAttrs>().axis;
      const ir::Value* v = consumer.output(0);
      if (v == nullptr || !v->shape || (axis != 1 && axis != 1 - static_cast<int64_t>(v->shape->size()))) return false;
    }
    if (consumer.kind == OpKind::Add || consumer.kind == OpKind::Mul || consumer.kind == OpKind::Concat) {
      for (size_t i = 0; i < consumer.num_inputs(); ++i) {
        if (!value_blockable(consumer.input(i))) return false;
      }
    } else if (!keeps_blocked(consumer.kind)) {
      return false;
    }
  }
  return true;
}

// FP32 convolution in kNchw8c when options.blocked_f32, both channel counts are multiples of 8 and
// its consumers keep that layout (consumers_keep_blocked)
// (falling back to kNhwc where oneDNN has no optimized blocked kernel, e.g. grouped convs with few
// channels per group), in kNhwc otherwise. The residual (sum) input takes the output's layout.
Result<OpChoice> try_conv_f32(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions& options) {
  HQP_ASSIGN_OR_RETURN(const ConstWeights cw, constant_weights(node));
  const Tensor* w = cw.w;
  const Tensor* b = cw.b;
  if (in[0].dtype != DType::kF32) return reject("input is not f32");
  dnn::ConvF32OnednnParams p;
  HQP_ASSIGN_OR_RETURN(p.conv, reference::conv_params(reference::conv_attrs(node), in[0].shape, w->shape()));
  p.has_bias = b != nullptr;
  p.post_ops = to_dnn(reference::post_ops(node));
  struct Layouts {
    Layout src, dst;
  };
  std::vector<Layouts> layouts;
  if (options.blocked_f32 && p.conv.out_channels % 8 == 0 && consumers_keep_blocked(node)) {
    if (blockable(in[0].shape)) layouts.push_back({Layout::kNchw8c, Layout::kNchw8c});
    // A first conv (a 1..7-channel image in): kNchw in, blocked out.
    else if (p.conv.in_channels < 8 && p.conv.groups == 1) layouts.push_back({Layout::kNchw, Layout::kNchw8c});
  }
  layouts.push_back({Layout::kNhwc, Layout::kNhwc});
  Status last;
  for (const auto [src_layout, layout] : layouts) {
    p.layout = to_dnn(layout);
    p.src_layout = src_layout == layout ? std::nullopt : std::optional<dnn::Layout>(to_dnn(src_layout));
    last = dnn::ConvF32Onednn::applies(p);
    if (!last.ok()) continue;
    Result<dnn::ConvF32Onednn> k = dnn::ConvF32Onednn::create(p, w->data<float>(), b ? b->data<float>() : nullptr);
    if (!k.ok()) {
      last = k.status();
      if (last.code() != StatusCode::kUnsupported) return last;
      continue;
    }
    OpChoice c;
    c.op = std::make_unique<ConvF32Op>(std::move(k).value());
    c.input_layouts.assign(in.size(), layout);
    c.input_layouts[0] = src_layout;
    c.output_layout = layout;
    return c;
  }
  return last;
}

// Inputs an INT8 kernel can give back exactly (weights, and the bias when there is one).
template <typename Kernel>
std::vector<size_t> int8_packed_inputs(const Kernel& k) {
  if (!k.unpackable()) return {};
  return k.params().has_bias ? std::vector<size_t>{1, 2} : std::vector<size_t>{1};
}

bool prefers_f32_emulation(const kernels::ConvParams& conv, DType src_dtype, int32_t src_zero_point, const Tensor& w);

class ConvInt8Op final : public RuntimeOp {
 public:
  ConvInt8Op(dnn::ConvInt8Onednn k, std::string name) : k_(std::move(k)), name_(std::move(name)) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    return k_.run(in[0], in.size() > 3 ? in[3] : nullptr, out[0]);
  }
  std::string implementation() const override {
    return fmt::format("{} ({}{})", name_, k_.implementation(), k_.doubles_input() ? ", input doubled" : "");
  }
  int64_t weight_bytes() const override { return k_.packed_weight_bytes(); }
  std::vector<size_t> packed_inputs() const override { return int8_packed_inputs(k_); }
  Status unpack_input(size_t input, Tensor& dst) const override {
    return input == 1 ? k_.unpack_weights(dst.data<int8_t>()) : k_.unpack_bias(dst.data<int32_t>());
  }

 private:
  dnn::ConvInt8Onednn k_;
  std::string name_;
};

Result<OpChoice> try_qconv(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions& options) {
  HQP_ASSIGN_OR_RETURN(const ConstWeights cw, constant_weights(node));
  const Tensor* w = cw.w;
  const Tensor* b = cw.b;
  dnn::ConvInt8OnednnParams p;
  HQP_ASSIGN_OR_RETURN(p.conv, reference::conv_params(reference::conv_attrs(node), in[0].shape, w->shape()));
  p.layout = dnn::Layout::kNhwc;
  p.exact_without_vnni = true;
  p.src_dtype = in[0].dtype;
  p.has_bias = b != nullptr;
  HQP_ASSIGN_OR_RETURN(reference::Int8Quantization q, reference::int8_quantization(node, w->dim(0)));
  p.out = q.out;
  HQP_RETURN_IF_ERROR(dnn::ConvInt8Onednn::applies(p));
  if (prefers_f32_emulation(p.conv, p.src_dtype, p.out.src_zero_point, *w)) {
    return reject("few input channels per group: conv_int8_via_f32__onednn is faster");
  }
  const int32_t* bias = b ? b->data<int32_t>() : nullptr;
  HQP_ASSIGN_OR_RETURN(dnn::ConvInt8Onednn k,
                       options.tune_kernels
                           ? dnn::ConvInt8Onednn::create_fastest(p, w->data<int8_t>(), q.wei_scales.data(), bias)
                           : dnn::ConvInt8Onednn::create(p, w->data<int8_t>(), q.wei_scales.data(), bias));
  OpChoice c;
  c.op = std::make_unique<ConvInt8Op>(std::move(k), std::string(dnn::ConvInt8Onednn::name(p)));
  c.input_layouts.assign(in.size(), Layout::kNhwc);
  c.output_layout = Layout::kNhwc;
  return c;
}

// INT8 convolution on CPUs without VNNI, where oneDNN's INT8 kernels are not exact
// (kernels/onednn/onednn_common.h): the integer accumulation runs as a oneDNN FP32 convolution of
// (src - src_zero_point) with the s8 weights as floats, the epilogue is the reference's
// (int8_output.h's per-element functions, the ones int8_output_row__ref applies). Exact: every partial sum is an integer of magnitude at most
// max|src - zp| * max_oc sum|w[oc]| <= 2^24 (checked at plan time), which FP32 represents exactly
// whatever the summation order, and the zero padding of (src - zp) is the padding of src with zp.
constexpr double kExactFloatIntegers = 16777216.0;  // 2^24

// The exact integers an FP32 convolution / inner product summed (|v| <= 2^24), as int32.
void float_sums_to_int32(const std::vector<float>& acc_f, std::vector<int32_t>& acc) {
  for (size_t i = 0; i < acc_f.size(); ++i) acc[i] = static_cast<int32_t>(acc_f[i]);
}

// s32 bias of an INT8 conv / gemm node, zeros when it has none (the epilogue kernels take one).
std::vector<int32_t> int8_bias_or_zeros(const Tensor* b, int64_t channels) {
  if (b == nullptr) return std::vector<int32_t>(static_cast<size_t>(channels), 0);
  return std::vector<int32_t>(b->data<int32_t>(), b->data<int32_t>() + b->numel());
}

// dst[i] = src[i] - zero_point as floats (exact: 8-bit values), src u8 or s8 of dst.size() elements.
void centered_f32(DType src_dtype, const void* src, int32_t zero_point, std::vector<float>& dst) {
  const float zp = static_cast<float>(zero_point);
  if (src_dtype == DType::kU8) {
    const auto* x = static_cast<const uint8_t*>(src);
    for (size_t i = 0; i < dst.size(); ++i) dst[i] = static_cast<float>(x[i]) - zp;
  } else {
    const auto* x = static_cast<const int8_t*>(src);
    for (size_t i = 0; i < dst.size(); ++i) dst[i] = static_cast<float>(x[i]) - zp;
  }
}

// max|src - zp| * max over output channels of sum |w|: the largest partial sum an INT8 product can
// reach; w_stride_oc / w_stride_k address w[oc, k].
double int8_partial_sum_bound(DType src_dtype, int32_t zp, const int8_t* w, int64_t channels, int64_t k,
                              int64_t w_stride_oc, int64_t w_stride_k) {
  const bool u8 = src_dtype == DType::kU8;
  const double span = std::max(zp - (u8 ? 0 : -128), (u8 ? 255 : 127) - zp);
  double worst = 0.0;
  for (int64_t oc = 0; oc < channels; ++oc) {
    double sum = 0.0;
    for (int64_t i = 0; i < k; ++i) sum += std::abs(static_cast<double>(w[oc * w_stride_oc + i * w_stride_k]));
    worst = std::max(worst, sum);
  }
  return span * worst;
}

// Without VNNI, a convolution of few input channels per group (an RGB stem) runs ~1.5-2x faster as
// the FP32 emulation (conv_int8_via_f32__onednn) than on oneDNN's INT8 code, which pads the
// channels to 4 and reads them twice; taken when the emulation's exactness bound holds.
constexpr int64_t kInt8MinInputChannels = 8;
bool prefers_f32_emulation(const kernels::ConvParams& conv, DType src_dtype, int32_t src_zero_point, const Tensor& w) {
  if (dnn::int8_kernels_exact_on_this_cpu()) return false;
  const int64_t icg = conv.in_channels / conv.groups;
  const bool depthwise = conv.groups > 1 && icg == 1 && conv.out_channels == conv.groups;
  if (icg >= kInt8MinInputChannels || depthwise) return false;
  const int64_t per_oc = w.numel() / std::max<int64_t>(w.dim(0), 1);
  return int8_partial_sum_bound(src_dtype, src_zero_point, w.data<int8_t>(), w.dim(0), per_oc, per_oc, 1) <=
         kExactFloatIntegers;
}

// INT8 convolution on CPUs without VNNI, exact and on INT8 kernels: oneDNN's u8 convolution on
// split weights gives the exact int32 accumulators (kernels/onednn ConvInt8AccOnednn), then the
// reference epilogue. Tried before conv_int8_via_f32__onednn (FP32 convolutions, ~2x slower on
// AVX2, and only where the FP32 sums stay below 2^24).
class QConvAccOp final : public RuntimeOp {
 public:
  QConvAccOp(dnn::ConvInt8AccOnednn k, reference::Int8Quantization q, std::vector<int32_t> bias)
      : k_(std::move(k)), q_(std::move(q)), bias_(std::move(bias)) {
    const kernels::ConvParams& conv = k_.params().conv;
    int64_t out_numel = conv.batch * conv.out_channels;
    for (int i = 0; i < conv.spatial_rank; ++i) out_numel *= conv.out_size[i];
    acc_.resize(static_cast<size_t>(out_numel * k_.output_pieces()));
    for (int64_t oc = 0; oc < conv.out_channels; ++oc) {
      multipliers_.push_back(kernels::int8_output_multiplier(q_.out, q_.wei_scales[static_cast<size_t>(oc)]));
    }
  }
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    HQP_RETURN_IF_ERROR(k_.run(static_cast<const uint8_t*>(in[0]), acc_.data()));
    const int64_t channels = k_.params().conv.out_channels;
    const int pieces = k_.output_pieces();
    kernels::int8_output_nhwc__x86(q_.out, multipliers_.data(), bias_.data(),
                                   static_cast<int64_t>(acc_.size()) / (channels * pieces), channels, acc_.data(),
                                   in.size() > 3 ? in[3] : nullptr, out[0], pieces);
    return Status();
  }
  std::string implementation() const override {
    return fmt::format("conv_int8_acc__onednn ({}, {} half/halves, {} input slice(s))", k_.implementation(),
                       k_.halves(), k_.ic_splits());
  }
  int64_t weight_bytes() const override { return k_.packed_weight_bytes(); }

 private:
  dnn::ConvInt8AccOnednn k_;
  reference::Int8Quantization q_;
  std::vector<int32_t> bias_;
  std::vector<float> multipliers_;
  std::vector<int32_t> acc_;  // plan-time scratch
};

Result<OpChoice> try_qconv_acc(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  HQP_ASSIGN_OR_RETURN(const ConstWeights cw, constant_weights(node));
  const Tensor* w = cw.w;
  const Tensor* b = cw.b;
  if (in[0].dtype != DType::kU8) return reject("input is not u8");
  if (dnn::int8_kernels_exact_on_this_cpu()) return reject("this CPU has VNNI: conv_int8__onednn applies");
  HQP_ASSIGN_OR_RETURN(reference::Int8Quantization q, reference::int8_quantization(node, w->dim(0)));
  dnn::ConvInt8AccOnednnParams p;
  HQP_ASSIGN_OR_RETURN(p.conv, reference::conv_params(reference::conv_attrs(node), in[0].shape, w->shape()));
  p.src_zero_point = q.out.src_zero_point;
  if (prefers_f32_emulation(p.conv, in[0].dtype, q.out.src_zero_point, *w)) {
    return reject("few input channels per group: conv_int8_via_f32__onednn is faster");
  }
  HQP_ASSIGN_OR_RETURN(dnn::ConvInt8AccOnednn k, dnn::ConvInt8AccOnednn::create(p, w->data<int8_t>()));
  OpChoice c;
  c.op = std::make_unique<QConvAccOp>(std::move(k), std::move(q), int8_bias_or_zeros(b, w->dim(0)));
  c.input_layouts.assign(in.size(), Layout::kNhwc);
  c.output_layout = Layout::kNhwc;
  return c;
}

class QConvViaF32Op final : public RuntimeOp {
 public:
  QConvViaF32Op(dnn::ConvF32Onednn k, kernels::ConvParams conv, reference::Int8Quantization q, DType src_dtype,
                std::vector<int32_t> bias)
      : k_(std::move(k)), conv_(conv), q_(std::move(q)), src_dtype_(src_dtype), bias_(std::move(bias)) {
    int64_t in_numel = conv_.batch * conv_.in_channels, out_plane = 1;
    for (int i = 0; i < conv_.spatial_rank; ++i) {
      in_numel *= conv_.in_size[i];
      out_plane *= conv_.out_size[i];
    }
    src_f32_.resize(static_cast<size_t>(in_numel));
    acc_f32_.resize(static_cast<size_t>(conv_.batch * conv_.out_channels * out_plane));
    acc_.resize(acc_f32_.size());
    for (int64_t oc = 0; oc < conv_.out_channels; ++oc) {
      multipliers_.push_back(kernels::int8_output_multiplier(q_.out, q_.wei_scales[static_cast<size_t>(oc)]));
    }
  }
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    centered_f32(src_dtype_, in[0], q_.out.src_zero_point, src_f32_);
    HQP_RETURN_IF_ERROR(k_.run(src_f32_.data(), nullptr, acc_f32_.data()));
    float_sums_to_int32(acc_f32_, acc_);
    kernels::int8_output_nhwc__x86(q_.out, multipliers_.data(), bias_.data(),
                                   static_cast<int64_t>(acc_.size()) / conv_.out_channels, conv_.out_channels,
                                   acc_.data(), in.size() > 3 ? in[3] : nullptr, out[0]);
    return Status();
  }
  std::string implementation() const override {
    return fmt::format("conv_int8_via_f32__onednn ({})", k_.implementation());
  }
  int64_t weight_bytes() const override { return k_.packed_weight_bytes(); }

 private:
  dnn::ConvF32Onednn k_;
  kernels::ConvParams conv_;
  reference::Int8Quantization q_;
  DType src_dtype_;
  std::vector<int32_t> bias_;
  std::vector<float> multipliers_;
  std::vector<float> src_f32_, acc_f32_;  // plan-time scratch: no allocation per run
  std::vector<int32_t> acc_;
};

Result<OpChoice> try_qconv_via_f32(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  HQP_ASSIGN_OR_RETURN(const ConstWeights cw, constant_weights(node));
  const Tensor* w = cw.w;
  const Tensor* b = cw.b;
  if (in[0].dtype != DType::kU8 && in[0].dtype != DType::kS8) return reject("input is not u8/s8");
  if (dnn::int8_kernels_exact_on_this_cpu()) return reject("this CPU has VNNI: conv_int8__onednn applies");
  HQP_ASSIGN_OR_RETURN(reference::Int8Quantization q, reference::int8_quantization(node, w->dim(0)));
  dnn::ConvF32OnednnParams p;
  HQP_ASSIGN_OR_RETURN(p.conv, reference::conv_params(reference::conv_attrs(node), in[0].shape, w->shape()));
  p.layout = dnn::Layout::kNhwc;
  const int64_t per_oc = w->numel() / std::max<int64_t>(w->dim(0), 1);
  const int8_t* wd = w->data<int8_t>();
  const double bound = int8_partial_sum_bound(in[0].dtype, q.out.src_zero_point, wd, w->dim(0), per_oc, per_oc, 1);
  if (bound > kExactFloatIntegers) return reject(fmt::format("FP32 sums could round (bound {:.0f} > 2^24)", bound));
  HQP_RETURN_IF_ERROR(dnn::ConvF32Onednn::applies(p));
  std::vector<float> wf(static_cast<size_t>(w->numel()));
  for (size_t i = 0; i < wf.size(); ++i) wf[i] = static_cast<float>(wd[i]);
  HQP_ASSIGN_OR_RETURN(dnn::ConvF32Onednn k, dnn::ConvF32Onednn::create(p, wf.data(), nullptr));
  OpChoice c;
  c.op = std::make_unique<QConvViaF32Op>(std::move(k), p.conv, std::move(q), in[0].dtype,
                                         int8_bias_or_zeros(b, w->dim(0)));
  c.input_layouts.assign(in.size(), Layout::kNhwc);
  c.output_layout = Layout::kNhwc;
  return c;
}

class GemmF32Op final : public RuntimeOp {
 public:
  explicit GemmF32Op(dnn::GemmF32Onednn k) : k_(std::move(k)) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    return k_.run(static_cast<const float*>(in[0]), nullptr, static_cast<float*>(out[0]));
  }
  std::string implementation() const override { return fmt::format("{} ({})", dnn::GemmF32Onednn::kName, k_.implementation()); }
  int64_t weight_bytes() const override { return k_.packed_weight_bytes(); }
  std::vector<size_t> packed_inputs() const override {
    return k_.params().has_bias ? std::vector<size_t>{1, 2} : std::vector<size_t>{1};
  }
  Status unpack_input(size_t input, Tensor& dst) const override {
    return input == 1 ? k_.unpack_weights(dst.data<float>()) : k_.unpack_bias(dst.data<float>());
  }

 private:
  dnn::GemmF32Onednn k_;
};

// Common restrictions of the inner-product kernels: A [M, K] activation, B constant, C a constant
// [N] (or absent), transA=0, alpha=beta=1.
Status check_fc_form(const Node& node, const ir::GemmAttrs& g, const Tensor* w, const Tensor* bias, int64_t n) {
  if (w == nullptr) return reject("weights B are not a constant initializer");
  if (g.trans_a != 0 || g.alpha != 1.0f || g.beta != 1.0f) return reject("needs transA=0, alpha=1, beta=1");
  if (node.input(2) != nullptr) {
    if (bias == nullptr) return reject("C is not a constant initializer");
    if (bias->numel() != n || bias->rank() > 2 || (bias->rank() == 2 && bias->dim(0) != 1)) {
      return reject("C is not a [N] bias vector");
    }
  }
  return Status();
}

Result<OpChoice> try_gemm_f32(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  const ir::GemmAttrs& g = reference::gemm_attrs(node);
  const Tensor* w = constant_of(node, 1);
  const Tensor* bias = constant_of(node, 2);
  // A FusedGemm may have an A of rank > 2 (rows of [..., K], transA = 0: fuse_matmul_bias).
  const bool rows = node.kind == OpKind::FusedGemm && g.trans_a == 0 && in[0].shape.size() > 2;
  if (in[0].dtype != DType::kF32 || (in[0].shape.size() != 2 && !rows)) return reject("A is not a 2-D f32 tensor");
  const int64_t n = w ? (g.trans_b ? w->dim(0) : w->dim(1)) : 0;
  HQP_RETURN_IF_ERROR(check_fc_form(node, g, w, bias, n));
  dnn::GemmF32OnednnParams p;
  p.k = in[0].shape.back();
  p.m = 1;
  for (size_t i = 0; i + 1 < in[0].shape.size(); ++i) p.m *= in[0].shape[i];
  p.n = n;
  p.trans_b = g.trans_b != 0;
  p.has_bias = bias != nullptr;
  p.post_ops = to_dnn(reference::post_ops(node));
  HQP_RETURN_IF_ERROR(dnn::GemmF32Onednn::applies(p));
  HQP_ASSIGN_OR_RETURN(dnn::GemmF32Onednn k,
                       dnn::GemmF32Onednn::create(p, w->data<float>(), bias ? bias->data<float>() : nullptr));
  OpChoice c;
  c.op = std::make_unique<GemmF32Op>(std::move(k));
  c.input_layouts.assign(in.size(), Layout::kNchw);
  return c;
}

// MatMul of an f32 A (rank >= 2, row-major) by a constant 2-D B [K, N]: one GEMM over A's flattened
// leading dims (M = numel(A) / K), the form transformer-style blocks export (ConvNeXt's pointwise
// MLP on [N, H, W, C]). Batched or computed B stays on the reference kernel.
Result<OpChoice> try_matmul_f32(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  const Tensor* w = constant_of(node, 1);
  if (w == nullptr || w->rank() != 2 || w->dtype() != DType::kF32) return reject("B is not a constant 2-D f32 matrix");
  if (in[0].dtype != DType::kF32 || in[0].shape.size() < 2) return reject("A is not an f32 tensor of rank >= 2");
  const int64_t k = in[0].shape.back();
  if (k != w->dim(0)) return reject("A's last dim differs from B's rows");
  dnn::GemmF32OnednnParams p;
  p.m = 1;
  for (size_t i = 0; i + 1 < in[0].shape.size(); ++i) p.m *= in[0].shape[i];
  p.k = k;
  p.n = w->dim(1);
  p.trans_b = false;
  HQP_RETURN_IF_ERROR(dnn::GemmF32Onednn::applies(p));
  HQP_ASSIGN_OR_RETURN(dnn::GemmF32Onednn kernel, dnn::GemmF32Onednn::create(p, w->data<float>(), nullptr));
  OpChoice c;
  c.op = std::make_unique<GemmF32Op>(std::move(kernel));
  c.input_layouts.assign(in.size(), Layout::kNchw);  // logical row-major order, whatever the rank
  return c;
}

class GemmInt8Op final : public RuntimeOp {
 public:
  GemmInt8Op(dnn::GemmInt8Onednn k, std::string name) : k_(std::move(k)), name_(std::move(name)) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    return k_.run(in[0], nullptr, out[0]);
  }
  std::string implementation() const override {
    return fmt::format("{} ({}{})", name_, k_.implementation(), k_.doubles_input() ? ", input doubled" : "");
  }
  int64_t weight_bytes() const override { return k_.packed_weight_bytes(); }
  std::vector<size_t> packed_inputs() const override { return int8_packed_inputs(k_); }
  Status unpack_input(size_t input, Tensor& dst) const override {
    return input == 1 ? k_.unpack_weights(dst.data<int8_t>()) : k_.unpack_bias(dst.data<int32_t>());
  }

 private:
  dnn::GemmInt8Onednn k_;
  std::string name_;
};

Result<OpChoice> try_qgemm(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  const auto& a = node.attr<ir::FusedGemmAttrs>();
  const Tensor* w = constant_of(node, 1);
  const Tensor* bias = constant_of(node, 2);
  if (in[0].shape.size() < 2) return reject("A is not at least 2-D");
  const int64_t n = w ? (a.gemm.trans_b ? w->dim(0) : w->dim(1)) : 0;
  HQP_RETURN_IF_ERROR(check_fc_form(node, a.gemm, w, bias, n));
  if (a.post.has_sum) return reject("residual sum on a gemm is not supported");
  dnn::GemmInt8OnednnParams p;
  p.k = in[0].shape.back();  // A [..., K]: the leading dims are rows (a lowered MatMul by a constant)
  p.m = 1;
  for (size_t i = 0; i + 1 < in[0].shape.size(); ++i) p.m *= in[0].shape[i];
  p.n = n;
  p.trans_b = a.gemm.trans_b != 0;
  p.src_dtype = in[0].dtype;
  p.has_bias = bias != nullptr;
  p.exact_without_vnni = true;
  HQP_ASSIGN_OR_RETURN(reference::Int8Quantization q, reference::int8_quantization(node, n));
  p.out = q.out;
  HQP_RETURN_IF_ERROR(dnn::GemmInt8Onednn::applies(p));
  HQP_ASSIGN_OR_RETURN(dnn::GemmInt8Onednn k, dnn::GemmInt8Onednn::create(p, w->data<int8_t>(), q.wei_scales.data(),
                                                                           bias ? bias->data<int32_t>() : nullptr));
  OpChoice c;
  c.op = std::make_unique<GemmInt8Op>(std::move(k), std::string(dnn::GemmInt8Onednn::name(p)));
  c.input_layouts.assign(in.size(), Layout::kNchw);
  return c;
}

// INT8 Gemm on CPUs without VNNI: as QConvViaF32Op, a oneDNN FP32 inner product of
// (A - zero point) with the s8 weights as floats, then the reference epilogue; exact under the
// same 2^24 bound (checked at plan time), else the reference kernel runs.
class QGemmViaF32Op final : public RuntimeOp {
 public:
  QGemmViaF32Op(dnn::GemmF32Onednn k, int64_t m, int64_t n, int64_t kdim, reference::Int8Quantization q,
                DType src_dtype, std::vector<int32_t> bias)
      : k_(std::move(k)), n_(n), q_(std::move(q)), src_dtype_(src_dtype), bias_(std::move(bias)),
        src_f32_(static_cast<size_t>(m * kdim)), acc_f32_(static_cast<size_t>(m * n)), acc_(acc_f32_.size()) {
    for (int64_t j = 0; j < n; ++j) {
      multipliers_.push_back(kernels::int8_output_multiplier(q_.out, q_.wei_scales[static_cast<size_t>(j)]));
    }
  }
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    centered_f32(src_dtype_, in[0], q_.out.src_zero_point, src_f32_);
    HQP_RETURN_IF_ERROR(k_.run(src_f32_.data(), nullptr, acc_f32_.data()));
    float_sums_to_int32(acc_f32_, acc_);
    kernels::int8_output_nhwc__x86(q_.out, multipliers_.data(), bias_.data(), static_cast<int64_t>(acc_.size()) / n_,
                                   n_, acc_.data(), nullptr, out[0]);
    return Status();
  }
  std::string implementation() const override {
    return fmt::format("gemm_int8_via_f32__onednn ({})", k_.implementation());
  }
  int64_t weight_bytes() const override { return k_.packed_weight_bytes(); }

 private:
  dnn::GemmF32Onednn k_;
  int64_t n_;
  reference::Int8Quantization q_;
  DType src_dtype_;
  std::vector<int32_t> bias_;
  std::vector<float> multipliers_;
  std::vector<float> src_f32_, acc_f32_;
  std::vector<int32_t> acc_;
};

Result<OpChoice> try_qgemm_via_f32(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  const auto& a = node.attr<ir::FusedGemmAttrs>();
  const Tensor* w = constant_of(node, 1);
  const Tensor* bias = constant_of(node, 2);
  if (in[0].shape.size() < 2) return reject("A is not at least 2-D");
  if (in[0].dtype != DType::kU8 && in[0].dtype != DType::kS8) return reject("A is not u8/s8");
  if (dnn::int8_kernels_exact_on_this_cpu()) return reject("this CPU has VNNI: gemm_int8__onednn applies");
  const int64_t n = w ? (a.gemm.trans_b ? w->dim(0) : w->dim(1)) : 0;
  HQP_RETURN_IF_ERROR(check_fc_form(node, a.gemm, w, bias, n));
  if (a.post.has_sum) return reject("residual sum on a gemm is not supported");
  const int64_t k = in[0].shape.back();  // A [..., K]: the leading dims are rows
  int64_t m = 1;
  for (size_t i = 0; i + 1 < in[0].shape.size(); ++i) m *= in[0].shape[i];
  HQP_ASSIGN_OR_RETURN(reference::Int8Quantization q, reference::int8_quantization(node, n));
  const bool tb = a.gemm.trans_b != 0;
  const double bound = int8_partial_sum_bound(in[0].dtype, q.out.src_zero_point, w->data<int8_t>(), n, k,
                                              tb ? k : 1, tb ? 1 : n);
  if (bound > kExactFloatIntegers) return reject(fmt::format("FP32 sums could round (bound {:.0f} > 2^24)", bound));
  dnn::GemmF32OnednnParams p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.trans_b = tb;
  HQP_RETURN_IF_ERROR(dnn::GemmF32Onednn::applies(p));
  std::vector<float> wf(static_cast<size_t>(w->numel()));
  for (size_t i = 0; i < wf.size(); ++i) wf[i] = static_cast<float>(w->data<int8_t>()[i]);
  HQP_ASSIGN_OR_RETURN(dnn::GemmF32Onednn kernel, dnn::GemmF32Onednn::create(p, wf.data(), nullptr));
  OpChoice c;
  c.op = std::make_unique<QGemmViaF32Op>(std::move(kernel), m, n, k, std::move(q), in[0].dtype,
                                         int8_bias_or_zeros(bias, n));
  c.input_layouts.assign(in.size(), Layout::kNchw);
  return c;
}

class PoolOp final : public RuntimeOp {
 public:
  PoolOp(dnn::PoolOnednn k, std::string name) : k_(std::move(k)), name_(std::move(name)) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override { return k_.run(in[0], out[0]); }
  std::string implementation() const override { return fmt::format("{} ({})", name_, k_.implementation()); }

 private:
  dnn::PoolOnednn k_;
  std::string name_;
};

// True when a ReduceMean averages exactly the spatial axes 2.. of its rank-3..5 input (torchvision's
// `x.mean([2, 3])`, MNASNet's head): the same values as GlobalAveragePool, whose output bytes
// ([N, C, 1..] in any layout) are those of the [N, C] a keepdims = 0 reduction writes.
// (ReduceMean's axes are an attribute up to opset 17, the importer's limit for it.)
bool reduces_spatial_axes(const Node& node, size_t rank) {
  Result<std::vector<bool>> reduce = ir::reduced_axes(node.attr<ir::ReduceAttrs>(), std::nullopt, static_cast<int64_t>(rank));
  if (!reduce.ok()) return false;
  for (size_t i = 0; i < rank; ++i) {
    if ((*reduce)[i] != (i >= 2)) return false;
  }
  return true;
}

Result<OpChoice> try_pool(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  const Shape& x = in[0].shape;
  if (x.size() < 3 || x.size() > 5) return reject("input rank is not 3..5");
  dnn::PoolOnednnParams p;
  const bool global_average = node.kind == OpKind::GlobalAveragePool || node.kind == OpKind::ReduceMean;
  if (node.kind == OpKind::ReduceMean && !reduces_spatial_axes(node, x.size())) {
    return reject("ReduceMean is not over exactly the spatial axes");
  }
  if (global_average) {
    if (in[0].dtype != DType::kF32) return reject("input is not f32");
    Shape sp(x.begin() + 2, x.end());
    p = dnn::global_average_pool_params(x[0], x[1], static_cast<int>(sp.size()), sp.data(), dnn::Layout::kNhwc);
  } else {
    const bool is_max = node.kind == OpKind::MaxPool;
    if (is_max && node.output(1) != nullptr) return reject("the Indices output is not supported");
    HQP_ASSIGN_OR_RETURN(p.pool, reference::pool_params(node.attr<ir::PoolAttrs>(), x, is_max));
    p.algorithm = is_max ? dnn::PoolAlgorithm::kMax : dnn::PoolAlgorithm::kAverage;
    p.dtype = in[0].dtype;
  }
  // Pooling keeps a kNchw8c input blocked (the conv chain around it stays so); kNhwc otherwise.
  const Layout layout = in[0].layout == Layout::kNchw8c && blockable(x) ? Layout::kNchw8c : Layout::kNhwc;
  p.layout = to_dnn(layout);
  HQP_RETURN_IF_ERROR(dnn::PoolOnednn::applies(p));
  HQP_ASSIGN_OR_RETURN(dnn::PoolOnednn k, dnn::PoolOnednn::create(p));
  OpChoice c;
  c.op = std::make_unique<PoolOp>(std::move(k), std::string(dnn::PoolOnednn::name(p)));
  c.input_layouts = {layout};
  // A global average's output is layout-agnostic; ReduceMean with keepdims = 0 writes a row-major [N, C].
  const bool drops_spatial = node.kind == OpKind::ReduceMean && node.attr<ir::ReduceAttrs>().keepdims == 0;
  c.output_layout = drops_spatial ? Layout::kNchw : layout;
  return c;
}

class EltwiseOp final : public RuntimeOp {
 public:
  EltwiseOp(dnn::EltwiseF32Onednn k, std::string name) : k_(std::move(k)), name_(std::move(name)) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    return k_.run(static_cast<const float*>(in[0]), static_cast<float*>(out[0]));
  }
  std::string implementation() const override { return fmt::format("{} ({})", name_, k_.implementation()); }

 private:
  dnn::EltwiseF32Onednn k_;
  std::string name_;
};

Result<OpChoice> try_eltwise(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  if (in[0].dtype != DType::kF32) return reject("input is not f32");
  dnn::EltwiseF32OnednnParams p;
  p.count = 1;
  for (int64_t d : in[0].shape) p.count *= d;
  switch (node.kind) {
    case OpKind::Relu: p.activation = dnn::Activation::kRelu; break;
    case OpKind::Sigmoid: p.activation = dnn::Activation::kSigmoid; break;
    case OpKind::HardSwish: p.activation = dnn::Activation::kHardSwish; break;
    case OpKind::LeakyRelu:
      p.activation = dnn::Activation::kLeakyRelu;
      p.alpha = node.attr<ir::LeakyReluAttrs>().alpha;
      break;
    case OpKind::Tanh: p.activation = dnn::Activation::kTanh; break;
    case OpKind::Exp: p.activation = dnn::Activation::kExp; break;
    case OpKind::Sqrt: p.activation = dnn::Activation::kSqrt; break;
    case OpKind::Gelu: p.activation = dnn::Activation::kGeluErf; break;
    case OpKind::Silu: p.activation = dnn::Activation::kSwish; break;
    case OpKind::HardSigmoid:
      p.activation = dnn::Activation::kHardSigmoid;
      p.alpha = node.attr<ir::HardSigmoidAttrs>().alpha;
      p.beta = node.attr<ir::HardSigmoidAttrs>().beta;
      break;
    case OpKind::Clip: {
      const auto& a = node.attr<ir::ClipAttrs>();
      p.activation = dnn::Activation::kClip;
      p.alpha = a.min.value_or(-std::numeric_limits<float>::infinity());
      p.beta = a.max.value_or(std::numeric_limits<float>::infinity());
      for (size_t i = 1; i < 3; ++i) {
        if (node.input(i) == nullptr) continue;
        const Tensor* t = constant_of(node, i);
        if (t == nullptr) return reject("clip bounds are not constant");
        (i == 1 ? p.alpha : p.beta) = t->data<float>()[0];
      }
      break;
    }
    default: return reject("not an activation");
  }
  HQP_RETURN_IF_ERROR(dnn::EltwiseF32Onednn::applies(p));
  HQP_ASSIGN_OR_RETURN(dnn::EltwiseF32Onednn k, dnn::EltwiseF32Onednn::create(p));
  OpChoice c;
  c.op = std::make_unique<EltwiseOp>(std::move(k), std::string(dnn::EltwiseF32Onednn::name(p)));
  c.input_layouts.assign(in.size(), in[0].layout);  // element-wise: any layout, kept
  c.output_layout = in[0].layout;
  return c;
}

class BinaryOp final : public RuntimeOp {
 public:
  BinaryOp(dnn::BinaryF32Onednn k, std::string name) : k_(std::move(k)), name_(std::move(name)) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    return k_.run(static_cast<const float*>(in[0]), static_cast<const float*>(in[1]), static_cast<float*>(out[0]));
  }
  std::string implementation() const override { return fmt::format("{} ({})", name_, k_.implementation()); }

 private:
  dnn::BinaryF32Onednn k_;
  std::string name_;
};

Result<OpChoice> try_binary(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  if (in[0].dtype != DType::kF32 || in[1].dtype != DType::kF32) return reject("inputs are not f32");
  const size_t rank = std::max(in[0].shape.size(), in[1].shape.size());
  if (rank < 1 || rank > 6) return reject("rank is not 1..6");
  dnn::BinaryF32OnednnParams p;
  p.algorithm = node.kind == OpKind::Add ? dnn::BinaryAlgorithm::kAdd : dnn::BinaryAlgorithm::kMul;
  p.rank = static_cast<int>(rank);
  for (size_t i = 0; i < rank; ++i) {
    const size_t lead0 = rank - in[0].shape.size();
    const size_t lead1 = rank - in[1].shape.size();
    p.src0_dims[i] = i < lead0 ? 1 : in[0].shape[i - lead0];
    p.src1_dims[i] = i < lead1 ? 1 : in[1].shape[i - lead1];
  }
  // The layout follows the first non-agnostic operand; the other must match (or be agnostic).
  Layout layout = Layout::kNchw;
  if (!layout_agnostic(in[0].shape)) layout = in[0].layout;
  else if (!layout_agnostic(in[1].shape)) layout = in[1].layout;
  if (rank < 3 || rank > 5) layout = Layout::kNchw;
  // kNchw8c holds only C % 8 == 0 tensors: a broadcast operand with fewer channels ([N, 1, H, W],
  // a scalar) sends both to kNhwc.
  if (layout == Layout::kNchw8c &&
      (!blockable(Shape(p.src0_dims, p.src0_dims + rank)) || !blockable(Shape(p.src1_dims, p.src1_dims + rank)))) {
    layout = Layout::kNhwc;
  }
  p.layout = to_dnn(layout);
  HQP_RETURN_IF_ERROR(dnn::BinaryF32Onednn::applies(p));
  HQP_ASSIGN_OR_RETURN(dnn::BinaryF32Onednn k, dnn::BinaryF32Onednn::create(p));
  OpChoice c;
  c.op = std::make_unique<BinaryOp>(std::move(k), std::string(dnn::BinaryF32Onednn::name(p)));
  c.input_layouts = {layout, layout};
  c.output_layout = layout;
  return c;
}

class ReorderOp final : public RuntimeOp {
 public:
  explicit ReorderOp(dnn::LayoutReorderOnednn k) : k_(std::move(k)) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override { return k_.run(in[0], out[0]); }
  std::string implementation() const override { return fmt::format("{} ({})", dnn::LayoutReorderOnednn::kName, k_.implementation()); }

 private:
  dnn::LayoutReorderOnednn k_;
};

// Strides (elements) of each logical dim of an activation as it lies in memory in `layout`.
std::vector<int64_t> physical_strides(const Shape& shape, Layout layout) {
  const size_t r = shape.size();
  std::vector<int64_t> strides(r, 1);
  if (layout == Layout::kNhwc && r >= 3) {  // memory order N, spatial..., C
    int64_t s = shape[1];
    for (size_t i = r; i-- > 2;) {
      strides[i] = s;
      s *= shape[i];
    }
    strides[0] = s;
    return strides;
  }
  for (size_t i = r; i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

class TransposeOp final : public RuntimeOp {
 public:
  explicit TransposeOp(dnn::StridedCopyOnednn k) : k_(std::move(k)) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override { return k_.run(in[0], out[0]); }
  std::string implementation() const override {
    return fmt::format("{} ({})", dnn::StridedCopyOnednn::kName, k_.implementation());
  }

 private:
  dnn::StridedCopyOnednn k_;
};

// Transpose as a strided copy from the input's memory order (whichever layout it has now: no reorder
// before it) into the output layout that makes the copy a memcpy where one exists — ConvNeXt's
// NHWC activation -> [N, H, W, C] permute is then a plain copy, and so is its way back.
Result<OpChoice> try_transpose(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  const Shape& x = in[0].shape;
  const int r = static_cast<int>(x.size());
  if (r < 1 || r > kernels::kMaxKernelRank) return reject("rank outside 1..8");
  std::vector<int64_t> perm = node.attr<ir::TransposeAttrs>().perm;
  if (perm.empty()) {
    for (int i = 0; i < r; ++i) perm.push_back(r - 1 - i);
  }
  if (static_cast<int>(perm.size()) != r) return reject("perm length differs from the input rank");
  // kNchw8c has no per-dim strides: such an input is reordered to kNchw first.
  const Layout in_layout = layout_agnostic(x) || in[0].layout == Layout::kNchw8c ? Layout::kNchw : in[0].layout;
  const std::vector<int64_t> in_strides = physical_strides(x, in_layout);
  dnn::StridedCopyOnednnParams p;
  p.dtype = in[0].dtype;
  p.rank = r;
  Shape y(static_cast<size_t>(r));
  for (int i = 0; i < r; ++i) {
    const int64_t a = perm[static_cast<size_t>(i)];
    if (a < 0 || a >= r) return reject("perm entry out of range");
    y[static_cast<size_t>(i)] = x[static_cast<size_t>(a)];
    p.dims[i] = y[static_cast<size_t>(i)];
    p.src_strides[i] = in_strides[static_cast<size_t>(a)];
  }
  Layout out_layout = Layout::kNchw;
  if (r >= 3 && r <= 5 && !layout_agnostic(y)) {
    const std::vector<int64_t> nhwc = physical_strides(y, Layout::kNhwc);
    bool same = true;
    for (int i = 0; i < r; ++i) {
      if (y[static_cast<size_t>(i)] > 1 && nhwc[static_cast<size_t>(i)] != p.src_strides[i]) same = false;
    }
    if (same) out_layout = Layout::kNhwc;
  }
  const std::vector<int64_t> out_strides = physical_strides(y, out_layout);
  for (int i = 0; i < r; ++i) p.dst_strides[i] = out_strides[static_cast<size_t>(i)];
  HQP_RETURN_IF_ERROR(dnn::StridedCopyOnednn::applies(p));
  HQP_ASSIGN_OR_RETURN(dnn::StridedCopyOnednn k, dnn::StridedCopyOnednn::create(p));
  OpChoice c;
  c.op = std::make_unique<TransposeOp>(std::move(k));
  c.input_layouts = {in_layout};
  c.output_layout = out_layout;
  return c;
}

class LayerNormOp final : public RuntimeOp {
 public:
  explicit LayerNormOp(dnn::LayerNormF32Onednn k) : k_(std::move(k)) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    return k_.run(static_cast<const float*>(in[0]), static_cast<float*>(out[0]));
  }
  std::string implementation() const override {
    return fmt::format("{} ({})", dnn::LayerNormF32Onednn::kName, k_.implementation());
  }

 private:
  dnn::LayerNormF32Onednn k_;
};

// LayerNormalization producing Y only, with constant Scale / B, over the trailing axes of a
// row-major tensor (the fused PyTorch pattern, ConvNeXt's channels-last norm).
Result<OpChoice> try_layer_norm(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  if (in[0].dtype != DType::kF32) return reject("X is not f32");
  if (node.num_outputs() > 1 && (node.output(1) != nullptr || (node.num_outputs() > 2 && node.output(2) != nullptr))) {
    return reject("Mean / InvStdDev outputs are produced");
  }
  const Tensor* scale = constant_of(node, 1);
  const Tensor* bias = node.input(2) != nullptr ? constant_of(node, 2) : nullptr;
  if (scale == nullptr || (node.input(2) != nullptr && bias == nullptr)) return reject("Scale / B are not constants");
  const ir::LayerNormAttrs& a = node.attr<ir::LayerNormAttrs>();
  const Shape& x = in[0].shape;
  const int64_t r = static_cast<int64_t>(x.size());
  const int64_t axis = a.axis < 0 ? a.axis + r : a.axis;
  if (axis < 0 || axis >= r) return reject("axis out of range");
  dnn::LayerNormF32OnednnParams p;
  p.rows = 1;
  p.inner = 1;
  for (int64_t i = 0; i < r; ++i) (i < axis ? p.rows : p.inner) *= x[static_cast<size_t>(i)];
  p.epsilon = a.epsilon;
  p.has_bias = bias != nullptr;
  HQP_RETURN_IF_ERROR(dnn::LayerNormF32Onednn::applies(p));
  HQP_ASSIGN_OR_RETURN(dnn::LayerNormF32Onednn k,
                       dnn::LayerNormF32Onednn::create(p, scale->data<float>(), scale->numel(),
                                                       bias ? bias->data<float>() : nullptr, bias ? bias->numel() : 0));
  OpChoice c;
  c.op = std::make_unique<LayerNormOp>(std::move(k));
  c.input_layouts.assign(in.size(), Layout::kNchw);  // logical row-major order
  return c;
}

// Concat in the memory order its inputs have: in any layout, the output is [outer, sum of the
// inputs' axis lengths, inner] over the physical dims (channels-last on the channel axis: outer =
// N * spatial, inner = 1), so the reference concat moves the same bytes without a layout reorder
// around it (GoogLeNet / DenseNet / SqueezeNet / ShuffleNet concatenate channels-last conv outputs).
class ConcatOp final : public RuntimeOp {
 public:
  ConcatOp(std::vector<int64_t> axis_lens, int64_t outer, int64_t inner, size_t elem_size)
      : axis_lens_(std::move(axis_lens)), outer_(outer), inner_(inner), elem_size_(elem_size) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    kernels::concat_any__ref(in, axis_lens_, outer_, inner_, elem_size_, out[0]);
    return Status::ok_status();
  }
  std::string implementation() const override { return "concat__any_layout"; }

 private:
  std::vector<int64_t> axis_lens_;
  int64_t outer_, inner_;
  size_t elem_size_;
};

Result<OpChoice> try_concat(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  const Shape& x = in[0].shape;
  const int64_t r = static_cast<int64_t>(x.size());
  const int64_t axis = node.attr<ir::AxisAttrs>().axis < 0 ? node.attr<ir::AxisAttrs>().axis + r
                                                            : node.attr<ir::AxisAttrs>().axis;
  if (axis < 0 || axis >= r) return reject("axis out of range");
  std::vector<int64_t> lens;
  bool all_agnostic = true;
  for (size_t i = 0; i < in.size(); ++i) {
    if (constant_of(node, i) != nullptr) return reject("an input is a constant");
    if (in[i].dtype != in[0].dtype || in[i].shape.size() != x.size()) return reject("inputs differ in dtype or rank");
    lens.push_back(in[i].shape[static_cast<size_t>(axis)]);
    all_agnostic = all_agnostic && layout_agnostic(in[i].shape);
  }
  Layout layout = r >= 3 && r <= 5 && !all_agnostic ? in[0].layout : Layout::kNchw;
  // kNchw8c along the channel axis with every input's C % 8 == 0: each input's part of one image is
  // contiguous as in kNchw ([C_i / 8, spatial..., 8]), so the kNchw arithmetic below applies.
  if (layout == Layout::kNchw8c) {
    bool blocked = axis == 1;
    for (const SlotInfo& s : in) blocked = blocked && blockable(s.shape);
    if (!blocked) layout = Layout::kNhwc;
  }
  // Physical order of the logical dims: channels-last puts axis 1 last.
  std::vector<int64_t> order;
  for (int64_t i = 0; i < r; ++i) order.push_back(i);
  if (layout == Layout::kNhwc) {
    order.erase(order.begin() + 1);
    order.push_back(1);
  }
  int64_t outer = 1, inner = 1;
  bool after = false;
  for (int64_t d : order) {
    if (d == axis) {
      after = true;
      continue;
    }
    (after ? inner : outer) *= x[static_cast<size_t>(d)];
  }
  OpChoice c;
  c.op = std::make_unique<ConcatOp>(std::move(lens), outer, inner, dtype_size(in[0].dtype));
  c.input_layouts.assign(in.size(), layout);
  c.output_layout = layout;
  return c;
}

class BatchNormOp final : public RuntimeOp {
 public:
  explicit BatchNormOp(dnn::BatchNormF32Onednn k) : k_(std::move(k)) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    return k_.run(static_cast<const float*>(in[0]), static_cast<float*>(out[0]));
  }
  std::string implementation() const override {
    return fmt::format("{} ({})", dnn::BatchNormF32Onednn::kName, k_.implementation());
  }

 private:
  dnn::BatchNormF32Onednn k_;
};

// Inference BatchNormalization with constant parameters that no conv absorbed (fold_batchnorm
// folds the others), channels-last or blocked.
Result<OpChoice> try_batch_norm(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  const Shape& x = in[0].shape;
  if (in[0].dtype != DType::kF32 || x.size() < 3 || x.size() > 5) return reject("X is not an f32 tensor of rank 3..5");
  if (node.attr<ir::BatchNormAttrs>().training_mode != 0) return reject("training_mode is set");
  for (size_t i = 1; i < node.num_outputs(); ++i) {
    if (node.output(i) != nullptr) return reject("running statistics are produced");
  }
  const Tensor* t[4];
  for (size_t i = 0; i < 4; ++i) {
    t[i] = constant_of(node, i + 1);
    if (t[i] == nullptr || t[i]->dtype() != DType::kF32 || t[i]->numel() != x[1]) {
      return reject("scale / B / mean / var are not constant [C] f32 vectors");
    }
  }
  dnn::BatchNormF32OnednnParams p;
  p.rank = static_cast<int>(x.size());
  for (size_t i = 0; i < x.size(); ++i) p.dims[i] = x[i];
  p.epsilon = node.attr<ir::BatchNormAttrs>().epsilon;
  // Channels-last, or blocked when the input is (DenseNet's conv -> Concat -> BatchNorm chains).
  const Layout layout = in[0].layout == Layout::kNchw8c && blockable(x) ? Layout::kNchw8c : Layout::kNhwc;
  p.layout = to_dnn(layout);
  HQP_RETURN_IF_ERROR(dnn::BatchNormF32Onednn::applies(p));
  HQP_ASSIGN_OR_RETURN(dnn::BatchNormF32Onednn k,
                       dnn::BatchNormF32Onednn::create(p, t[0]->data<float>(), t[1]->data<float>(),
                                                       t[2]->data<float>(), t[3]->data<float>()));
  OpChoice c;
  c.op = std::make_unique<BatchNormOp>(std::move(k));
  c.input_layouts.assign(in.size(), Layout::kNchw);
  c.input_layouts[0] = layout;
  c.output_layout = layout;
  return c;
}

// Per-tensor QuantizeLinear f32 -> u8/s8 or DequantizeLinear u8/s8 -> f32 on the x86 INT8 loops
// (kernels/x86/quantize_x86.h: the reference's loop bodies, bit-equal), in any layout.
class PerTensorQdqOp final : public RuntimeOp {
 public:
  // int8: the 8-bit side's type (the output of a Quantize, the input of a Dequantize).
  PerTensorQdqOp(bool quantize, int64_t n, float scale, int32_t zero_point, DType int8)
      : quantize_(quantize), n_(n), scale_(scale), zero_u8_(static_cast<uint8_t>(zero_point)),
        zero_s8_(static_cast<int8_t>(zero_point)), u8_(int8 == DType::kU8) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    kernels::QuantizeParams p;
    p.inner = n_;
    if (quantize_) {
      const float* x = static_cast<const float*>(in[0]);
      if (u8_) {
        kernels::quantize_linear_u8__x86(p, x, &scale_, &zero_u8_, static_cast<uint8_t*>(out[0]));
      } else {
        kernels::quantize_linear_s8__x86(p, x, &scale_, &zero_s8_, static_cast<int8_t*>(out[0]));
      }
    } else {
      float* y = static_cast<float*>(out[0]);
      if (u8_) {
        kernels::dequantize_linear_u8__x86(p, static_cast<const uint8_t*>(in[0]), &scale_, &zero_u8_, y);
      } else {
        kernels::dequantize_linear_s8__x86(p, static_cast<const int8_t*>(in[0]), &scale_, &zero_s8_, y);
      }
    }
    return Status();
  }
  std::string implementation() const override {
    return fmt::format("{}__x86 ({})", quantize_ ? "quantize_linear" : "dequantize_linear",
                       kernels::int8_eltwise__x86_isa());
  }

 private:
  bool quantize_;
  int64_t n_;
  float scale_;
  uint8_t zero_u8_;
  int8_t zero_s8_;
  bool u8_;
};

// QuantizeLinear f32 -> u8/s8 along the channel axis (axis 1: NNCF's per-channel activations) on the
// x86 loops (bit-equal to the reference), in channels-first or channels-last layout: the axis is
// the middle or the innermost dimension of the loop.
class PerChannelQuantizeOp final : public RuntimeOp {
 public:
  PerChannelQuantizeOp(kernels::QuantizeParams p, bool channels_last, std::vector<float> scale, Tensor zero_point)
      : p_(p), channels_last_(channels_last), scale_(std::move(scale)), zero_point_(std::move(zero_point)) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    const float* x = static_cast<const float*>(in[0]);
    if (zero_point_.dtype() == DType::kU8) {
      kernels::quantize_linear_u8__x86(p_, x, scale_.data(), zero_point_.data<uint8_t>(), static_cast<uint8_t*>(out[0]));
    } else {
      kernels::quantize_linear_s8__x86(p_, x, scale_.data(), zero_point_.data<int8_t>(), static_cast<int8_t*>(out[0]));
    }
    return Status();
  }
  std::string implementation() const override {
    return fmt::format("quantize_linear_per_channel__x86 ({}{})", kernels::int8_eltwise__x86_isa(),
                       channels_last_ ? ", channels last" : "");
  }

 private:
  kernels::QuantizeParams p_;
  bool channels_last_;
  std::vector<float> scale_;
  Tensor zero_point_;  // [C], the output's type
};

Result<OpChoice> try_quantize_per_channel(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  if (node.kind != OpKind::QuantizeLinear) return reject("not a QuantizeLinear");
  const Tensor* scale = constant_of(node, 1);
  const Tensor* zp = constant_of(node, 2);
  const DType out = node.output(0)->dtype;
  if (scale == nullptr || scale->numel() < 2 || scale->dtype() != DType::kF32 || scale->rank() != 1) {
    return reject("scale is not a constant vector");
  }
  if (zp == nullptr || zp->dtype() != out || zp->numel() != scale->numel()) {
    return reject("zero point is not a constant vector of the output type");
  }
  if (in[0].dtype != DType::kF32 || (out != DType::kU8 && out != DType::kS8)) return reject("not f32 -> u8/s8");
  const Shape& x = in[0].shape;
  const auto& a = node.attr<ir::AxisAttrs>();
  HQP_ASSIGN_OR_RETURN(const int64_t axis,
                       ir::normalize_axis(a.present ? a.axis : 1, static_cast<int64_t>(x.size()), "axis"));
  if (axis != 1 || x.size() < 2 || x[1] != scale->numel()) return reject("not per channel (axis 1)");
  if (in[0].layout == Layout::kNchw8c) return reject("blocked layout");
  for (int64_t i = 0; i < scale->numel(); ++i) {
    const float s = scale->data<float>()[i];
    if (!(s > 0.0f) || !std::isfinite(s)) return reject("a scale is not positive and finite");
  }
  kernels::QuantizeParams p;
  int64_t spatial = 1;
  for (size_t d = 2; d < x.size(); ++d) spatial *= x[d];
  const bool channels_last = in[0].layout == Layout::kNhwc && !runtime::layout_agnostic(x);
  p.outer = channels_last ? x[0] * spatial : x[0];
  p.axis_len = x[1];
  p.inner = channels_last ? 1 : spatial;
  OpChoice c;
  std::vector<float> scales(scale->data<float>(), scale->data<float>() + scale->numel());
  c.op = std::make_unique<PerChannelQuantizeOp>(p, channels_last, std::move(scales), *zp);
  c.input_layouts.assign(in.size(), in[0].layout);
  c.output_layout = in[0].layout;
  return c;
}

// Per-tensor QuantizeLinear / DequantizeLinear are element-wise: they run on the bytes in whatever
// layout they are, so no reorder is needed around them. f32 <-> u8/s8 on the x86 loops; the rest
// (per-axis, s32, other dtypes) on the reference kernel, which reads and writes channels-first.
Result<OpChoice> try_qdq_any_layout(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  const Tensor* scale = constant_of(node, 1);
  if (scale == nullptr) return reject("scale is not constant");
  if (scale->numel() != 1) {
    // Per-axis: the reference kernel, on channels-first data (the axis is an index into the logical shape).
    OpChoice c;
    HQP_ASSIGN_OR_RETURN(c.op, RefOp::create(node, in, /*opset=*/13));
    c.input_layouts.assign(in.size(), Layout::kNchw);
    c.output_layout = Layout::kNchw;
    return c;
  }
  const Tensor* zp = constant_of(node, 2);
  if (node.input(2) != nullptr && zp == nullptr) return reject("zero point is not constant");
  OpChoice c;
  const DType out = node.output(0)->dtype;
  const float s = scale->dtype() == DType::kF32 ? scale->data<float>()[0] : 0.0f;
  if (node.kind == OpKind::QuantizeLinear && in[0].dtype == DType::kF32 && (out == DType::kU8 || out == DType::kS8) &&
      (zp == nullptr || zp->dtype() == out) && s > 0.0f && std::isfinite(s)) {
    HQP_ASSIGN_OR_RETURN(const int64_t n, checked_numel(in[0].shape));
    c.op = std::make_unique<PerTensorQdqOp>(true, n, s, zp != nullptr ? static_cast<int32_t>(zp->element_as_int64(0)) : 0,
                                            out);
  } else if (node.kind == OpKind::DequantizeLinear && (in[0].dtype == DType::kU8 || in[0].dtype == DType::kS8) &&
             out == DType::kF32 && scale->dtype() == DType::kF32 && (zp == nullptr || zp->dtype() == in[0].dtype)) {
    HQP_ASSIGN_OR_RETURN(const int64_t n, checked_numel(in[0].shape));
    c.op = std::make_unique<PerTensorQdqOp>(false, n, s, zp != nullptr ? static_cast<int32_t>(zp->element_as_int64(0)) : 0,
                                            in[0].dtype);
  } else {
    HQP_ASSIGN_OR_RETURN(c.op, RefOp::create(node, in, /*opset=*/13));  // Q/DQ semantics of opset >= 13
  }
  c.input_layouts.assign(in.size(), in[0].layout);
  c.output_layout = in[0].layout;
  return c;
}

// QAdd is element-wise over two equal shapes: it runs in whatever layout the first input has (the
// second is reordered to it when it differs).
class QAddOp final : public RuntimeOp {
 public:
  QAddOp(kernels::QAddParams p, DType dtype) : p_(p), dtype_(dtype) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    if (dtype_ == DType::kU8) {
      kernels::qadd_u8__x86(p_, static_cast<const uint8_t*>(in[0]), static_cast<const uint8_t*>(in[1]),
                            static_cast<uint8_t*>(out[0]));
    } else {
      kernels::qadd_s8__x86(p_, static_cast<const int8_t*>(in[0]), static_cast<const int8_t*>(in[1]),
                            static_cast<int8_t*>(out[0]));
    }
    return Status();
  }
  std::string implementation() const override {
    return fmt::format("qadd__x86 ({})", kernels::int8_eltwise__x86_isa());
  }

 private:
  kernels::QAddParams p_;
  DType dtype_;
};

Result<OpChoice> try_qadd_any_layout(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  if (in[0].dtype != in[1].dtype || (in[0].dtype != DType::kU8 && in[0].dtype != DType::kS8)) {
    return reject("inputs are not one 8-bit type");
  }
  if (in[0].shape != in[1].shape) return reject("input shapes differ");
  HQP_ASSIGN_OR_RETURN(const int64_t n, checked_numel(in[0].shape));
  HQP_ASSIGN_OR_RETURN(kernels::QAddParams p, reference::qadd_params(node, n));
  OpChoice c;
  c.op = std::make_unique<QAddOp>(p, in[0].dtype);
  c.input_layouts.assign(in.size(), in[0].layout);
  c.output_layout = in[0].layout;
  return c;
}

// ---------------------------------------------------------------- INT8 element-wise ops
// QAdd / QMul / QGlobalAveragePool / per-tensor QuantizeLinear: the reference loops rebuilt for
// AVX-512 (kernels/x86/quantize_x86.h, bit-equal, the reference kernel on other CPUs), called with
// params prepared once, in the layout the data has. QLut: the VBMI lookup (kernels/x86/lut8.h).

// QLut: a table lookup per byte, in any layout.
class LutOp final : public RuntimeOp {
 public:
  LutOp(int64_t n, bool src_signed, const Tensor& table) : n_(n), src_signed_(src_signed) {
    std::memcpy(table_, table.raw_data(), sizeof(table_));
  }
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    kernels::lut8__x86(n_, static_cast<const uint8_t*>(in[0]), src_signed_, table_, static_cast<uint8_t*>(out[0]));
    return Status();
  }
  std::string implementation() const override { return fmt::format("lut8__x86 ({})", kernels::lut8__x86_isa()); }

 private:
  int64_t n_;
  bool src_signed_;
  uint8_t table_[256];
};

Result<OpChoice> try_qlut(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  const Tensor* table = constant_of(node, 1);
  if (table == nullptr || table->numel() != 256 || (table->dtype() != DType::kU8 && table->dtype() != DType::kS8)) {
    return reject("table is not a constant [256] 8-bit initializer");
  }
  if (in[0].dtype != DType::kU8 && in[0].dtype != DType::kS8) return reject("input is not 8-bit");
  HQP_ASSIGN_OR_RETURN(const int64_t n, checked_numel(in[0].shape));
  OpChoice c;
  c.op = std::make_unique<LutOp>(n, in[0].dtype == DType::kS8, *table);
  c.input_layouts.assign(in.size(), in[0].layout);  // element-wise: any layout, kept
  c.output_layout = in[0].layout;
  return c;
}

// QMul: equal shapes in any layout, or a per-channel gate over NCHW / NHWC data.
class QMulOp final : public RuntimeOp {
 public:
  QMulOp(kernels::QMulParams p, DType dtype) : p_(p), dtype_(dtype) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    if (dtype_ == DType::kU8) {
      kernels::qmul_u8__x86(p_, static_cast<const uint8_t*>(in[0]), static_cast<const uint8_t*>(in[1]),
                            static_cast<uint8_t*>(out[0]));
    } else {
      kernels::qmul_s8__x86(p_, static_cast<const int8_t*>(in[0]), static_cast<const int8_t*>(in[1]),
                            static_cast<int8_t*>(out[0]));
    }
    return Status();
  }
  std::string implementation() const override {
    return fmt::format("{} ({})",
                       p_.b_per_channel ? (p_.channels_last ? "qmul_gate_nhwc__x86" : "qmul_gate_nchw__x86") : "qmul__x86",
                       kernels::int8_eltwise__x86_isa());
  }

 private:
  kernels::QMulParams p_;
  DType dtype_;
};

Result<OpChoice> try_qmul(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  if (in[0].dtype != in[1].dtype || (in[0].dtype != DType::kU8 && in[0].dtype != DType::kS8)) {
    return reject("inputs are not one 8-bit type");
  }
  const bool equal = in[0].shape == in[1].shape;
  // Equal shapes: element-wise in A's layout (B reordered to it). A gate ([N, C, 1...]) has no
  // layout of its own; A keeps the one it has.
  // A gate over kNchw8c data runs on kNhwc (the gate kernel knows kNchw and kNhwc).
  const Layout layout = !equal && in[0].layout == Layout::kNchw8c ? Layout::kNhwc : in[0].layout;
  const bool channels_last = !equal && layout == Layout::kNhwc && !layout_agnostic(in[0].shape);
  HQP_ASSIGN_OR_RETURN(kernels::QMulParams p,
                       reference::qmul_params(node, in[0].shape, in[1].shape, channels_last));
  OpChoice c;
  c.op = std::make_unique<QMulOp>(p, in[0].dtype);
  c.input_layouts = {layout, layout};
  c.output_layout = layout;
  return c;
}

// QGlobalAveragePool over NCHW or NHWC data.
class QGlobalAveragePoolOp final : public RuntimeOp {
 public:
  QGlobalAveragePoolOp(kernels::QGlobalAveragePoolParams p, DType dtype)
      : p_(p), dtype_(dtype), scratch_(static_cast<size_t>(p.channels)) {}
  Status run(std::span<const void* const> in, std::span<void* const> out) override {
    if (dtype_ == DType::kU8) {
      kernels::qglobal_average_pool_u8__x86(p_, static_cast<const uint8_t*>(in[0]), static_cast<uint8_t*>(out[0]),
                                            scratch_.data());
    } else {
      kernels::qglobal_average_pool_s8__x86(p_, static_cast<const int8_t*>(in[0]), static_cast<int8_t*>(out[0]),
                                            scratch_.data());
    }
    return Status();
  }
  std::string implementation() const override {
    return fmt::format("{} ({})", p_.channels_last ? "qglobal_average_pool_nhwc__x86" : "qglobal_average_pool_nchw__x86",
                       kernels::int8_eltwise__x86_isa());
  }

 private:
  kernels::QGlobalAveragePoolParams p_;
  DType dtype_;
  std::vector<float> scratch_;
};

Result<OpChoice> try_qglobal_average_pool(const Node& node, const std::vector<SlotInfo>& in, const SelectOptions&) {
  if (in[0].dtype != DType::kU8 && in[0].dtype != DType::kS8) return reject("input is not 8-bit");
  const Layout layout = in[0].layout == Layout::kNchw8c ? Layout::kNhwc : in[0].layout;  // kernels: NCHW / NHWC
  const bool channels_last = layout == Layout::kNhwc && !layout_agnostic(in[0].shape);
  HQP_ASSIGN_OR_RETURN(kernels::QGlobalAveragePoolParams p,
                       reference::qglobal_average_pool_params(node, in[0].shape, channels_last));
  OpChoice c;
  c.op = std::make_unique<QGlobalAveragePoolOp>(p, in[0].dtype);
  c.input_layouts = {layout};
  c.output_layout = layout;
  return c;
}

// The ordered fast candidates per op kind; the reference fallback is appended by select_op.
// keeps_blocked() reads this list too.
std::vector<NamedCandidate> fast_candidates(OpKind kind) {
  switch (kind) {
    case OpKind::Conv:
    case OpKind::FusedConv: return {{"conv_f32__onednn", try_conv_f32}};
    case OpKind::QConv:
      return {{"conv_int8__onednn", try_qconv},
              {"conv_int8_acc__onednn", try_qconv_acc},
              {"conv_int8_via_f32__onednn", try_qconv_via_f32}};
    case OpKind::Gemm:
    case OpKind::FusedGemm: return {{"gemm_f32__onednn", try_gemm_f32}};
    case OpKind::MatMul: return {{"matmul_f32__onednn", try_matmul_f32}};
    case OpKind::QGemm: return {{"gemm_int8__onednn", try_qgemm}, {"gemm_int8_via_f32__onednn", try_qgemm_via_f32}};
    case OpKind::MaxPool:
    case OpKind::AveragePool:
    case OpKind::GlobalAveragePool:
    case OpKind::ReduceMean: return {{"pool__onednn", try_pool}};
    case OpKind::Relu:
    case OpKind::Clip:
    case OpKind::Sigmoid:
    case OpKind::HardSigmoid:
    case OpKind::HardSwish:
    case OpKind::LeakyRelu:
    case OpKind::Tanh:
    case OpKind::Exp:
    case OpKind::Sqrt:
    case OpKind::Gelu:
    case OpKind::Silu: return {{"eltwise_f32__onednn", try_eltwise}};
    case OpKind::Add:
    case OpKind::Mul: return {{"binary_f32__onednn", try_binary}};
    case OpKind::QuantizeLinear:
      return {{"quantize_per_channel__x86", try_quantize_per_channel},
              {"qdq_per_tensor__any_layout", try_qdq_any_layout}};
    case OpKind::DequantizeLinear: return {{"qdq_per_tensor__any_layout", try_qdq_any_layout}};
    case OpKind::QAdd: return {{"qadd__x86_any_layout", try_qadd_any_layout}};
    case OpKind::QMul: return {{"qmul__x86_any_layout", try_qmul}};
    case OpKind::QLut: return {{"lut8__x86_any_layout", try_qlut}};
    case OpKind::QGlobalAveragePool: return {{"qglobal_average_pool__x86", try_qglobal_average_pool}};
    case OpKind::Transpose: return {{"transpose__onednn", try_transpose}};
    case OpKind::LayerNormalization: return {{"layer_norm_f32__onednn", try_layer_norm}};
    case OpKind::Concat: return {{"concat__any_layout", try_concat}};
    case OpKind::BatchNormalization: return {{"batch_norm_f32__onednn", try_batch_norm}};
    default: return {};
  }
}

}  // namespace

Result<OpChoice> select_op(const ir::Node& node, const std::vector<SlotInfo>& inputs, int64_t opset,
                           const SelectOptions& options, std::vector<std::string>* rejected) {
  if (options.fast_kernels) {
    for (const NamedCandidate& c : fast_candidates(node.kind)) {
      Result<OpChoice> r = c.fn(node, inputs, options);
      if (r.ok()) return r;
      // Unsupported = "does not apply"; any other error is a real problem with the model.
      if (r.status().code() != StatusCode::kUnsupported && r.status().code() != StatusCode::kInvalidArgument) {
        return r.status();
      }
      rejected->push_back(fmt::format("{}: {}", c.name, r.status().message()));
    }
  }
  OpChoice c;
  HQP_ASSIGN_OR_RETURN(c.op, RefOp::create(node, inputs, opset));
  c.input_layouts.assign(inputs.size(), Layout::kNchw);
  c.output_layout = Layout::kNchw;
  return c;
}

Result<std::unique_ptr<RuntimeOp>> make_reorder(const SlotInfo& src, Layout dst_layout) {
  if ((src.layout == Layout::kNchw8c || dst_layout == Layout::kNchw8c) && !blockable(src.shape)) {
    return make_error(StatusCode::kInternal, "cannot reorder a tensor of shape {} to or from {}: C % 8 != 0",
                      shape_to_string(src.shape), layout_name(Layout::kNchw8c));
  }
  dnn::LayoutReorderOnednnParams p;
  p.dtype = src.dtype;
  p.rank = static_cast<int>(src.shape.size());
  for (size_t i = 0; i < src.shape.size(); ++i) p.dims[i] = src.shape[i];
  p.src_layout = to_dnn(src.layout);
  p.dst_layout = to_dnn(dst_layout);
  HQP_RETURN_IF_ERROR(dnn::LayoutReorderOnednn::applies(p));
  HQP_ASSIGN_OR_RETURN(dnn::LayoutReorderOnednn k, dnn::LayoutReorderOnednn::create(p));
  return std::unique_ptr<RuntimeOp>(std::make_unique<ReorderOp>(std::move(k)));
}

}  // namespace hqp::runtime
