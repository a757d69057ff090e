// Pattern-matching and rewriting helpers shared by the graph passes.
#include "passes/rewrite_util.h"

#include <limits>
#include <unordered_set>

namespace hqp::passes::detail {

const Tensor* constant_of(const ir::Value* v) {
  if (v == nullptr) return nullptr;
  if (v->is_initializer()) return &v->data;
  const ir::Node* p = v->producer();
  if (p != nullptr && p->kind == ir::OpKind::Constant) return &p->attr<ir::ConstantAttrs>().value;
  return nullptr;
}

std::optional<float> constant_scalar_f32(const ir::Value* v) {
  const Tensor* t = constant_of(v);
  if (t == nullptr || t->dtype() != DType::kF32 || t->numel() != 1 || t->rank() > 1) return std::nullopt;
  return t->data<float>()[0];
}

ir::Node* sole_consumer(const ir::Graph& graph, const ir::Value* v) {
  if (v == nullptr || v->uses().size() != 1 || graph.is_graph_output(v)) return nullptr;
  return v->uses()[0].node;
}

std::optional<ir::PostOps> activation_post_ops(const ir::Node& node) {
  ir::PostOps post;
  const ir::Value* x = node.input(0);
  if (x == nullptr || x->dtype != DType::kF32) return std::nullopt;
  switch (node.kind) {
    case ir::OpKind::Relu: post.activation = ir::Activation::kRelu; return post;
    case ir::OpKind::Sigmoid: post.activation = ir::Activation::kSigmoid; return post;
    case ir::OpKind::HardSwish: post.activation = ir::Activation::kHardSwish; return post;
    case ir::OpKind::HardSigmoid: {
      const auto& a = node.attr<ir::HardSigmoidAttrs>();
      post.activation = ir::Activation::kHardSigmoid;
      post.alpha = a.alpha;
      post.beta = a.beta;
      return post;
    }
    case ir::OpKind::Clip: {
      const auto& a = node.attr<ir::ClipAttrs>();
      float lo = a.min.value_or(std::numeric_limits<float>::lowest());
      float hi = a.max.value_or(std::numeric_limits<float>::max());
      // Opset >= 11 bounds are optional inputs; they must be compile-time constants to fuse.
      for (size_t i = 1; i < 3; ++i) {
        const ir::Value* bound = node.input(i);
        if (bound == nullptr) continue;
        std::optional<float> b = constant_scalar_f32(bound);
        if (!b) return std::nullopt;
        (i == 1 ? lo : hi) = *b;
      }
      post.activation = ir::Activation::kClip;
      post.alpha = lo;
      post.beta = hi;
      return post;
    }
    default: return std::nullopt;
  }
}

bool depends_on(const ir::Node& node, const ir::Node& ancestor) {
  std::unordered_set<const ir::Node*> seen;
  std::vector<const ir::Node*> stack = {&node};
  while (!stack.empty()) {
    const ir::Node* n = stack.back();
    stack.pop_back();
    for (const ir::Value* in : n->inputs()) {
      if (in == nullptr || in->producer() == nullptr) continue;
      const ir::Node* p = in->producer();
      if (p == &ancestor) return true;
      if (seen.insert(p).second) stack.push_back(p);
    }
  }
  return false;
}

ir::Node* replace_nodes(ir::Graph& graph, const std::vector<ir::Node*>& remove, ir::OpKind kind, std::string name,
                        std::vector<ir::Value*> inputs, std::vector<ir::Value*> outputs, ir::Attrs attrs) {
  for (ir::Node* n : remove) graph.remove_node(n);
  return graph.add_node(kind, std::move(name), std::move(inputs), std::move(outputs), std::move(attrs));
}

int count_nodes(const ir::Graph& graph, ir::OpKind kind) {
  int n = 0;
  for (const auto& node : graph.nodes()) n += node->kind == kind ? 1 : 0;
  return n;
}

}  // namespace hqp::passes::detail
