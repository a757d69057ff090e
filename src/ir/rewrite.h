// Graph-rewrite helpers for every code that transforms graphs (passes, quantization, pruning):
// constant lookup, single consumers, activation post-ops, node replacement. Computes no tensor values.
#pragma once

#include <optional>
#include <vector>

#include "core/tensor.h"
#include "ir/graph.h"

namespace hqp::ir {

// The constant content of `v`: an initializer's data or a Constant node's value; nullptr otherwise.
const Tensor* constant_of(const Value* v);

// constant_of, looking through Identity nodes (PyTorch's exporter routes shared initializers through
// Identity); nullptr otherwise.
const Tensor* constant_through_identity(const Value* v);

// The one f32 element of a constant holding exactly one element (scalar or [1]); nullopt otherwise.
std::optional<float> constant_scalar_f32(const Value* v);

// The node that reads `v` when exactly one node reads it once and `v` is not a graph output;
// nullptr otherwise (several readers, no reader, or the value must stay visible).
Node* sole_consumer(const Graph& graph, const Value* v);

// sole_consumer when that node is of `kind`; nullptr otherwise.
Node* sole_consumer_of_kind(const Graph& graph, const Value* v, OpKind kind);

// The post-ops of an activation node with one f32 input whose parameters are known at compile time
// (Relu, Clip with constant or absent bounds, HardSwish, HardSigmoid, Sigmoid, Gelu, Silu); nullopt otherwise
// (other ops, Clip with computed bounds).
std::optional<PostOps> activation_post_ops(const Node& node);

// True when `ancestor` produces (directly or transitively) an input of `node`.
bool depends_on(const Node& node, const Node& ancestor);

// Replaces the nodes of a matched pattern by one new node: removes every node in `remove` (in
// order), then adds `kind` named `name` with the given edges and attributes. Values produced by
// removed nodes stay (without producer) so that `outputs` may reuse them; the caller deletes
// what becomes dead (Graph::remove_dead_code).
Node* replace_nodes(Graph& graph, const std::vector<Node*>& remove, OpKind kind, std::string name,
                        std::vector<Value*> inputs, std::vector<Value*> outputs, Attrs attrs);

// Number of nodes of `kind` in `graph` (for statistics and tests).
int count_nodes(const Graph& graph, OpKind kind);

}  // namespace hqp::ir
