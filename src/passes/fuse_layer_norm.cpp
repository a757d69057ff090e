// Decomposed LayerNorm -> LayerNormalization (fuse_layer_norm.h).
#include "passes/fuse_layer_norm.h"

#include <algorithm>
#include <optional>

#include "ir/rewrite.h"
#include "ir/shape_inference.h"

namespace hqp::passes {

namespace {

using ir::Node;
using ir::OpKind;
using ir::Value;

// The node reading `v` when it is the only reader (and `v` no graph output), of kind `kind`.
// First normalized axis of a ReduceMean over the trailing axes of a rank-`rank` input with dims
// kept; nullopt otherwise.
std::optional<int64_t> trailing_reduce_axis(const Node& n, int64_t rank) {
  if (n.kind != OpKind::ReduceMean || n.num_inputs() > 1) return std::nullopt;
  const auto& a = n.attr<ir::ReduceAttrs>();
  if (a.keepdims == 0 || !a.axes || a.axes->empty()) return std::nullopt;
  std::vector<int64_t> axes;
  for (int64_t v : *a.axes) {
    if (v < -rank || v >= rank) return std::nullopt;
    axes.push_back(v < 0 ? v + rank : v);
  }
  std::sort(axes.begin(), axes.end());
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] != rank - static_cast<int64_t>(axes.size()) + static_cast<int64_t>(i)) return std::nullopt;
  }
  return axes.front();
}

// The other input of a binary node, given one of them.
Value* other_input(const Node& n, const Value* one) { return n.input(0) == one ? n.input(1) : n.input(0); }

// A constant f32 whose shape, right-aligned, is the normalized shape (leading 1s allowed).
bool normalized_constant(const Value* v, const Shape& normalized) {
  const Tensor* t = ir::constant_through_identity(v);
  if (t == nullptr || t->dtype() != DType::kF32) return false;
  const Shape& s = t->shape();
  if (s.size() > normalized.size() + 4) return false;
  Shape trimmed = s;
  while (trimmed.size() > normalized.size() && trimmed.front() == 1) trimmed.erase(trimmed.begin());
  return trimmed == normalized;
}

}  // namespace

Result<FuseLayerNormStats> fuse_layer_norm(ir::Graph& graph) {
  FuseLayerNormStats stats;
  HQP_ASSIGN_OR_RETURN(std::vector<Node*> order, graph.topological_order());
  // The ReduceMeans first; a fusion removes a second ReduceMean of the list, so each candidate is
  // checked against the removed nodes (by address, never dereferenced) before it is read.
  std::vector<Node*> candidates;
  for (Node* n : order) {
    if (n->kind == OpKind::ReduceMean) candidates.push_back(n);
  }
  std::vector<const Node*> removed;
  for (Node* mean_node : candidates) {
    if (std::find(removed.begin(), removed.end(), mean_node) != removed.end()) continue;
    Value* x = mean_node->input(0);
    if (x->dtype != DType::kF32 || !x->shape) continue;
    const int64_t rank = static_cast<int64_t>(x->shape->size());
    const std::optional<int64_t> axis = trailing_reduce_axis(*mean_node, rank);
    if (!axis) continue;
    // The normalized dims must be known (the batch may be symbolic).
    const std::optional<Shape> normalized_dims = ir::static_shape(ir::Dims(x->shape->begin() + *axis, x->shape->end()));
    if (!normalized_dims) continue;
    const Shape& normalized = *normalized_dims;
    Value* mean = mean_node->output(0);
    Node* sub = ir::sole_consumer_of_kind(graph, mean, OpKind::Sub);
    if (sub == nullptr || sub->input(0) != x || sub->input(1) != mean) continue;
    Value* d = sub->output(0);
    if (graph.is_graph_output(d) || d->uses().size() != 2) continue;
    Node* pow = nullptr;
    Node* div = nullptr;
    for (const auto& u : d->uses()) {
      if (u.node->kind == OpKind::Pow && u.node->input(0) == d) pow = u.node;
      if (u.node->kind == OpKind::Div && u.node->input(0) == d) div = u.node;
    }
    if (pow == nullptr || div == nullptr) continue;
    const std::optional<float> two = ir::constant_scalar_f32(pow->input(1));
    if (!two || *two != 2.0f) continue;
    Node* var_node = ir::sole_consumer_of_kind(graph, pow->output(0), OpKind::ReduceMean);
    if (var_node == nullptr || trailing_reduce_axis(*var_node, rank) != axis) continue;
    Node* add_eps = ir::sole_consumer_of_kind(graph, var_node->output(0), OpKind::Add);
    if (add_eps == nullptr) continue;
    const std::optional<float> eps = ir::constant_scalar_f32(other_input(*add_eps, var_node->output(0)));
    if (!eps) continue;
    Node* sqrt = ir::sole_consumer_of_kind(graph, add_eps->output(0), OpKind::Sqrt);
    if (sqrt == nullptr || div->input(1) != sqrt->output(0) || ir::sole_consumer(graph, sqrt->output(0)) != div) continue;
    std::vector<Node*> pattern = {mean_node, sub, pow, var_node, add_eps, sqrt, div};
    Value* y = div->output(0);
    Value* gamma = nullptr;
    Value* beta = nullptr;
    if (Node* mul = ir::sole_consumer_of_kind(graph, y, OpKind::Mul); mul != nullptr && normalized_constant(other_input(*mul, y), normalized)) {
      gamma = other_input(*mul, y);
      pattern.push_back(mul);
      y = mul->output(0);
      if (Node* add = ir::sole_consumer_of_kind(graph, y, OpKind::Add); add != nullptr && normalized_constant(other_input(*add, y), normalized)) {
        beta = other_input(*add, y);
        pattern.push_back(add);
        y = add->output(0);
      }
    }
    if (gamma == nullptr) {
      int64_t inner = 1;
      for (int64_t v : normalized) inner *= v;
      HQP_ASSIGN_OR_RETURN(Tensor ones, Tensor::zeros(DType::kF32, Shape{inner}));
      for (float& v : ones.span<float>()) v = 1.0f;
      gamma = graph.add_initializer(graph.unique_name(mean_node->name + "_ones"), std::move(ones));
    }
    ir::LayerNormAttrs attrs;
    attrs.axis = *axis;
    attrs.epsilon = *eps;
    std::vector<Value*> ins = {x, gamma};
    if (beta != nullptr) ins.push_back(beta);
    const std::string name = div->name;
    ir::replace_nodes(graph, pattern, OpKind::LayerNormalization, name, ins, {y}, attrs);
    removed.insert(removed.end(), pattern.begin(), pattern.end());
    ++stats.fused;
  }
  graph.remove_dead_code();
  HQP_RETURN_IF_ERROR(ir::infer_shapes(graph));
  return stats;
}

}  // namespace hqp::passes
