// Decomposed GELU -> Gelu (fuse_gelu.h).
#include "passes/fuse_gelu.h"

#include <algorithm>
#include <optional>

#include "ir/rewrite.h"
#include "ir/shape_inference.h"
#include "kernels/ref/elementwise.h"

namespace hqp::passes {

namespace {

using ir::Node;
using ir::OpKind;
using ir::Value;

bool is_constant(const Value* v, float want) {
  const std::optional<float> c = ir::constant_scalar_f32(v);
  return c && *c == want;
}

// The input of binary `n` that is not `one` when the other one is the constant `want`.
bool other_is_constant(const Node& n, const Value* one, float want) {
  return (n.input(0) == one && is_constant(n.input(1), want)) || (n.input(1) == one && is_constant(n.input(0), want));
}

}  // namespace

Result<FuseGeluStats> fuse_gelu(ir::Graph& graph) {
  FuseGeluStats stats;
  HQP_ASSIGN_OR_RETURN(std::vector<Node*> order, graph.topological_order());
  // The Divs first: a fusion removes its own Div and four nodes of other kinds, so the remaining
  // candidates stay valid.
  std::vector<Node*> candidates;
  for (Node* n : order) {
    if (n->kind == OpKind::Div) candidates.push_back(n);
  }
  for (Node* div : candidates) {
    Value* x = div->input(0);
    if (x->dtype != DType::kF32 || !is_constant(div->input(1), kernels::kGeluSqrt2)) continue;
    Node* erf = ir::sole_consumer_of_kind(graph, div->output(0), OpKind::Erf);
    if (erf == nullptr) continue;
    Node* add = ir::sole_consumer_of_kind(graph, erf->output(0), OpKind::Add);
    if (add == nullptr || !other_is_constant(*add, erf->output(0), 1.0f)) continue;
    Node* mul = ir::sole_consumer_of_kind(graph, add->output(0), OpKind::Mul);
    if (mul == nullptr) continue;
    const Value* other = mul->input(0) == add->output(0) ? mul->input(1) : mul->input(0);
    if (other != x) continue;
    Node* half = ir::sole_consumer_of_kind(graph, mul->output(0), OpKind::Mul);
    if (half == nullptr || !other_is_constant(*half, mul->output(0), 0.5f)) continue;
    // Only the shapes of x: the constants broadcast (scalars), so y has x's shape.
    const std::vector<Node*> pattern = {div, erf, add, mul, half};
    ir::replace_nodes(graph, pattern, OpKind::Gelu, half->name, {x}, {half->output(0)}, ir::NoAttrs{});
    ++stats.fused;
  }
  graph.remove_dead_code();
  HQP_RETURN_IF_ERROR(ir::infer_shapes(graph));
  return stats;
}

}  // namespace hqp::passes
