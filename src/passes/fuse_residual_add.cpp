// Residual Add (+ activation) fusion into the producing convolution.
#include "passes/fuse_residual_add.h"

#include <unordered_map>

#include "ir/shape_inference.h"
#include "ir/rewrite.h"

namespace hqp::passes {

namespace {

// A conv that can take a sum: plain Conv, or FusedConv without post-ops yet.
bool can_take_sum(const ir::Node* n) {
  if (n == nullptr) return false;
  if (n->kind == ir::OpKind::Conv) return true;
  if (n->kind != ir::OpKind::FusedConv) return false;
  const ir::PostOps& p = n->attr<ir::FusedConvAttrs>().post;
  return p.activation == ir::Activation::kNone && !p.has_sum;
}

// True when `conv` may absorb `add` with `other` as its Sum input.
bool qualifies(const ir::Graph& graph, const ir::Node& add, const ir::Node* conv, const ir::Value* conv_out,
               const ir::Value* other) {
  if (!can_take_sum(conv) || ir::sole_consumer(graph, conv_out) != &add) return false;
  if (other == conv_out || other->dtype != DType::kF32 || conv_out->dtype != DType::kF32) return false;
  if (!other->shape || !conv_out->shape || !(*other->shape == *conv_out->shape)) return false;
  // The fused conv reads `other`: it must not be computed from the conv itself (a cycle).
  return other->producer() == nullptr || !ir::depends_on(*other->producer(), *conv);
}

}  // namespace

Result<FuseResidualStats> fuse_residual_add(ir::Graph& graph) {
  FuseResidualStats stats;
  HQP_ASSIGN_OR_RETURN(std::vector<ir::Node*> order, graph.topological_order());
  std::unordered_map<const ir::Node*, size_t> position;
  std::vector<ir::Node*> adds;
  for (size_t i = 0; i < order.size(); ++i) {
    position[order[i]] = i;
    if (order[i]->kind == ir::OpKind::Add) adds.push_back(order[i]);
  }
  // Each fusion removes one Add, one conv and maybe one activation; none of them is another Add.
  for (ir::Node* add : adds) {
    ir::Node* chosen = nullptr;
    ir::Value* other = nullptr;
    for (size_t side = 0; side < 2; ++side) {
      ir::Value* conv_out = add->input(side);
      ir::Value* candidate_other = add->input(1 - side);
      ir::Node* conv = conv_out->producer();
      if (!qualifies(graph, *add, conv, conv_out, candidate_other)) continue;
      // Position lookups: a conv rebuilt by an earlier fusion is absent and counts as latest.
      auto pos = [&](const ir::Node* n) { auto it = position.find(n); return it == position.end() ? order.size() : it->second; };
      if (chosen == nullptr || pos(conv) > pos(chosen)) {
        chosen = conv;
        other = candidate_other;
      }
    }
    if (chosen == nullptr) continue;
    ir::FusedConvAttrs f = chosen->kind == ir::OpKind::Conv ? ir::FusedConvAttrs{chosen->attr<ir::ConvAttrs>(), {}}
                                                            : chosen->attr<ir::FusedConvAttrs>();
    f.post.has_sum = true;
    std::vector<ir::Node*> remove = {chosen, add};
    ir::Value* out = add->output(0);
    if (ir::Node* act = ir::sole_consumer(graph, out)) {
      if (std::optional<ir::PostOps> post = ir::activation_post_ops(*act)) {
        f.post.activation = post->activation;
        f.post.alpha = post->alpha;
        f.post.beta = post->beta;
        remove.push_back(act);
        out = act->output(0);
        ++stats.with_activation;
      }
    }
    std::vector<ir::Value*> inputs = chosen->inputs();
    inputs.resize(3, nullptr);
    inputs.push_back(other);
    ir::replace_nodes(graph, remove, ir::OpKind::FusedConv, chosen->name, inputs, {out}, f);
    ++stats.fused;
  }
  graph.remove_dead_code();
  HQP_RETURN_IF_ERROR(ir::infer_shapes(graph));
  return stats;
}

}  // namespace hqp::passes
