// Pattern-matching and rewriting helpers shared by the graph passes.
#include "ir/rewrite.h"

#include <limits>
#include <unordered_set>

namespace hqp::ir {

const Tensor* constant_of(const Value* v) {
  if (v == nullptr) return nullptr;
  if (v->is_initializer()) return &v->data;
  const Node* p = v->producer();
  if (p != nullptr && p->kind == OpKind::Constant) return &p->attr<ConstantAttrs>().value;
  return nullptr;
}

const Tensor* constant_through_identity(const Value* v) {
  for (int depth = 0; v != nullptr && depth < 64; ++depth) {
    if (const Tensor* t = constant_of(v)) return t;
    const Node* p = v->producer();
    if (p == nullptr || p->kind != OpKind::Identity) return nullptr;
    v = p->input(0);
  }
  return nullptr;
}

std::optional<float> constant_scalar_f32(const Value* v) {
  const Tensor* t = constant_of(v);
  if (t == nullptr || t->dtype() != DType::kF32 || t->numel() != 1 || t->rank() > 1) return std::nullopt;
  return t->data<float>()[0];
}

Node* sole_consumer(const Graph& graph, const Value* v) {
  if (v == nullptr || v->uses().size() != 1 || graph.is_graph_output(v)) return nullptr;
  return v->uses()[0].node;
}

Node* sole_consumer_of_kind(const Graph& graph, const Value* v, OpKind kind) {
  Node* n = sole_consumer(graph, v);
  return n != nullptr && n->kind == kind ? n : nullptr;
}

std::optional<PostOps> activation_post_ops(const Node& node) {
  PostOps post;
  const Value* x = node.input(0);
  if (x == nullptr || x->dtype != DType::kF32) return std::nullopt;
  switch (node.kind) {
    case OpKind::Relu: post.activation = Activation::kRelu; return post;
    case OpKind::Sigmoid: post.activation = Activation::kSigmoid; return post;
    case OpKind::Gelu: post.activation = Activation::kGelu; return post;
    case OpKind::Silu: post.activation = Activation::kSilu; return post;
    case OpKind::HardSwish: post.activation = Activation::kHardSwish; return post;
    case OpKind::HardSigmoid: {
      const auto& a = node.attr<HardSigmoidAttrs>();
      post.activation = Activation::kHardSigmoid;
      post.alpha = a.alpha;
      post.beta = a.beta;
      return post;
    }
    case OpKind::Clip: {
      const auto& a = node.attr<ClipAttrs>();
      float lo = a.min.value_or(std::numeric_limits<float>::lowest());
      float hi = a.max.value_or(std::numeric_limits<float>::max());
      // Opset >= 11 bounds are optional inputs; they must be compile-time constants to fuse.
      for (size_t i = 1; i < 3; ++i) {
        const Value* bound = node.input(i);
        if (bound == nullptr) continue;
        std::optional<float> b = constant_scalar_f32(bound);
        if (!b) return std::nullopt;
        (i == 1 ? lo : hi) = *b;
      }
      post.activation = Activation::kClip;
      post.alpha = lo;
      post.beta = hi;
      return post;
    }
    default: return std::nullopt;
  }
}

bool depends_on(const Node& node, const Node& ancestor) {
  std::unordered_set<const Node*> seen;
  std::vector<const Node*> stack = {&node};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    for (const Value* in : n->inputs()) {
      if (in == nullptr || in->producer() == nullptr) continue;
      const Node* p = in->producer();
      if (p == &ancestor) return true;
      if (seen.insert(p).second) stack.push_back(p);
    }
  }
  return false;
}

Node* replace_nodes(Graph& graph, const std::vector<Node*>& remove, OpKind kind, std::string name,
                        std::vector<Value*> inputs, std::vector<Value*> outputs, Attrs attrs) {
  for (Node* n : remove) graph.remove_node(n);
  return graph.add_node(kind, std::move(name), std::move(inputs), std::move(outputs), std::move(attrs));
}

int count_nodes(const Graph& graph, OpKind kind) {
  int n = 0;
  for (const auto& node : graph.nodes()) n += node->kind == kind ? 1 : 0;
  return n;
}

}  // namespace hqp::ir
