// Graph pass: the layer normalization ONNX exporters write op by op (PyTorch before opset 17):
//   mean = ReduceMean(x, trailing axes, keepdims)   d = x - mean    v = ReduceMean(d ** 2, same axes)
//   y = d / Sqrt(v + eps)  [* gamma]  [+ beta]
// becomes one LayerNormalization(x, gamma or ones, beta) over those axes (ConvNeXt's 23 LayerNorms:
// 9 nodes each, four on reference kernels). Equal up to float rounding (the division becomes a
// multiplication by 1 / sqrt(v + eps); the statistics accumulate in double).
// Matches only when the intermediate values feed nothing else (d: exactly the Pow and the Div),
// the exponent is a constant 2, eps a constant scalar, gamma / beta constants of the normalized
// size.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::passes {

struct FuseLayerNormStats {
  int fused = 0;
};

// Re-infers shapes at the end.
Result<FuseLayerNormStats> fuse_layer_norm(ir::Graph& graph);

}  // namespace hqp::passes
