// Graph pass: GELU as PyTorch exports it before opset 20,
//   y = (x * (Erf(x / sqrt(2)) + 1)) * 0.5      (Div, Erf, Add, Mul, Mul; either operand order of
//                                                 the Add and the Muls)
// becomes one internal Gelu node (ir/ops.def), whose reference kernel performs the same float
// operations (bit-equal to the unfused graph) and which the fast runtime runs as one oneDNN eltwise.
// The constants must be exactly float(sqrt(2)), 1 and 0.5, and the intermediate values feed nothing
// else.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::passes {

struct FuseGeluStats {
  int fused = 0;
};

// Re-infers shapes at the end.
Result<FuseGeluStats> fuse_gelu(ir::Graph& graph);

}  // namespace hqp::passes
