// insert_qdq: BatchNorm folding, min-max calibration and QDQ insertion for lower_qdq's patterns.
#include "quant/insert_qdq.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "ir/verifier.h"
#include "passes/fold_batchnorm.h"
#include "passes/fuse_gelu.h"
#include "passes/fuse_layer_norm.h"
#include "passes/remove_identity.h"
#include "ir/rewrite.h"

namespace hqp::quant {

namespace {

using ir::activation_post_ops;
using ir::constant_of;
using ir::sole_consumer;

// Opset where DequantizeLinear gains per-axis scales.
constexpr int64_t kMinQdqOpset = 13;

// A Conv / Gemm / MatMul-by-a-constant whose weights and bias lower_qdq can take as s8 / s32 constants.
struct ComputeNode {
  ir::Node* node = nullptr;
  int64_t channel_axis = 0;  // output channels along this axis of the weight
};

// The Add of a constant f32 [N] bias that alone reads MatMul `node`'s output (PyTorch's Linear on
// a tensor of rank > 2), and the input index of that bias; nullopt otherwise.
struct BiasAdd {
  ir::Node* add;
  size_t index;
};
std::optional<BiasAdd> matmul_bias_add(const ir::Graph& g, const ir::Node* node) {
  if (node->kind != ir::OpKind::MatMul || g.is_graph_output(node->output(0))) return std::nullopt;
  ir::Node* add = sole_consumer(g, node->output(0));
  if (add == nullptr || add->kind != ir::OpKind::Add || add->num_inputs() != 2) return std::nullopt;
  const size_t index = add->input(0) == node->output(0) ? 1 : 0;
  if (add->input(index) == node->output(0)) return std::nullopt;
  const Tensor* w = constant_of(node->input(1));
  const Tensor* b = constant_of(add->input(index));
  if (w == nullptr || w->rank() != 2 || b == nullptr || b->dtype() != DType::kF32 || b->rank() != 1 ||
      b->numel() != w->dim(1)) {
    return std::nullopt;
  }
  return BiasAdd{add, index};
}

bool is_compute(ir::OpKind kind) {
  return kind == ir::OpKind::Conv || kind == ir::OpKind::Gemm || kind == ir::OpKind::MatMul;
}

std::optional<ComputeNode> as_quantizable(ir::Node* node) {
  const ir::Value* x = node->input(0);
  const Tensor* w = constant_of(node->input(1));
  const ir::Value* b = node->input(2);
  const Tensor* bias = b != nullptr ? constant_of(b) : nullptr;
  if (x == nullptr || x->dtype != DType::kF32 || !x->shape || w == nullptr || w->dtype() != DType::kF32) {
    return std::nullopt;
  }
  if (b != nullptr && (bias == nullptr || bias->dtype() != DType::kF32)) return std::nullopt;
  ComputeNode c{node, 0};
  if (node->kind == ir::OpKind::Conv) {
    if (w->rank() < 3) return std::nullopt;
    if (bias != nullptr && (bias->rank() != 1 || bias->numel() != w->dim(0))) return std::nullopt;
    return c;
  }
  if (node->kind == ir::OpKind::MatMul) {
    // A [.., K] times a constant B [K, N] (a Linear layer, also on a channels-last tensor: ConvNeXt):
    // output channels along B's axis 1; its bias is the Add that follows (matmul_bias_add), quantized
    // with it.
    if (x->shape->size() < 2 || w->rank() != 2) return std::nullopt;
    c.channel_axis = 1;
    return c;
  }
  if (node->kind != ir::OpKind::Gemm) return std::nullopt;
  const ir::GemmAttrs& a = node->attr<ir::GemmAttrs>();
  if (a.trans_a != 0 || a.alpha != 1.0f || x->shape->size() != 2 || w->rank() != 2) return std::nullopt;
  c.channel_axis = a.trans_b != 0 ? 0 : 1;
  if (bias != nullptr) {
    const int64_t n = w->dim(c.channel_axis);
    const bool row = bias->rank() == 1 || (bias->rank() == 2 && bias->dim(0) == 1);
    if (a.beta != 1.0f || !row || bias->numel() != n) return std::nullopt;
  }
  return c;
}

// Ops that only move or select elements: run on the INT8 tensor by lower_qdq when their input and
// output carry the same parameters (the reference MaxPool takes u8 only).
bool is_data_movement(const ir::Node& node, ActivationScheme scheme) {
  switch (node.kind) {
    case ir::OpKind::MaxPool: return node.output(1) == nullptr && scheme == ActivationScheme::kU8Asymmetric;
    case ir::OpKind::Flatten:
    case ir::OpKind::Reshape:
    case ir::OpKind::Squeeze:
    case ir::OpKind::Unsqueeze:
    case ir::OpKind::Transpose: return true;
    default: return false;
  }
}

// Activation tensors to quantize, grouped (union-find) where they must share parameters.
class QuantizedTensors {
 public:
  // True when `v` was not marked before.
  bool mark(ir::Value* v) {
    if (!index_.emplace(v, order_.size()).second) return false;
    order_.push_back(v);
    parent_.push_back(parent_.size());
    return true;
  }
  void unite(ir::Value* a, ir::Value* b) { parent_[find(index_.at(a))] = find(index_.at(b)); }
  size_t group(ir::Value* v) { return find(index_.at(v)); }
  bool contains(ir::Value* v) const { return index_.count(v) != 0; }
  const std::vector<ir::Value*>& values() const { return order_; }

