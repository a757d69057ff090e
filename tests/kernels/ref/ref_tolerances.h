// Float tolerances of the reference-kernel tests, one named constant per op family; tests compare
// FP32 kernels to FP64 formulations with |got - want| <= tol * max(1, |want|). Not for INT8 (exact).
#pragma once

namespace hqp::test {

inline constexpr double kConvRefTol = 2e-5;       // FP32 sums of up to ~1500 products of O(1) values
inline constexpr double kPoolRefTol = 1e-6;       // sums of at most a few dozen values
inline constexpr double kUnaryRefTol = 1e-6;      // exp/sqrt in FP32 vs FP64
inline constexpr double kBatchNormRefTol = 1e-6;
inline constexpr double kBinaryF32RefTol = 0.0;   // one IEEE operation: bit-exact against FP32 math
inline constexpr double kGemmRefTol = 1e-5;
inline constexpr double kSoftmaxRefTol = 1e-6;
inline constexpr double kDequantizeRefTol = 0.0;  // one subtraction and one multiply: bit-exact

}  // namespace hqp::test
