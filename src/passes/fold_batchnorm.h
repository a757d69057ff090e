// Graph pass: folds inference BatchNormalization into the Conv (or Gemm) that produces its input,
// when that Conv's output feeds nothing else: W' = W * s, b' = (b - mean) * s + beta with
// s = gamma / sqrt(var + eps) per output channel. Standalone BatchNormalization stays.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::passes {

struct FoldBatchNormStats {
  int folded_into_conv = 0;
  int folded_into_gemm = 0;
};

// Folded weights and biases are new initializers (the originals are never written: they may share
// storage with other graphs). The fused node writes the BatchNormalization's output value, so
// names are kept. Re-infers shapes at the end.
Result<FoldBatchNormStats> fold_batchnorm(ir::Graph& graph);

}  // namespace hqp::passes
