// Float tolerances of the oneDNN kernel tests, one named constant per op: |got - want| <=
// tol * max(1, |want|) against the FP32 reference kernels. INT8 kernels compare exactly.
#pragma once

namespace hqp::test {

// FP32 conv / gemm: oneDNN sums in another order (blocked over IC, FMA) than the reference; both
// carry ~sqrt(K)*2^-24 relative error for K up to ~1500 products of O(1) values.
inline constexpr double kConvOnednnTol = 5e-5;
inline constexpr double kGemmOnednnTol = 5e-5;
// Average pooling: oneDNN multiplies by 1/count where the reference divides by count.
inline constexpr double kPoolOnednnTol = 1e-6;
// Eltwise: oneDNN's JIT exp/logistic are polynomial approximations (few ulp); relu/clip are exact
// but share the constant. Fused activations on top of a conv use kConvOnednnTol.
inline constexpr double kEltwiseOnednnTol = 1e-6;
// Binary add/mul: one IEEE operation per element, bit-exact.
inline constexpr double kBinaryOnednnTol = 0.0;

// Layer normalization: oneDNN sums the row's mean and variance in float, in its own order (the
// reference accumulates in double); inner <= ~800 values of O(1) keep the outputs within 1e-5.
inline constexpr double kLayerNormOnednnTol = 1e-5;

// Inference batch normalization: a per-channel affine; oneDNN multiplies by 1/sqrt(var + eps)
// (a few ulp from the reference's rounding).
inline constexpr double kBatchNormOnednnTol = 1e-6;

}  // namespace hqp::test
