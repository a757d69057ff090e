// Graph pass: evaluates nodes whose inputs are all known at compile time and replaces their
// outputs with initializers. Folds Shape of statically shaped values, so Shape -> Gather ->
// Concat -> Reshape chains become constant Reshape shapes. Symbolic dims are never folded.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::passes {

struct FoldStats {
  int folded_nodes = 0;
};

// Folds until nothing changes; removes the dead nodes afterwards and re-infers shapes.
// Graph outputs that become constant keep their names.
Result<FoldStats> fold_constants(ir::Graph& graph);

}  // namespace hqp::passes