 private:
  size_t find(size_t i) {
    while (parent_[i] != i) i = parent_[i] = parent_[parent_[i]];
    return i;
  }
  std::unordered_map<const ir::Value*, size_t> index_;
  std::vector<ir::Value*> order_;  // in marking order (deterministic)
  std::vector<size_t> parent_;
};

bool is_activation_tensor(const ir::Value* v) {
  return v != nullptr && v->dtype == DType::kF32 && constant_of(v) == nullptr;
}

// Marks the operands of residual Adds (step 4 of insert_qdq); returns how many Adds qualified.
int mark_residual_adds(const ir::Graph& g, const std::vector<ir::Node*>& order,
                       const std::unordered_set<const ir::Node*>& quantized, QuantizedTensors& marks) {
  std::unordered_map<const ir::Node*, size_t> position;
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  int count = 0;
  for (ir::Node* add : order) {
    if (add->kind != ir::OpKind::Add || add->num_inputs() != 2) continue;
    ir::Value* a = add->input(0);
    ir::Value* b = add->input(1);
    if (!is_activation_tensor(a) || !is_activation_tensor(b) || a == b) continue;
    if (!a->shape || !b->shape || !(*a->shape == *b->shape)) continue;
    const ir::Node* main = nullptr;
    ir::Value* other = nullptr;
    for (size_t side = 0; side < 2; ++side) {
      ir::Value* v = add->input(side);
      const ir::Node* p = v->producer();
      if (p == nullptr || p->kind != ir::OpKind::Conv || quantized.count(p) == 0) continue;
      if (sole_consumer(g, v) != add) continue;
      if (main == nullptr || position.at(p) > position.at(main)) {
        main = p;
        other = add->input(1 - side);
      }
    }
    if (main == nullptr) continue;
    marks.mark(other);
    ir::Value* out = add->output(0);
    if (ir::Node* act = sole_consumer(g, out); act != nullptr && activation_post_ops(*act)) out = act->output(0);
    marks.mark(out);
    ++count;
  }
  return count;
}

// The value that carries `node`'s result past a Relu / Clip that alone reads it (ONNX Runtime puts
// the output Q after such an activation and folds the clamp into it).
ir::Value* absorbed_output(const ir::Graph& g, ir::Node* node) {
  ir::Value* out = node->output(0);
  if (g.is_graph_output(out)) return out;
  if (std::optional<BiasAdd> bias = matmul_bias_add(g, node)) {
    // A MatMul's bias Add belongs to it (its bias is quantized as the MatMul's, s32): the Q goes
    // after the Add, where fuse_matmul_bias + lower_qdq make one INT8 GEMM of the pair.
    node = bias->add;
    out = node->output(0);
    if (g.is_graph_output(out)) return out;
  }
  ir::Node* act = sole_consumer(g, out);
  if (act != nullptr && (act->kind == ir::OpKind::Relu || act->kind == ir::OpKind::Clip) && activation_post_ops(*act)) {
    return act->output(0);
  }
  return out;
}

// ONNX Runtime placement (QdqStyle::kOrt): inputs and (absorbed) outputs of every quantized Conv /
// Gemm and of Add, Mul, GlobalAveragePool and Concat over activation tensors; graph outputs stay
// float. Returns how many non-compute ops were quantized.
// Names of the nodes inside the decomposed GELUs and LayerNorms that exporters write before opsets
// 20 / 17 (Div, Erf, Add, Mul ... ; ReduceMean, Sub, Pow ...): the runtime fuses each into one float
// op (passes::fuse_gelu / fuse_layer_norm), as ONNX Runtime's quantization pre-processing does
// before it places QDQ, so no Q / DQ may split them. Found by running those passes on a copy.
Result<std::unordered_set<std::string>> fused_interior_nodes(const ir::Graph& g) {
  ir::Graph copy = g.clone();
  HQP_RETURN_IF_ERROR(passes::fuse_layer_norm(copy).status());
  HQP_RETURN_IF_ERROR(passes::fuse_gelu(copy).status());
  std::unordered_set<std::string> kept, out;
  for (const auto& n : copy.nodes()) {
    if (n->kind == ir::OpKind::Gelu || n->kind == ir::OpKind::LayerNormalization) {
      out.insert(n->name);  // it may carry the name of one of the nodes it replaced
    } else {
      kept.insert(n->name);
    }
  }
  for (const auto& n : g.nodes()) {
    if (kept.count(n->name) == 0 && n->kind != ir::OpKind::LayerNormalization) out.insert(n->name);
  }
  return out;
}

int mark_ort_placement(const ir::Graph& g, const std::vector<ir::Node*>& order,
                       const std::unordered_set<const ir::Node*>& quantized, QuantizedTensors& marks,
                       const std::unordered_set<std::string>& fused_interior) {
  int count = 0;
  const auto mark_output = [&](ir::Node* node) {
    ir::Value* out = absorbed_output(g, node);
    if (!g.is_graph_output(out) && is_activation_tensor(out)) marks.mark(out);
  };
  for (ir::Node* node : order) {
    switch (node->kind) {
      case ir::OpKind::Conv:
      case ir::OpKind::Gemm:
      case ir::OpKind::MatMul:
        if (quantized.count(node) != 0) mark_output(node);
        break;
      case ir::OpKind::Add:
      case ir::OpKind::Mul:
      case ir::OpKind::GlobalAveragePool:
      case ir::OpKind::Concat: {
        if (fused_interior.count(node->name) != 0) break;  // inside a GELU / LayerNorm: stays float
        bool all = node->num_inputs() >= 1;
        for (size_t i = 0; i < node->num_inputs(); ++i) all = all && is_activation_tensor(node->input(i));
        if (!all || !is_activation_tensor(node->output(0))) break;
        for (size_t i = 0; i < node->num_inputs(); ++i) marks.mark(node->input(i));
        mark_output(node);
        ++count;
        break;
      }
      default: break;
    }
  }
  return count;
}

// Replaces the f32 constant input `index` of `node` by DequantizeLinear(q, scale, zero 0, axis).
void dequantize_constant(ir::Graph& g, ir::Node* node, size_t index, Tensor q, const std::vector<float>& scale,
                         int64_t axis) {
  const std::string base = node->input(index)->name;
  const int64_t n = static_cast<int64_t>(scale.size());
  ir::Value* qv = g.add_initializer(g.unique_name(base + "_quantized"), std::move(q));
  ir::Value* sv = g.add_initializer(g.unique_name(base + "_scale"), Tensor::from_vector<float>({n}, scale));
  const DType storage = qv->data.dtype();
  ir::Value* zv = g.add_initializer(g.unique_name(base + "_zero_point"), Tensor::zeros(storage, {n}).value());
  qv->quant = ir::QuantParams{scale, std::vector<int32_t>(scale.size(), 0), axis, storage};
  ir::Value* dq = g.add_value(g.unique_name(base + "_dequantized"));
  g.add_node(ir::OpKind::DequantizeLinear, g.unique_name(base + "_DequantizeLinear"), {qv, sv, zv}, {dq},
             ir::AxisAttrs{axis, true});
  g.set_input(node, index, dq);
}

// Quantizes the weight and bias of `c` for an input quantized with `src_scale`.
Status quantize_compute(ir::Graph& g, const ComputeNode& c, float src_scale, bool per_channel) {
  ir::Node* node = c.node;
  const Tensor& w = *constant_of(node->input(1));
  const Tensor* bias = node->input(2) != nullptr ? constant_of(node->input(2)) : nullptr;
  // A MatMul's bias is the constant of the Add after it: DQ(s32) at s_x · s_w like a Gemm's, so the
  // file's float arithmetic is the INT8 GEMM's (lower_qdq takes it as it is).
  const std::optional<BiasAdd> bias_add = matmul_bias_add(g, node);
  if (bias_add) bias = constant_of(bias_add->add->input(bias_add->index));
  const int64_t channels = w.dim(c.channel_axis);
  std::vector<float> min_scale;
  if (bias != nullptr) min_scale = min_bias_weight_scale(*bias, src_scale, channels);
  if (!per_channel) {  // every channel at the tensor's scale (and at least every channel's bias minimum)
    float amax = 0.0f;
    for (float v : w.span<float>()) amax = std::max(amax, std::fabs(v));
    float s = amax > 0.0f ? amax / static_cast<float>(kWeightQMax) : 1.0f;
    for (float m : min_scale) s = std::max(s, m);
    min_scale.assign(static_cast<size_t>(channels), s);
  }
  QuantizedWeights qw = quantize_weights(w, c.channel_axis, min_scale);
  std::optional<QuantizedBias> qb;
  if (bias != nullptr) {
    Result<QuantizedBias> r = quantize_bias(*bias, src_scale, qw.scale);
    if (!r.ok()) return r.status().with_context(fmt::format("cannot quantize node '{}'", node->name));
    qb = std::move(r).value();
  }
  dequantize_constant(g, node, 1, std::move(qw.data), qw.scale, c.channel_axis);
  if (qb && bias_add) {
    dequantize_constant(g, bias_add->add, bias_add->index, std::move(qb->data), qb->scale, 0);
  } else if (qb) {
    dequantize_constant(g, node, 2, std::move(qb->data), qb->scale, 0);
  }
  return Status();
}

// Shared scale / zero-point initializers of one group of activation tensors.
struct GroupParams {
  ir::QuantParams params;
  ir::Value* scale = nullptr;
  ir::Value* zero_point = nullptr;
};

// v -> QuantizeLinear -> DequantizeLinear; every reader of `v` reads the DequantizeLinear output.
void insert_pair(ir::Graph& g, ir::Value* v, GroupParams& gp) {
  if (gp.scale == nullptr) {
    gp.scale = g.add_initializer(g.unique_name(v->name + "_scale"), Tensor::scalar<float>(gp.params.scale[0]));
    Tensor zp = gp.params.storage == DType::kU8 ? Tensor::scalar<uint8_t>(static_cast<uint8_t>(gp.params.zero_point[0]))
                                               : Tensor::scalar<int8_t>(static_cast<int8_t>(gp.params.zero_point[0]));
    gp.zero_point = g.add_initializer(g.unique_name(v->name + "_zero_point"), std::move(zp));
  }
  const std::vector<ir::Use> uses = v->uses();
  ir::Value* q = g.add_value(g.unique_name(v->name + "_quantized"));
  ir::Value* dq = g.add_value(g.unique_name(v->name + "_dequantized"));
  q->quant = gp.params;
  g.add_node(ir::OpKind::QuantizeLinear, g.unique_name(v->name + "_QuantizeLinear"), {v, gp.scale, gp.zero_point},
             {q}, ir::AxisAttrs{});
  g.add_node(ir::OpKind::DequantizeLinear, g.unique_name(v->name + "_DequantizeLinear"), {q, gp.scale, gp.zero_point},
             {dq}, ir::AxisAttrs{});
  for (const ir::Use& u : uses) g.set_input(u.node, static_cast<size_t>(u.input_index), dq);
}

Status check_float_graph(const ir::Graph& g) {
  if (g.opset() < kMinQdqOpset) {
    return make_error(StatusCode::kUnsupported,
                      "cannot quantize model '{}': opset {} has no per-axis DequantizeLinear (opset={}, expected >= {})",
                      g.info.graph_name, g.opset(), g.opset(), kMinQdqOpset);
  }
  for (const auto& n : g.nodes()) {
    const bool qdq = n->kind == ir::OpKind::QuantizeLinear || n->kind == ir::OpKind::DequantizeLinear;
    if (qdq || ir::is_internal_op(n->kind)) {
      return make_error(StatusCode::kUnsupported,
                        "cannot quantize model '{}': node '{}' is {} (expected a float ONNX graph without "
                        "QuantizeLinear / DequantizeLinear or internal ops)",
                        g.info.graph_name, n->name, ir::op_name(n->kind));
    }
  }
  return Status();
}

}  // namespace

std::optional<QdqStyle> qdq_style_from_name(std::string_view name) {
  if (name == "ort") return QdqStyle::kOrt;
  if (name == "trt") return QdqStyle::kTrt;
  return std::nullopt;
}

std::string_view qdq_style_name(QdqStyle style) { return style == QdqStyle::kOrt ? "ort" : "trt"; }

Result<PrepareStats> prepare_for_quantization(ir::Graph& g) {
  HQP_RETURN_IF_ERROR(check_float_graph(g));
  HQP_RETURN_IF_ERROR(ir::verify_and_infer(g));
  HQP_ASSIGN_OR_RETURN(passes::RemoveIdentityStats ri, passes::remove_identity(g));
  HQP_ASSIGN_OR_RETURN(passes::FoldBatchNormStats fb, passes::fold_batchnorm(g));
  PrepareStats stats;
  stats.identities_removed = ri.removed;
  stats.batchnorms_folded = fb.folded_into_conv + fb.folded_into_gemm;
  return stats;
}

Result<std::vector<std::string>> quantizable_nodes(const ir::Graph& g) {
  HQP_ASSIGN_OR_RETURN(std::vector<ir::Node*> order, g.topological_order());
  std::vector<std::string> names;
  for (ir::Node* node : order) {
    if (is_compute(node->kind) && as_quantizable(node)) {
      names.push_back(node->name);
    }
  }
  return names;
}

Result<QdqStats> insert_qdq(ir::Graph& g, const CalibrationData& calib, const QdqOptions& options) {
  HQP_ASSIGN_OR_RETURN(PrepareStats prep, prepare_for_quantization(g));
  HQP_ASSIGN_OR_RETURN(RangeMap ranges, calibrate_min_max(g, calib));
  HQP_ASSIGN_OR_RETURN(QdqStats stats, insert_qdq_with_ranges(g, ranges, options));
  stats.identities_removed = prep.identities_removed;
  stats.batchnorms_folded = prep.batchnorms_folded;
  stats.calibration_batches = static_cast<int>(calib.batches.size());
  return stats;
}

Result<QdqStats> insert_qdq_with_ranges(ir::Graph& g, const RangeMap& ranges, const QdqOptions& options) {
  QdqStats stats;
  HQP_RETURN_IF_ERROR(check_float_graph(g));
  HQP_RETURN_IF_ERROR(ir::verify_and_infer(g));

  // Which Conv / Gemm nodes are quantized, and which activation tensors.
  HQP_ASSIGN_OR_RETURN(std::vector<ir::Node*> order, g.topological_order());
  const std::unordered_set<std::string> keep_float(options.keep_float.begin(), options.keep_float.end());
  std::vector<ComputeNode> compute;
  std::unordered_set<const ir::Node*> quantized;
  QuantizedTensors marks;
  for (ir::Node* node : order) {
    if (!is_compute(node->kind)) continue;
    std::optional<ComputeNode> c = keep_float.count(node->name) != 0 ? std::nullopt : as_quantizable(node);
    if (!c) {
      ++stats.float_compute;
      continue;
    }
    compute.push_back(*c);
    quantized.insert(node);
    marks.mark(node->input(0));
    ++(node->kind == ir::OpKind::Conv ? stats.quantized_convs : stats.quantized_gemms);
  }
  if (options.style == QdqStyle::kTrt) {
    stats.residual_adds = mark_residual_adds(g, order, quantized, marks);
  } else {
    HQP_ASSIGN_OR_RETURN(std::unordered_set<std::string> interior, fused_interior_nodes(g));
    stats.quantized_other_ops = mark_ort_placement(g, order, quantized, marks, interior);
  }
  // Data movement: quantize the input with the output's parameters, transitively.
  for (size_t i = 0; i < marks.values().size(); ++i) {
    ir::Value* v = marks.values()[i];
    const ir::Node* p = v->producer();
    if (p == nullptr || p->output(0) != v || !is_data_movement(*p, options.activations)) continue;
    ir::Value* in = p->input(0);
    if (!is_activation_tensor(in)) continue;
    marks.mark(in);  // appended to values(): this loop visits it too
    marks.unite(in, v);
  }

  // Parameters per group, from the union of the members' ranges.
  std::unordered_map<size_t, ValueRange> group_range;
  for (ir::Value* v : marks.values()) {
    auto it = ranges.find(v->name);
    if (it == ranges.end() || it->second.empty()) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot quantize value '{}': calibration saw no finite value (expected a finite range)",
                        v->name);
    }
    group_range[marks.group(v)].merge(it->second);
  }
  std::unordered_map<size_t, GroupParams> groups;
  for (const auto& [root, range] : group_range) groups[root].params = activation_params(range, options.activations);

  // Weights and biases first: they need the input's scale while node inputs are still the originals.
  for (const ComputeNode& c : compute) {
    const float src_scale = groups.at(marks.group(c.node->input(0))).params.scale[0];
    HQP_RETURN_IF_ERROR(quantize_compute(g, c, src_scale, options.per_channel_weights));
  }
  for (ir::Value* v : marks.values()) insert_pair(g, v, groups.at(marks.group(v)));
  stats.quantized_activations = static_cast<int>(marks.values().size());

  g.remove_dead_code();
  HQP_RETURN_IF_ERROR(ir::verify_and_infer(g).with_context("cannot quantize model: the QDQ graph does not verify"));
  return stats;
}

}  // namespace hqp::quant
