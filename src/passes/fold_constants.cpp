// Constant folding with the reference executor's per-node evaluation.
#include "passes/fold_constants.h"

#include <algorithm>

#include "ir/shape_inference.h"
#include "reference/executor.h"

namespace hqp::passes {

namespace {

// Upper bound on the bytes a folded value may have (folding must not blow up model size).
constexpr int64_t kMaxFoldedBytes = int64_t{1} << 20;

// Output of Shape over a statically shaped input, without touching the input's data.
std::optional<Tensor> fold_shape(const ir::Node& node) {
  const ir::Value* in = node.input(0);
  if (!in->shape) return std::nullopt;
  auto shape = ir::static_shape(*in->shape);
  if (!shape) return std::nullopt;
  const auto& a = node.attr<ir::ShapeAttrs>();
  const int64_t r = static_cast<int64_t>(shape->size());
  auto clamp = [r](int64_t v) { return std::clamp(v < 0 ? v + r : v, int64_t{0}, r); };
  const int64_t start = clamp(a.start.value_or(0));
  const int64_t end = std::max(start, clamp(a.end.value_or(r)));
  std::vector<int64_t> dims(shape->begin() + start, shape->begin() + end);
  return Tensor::from_vector<int64_t>({static_cast<int64_t>(dims.size())}, dims);
}

// Evaluated outputs of `node` when all its inputs are constant, else nullopt.
Result<std::optional<std::vector<Tensor>>> evaluate(const ir::Node& node, int64_t opset) {
  using Outs = std::optional<std::vector<Tensor>>;
  if (node.kind == ir::OpKind::Shape) {
    auto t = fold_shape(node);
    if (!t) return Outs();
    return Outs(std::vector<Tensor>{std::move(*t)});
  }
  std::vector<const Tensor*> args(node.num_inputs(), nullptr);
  for (size_t i = 0; i < node.num_inputs(); ++i) {
    const ir::Value* in = node.input(i);
    if (in == nullptr) continue;
    if (!in->is_initializer()) return Outs();
    args[i] = &in->data;
  }
  HQP_ASSIGN_OR_RETURN(std::vector<Tensor> outs, reference::run_node_reference(node, args, opset));
  return Outs(std::move(outs));
}

}  // namespace

Result<FoldStats> fold_constants(ir::Graph& graph) {
  FoldStats stats;
  HQP_RETURN_IF_ERROR(ir::infer_shapes(graph));
  bool changed = true;
  while (changed) {
    changed = false;
    HQP_ASSIGN_OR_RETURN(std::vector<ir::Node*> order, graph.topological_order());
    for (ir::Node* node : order) {
      HQP_ASSIGN_OR_RETURN(auto outs, evaluate(*node, graph.opset()));
      if (!outs) continue;
      const bool small = std::all_of(outs->begin(), outs->end(),
                                     [](const Tensor& t) { return !t.defined() || t.nbytes() <= kMaxFoldedBytes; });
      if (!small) continue;
      std::vector<ir::Value*> outputs = node->outputs();
      graph.remove_node(node);
      for (size_t i = 0; i < outputs.size(); ++i) {
        if (outputs[i] == nullptr) continue;
        outputs[i]->data = std::move((*outs)[i]);
        outputs[i]->dtype = outputs[i]->data.dtype();
        outputs[i]->shape = ir::dims_from_shape(outputs[i]->data.shape());
        outputs[i]->shape_value.reset();
      }
      ++stats.folded_nodes;
      changed = true;
    }
  }
  graph.remove_dead_code();
  HQP_RETURN_IF_ERROR(ir::infer_shapes(graph));
  return stats;
}

}  // namespace hqp::passes
