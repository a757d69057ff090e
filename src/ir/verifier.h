// Structural verification of a Graph: every edge resolves, no value has two producers, no cycles,
// op arity and attribute structs match the schema, dtypes of initializers are consistent.
// Type and shape consistency is checked by infer_shapes (shape_inference.h).
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::ir {

// kInvalidArgument with a message naming the offending node/value on the first problem found.
Status verify(const Graph& graph);

// verify() followed by infer_shapes(): the full check importers and passes run.
Status verify_and_infer(Graph& graph);

}  // namespace hqp::ir
