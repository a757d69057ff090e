// Conv/Gemm + activation fusion.
#include "passes/fuse_conv_activation.h"

#include <cmath>

#include "ir/shape_inference.h"
#include "ir/rewrite.h"

namespace hqp::passes {

namespace {

// HardSwish(x) = x * HardSigmoid(x; 1/6, 0.5). torch stores alpha as float(1/6).
constexpr float kHardSwishAlpha = 1.0f / 6.0f;
constexpr float kHardSwishBeta = 0.5f;
constexpr float kHardSwishParamTol = 1e-7f;

// A producer that can take an activation: f32 Conv/Gemm, or a fused op without one yet.
bool can_take_activation(const ir::Node& node) {
  switch (node.kind) {
    case ir::OpKind::Conv:
    case ir::OpKind::Gemm: return node.output(0)->dtype == DType::kF32;
    case ir::OpKind::FusedConv: return node.attr<ir::FusedConvAttrs>().post.activation == ir::Activation::kNone;
    case ir::OpKind::FusedGemm: return node.attr<ir::FusedGemmAttrs>().post.activation == ir::Activation::kNone;
    default: return false;
  }
}

struct ActivationMatch {
  ir::PostOps post;
  std::vector<ir::Node*> nodes;  // the activation's nodes; the last one writes the result
};

// y * Gate(y) where `y` (the producer's output) feeds exactly those two nodes, as exporters write
// HardSwish (Gate = HardSigmoid with alpha 1/6, beta 0.5) and SiLU / Swish (Gate = Sigmoid).
std::optional<ActivationMatch> match_gated_pattern(const ir::Graph& graph, const ir::Value* y) {
  if (y->uses().size() != 2 || graph.is_graph_output(y)) return std::nullopt;
  ir::Node* gate_node = nullptr;
  ir::Node* mul = nullptr;
  for (const ir::Use& u : y->uses()) {
    if (u.node->kind == ir::OpKind::HardSigmoid || u.node->kind == ir::OpKind::Sigmoid) gate_node = u.node;
    if (u.node->kind == ir::OpKind::Mul) mul = u.node;
  }
  if (gate_node == nullptr || mul == nullptr) return std::nullopt;
  ActivationMatch m;
  if (gate_node->kind == ir::OpKind::HardSigmoid) {
    const auto& a = gate_node->attr<ir::HardSigmoidAttrs>();
    if (std::fabs(a.alpha - kHardSwishAlpha) > kHardSwishParamTol || std::fabs(a.beta - kHardSwishBeta) > kHardSwishParamTol) {
      return std::nullopt;
    }
    m.post.activation = ir::Activation::kHardSwish;
  } else {
    m.post.activation = ir::Activation::kSilu;
  }
  const ir::Value* gate = gate_node->output(0);
  if (ir::sole_consumer(graph, gate) != mul || mul->output(0)->dtype != DType::kF32) return std::nullopt;
  const bool operands = (mul->input(0) == y && mul->input(1) == gate) || (mul->input(0) == gate && mul->input(1) == y);
  if (!operands) return std::nullopt;
  m.nodes = {gate_node, mul};
  return m;
}

std::optional<ActivationMatch> match_activation(const ir::Graph& graph, const ir::Value* y) {
  if (ir::Node* act = ir::sole_consumer(graph, y)) {
    std::optional<ir::PostOps> post = ir::activation_post_ops(*act);
    if (!post) return std::nullopt;
    return ActivationMatch{*post, {act}};
  }
  return match_gated_pattern(graph, y);
}

// Rebuilds `producer` as its fused kind with the activation; keeps a residual sum if present.
void fuse(ir::Graph& graph, ir::Node* producer, const ActivationMatch& m) {
  const bool is_conv = producer->kind == ir::OpKind::Conv || producer->kind == ir::OpKind::FusedConv;
  ir::Attrs attrs;
  if (is_conv) {
    ir::FusedConvAttrs f = producer->kind == ir::OpKind::Conv ? ir::FusedConvAttrs{producer->attr<ir::ConvAttrs>(), {}}
                                                               : producer->attr<ir::FusedConvAttrs>();
    const bool has_sum = f.post.has_sum;
    f.post = m.post;
    f.post.has_sum = has_sum;
    attrs = f;
  } else {
    ir::FusedGemmAttrs f = producer->kind == ir::OpKind::Gemm ? ir::FusedGemmAttrs{producer->attr<ir::GemmAttrs>(), {}}
                                                               : producer->attr<ir::FusedGemmAttrs>();
    f.post = m.post;
    attrs = f;
  }
  std::vector<ir::Node*> remove = {producer};
  remove.insert(remove.end(), m.nodes.begin(), m.nodes.end());
  ir::Value* out = m.nodes.back()->output(0);
  ir::replace_nodes(graph, remove, is_conv ? ir::OpKind::FusedConv : ir::OpKind::FusedGemm, producer->name,
                        producer->inputs(), {out}, attrs);
}

}  // namespace

Result<FuseActivationStats> fuse_conv_activation(ir::Graph& graph) {
  FuseActivationStats stats;
  HQP_ASSIGN_OR_RETURN(std::vector<ir::Node*> order, graph.topological_order());
  std::vector<ir::Node*> producers;
  for (ir::Node* n : order) {
    if (can_take_activation(*n)) producers.push_back(n);
  }
  // A fusion removes one producer and activation nodes, none of which is another producer.
  for (ir::Node* p : producers) {
    std::optional<ActivationMatch> m = match_activation(graph, p->output(0));
    if (!m) continue;
    const bool is_conv = p->kind == ir::OpKind::Conv || p->kind == ir::OpKind::FusedConv;
    ++(is_conv ? stats.fused_conv : stats.fused_gemm);
    if (m->post.activation == ir::Activation::kHardSwish && m->nodes.size() == 2) ++stats.hardswish_patterns;
    if (m->post.activation == ir::Activation::kSilu) ++stats.silu_patterns;
    fuse(graph, p, *m);
  }
  graph.remove_dead_code();
  HQP_RETURN_IF_ERROR(ir::infer_shapes(graph));
  return stats;
}

}  // namespace hqp::passes
