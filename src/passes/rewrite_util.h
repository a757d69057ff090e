// Small pattern-matching and rewriting helpers shared by the graph passes (constant lookup, single
// consumers, activation post-ops, node rebuilding). Not a pass itself; computes no tensor values.
#pragma once

#include <optional>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"

namespace hqp::passes::detail {

// The constant content of `v`: an initializer's data or a Constant node's value; nullptr otherwise.
const Tensor* constant_of(const ir::Value* v);

// The one f32 element of a constant holding exactly one element (scalar or [1]); nullopt otherwise.
std::optional<float> constant_scalar_f32(const ir::Value* v);

// The node that reads `v` when exactly one node reads it once and `v` is not a graph output;
// nullptr otherwise (several readers, no reader, or the value must stay visible).
ir::Node* sole_consumer(const ir::Graph& graph, const ir::Value* v);

// The post-ops of an activation node with one f32 input whose parameters are known at compile time
// (Relu, Clip with constant or absent bounds, HardSwish, HardSigmoid, Sigmoid); nullopt otherwise
// (other ops, Clip with computed bounds).
std::optional<ir::PostOps> activation_post_ops(const ir::Node& node);

// True when `ancestor` produces (directly or transitively) an input of `node`.
bool depends_on(const ir::Node& node, const ir::Node& ancestor);

// Replaces the nodes of a matched pattern by one new node: removes every node in `remove` (in
// order), then adds `kind` named `name` with the given edges and attributes. Values produced by
// removed nodes stay (without producer) so that `outputs` may reuse them; the caller deletes
// what becomes dead (Graph::remove_dead_code).
ir::Node* replace_nodes(ir::Graph& graph, const std::vector<ir::Node*>& remove, ir::OpKind kind, std::string name,
                        std::vector<ir::Value*> inputs, std::vector<ir::Value*> outputs, ir::Attrs attrs);

// Number of nodes of `kind` in `graph` (for statistics and tests).
int count_nodes(const ir::Graph& graph, ir::OpKind kind);

}  // namespace hqp::passes::detail
