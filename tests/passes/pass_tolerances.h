// Tolerances of the graph-pass tests, one named constant each with the reason for its value.
// Test-only.
#pragma once

#include <cstdint>

namespace hqp::test {

// BatchNorm folding computes x * (gamma / std) + (beta - mean * gamma / std) with folded weights
// instead of gamma * (conv(x) - mean) / std + beta: other FP32 roundings, a few ulp per output
// (relative to the output's magnitude). max|folded - unfolded| / max|unfolded|.
inline constexpr double kFoldBatchNormMaxRelErr = 1e-5;

// Activation and residual fusion run the same FP32 operations in the same order (conv, then +sum,
// then the activation; x * HardSigmoid(x; 1/6, 0.5) is the hardswish kernel's own formula), so the
// fused graph is bit-identical to the unfused one.
inline constexpr double kFusionMaxRelErr = 0.0;

// Whole FP32 pipeline on torchvision models (BatchNorm folding of ~20-50 layers compounds the
// per-layer rounding differences above).
inline constexpr double kPipelineMaxRelErr = 1e-5;

// QDQ lowering with power-of-two scales: every product, sum and rescale of the fake-quant
// simulation is exact in FP32 (integers times powers of two below 2^24), so the integer QConv /
// QGemm output must be bit-identical.
inline constexpr int32_t kQdqPow2MaxLsb = 0;

// QDQ lowering with arbitrary scales, one layer: the simulation rounds each float product and sum
// and divides by the output scale, while the integer path accumulates exactly and multiplies by
// s_x * s_w / s_y. The two real values differ by a few ulp, which flips round-half-to-even only
// for values within ~1e-6 of a .5 boundary: at most 1 LSB of the output scale, on few elements.
inline constexpr int32_t kQdqOneLayerMaxLsb = 1;
inline constexpr double kQdqOneLayerMaxMismatchFraction = 0.01;

}  // namespace hqp::test
