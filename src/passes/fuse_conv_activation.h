// Graph pass: fuses an activation into the Conv / Gemm that produces its input:
//   Conv (+bias) -> Relu | Clip (constant bounds) | HardSwish | HardSigmoid | Sigmoid  => FusedConv
//   Gemm -> (same activations)                                                        => FusedGemm
//   Conv -> x * HardSigmoid(x) (alpha = 1/6, beta = 0.5; torch's opset < 14 hardswish) => FusedConv
//   Conv -> x * Sigmoid(x) (SiLU / Swish: EfficientNet, torch's SiLU at any opset)      => FusedConv (kSilu)
// FusedConv / FusedGemm without an activation (e.g. after residual fusion) take one too.
// Only when the producer's output feeds nothing but the activation and is not a graph output.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::passes {

struct FuseActivationStats {
  int fused_conv = 0;       // activations fused into convolutions (incl. the hardswish pattern)
  int fused_gemm = 0;
  int hardswish_patterns = 0;  // of fused_conv + fused_gemm: x * HardSigmoid(x) recognized
  int silu_patterns = 0;       // of fused_conv + fused_gemm: x * Sigmoid(x) recognized
};

// The fused node writes the activation's output value (names kept). Re-infers shapes at the end.
Result<FuseActivationStats> fuse_conv_activation(ir::Graph& graph);

}  // namespace hqp::passes
