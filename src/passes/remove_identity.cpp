// Identity / inference Dropout removal.
#include "passes/remove_identity.h"

#include "ir/shape_inference.h"
#include "ir/rewrite.h"

namespace hqp::passes {

namespace {

// Dropout is removable when it runs in inference mode (training_mode absent or a constant false)
// and its optional mask output is unread.
bool is_inference_dropout(const ir::Graph& graph, const ir::Node& node) {
  const ir::Value* mask = node.output(1);
  if (mask != nullptr && (!mask->uses().empty() || graph.is_graph_output(mask))) return false;
  const ir::Value* training = node.input(2);
  if (training == nullptr) return true;
  const Tensor* t = ir::constant_of(training);
  return t != nullptr && t->numel() == 1 && t->element_as_int64(0) == 0;
}

// Makes `producer` write `to` instead of its output `from`: the node is rebuilt with the same
// name, kind, attributes and inputs.
void redirect_output(ir::Graph& graph, ir::Node* producer, ir::Value* from, ir::Value* to) {
  std::vector<ir::Value*> outputs = producer->outputs();
  for (ir::Value*& o : outputs) {
    if (o == from) o = to;
  }
  ir::replace_nodes(graph, {producer}, producer->kind, producer->name, producer->inputs(), outputs,
                        producer->attrs);
}

// Removes `node` (one data input, data output 0). Returns false when the node must stay.
bool remove_one(ir::Graph& graph, ir::Node* node) {
  ir::Value* in = node->input(0);
  ir::Value* out = node->output(0);
  if (!graph.is_graph_output(out)) {
    graph.remove_node(node);
    graph.replace_all_uses(out, in);
    return true;
  }
  // `out` is a graph output and keeps its name: the producer of `in` writes it instead.
  ir::Node* producer = in->producer();
  if (producer == nullptr || graph.is_graph_output(in)) return false;
  graph.remove_node(node);
  redirect_output(graph, producer, in, out);
  graph.replace_all_uses(in, out);
  if (!out->quant) out->quant = in->quant;
  return true;
}

}  // namespace

Result<RemoveIdentityStats> remove_identity(ir::Graph& graph) {
  RemoveIdentityStats stats;
  HQP_ASSIGN_OR_RETURN(std::vector<ir::Node*> order, graph.topological_order());
  for (ir::Node* node : order) {
    const bool candidate = node->kind == ir::OpKind::Identity ||
                           (node->kind == ir::OpKind::Dropout && is_inference_dropout(graph, *node));
    if (!candidate) {
      if (node->kind == ir::OpKind::Dropout) ++stats.kept;
      continue;
    }
    // Only this node is removed per step and `order` holds no node twice, so later entries of
    // `order` stay valid except a rebuilt producer, which always precedes `node`.
    if (remove_one(graph, node)) {
      ++stats.removed;
    } else {
      ++stats.kept;
    }
  }
  graph.remove_dead_code();
  HQP_RETURN_IF_ERROR(ir::infer_shapes(graph));
  return stats;
}

}  // namespace hqp::passes
