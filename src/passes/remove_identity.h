// Graph pass: removes Identity nodes and inference-mode Dropout (whose mask output nobody reads).
// Graph output names survive: when the removed node produced a graph output, its producer is
// rebuilt to write that output value directly. Does not touch any other op.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::passes {

struct RemoveIdentityStats {
  int removed = 0;  // Identity and Dropout nodes removed
  int kept = 0;     // kept because they copy a graph input, an initializer or another graph output
                    // into a graph output, or because a Dropout's mask is read
};

// Removes the nodes, then deletes dead values and re-infers shapes.
Result<RemoveIdentityStats> remove_identity(ir::Graph& graph);

}  // namespace hqp::passes
