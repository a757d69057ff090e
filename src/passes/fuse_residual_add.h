// Graph pass: fuses a residual Add (and an activation after it) into the convolution that produces
// one Add operand:  Add(conv(x), other) [-> Relu | Clip | ...]  =>  FusedConv(x, W, B, Sum=other)
// with post-ops {has_sum, activation}. The conv must be a Conv or a FusedConv without activation
// or sum, its output must feed only the Add, and `other` must have the conv output's exact shape.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::passes {

struct FuseResidualStats {
  int fused = 0;            // Adds fused into a convolution
  int with_activation = 0;  // of those, with the following activation folded too
};

// When both Add operands qualify, the conv later in topological order takes the sum (the other
// operand is then already computed). The fused node writes the last fused node's output value
// (names kept). Re-infers shapes at the end.
Result<FuseResidualStats> fuse_residual_add(ir::Graph& graph);

}  // namespace hqp::passes
