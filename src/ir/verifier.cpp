// Structural graph verification (edges, arity, attribute structs, cycles).
#include "ir/verifier.h"

#include "ir/shape_inference.h"

namespace hqp::ir {

namespace {

Status verify_node(const Graph& graph, const Node& node) {
  const std::string_view op = op_name(node.kind);
  if (!attrs_match_kind(node.kind, node.attrs)) {
    return make_error(StatusCode::kInternal, "cannot verify node '{}': attribute struct does not match op {}",
                      node.name, op);
  }
  const OpSchema& schema = op_schema(node.kind);
  const int n_in = static_cast<int>(node.num_inputs());
  if (n_in > schema.max_inputs) {
    return make_error(StatusCode::kInvalidArgument, "cannot verify node '{}' ({}): too many inputs (inputs={}, expected <= {})",
                      node.name, op, n_in, schema.max_inputs);
  }
  for (int i = 0; i < schema.min_inputs; ++i) {
    if (node.input(static_cast<size_t>(i)) == nullptr) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot verify node '{}' ({}): required input {} is missing (inputs={}, expected >= {})",
                        node.name, op, i, n_in, schema.min_inputs);
    }
  }
  const int n_out = static_cast<int>(node.num_outputs());
  if (n_out < schema.min_outputs || n_out > schema.max_outputs || node.output(0) == nullptr) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot verify node '{}' ({}): wrong number of outputs (outputs={}, expected {}..{})", node.name,
                      op, n_out, schema.min_outputs, schema.max_outputs);
  }
  for (const Value* in : node.inputs()) {
    if (in == nullptr) continue;
    if (in->producer() == nullptr && !in->is_initializer() && !graph.is_graph_input(in)) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot verify node '{}' ({}): input '{}' is not a graph input, initializer or output of any "
                        "node (missing initializer?)",
                        node.name, op, in->name);
    }
  }
  for (const Value* out : node.outputs()) {
    if (out != nullptr && out->producer() != &node) {
      return make_error(StatusCode::kInvalidArgument, "cannot verify node '{}' ({}): output '{}' has another producer",
                        node.name, op, out->name);
    }
    if (out != nullptr && (out->is_initializer() || graph.is_graph_input(out))) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot verify node '{}' ({}): output '{}' is also a graph input or initializer", node.name, op,
                        out->name);
    }
  }
  if (node.kind == OpKind::Constant && !node.attr<ConstantAttrs>().value.defined()) {
    return make_error(StatusCode::kInvalidArgument, "cannot verify node '{}' (Constant): it has no value", node.name);
  }
  return Status();
}

}  // namespace

Status verify(const Graph& graph) {
  for (const auto& v : graph.values()) {
    if (v->is_initializer() && v->dtype != v->data.dtype()) {
      return make_error(StatusCode::kInvalidArgument, "cannot verify initializer '{}': dtype {} differs from its data ({})",
                        v->name, dtype_name(v->dtype), dtype_name(v->data.dtype()));
    }
  }
  for (const Value* in : graph.inputs()) {
    if (in->producer() != nullptr) {
      return make_error(StatusCode::kInvalidArgument, "cannot verify graph input '{}': it is also produced by node '{}'",
                        in->name, in->producer()->name);
    }
  }
  for (const auto& n : graph.nodes()) HQP_RETURN_IF_ERROR(verify_node(graph, *n));
  if (graph.outputs().empty()) {
    return make_error(StatusCode::kInvalidArgument, "cannot verify graph '{}': it has no outputs", graph.info.graph_name);
  }
  for (const Value* out : graph.outputs()) {
    if (out == nullptr || (out->producer() == nullptr && !out->is_initializer() && !graph.is_graph_input(out))) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot verify graph output '{}': it is not produced by any node, input or initializer",
                        out == nullptr ? "" : out->name);
    }
  }
  HQP_ASSIGN_OR_RETURN(auto order, graph.topological_order());
  (void)order;
  return Status();
}

Status verify_and_infer(Graph& graph) {
  HQP_RETURN_IF_ERROR(verify(graph));
  return infer_shapes(graph);
}

}  // namespace hqp::ir
