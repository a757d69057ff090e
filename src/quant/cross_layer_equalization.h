// Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization Through Weight Equalization
// and Bias Correction"): for two convolutions joined by a positively homogeneous activation (ReLU)
// or by nothing, y = W2 · relu(W1 x + b1) equals (W2 S) · relu(S⁻¹ W1 x + S⁻¹ b1) for any positive
// diagonal S. Choosing s_i = sqrt(r1_i / r2_i) -- r1_i the largest |weight| of W1's output channel
// i, r2_i that of W2's input channel i -- gives both the range sqrt(r1_i · r2_i), so per-channel
// (and even more per-tensor) INT8 weights lose less precision where one side had tiny channels.
// The float function is unchanged (up to FP32 rounding). Runs on a prepared graph (BatchNorm
// folded, see insert_qdq.h), before calibration.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::quant {

struct CleStats {
  int pairs = 0;       // conv pairs equalized
  int iterations = 0;  // sweeps over all pairs
};

// Pairs: Conv1 (constant f32 weights, constant or no bias) whose output is read only by a Relu
// whose output is read only by Conv2's input 0 -- or read only by Conv2's input 0 directly; Conv2
// with constant f32 weights, any group (a depthwise Conv2 scales each group's weights). Neither
// value may be a graph output. `iterations` sweeps (chains a -> b -> c converge over sweeps).
// New weight / bias initializers replace the old ones (shared tensor storage is never written).
Result<CleStats> equalize_cross_layer(ir::Graph& g, int iterations = 4);

}  // namespace hqp::quant
