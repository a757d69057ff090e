// QDQ -> QConv / QGemm lowering and INT8 data-movement rewrites.
#include "passes/lower_qdq.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "ir/shape_inference.h"
#include "ir/rewrite.h"
#include "kernels/ref/int8_output.h"
#include "kernels/ref/quantize.h"
#include "reference/executor.h"

namespace hqp::passes {

namespace {

// Largest |bias| representable in the s32 accumulator scale.
constexpr double kMaxBiasQ = 2147483647.0;

// Quantization parameters of a QuantizeLinear / DequantizeLinear node with constant scale and
// zero point. Per-tensor when the scale has one element (as the reference executor treats it).
// `rank`: rank of the data input, needed to normalize a per-axis axis.
std::optional<ir::QuantParams> qdq_quant_params(const ir::Node& node, DType storage, std::optional<size_t> rank) {
  const Tensor* scale = ir::constant_of(node.input(1));
  if (scale == nullptr || scale->dtype() != DType::kF32 || scale->rank() > 1 || scale->numel() < 1) return std::nullopt;
  const ir::Value* zp_value = node.input(2);
  const Tensor* zp = ir::constant_of(zp_value);
  if (zp_value != nullptr && (zp == nullptr || zp->numel() != scale->numel())) return std::nullopt;
  ir::QuantParams p;
  p.storage = zp != nullptr ? zp->dtype() : storage;
  for (int64_t i = 0; i < scale->numel(); ++i) {
    const float s = scale->data<float>()[i];
    if (!(s > 0.0f) || !std::isfinite(s)) return std::nullopt;
    p.scale.push_back(s);
    p.zero_point.push_back(zp != nullptr ? static_cast<int32_t>(zp->element_as_int64(i)) : 0);
  }
  if (scale->numel() > 1) {
    if (!rank) return std::nullopt;
    const auto& a = node.attr<ir::AxisAttrs>();
    Result<int64_t> axis = ir::normalize_axis(a.present ? a.axis : 1, static_cast<int64_t>(*rank), "axis");
    if (!axis.ok()) return std::nullopt;
    p.axis = *axis;
  }
  return p;
}

bool is_per_tensor(const ir::QuantParams& p) { return !p.axis && p.scale.size() == 1; }

std::optional<size_t> rank_of(const ir::Value* v) {
  if (v == nullptr || !v->shape) return std::nullopt;
  return v->shape->size();
}

// A value computed by DequantizeLinear(q) with constant parameters.
struct DqMatch {
  ir::Node* node;
  ir::Value* q;
  ir::QuantParams params;
};

std::optional<DqMatch> match_dq(const ir::Value* v) {
  if (v == nullptr || v->producer() == nullptr || v->producer()->kind != ir::OpKind::DequantizeLinear) {
    return std::nullopt;
  }
  ir::Node* dq = v->producer();
  ir::Value* q = dq->input(0);
  std::optional<ir::QuantParams> p = qdq_quant_params(*dq, q->dtype, rank_of(q));
  if (!p || p->storage != q->dtype) return std::nullopt;
  return DqMatch{dq, q, std::move(*p)};
}

// An INT8 activation operand: DQ(q) with q u8/s8 and per-tensor parameters.
std::optional<DqMatch> match_activation_dq(const ir::Value* v) {
  std::optional<DqMatch> m = match_dq(v);
  if (!m || !is_per_tensor(m->params)) return std::nullopt;
  if (m->q->dtype != DType::kU8 && m->q->dtype != DType::kS8) return std::nullopt;
  return m;
}

// Same values (a one-element per-axis set equals per-tensor).
bool same_params(const ir::QuantParams& a, const ir::QuantParams& b) {
  if (a.scale != b.scale || a.zero_point != b.zero_point || a.storage != b.storage) return false;
  return a.axis == b.axis || a.scale.size() == 1;
}

// True when `v` can carry `p` (no parameters yet, or the same ones).
bool can_adopt(const ir::Value* v, const ir::QuantParams& p) { return !v->quant || same_params(*v->quant, p); }

// The QuantizeLinear that alone reads `y`, with per-tensor u8/s8 parameters.
struct QMatch {
  ir::Node* node;
  ir::QuantParams params;
};

// True for per-axis parameters along axis 1 (channels) of a rank-4 value with `channels` scales
// and one zero point for all of them: NNCF's per-channel activations.
bool is_per_channel_activation(const ir::QuantParams& p, const ir::Value* v, int64_t channels) {
  if (!p.axis || *p.axis != 1 || rank_of(v) != 4u || static_cast<int64_t>(p.scale.size()) != channels) return false;
  for (int32_t z : p.zero_point) {
    if (z != p.zero_point[0]) return false;
  }
  return true;
}

// per_channel_outputs > 0: also accepts a per-channel Q (axis 1) of that many channels with one
// zero point (a conv output that NNCF quantizes per channel for the depthwise conv reading it).
std::optional<QMatch> match_output_q(const ir::Graph& graph, const ir::Value* y, int64_t per_channel_outputs = 0) {
  ir::Node* q = ir::sole_consumer(graph, y);
  if (q == nullptr || q->kind != ir::OpKind::QuantizeLinear || y->dtype != DType::kF32) return std::nullopt;
  std::optional<ir::QuantParams> p = qdq_quant_params(*q, DType::kU8, rank_of(y));
  if (!p || (p->storage != DType::kU8 && p->storage != DType::kS8)) return std::nullopt;
  if (!is_per_tensor(*p) && !(per_channel_outputs > 0 && is_per_channel_activation(*p, y, per_channel_outputs))) {
    return std::nullopt;
  }
  if (q->output(0)->dtype != p->storage) return std::nullopt;
  return QMatch{q, std::move(*p)};
}

// Symmetric s8 weights with one scale per output channel.
struct WeightMatch {
  ir::Value* value = nullptr;  // the s8 initializer, when there is one
  Tensor data;                 // s8, output channels along `channel_axis`
  std::vector<float> scale;    // [channels]
};

// The s8 constant behind DQ's input: an initializer / Constant, or a QuantizeLinear of constants.
std::optional<Tensor> quantized_constant(const ir::Value* q, int64_t opset) {
  if (const Tensor* t = ir::constant_of(q)) return *t;
  const ir::Node* p = q->producer();
  if (p == nullptr || p->kind != ir::OpKind::QuantizeLinear) return std::nullopt;
  std::vector<const Tensor*> args(p->num_inputs(), nullptr);
  for (size_t i = 0; i < p->num_inputs(); ++i) {
    if (p->input(i) == nullptr) continue;
    args[i] = ir::constant_of(p->input(i));
    if (args[i] == nullptr) return std::nullopt;
  }
  Result<std::vector<Tensor>> outs = reference::run_node_reference(*p, args, opset);
  if (!outs.ok()) return std::nullopt;
  return (*outs)[0];
}

std::optional<WeightMatch> match_weight(const ir::Value* w, int64_t channel_axis, int64_t opset) {
  std::optional<DqMatch> m = match_dq(w);
  if (!m || m->q->dtype != DType::kS8) return std::nullopt;
  std::optional<Tensor> data = quantized_constant(m->q, opset);
  if (!data || data->dtype() != DType::kS8 || data->rank() <= channel_axis) return std::nullopt;
  for (int32_t z : m->params.zero_point) {
    if (z != 0) return std::nullopt;
  }
  const int64_t channels = data->dim(channel_axis);
  WeightMatch wm;
  wm.value = m->q->is_initializer() ? m->q : nullptr;
  wm.data = std::move(*data);
  if (is_per_tensor(m->params)) {
    wm.scale.assign(static_cast<size_t>(channels), m->params.scale[0]);
  } else if (m->params.axis == channel_axis && static_cast<int64_t>(m->params.scale.size()) == channels) {
    wm.scale = m->params.scale;
  } else {
    return std::nullopt;
  }
  return wm;
}

// Float bias values [channels] from a float constant or DQ(s32 constant, zero point 0); an empty
// vector when `b` is absent; nullopt when the bias is computed or malformed.
std::optional<std::vector<float>> bias_values(const ir::Value* b, int64_t channels) {
  std::vector<float> out;
  if (b == nullptr) return out;
  auto expand = [&](int64_t n, auto&& at) -> bool {
    if (n != channels && n != 1) return false;
    for (int64_t c = 0; c < channels; ++c) out.push_back(at(n == 1 ? 0 : c));
    return true;
  };
  if (const Tensor* t = ir::constant_of(b)) {
    if (t->dtype() != DType::kF32 || t->rank() > 1) return std::nullopt;
    if (!expand(t->numel(), [&](int64_t i) { return t->data<float>()[i]; })) return std::nullopt;
    return out;
  }
  std::optional<DqMatch> m = match_dq(b);
  if (!m || m->q->dtype != DType::kS32) return std::nullopt;
  const Tensor* q = ir::constant_of(m->q);
  if (q == nullptr || q->rank() > 1) return std::nullopt;
  for (int32_t z : m->params.zero_point) {
    if (z != 0) return std::nullopt;
  }
  const std::vector<float>& s = m->params.scale;
  if (s.size() != 1 && static_cast<int64_t>(s.size()) != q->numel()) return std::nullopt;
  // DequantizeLinear's own arithmetic: (float)q * scale.
  auto at = [&](int64_t i) { return static_cast<float>(q->data<int32_t>()[i]) * s[s.size() == 1 ? 0 : i]; };
  if (!expand(q->numel(), at)) return std::nullopt;
  return out;
}

// Accumulator scales s_x * s_w[oc] (FP32 product, as QDQ quantizers compute the bias scale); with
// a depthwise conv's per-channel input, s_x of output channel oc's input channel (the product that
// reference::int8_quantization folds into the weight scales).
std::vector<float> accumulator_scales(const ir::QuantParams& src, const std::vector<float>& wei_scale) {
  std::vector<float> out;
  const size_t per_input = src.scale.size() == 1 ? wei_scale.size() : wei_scale.size() / src.scale.size();
  for (size_t oc = 0; oc < wei_scale.size(); ++oc) {
    out.push_back(src.scale[src.scale.size() == 1 ? 0 : oc / per_input] * wei_scale[oc]);
  }
  return out;
}

// bias_q[oc] = round_half_even(bias[oc] / acc_scale[oc]); nullopt when one overflows s32.
std::optional<Tensor> quantize_bias(const std::vector<float>& bias, const std::vector<float>& acc_scale) {
  std::vector<int32_t> q;
  for (size_t c = 0; c < bias.size(); ++c) {
    const double v = std::nearbyint(static_cast<double>(bias[c]) / static_cast<double>(acc_scale[c]));
    if (!(std::fabs(v) <= kMaxBiasQ)) return std::nullopt;
    q.push_back(static_cast<int32_t>(v));
  }
  return Tensor::from_vector<int32_t>({static_cast<int64_t>(q.size())}, q);
}

ir::QuantParams per_channel(std::vector<float> scale, DType storage) {
  ir::QuantParams p;
  p.zero_point.assign(scale.size(), 0);
  p.scale = std::move(scale);
  p.axis = 0;
  p.storage = storage;
  return p;
}

// Everything a QConv / QGemm needs, gathered before the graph is changed.
// True for the activations the INT8 output stage applies itself: a clamp of the real output
// (kernels/ref/int8_output.h). Others run as a float op after an f32-output QConv / QGemm.
bool is_clamp_activation(const ir::PostOps& post) {
  return post.activation == ir::Activation::kNone || post.activation == ir::Activation::kRelu ||
         post.activation == ir::Activation::kClip;
}

// Everything a QConv / QGemm needs, gathered before the graph is changed.
struct LoweringPlan {
  DqMatch src;
  WeightMatch wei;
  std::optional<Tensor> bias;   // s32 [channels]
  std::optional<QMatch> dst;    // absent: f32 output
  ir::Value* sum = nullptr;     // Sum input: dst dtype (the INT8 tensor, or the float value)
  std::optional<ir::QuantParams> sum_params;  // for an INT8 sum
  bool split_activation = false;  // the activation follows as a float node
};

// The input of a depthwise convolution (group = input channels, one input channel per group)
// quantized per channel: DQ(xq) along axis 1 with one zero point (NNCF's placement).
std::optional<DqMatch> match_depthwise_dq(const ir::Node& conv, const WeightMatch& wei) {
  if (conv.kind != ir::OpKind::Conv && conv.kind != ir::OpKind::FusedConv) return std::nullopt;
  const int64_t group = conv.kind == ir::OpKind::Conv ? conv.attr<ir::ConvAttrs>().group
                                                      : conv.attr<ir::FusedConvAttrs>().conv.group;
  std::optional<DqMatch> m = match_dq(conv.input(0));
  if (!m || (m->q->dtype != DType::kU8 && m->q->dtype != DType::kS8)) return std::nullopt;
  const int64_t out_channels = static_cast<int64_t>(wei.scale.size());
  if (wei.data.rank() < 2 || wei.data.dim(1) != 1 || group < 1 || out_channels % group != 0) return std::nullopt;
  if (!is_per_channel_activation(m->params, m->q, group)) return std::nullopt;
  return m;
}

// The per-channel output clamp of an INT8 dst quantized per channel is one [lo, hi] for all channels
// (it always is for Relu, and for Clip(0, b) when b saturates every channel's range) -- the condition
// for reference::int8_quantization to express it with dst scale 1.
bool uniform_output_clamp(const ir::QuantParams& dst, const ir::PostOps& post) {
  kernels::Int8OutputParams o;
  o.dst_dtype = dst.storage;
  o.dst_zero_point = dst.zero_point[0];
  if (post.activation == ir::Activation::kRelu) o.act_min = 0.0f;
  if (post.activation == ir::Activation::kClip) {
    o.act_min = post.alpha;
    o.act_max = post.beta;
  }
  std::optional<kernels::Int8Clamp> first;
  for (float s : dst.scale) {
    o.dst_scale = s;
    const kernels::Int8Clamp c = kernels::int8_output_clamp(o);
    if (first && (c.lo != first->lo || c.hi != first->hi)) return false;
    first = c;
  }
  return true;
}

// Gathers the plan for `node` (inputs 0..3 as in QConv); nullopt when the pattern does not match.
std::optional<LoweringPlan> plan_lowering(const ir::Graph& graph, const ir::Node& node, int64_t channel_axis,
                                          const ir::PostOps& post) {
  std::optional<WeightMatch> wei = match_weight(node.input(1), channel_axis, graph.opset());
  if (!wei) return std::nullopt;
  std::optional<DqMatch> src = match_activation_dq(node.input(0));
  if (!src && channel_axis == 0) src = match_depthwise_dq(node, *wei);
  if (!src || !can_adopt(src->q, src->params)) return std::nullopt;
  const int64_t channels = static_cast<int64_t>(wei->scale.size());
  std::optional<std::vector<float>> bias = bias_values(node.input(2), channels);
  if (!bias) return std::nullopt;
  LoweringPlan plan{std::move(*src), std::move(*wei), std::nullopt, std::nullopt, nullptr, std::nullopt, false};
  if (!bias->empty()) {
    plan.bias = quantize_bias(*bias, accumulator_scales(plan.src.params, plan.wei.scale));
    if (!plan.bias) return std::nullopt;
  }
  plan.split_activation = !is_clamp_activation(post);
  if (!plan.split_activation) {
    // A per-channel dst only on a conv without a residual sum, with one clamp for all channels.
    const bool conv = node.kind == ir::OpKind::Conv || node.kind == ir::OpKind::FusedConv;
    plan.dst = match_output_q(graph, node.output(0), conv && !post.has_sum ? channels : 0);
    if (plan.dst && !is_per_tensor(plan.dst->params) && !uniform_output_clamp(plan.dst->params, post)) {
      plan.dst.reset();
    }
  }
  if (!plan.dst && node.output(0)->quant) return std::nullopt;  // an f32 output must not look quantized
  if (post.has_sum) {
    if (plan.dst) {
      // An INT8 dst adds an INT8 sum of the same dtype (its own scale and zero point).
      std::optional<DqMatch> sum = match_activation_dq(node.input(3));
      if (!sum || sum->q->dtype != plan.dst->params.storage || !can_adopt(sum->q, sum->params)) return std::nullopt;
      plan.sum = sum->q;
      plan.sum_params = sum->params;
    } else {
      plan.sum = node.input(3);  // an f32 dst adds the real-valued sum
    }
  }
  return plan;
}

// The float node(s) of a split activation, from `in` to `out` (SiLU: Sigmoid, then Mul by `in`).
void add_activation_nodes(ir::Graph& graph, const std::string& name, const ir::PostOps& post, ir::Value* in,
                          ir::Value* out) {
  switch (post.activation) {
    case ir::Activation::kHardSwish: graph.add_node(ir::OpKind::HardSwish, name, {in}, {out}); return;
    case ir::Activation::kSigmoid: graph.add_node(ir::OpKind::Sigmoid, name, {in}, {out}); return;
    case ir::Activation::kGelu: graph.add_node(ir::OpKind::Gelu, name, {in}, {out}); return;
    case ir::Activation::kHardSigmoid:
      graph.add_node(ir::OpKind::HardSigmoid, name, {in}, {out}, ir::HardSigmoidAttrs{post.alpha, post.beta});
      return;
    case ir::Activation::kSilu: graph.add_node(ir::OpKind::Silu, name, {in}, {out}); return;
    default: HQP_CHECK_MSG(false, "activation is applied by the INT8 output stage");
  }
}

// Rewrites `node` into `kind` with `attrs` per `plan`; with a split activation, `act` (stripped
// from `attrs` by the caller) follows as a float node. Returns the QuantizeLinear it absorbed.
ir::Node* apply_plan(ir::Graph& graph, ir::Node* node, LoweringPlan& plan, ir::OpKind kind, ir::Attrs attrs,
                     const ir::PostOps& act) {
  plan.src.q->quant = plan.src.params;
  const ir::QuantParams wei_params = per_channel(plan.wei.scale, DType::kS8);
  ir::Value* wei = plan.wei.value;
  if (wei == nullptr || !can_adopt(wei, wei_params)) {
    wei = graph.add_initializer(graph.unique_name(node->name + "_wei_s8"), plan.wei.data);
  }
  wei->quant = wei_params;
  ir::Value* bias = nullptr;
  if (plan.bias) {
    bias = graph.add_initializer(graph.unique_name(node->name + "_bias_s32"), *plan.bias);
    bias->quant = per_channel(accumulator_scales(plan.src.params, plan.wei.scale), DType::kS32);
  }
  std::vector<ir::Value*> inputs = {plan.src.q, wei, bias};
  if (plan.sum != nullptr) {
    if (plan.sum_params) plan.sum->quant = *plan.sum_params;
    inputs.push_back(plan.sum);
  }
  const std::string name = node->name;
  std::vector<ir::Node*> remove = {node};
  ir::Value* out = node->output(0);
  ir::Node* absorbed = nullptr;
  if (plan.dst) {
    absorbed = plan.dst->node;
    remove.push_back(absorbed);
    out = absorbed->output(0);
    out->quant = plan.dst->params;
  }
  if (plan.split_activation) {
    ir::Value* real = graph.add_value(graph.unique_name(name + "_real"));
    ir::replace_nodes(graph, remove, kind, name, inputs, {real}, std::move(attrs));
    add_activation_nodes(graph, graph.unique_name(name + "_act"), act, real, out);
  } else {
    ir::replace_nodes(graph, remove, kind, name, inputs, {out}, std::move(attrs));
  }
  return absorbed;
}

// [K, N] -> [N, K] (s8).
Tensor transpose_2d(const Tensor& t) {
  Tensor out = Tensor::zeros(t.dtype(), {t.dim(1), t.dim(0)}).value();
  const int8_t* s = t.data<int8_t>();
  int8_t* d = out.data<int8_t>();
  for (int64_t r = 0; r < t.dim(0); ++r) {
    for (int64_t c = 0; c < t.dim(1); ++c) d[c * t.dim(0) + r] = s[r * t.dim(1) + c];
  }
  return out;
}

struct Rewrite {
  bool done = false;
  ir::Node* absorbed = nullptr;       // the QuantizeLinear removed besides the anchor (compute ops)
  std::vector<ir::Node*> others = {};  // further nodes of the snapshot removed (QAdd's Relu, a QLut chain)
};

Rewrite lower_conv(ir::Graph& graph, ir::Node* node) {
  ir::FusedConvAttrs f = node->kind == ir::OpKind::Conv ? ir::FusedConvAttrs{node->attr<ir::ConvAttrs>(), {}}
                                                        : node->attr<ir::FusedConvAttrs>();
  std::optional<LoweringPlan> plan = plan_lowering(graph, *node, 0, f.post);
  if (!plan) return {};
  const ir::PostOps act = f.post;
  if (plan->split_activation) f.post = ir::PostOps{ir::Activation::kNone, 0.0f, 0.0f, act.has_sum};
  return {true, apply_plan(graph, node, *plan, ir::OpKind::QConv, f, act)};
}

Rewrite lower_gemm(ir::Graph& graph, ir::Node* node) {
  ir::FusedGemmAttrs f = node->kind == ir::OpKind::Gemm ? ir::FusedGemmAttrs{node->attr<ir::GemmAttrs>(), {}}
                                                        : node->attr<ir::FusedGemmAttrs>();
  if (f.gemm.trans_a != 0 || f.gemm.alpha != 1.0f || (node->input(2) != nullptr && f.gemm.beta != 1.0f)) return {};
  // A [M, K]; a FusedGemm (a MatMul by a constant, fuse_matmul_bias) may have rows [..., K].
  const std::optional<size_t> rank = rank_of(node->input(0));
  if (!rank || *rank < 2 || (*rank > 2 && node->kind != ir::OpKind::FusedGemm)) return {};
  if (f.post.has_sum) return {};
  std::optional<LoweringPlan> plan = plan_lowering(graph, *node, f.gemm.trans_b ? 0 : 1, f.post);
  if (!plan) return {};
  if (!f.gemm.trans_b) {
    plan->wei.data = transpose_2d(plan->wei.data);
    plan->wei.value = nullptr;
    f.gemm.trans_b = 1;
  }
  f.gemm.beta = 1.0f;
  const ir::PostOps act = f.post;
  if (plan->split_activation) f.post = ir::PostOps{};
  return {true, apply_plan(graph, node, *plan, ir::OpKind::QGemm, f, act)};
}

std::optional<Tensor> run_on(const ir::Node& node, const Tensor& x, int64_t opset);
Tensor all_codes(DType dtype);

// DQ -> op with no QuantizeLinear after it (NNCF's placement: a MaxPool or Flatten between the
// quantizer and the conv or Gemm reading its output): op(DQ(q)) == DQ(op(q)) for an op that only
// moves or selects elements (DQ is non-decreasing, so it commutes with max), so the op runs on the
// INT8 tensor and a DequantizeLinear with the same parameters follows -- exact, and the readers
// see a DQ output again, so their own patterns match.
// Only when a reader has an INT8 form to lower into (otherwise the DQ would just move).
Rewrite move_before_dequantize(ir::Graph& graph, ir::Node* node, const DqMatch& src) {
  ir::Value* out = node->output(0);
  if (graph.is_graph_output(out) || out->dtype != DType::kF32) return {};
  const bool a_reader_lowers = std::any_of(out->uses().begin(), out->uses().end(), [](const ir::Use& u) {
    switch (u.node->kind) {
      case ir::OpKind::Conv:
      case ir::OpKind::FusedConv:
      case ir::OpKind::Gemm:
      case ir::OpKind::FusedGemm:
      case ir::OpKind::Add:
      case ir::OpKind::Mul:
      case ir::OpKind::GlobalAveragePool:
      case ir::OpKind::MaxPool:
      case ir::OpKind::Flatten:
      case ir::OpKind::Reshape:
      case ir::OpKind::QuantizeLinear: return true;
      default: return false;
    }
  });
  if (!a_reader_lowers) return {};
  src.q->quant = src.params;
  const std::string name = node->name;
  ir::Value* moved = graph.add_value(graph.unique_name(name + "_int8"));
  moved->dtype = src.q->dtype;
  moved->shape = out->shape;
  moved->quant = src.params;
  std::vector<ir::Value*> inputs = node->inputs();
  inputs[0] = src.q;
  std::vector<ir::Value*> dq_inputs = src.node->inputs();
  dq_inputs[0] = moved;
  ir::replace_nodes(graph, {node}, node->kind, name, inputs, {moved}, node->attrs);
  graph.add_node(ir::OpKind::DequantizeLinear, graph.unique_name(name + "_dequantize"), dq_inputs, {out},
                 src.node->attrs);
  return {true, nullptr};
}

// DQ -> op -> Q with per-tensor parameters, where `op` only moves or selects elements (MaxPool
// takes a maximum: Q(DQ(.)) is non-decreasing, so it commutes with max): the op runs on the INT8
// tensor and both conversions disappear (exact: requantizing a dequantized value with the same
// parameters returns it). With other parameters on the Q (TensorRT's placement quantizes a
// MaxPool's input and its consumer's input separately), a QLut after the op requantizes:
// table[c] = Q(DQ(c)) computed by the reference kernels of those two nodes, so bit-exact too.
Rewrite lower_data_movement(ir::Graph& graph, ir::Node* node) {
  switch (node->kind) {
    case ir::OpKind::MaxPool:
      if (node->output(1) != nullptr) return {};
      break;
    case ir::OpKind::Flatten:
    case ir::OpKind::Reshape:
    case ir::OpKind::Squeeze:
    case ir::OpKind::Unsqueeze:
    case ir::OpKind::Transpose: break;
    default: return {};
  }
  std::optional<DqMatch> src = match_activation_dq(node->input(0));
  if (!src || !can_adopt(src->q, src->params)) return {};
  std::optional<QMatch> dst = match_output_q(graph, node->output(0));
  if (!dst) return move_before_dequantize(graph, node, *src);
  std::optional<Tensor> table;
  if (!same_params(dst->params, src->params)) {
    table = run_on(*src->node, all_codes(src->q->dtype), graph.opset());
    if (table) table = run_on(*dst->node, *table, graph.opset());
    if (!table || table->dtype() != dst->params.storage || table->numel() != 256) return {};
  }
  src->q->quant = src->params;
  ir::Value* out = dst->node->output(0);
  out->quant = dst->params;
  std::vector<ir::Value*> inputs = node->inputs();
  inputs[0] = src->q;
  if (!table) {
    ir::replace_nodes(graph, {node, dst->node}, node->kind, node->name, inputs, {out}, node->attrs);
    return {true, dst->node};
  }
  const std::string name = node->name;
  ir::Value* moved = graph.add_value(graph.unique_name(name + "_int8"));
  moved->quant = src->params;
  ir::replace_nodes(graph, {node, dst->node}, node->kind, name, inputs, {moved}, node->attrs);
  ir::Value* t = graph.add_initializer(graph.unique_name(name + "_requantize_lut"), std::move(*table));
  graph.add_node(ir::OpKind::QLut, graph.unique_name(name + "_requantize"), {moved, t}, {out});
  return {true, dst->node};
}

// Re-expresses the 8-bit value `q`, read only by per-tensor DequantizeLinear nodes, in the other
// 8-bit type: code' = code + d and zero point' = zero point + d (d = +128 to u8, -128 to s8) give
// every DequantizeLinear the same real values bit for bit ((float)(c + d) - (float)(z + d) equals
// (float)c - (float)z for these small integers). Possible when q is written by a per-tensor
// QuantizeLinear with a constant zero point (its saturation bounds move with the zero point) or by
// a lowered QConv / QGemm (whose output stage reads Value::quant), and q is no graph output. NNCF's
// placement mixes u8 (after a Relu or a gate) and s8 (a conv without activation) operands of one
// Add or Mul; the binary INT8 kernels take one type.
// apply false: only says whether it can.
bool retype_int8(ir::Graph& graph, ir::Value* q, DType to, bool apply) {
  if (q->dtype == to) return true;
  if ((q->dtype != DType::kU8 && q->dtype != DType::kS8) || (to != DType::kU8 && to != DType::kS8)) return false;
  if (graph.is_graph_output(q) || q->uses().empty()) return false;
  const int32_t delta = to == DType::kU8 ? 128 : -128;
  auto constant_zero_point = [](const ir::Node& n) -> const Tensor* {
    const Tensor* scale = ir::constant_of(n.input(1));
    const Tensor* zp = n.num_inputs() > 2 ? ir::constant_of(n.input(2)) : nullptr;
    if (scale == nullptr || scale->numel() != 1 || zp == nullptr || zp->numel() != 1) return nullptr;
    return zp;
  };
  for (const ir::Use& u : q->uses()) {
    if (u.node->kind != ir::OpKind::DequantizeLinear || u.input_index != 0 || constant_zero_point(*u.node) == nullptr) {
      return false;
    }
  }
  ir::Node* producer = q->producer();
  if (producer == nullptr) return false;
  const bool by_quantize = producer->kind == ir::OpKind::QuantizeLinear;
  if (by_quantize ? constant_zero_point(*producer) == nullptr
                  : (producer->kind != ir::OpKind::QConv && producer->kind != ir::OpKind::QGemm) || !q->quant ||
                        !is_per_tensor(*q->quant)) {
    return false;
  }
  // A QConv adding a residual Sum reads it in its output's type: that would have to change too.
  if (producer->kind == ir::OpKind::QConv && producer->num_inputs() > 3 && producer->input(3) != nullptr) return false;
  if (!apply) return true;
  auto shifted = [&](const ir::Node& n) {
    const int64_t z = constant_zero_point(n)->element_as_int64(0) + delta;
    Tensor t = to == DType::kU8 ? Tensor::from_vector<uint8_t>({}, {static_cast<uint8_t>(z)})
                                : Tensor::from_vector<int8_t>({}, {static_cast<int8_t>(z)});
    return graph.add_initializer(graph.unique_name(q->name + "_zero_point"), std::move(t));
  };
  const std::vector<ir::Use> uses = q->uses();
  for (const ir::Use& u : uses) graph.set_input(u.node, 2, shifted(*u.node));
  if (by_quantize) graph.set_input(producer, 2, shifted(*producer));
  q->dtype = to;
  if (q->quant) {
    q->quant->storage = to;
    q->quant->zero_point[0] += delta;
  }
  return true;
}

// For a binary INT8 op whose operands and output differ in type: retypes the operand(s) that differ
// from `out` (retype_int8). True when all three end up of one type.
bool unify_int8_types(ir::Graph& graph, ir::Value* a, ir::Value* b, DType out) {
  if (a->dtype == out && b->dtype == out) return true;
  if (!retype_int8(graph, a, out, false) || !retype_int8(graph, b, out, false)) return false;
  return retype_int8(graph, a, out, true) && retype_int8(graph, b, out, true);
}

// DQ(a) + DQ(b) [-> Relu] -> Q with a, b, Q of one INT8 type and equal shapes: QAdd(a, b). A Relu
// in between goes only when Q's zero point is its type's minimum: Q's clamp then maps every
// negative sum to the zero point as Relu would, bit for bit (ONNX Runtime drops it the same way).
Rewrite lower_add(ir::Graph& graph, ir::Node* add) {
  if (add->num_inputs() != 2) return {};
  std::optional<DqMatch> a = match_activation_dq(add->input(0));
  std::optional<DqMatch> b = match_activation_dq(add->input(1));
  if (!a || !b) return {};
  if (!a->q->shape || !b->q->shape || !(*a->q->shape == *b->q->shape)) return {};
  if (!can_adopt(a->q, a->params) || !can_adopt(b->q, b->params)) return {};
  if (a->q == b->q && !same_params(a->params, b->params)) return {};
  ir::Value* last = add->output(0);
  if (graph.is_graph_output(last)) return {};
  ir::Node* relu = ir::sole_consumer(graph, last);
  if (relu != nullptr && relu->kind == ir::OpKind::Relu) {
    last = relu->output(0);
    if (graph.is_graph_output(last)) return {};
  } else {
    relu = nullptr;
  }
  std::optional<QMatch> dst = match_output_q(graph, last);
  if (!dst) return {};
  if (relu != nullptr && dst->params.zero_point[0] != (dst->params.storage == DType::kU8 ? 0 : -128)) return {};
  if (a->q->dtype != dst->params.storage || b->q->dtype != dst->params.storage) {
    if (!unify_int8_types(graph, a->q, b->q, dst->params.storage)) return {};
    a = match_activation_dq(add->input(0));
    b = match_activation_dq(add->input(1));
    if (!a || !b) return {};
  }
  a->q->quant = a->params;
  b->q->quant = b->params;
  ir::Value* out = dst->node->output(0);
  out->quant = dst->params;
  std::vector<ir::Node*> remove = {add};
  if (relu != nullptr) remove.push_back(relu);
  remove.push_back(dst->node);
  const std::string name = add->name;
  ir::replace_nodes(graph, remove, ir::OpKind::QAdd, name, {a->q, b->q}, {out}, ir::NoAttrs{});
  return {true, dst->node, {relu}};
}

// DQ(x) -> GlobalAveragePool -> Q with x and Q of one INT8 type: QGlobalAveragePool(x).
Rewrite lower_global_average_pool(ir::Graph& graph, ir::Node* pool) {
  std::optional<DqMatch> src = match_activation_dq(pool->input(0));
  if (!src || !can_adopt(src->q, src->params)) return {};
  if (graph.is_graph_output(pool->output(0))) return {};
  std::optional<QMatch> dst = match_output_q(graph, pool->output(0));
  if (!dst || dst->params.storage != src->q->dtype) return {};
  src->q->quant = src->params;
  ir::Value* out = dst->node->output(0);
  out->quant = dst->params;
  const std::string name = pool->name;
  ir::replace_nodes(graph, {pool, dst->node}, ir::OpKind::QGlobalAveragePool, name, {src->q}, {out}, ir::NoAttrs{});
  return {true, dst->node};
}

// Element-wise ops of one input whose output depends on the input value alone (and constant
// attributes / bound inputs): a DQ -> chain of them -> Q maps each of the 256 codes to one code.
bool is_pointwise_unary(const ir::Node& node) {
  switch (node.kind) {
    case ir::OpKind::Relu:
    case ir::OpKind::HardSwish:
    case ir::OpKind::HardSigmoid:
    case ir::OpKind::Sigmoid:
    case ir::OpKind::LeakyRelu:
    case ir::OpKind::Tanh:
    case ir::OpKind::Erf:
    case ir::OpKind::Gelu:
    case ir::OpKind::Silu:
    case ir::OpKind::Identity: break;
    case ir::OpKind::Clip:
      for (size_t i = 1; i < node.num_inputs(); ++i) {
        if (node.input(i) != nullptr && ir::constant_of(node.input(i)) == nullptr) return false;
      }
      break;
    default: return false;
  }
  return node.num_outputs() == 1;
}

// Runs `node` with the reference executor on `x` (its input 0) and its constant other inputs.
std::optional<Tensor> run_on(const ir::Node& node, const Tensor& x, int64_t opset) {
  std::vector<const Tensor*> args(node.num_inputs(), nullptr);
  args[0] = &x;
  for (size_t i = 1; i < node.num_inputs(); ++i) {
    if (node.input(i) == nullptr) continue;
    args[i] = ir::constant_of(node.input(i));
    if (args[i] == nullptr) return std::nullopt;
  }
  Result<std::vector<Tensor>> outs = reference::run_node_reference(node, args, opset);
  if (!outs.ok() || outs->empty()) return std::nullopt;
  return std::move((*outs)[0]);
}

// The 256 codes of an 8-bit type in QLut table order (u8: 0..255; s8: -128..127).
Tensor all_codes(DType dtype) {
  Tensor t = Tensor::zeros(dtype, {256}).value();
  for (int i = 0; i < 256; ++i) {
    if (dtype == DType::kS8) t.data<int8_t>()[i] = static_cast<int8_t>(i - 128);
    else t.data<uint8_t>()[i] = static_cast<uint8_t>(i);
  }
  return t;
}

// DQ(a) * DQ(b) -> Q where b = QLut(a) (e.g. x * HardSigmoid(x): HardSwish as opset-13 exporters
// write it, after the HardSigmoid chain became a QLut): a function of a's code alone, so one
// QLut(a) whose table runs the two DQs, the Mul and the Q on the 256 codes with their reference
// kernels. nullopt-like (done false) when the pattern does not match.
Rewrite lower_self_product(ir::Graph& graph, ir::Node* mul, const DqMatch& a, const DqMatch& b, const QMatch& dst) {
  const ir::Node* lut = b.q->producer();
  if (lut == nullptr || lut->kind != ir::OpKind::QLut || lut->input(0) != a.q) return {};
  const Tensor* table = ir::constant_of(lut->input(1));
  if (table == nullptr || table->numel() != 256 || table->dtype() != b.q->dtype) return {};
  const Tensor codes = all_codes(a.q->dtype);
  Tensor looked_up = Tensor::zeros(b.q->dtype, {256}).value();
  kernels::lut8__ref(256, static_cast<const uint8_t*>(codes.raw_data()), a.q->dtype == DType::kS8,
                     static_cast<const uint8_t*>(table->raw_data()), static_cast<uint8_t*>(looked_up.raw_data()));
  std::optional<Tensor> fa = run_on(*a.node, codes, graph.opset());
  std::optional<Tensor> fb = run_on(*b.node, looked_up, graph.opset());
  if (!fa || !fb) return {};
  const bool a_first = mul->input(0) == a.node->output(0);
  const Tensor* args[] = {a_first ? &*fa : &*fb, a_first ? &*fb : &*fa};
  Result<std::vector<Tensor>> prod = reference::run_node_reference(*mul, args, graph.opset());
  if (!prod.ok() || prod->empty()) return {};
  std::optional<Tensor> y = run_on(*dst.node, (*prod)[0], graph.opset());
  if (!y || y->dtype() != dst.params.storage || y->numel() != 256) return {};
  a.q->quant = a.params;
  ir::Value* out = dst.node->output(0);
  out->quant = dst.params;
  const std::string name = mul->name;
  ir::Value* t = graph.add_initializer(graph.unique_name(name + "_lut"), std::move(*y));
  ir::replace_nodes(graph, {mul, dst.node}, ir::OpKind::QLut, name, {a.q, t}, {out}, ir::NoAttrs{});
  return {true, dst.node};
}

// Q(Concat(DQ(a_1), ..., DQ(a_n))) with per-tensor 8-bit parameters everywhere (ONNX Runtime's
// placement around a Concat: GoogLeNet, Inception, DenseNet, SqueezeNet): the Concat runs on the
// INT8 tensors. An input whose type and parameters are the output's is joined as it is; any other
// goes through a QLut whose table is Q(DQ_i(c)) for every code c, computed by the reference
// kernels of exactly those two nodes. Q and DQ act element by element and Concat only moves
// elements, so the result is bit-equal to the float Concat between them.
Rewrite lower_concat(ir::Graph& graph, ir::Node* concat) {
  std::optional<QMatch> dst = match_output_q(graph, concat->output(0));
  if (!dst || !is_per_tensor(dst->params) || graph.is_graph_output(concat->output(0))) return {};
  std::vector<DqMatch> srcs;
  for (const ir::Value* in : concat->inputs()) {
    std::optional<DqMatch> m = match_activation_dq(in);
    if (!m || !is_per_tensor(m->params) || !can_adopt(m->q, m->params)) return {};
    if (m->q->dtype != DType::kU8 && m->q->dtype != DType::kS8) return {};
    // One INT8 tensor read through two DQs must mean one thing (its Value::quant is set below).
    for (const DqMatch& other : srcs) {
      if (other.q == m->q && !same_params(other.params, m->params)) return {};
    }
    srcs.push_back(std::move(*m));
  }
  // Tables first: nothing changes unless every input can be re-expressed.
  std::vector<std::optional<Tensor>> tables;
  for (const DqMatch& m : srcs) {
    if (m.q->dtype == dst->params.storage && same_params(m.params, dst->params)) {
      tables.emplace_back();
      continue;
    }
    std::optional<Tensor> v = run_on(*m.node, all_codes(m.q->dtype), graph.opset());
    if (v) v = run_on(*dst->node, *v, graph.opset());
    if (!v || v->dtype() != dst->params.storage || v->numel() != 256) return {};
    tables.push_back(std::move(v));
  }
  const std::string name = concat->name;
  std::vector<ir::Value*> inputs;
  for (size_t i = 0; i < srcs.size(); ++i) {
    srcs[i].q->quant = srcs[i].params;
    if (!tables[i]) {
      inputs.push_back(srcs[i].q);
      continue;
    }
    ir::Value* t = graph.add_initializer(graph.unique_name(name + "_requantize_lut"), std::move(*tables[i]));
    ir::Value* y = graph.add_value(graph.unique_name(name + "_requantized"));
    y->dtype = dst->params.storage;
    y->quant = dst->params;
    graph.add_node(ir::OpKind::QLut, graph.unique_name(name + "_requantize"), {srcs[i].q, t}, {y});
    inputs.push_back(y);
  }
  ir::Value* out = dst->node->output(0);
  out->quant = dst->params;
  ir::Attrs attrs = concat->attrs;
  ir::replace_nodes(graph, {concat, dst->node}, ir::OpKind::Concat, name, inputs, {out}, std::move(attrs));
  return {true, dst->node};
}

// DQ(x) -> f1 -> ... -> fk -> Q (f pointwise unary ops, each output read only by the next, x and Q
// per-tensor 8-bit): QLut(x, table) with table[c - type min] = Q(fk(...f1(DQ(c)))) for every code
// c, computed by the reference kernels of exactly these nodes, so the lookup is bit-equal to them.
Rewrite lower_pointwise_chain(ir::Graph& graph, ir::Node* first) {
  if (!is_pointwise_unary(*first)) return {};
  std::optional<DqMatch> src = match_activation_dq(first->input(0));
  if (!src || !can_adopt(src->q, src->params)) return {};
  std::vector<ir::Node*> chain = {first};
  std::optional<QMatch> dst;
  while (true) {
    ir::Value* y = chain.back()->output(0);
    if (graph.is_graph_output(y) || y->dtype != DType::kF32) return {};
    dst = match_output_q(graph, y);
    if (dst) break;
    ir::Node* next = ir::sole_consumer(graph, y);
    if (next == nullptr || !is_pointwise_unary(*next) || next->input(0) != y) return {};
    chain.push_back(next);
  }
  // The 256 codes of x's type in table order, through DQ, the chain and Q.
  std::optional<Tensor> v = run_on(*src->node, all_codes(src->q->dtype), graph.opset());
  for (size_t i = 0; v && i < chain.size(); ++i) v = run_on(*chain[i], *v, graph.opset());
  if (v) v = run_on(*dst->node, *v, graph.opset());
  if (!v || v->dtype() != dst->params.storage || v->numel() != 256) return {};
  src->q->quant = src->params;
  ir::Value* out = dst->node->output(0);
  out->quant = dst->params;
  const std::string name = first->name;
  ir::Value* table = graph.add_initializer(graph.unique_name(name + "_lut"), std::move(*v));
  std::vector<ir::Node*> remove = chain;
  remove.push_back(dst->node);
  ir::replace_nodes(graph, remove, ir::OpKind::QLut, name, {src->q, table}, {out}, ir::NoAttrs{});
  Rewrite r{true, dst->node, {}};
  r.others.assign(chain.begin() + 1, chain.end());
  return r;
}

// DQ(a) * DQ(b) -> Q with a, b, Q of one INT8 type: QMul(a, b), where b has a's shape or is one
// value per (batch, channel) -- the gate of a squeeze-and-excitation block. The gate goes second
// (FP32 multiplication commutes exactly). When b is a QLut of a (x * HardSigmoid(x)), the whole
// product is one QLut of a instead (lower_self_product).
Rewrite lower_mul(ir::Graph& graph, ir::Node* mul, bool* as_table) {
  std::optional<DqMatch> a = match_activation_dq(mul->input(0));
  std::optional<DqMatch> b = match_activation_dq(mul->input(1));
  if (!a || !b) return {};
  if (!a->q->shape || !b->q->shape) return {};
  auto is_gate_of = [](const ir::Dims& gate, const ir::Dims& full) {
    if (gate.size() != full.size() || full.size() < 3) return false;
    for (size_t i = 0; i < full.size(); ++i) {
      if (i < 2 ? !(gate[i] == full[i]) : !(gate[i].is_static() && gate[i].value == 1)) return false;
    }
    return true;
  };
  const ir::Dims& sa = *a->q->shape;
  const ir::Dims& sb = *b->q->shape;
  bool swap = false;
  if (!(sa == sb) && !is_gate_of(sb, sa)) {
    if (!is_gate_of(sa, sb)) return {};
    swap = true;
  }
  if (!can_adopt(a->q, a->params) || !can_adopt(b->q, b->params)) return {};
  if (a->q == b->q && !same_params(a->params, b->params)) return {};
  if (graph.is_graph_output(mul->output(0))) return {};
  std::optional<QMatch> dst = match_output_q(graph, mul->output(0));
  if (!dst) return {};
  if (a->q->dtype != dst->params.storage || b->q->dtype != dst->params.storage) {
    if (!unify_int8_types(graph, a->q, b->q, dst->params.storage)) return {};
    a = match_activation_dq(mul->input(0));
    b = match_activation_dq(mul->input(1));
    if (!a || !b) return {};
  }
  for (bool swap_ab : {false, true}) {
    Rewrite r = swap_ab ? lower_self_product(graph, mul, *b, *a, *dst) : lower_self_product(graph, mul, *a, *b, *dst);
    if (r.done) {
      *as_table = true;
      return r;
    }
  }
  a->q->quant = a->params;
  b->q->quant = b->params;
  ir::Value* out = dst->node->output(0);
  out->quant = dst->params;
  const std::string name = mul->name;
  ir::Value* first = swap ? b->q : a->q;
  ir::Value* second = swap ? a->q : b->q;
  ir::replace_nodes(graph, {mul, dst->node}, ir::OpKind::QMul, name, {first, second}, {out}, ir::NoAttrs{});
  return {true, dst->node};
}

// Q(DQ(a)) with identical per-tensor parameters is a.
Rewrite remove_round_trip(ir::Graph& graph, ir::Node* q) {
  ir::Value* out = q->output(0);
  if (graph.is_graph_output(out)) return {};
  std::optional<DqMatch> src = match_activation_dq(q->input(0));
  if (!src) return {};
  std::optional<ir::QuantParams> p = qdq_quant_params(*q, DType::kU8, rank_of(q->input(0)));
  if (!p || !same_params(*p, src->params)) return {};
  graph.remove_node(q);
  graph.replace_all_uses(out, src->q);
  return {true, nullptr};
}

}  // namespace

Result<LowerQdqStats> lower_qdq(ir::Graph& graph) {
  LowerQdqStats stats;
  HQP_ASSIGN_OR_RETURN(std::vector<ir::Node*> order, graph.topological_order());
  // Rewrites remove their anchor and later nodes of the snapshot (a QuantizeLinear, a Relu, the
  // rest of a QLut chain); removed nodes are skipped by address before being dereferenced.
  std::unordered_set<const ir::Node*> removed;
  for (ir::Node* node : order) {
    if (removed.count(node) != 0) continue;
    Rewrite r;
    const ir::OpKind kind = node->kind;  // `node` is gone after a rewrite
    bool lowers_compute = false;
    switch (kind) {
      case ir::OpKind::Conv:
      case ir::OpKind::FusedConv:
        r = lower_conv(graph, node);
        lowers_compute = true;
        if (r.done) ++stats.qconv;
        break;
      case ir::OpKind::Gemm:
      case ir::OpKind::FusedGemm:
        r = lower_gemm(graph, node);
        lowers_compute = true;
        if (r.done) ++stats.qgemm;
        break;
      case ir::OpKind::QuantizeLinear:
        r = remove_round_trip(graph, node);
        if (r.done) ++stats.round_trips;
        break;
      case ir::OpKind::Add:
        r = lower_add(graph, node);
        if (r.done) ++stats.qadd;
        break;
      case ir::OpKind::Mul: {
        bool as_table = false;
        r = lower_mul(graph, node, &as_table);
        if (r.done) ++(as_table ? stats.qlut : stats.qmul);
        break;
      }
      case ir::OpKind::GlobalAveragePool:
        r = lower_global_average_pool(graph, node);
        if (r.done) ++stats.qglobal_average_pool;
        break;
      case ir::OpKind::Concat:
        r = lower_concat(graph, node);
        if (r.done) ++stats.qconcat;
        break;
      case ir::OpKind::Relu:
      case ir::OpKind::Clip:
      case ir::OpKind::HardSwish:
      case ir::OpKind::HardSigmoid:
      case ir::OpKind::Sigmoid:
      case ir::OpKind::LeakyRelu:
      case ir::OpKind::Tanh:
      case ir::OpKind::Erf:
      case ir::OpKind::Gelu:
      case ir::OpKind::Silu:
      case ir::OpKind::Identity:
        r = lower_pointwise_chain(graph, node);
        if (r.done) ++stats.qlut;
        break;
      default:
        r = lower_data_movement(graph, node);
        if (r.done) ++stats.quantized_moves;
        break;
    }
    if (!r.done) continue;
    if (lowers_compute && r.absorbed == nullptr) ++stats.float_outputs;
    removed.insert(node);
    if (r.absorbed != nullptr) removed.insert(r.absorbed);
    for (ir::Node* n : r.others) {
      if (n != nullptr) removed.insert(n);
    }
  }
  graph.remove_dead_code();
  HQP_RETURN_IF_ERROR(ir::infer_shapes(graph));
  return stats;
}

}  // namespace hqp::passes
