// Named tolerances of the libtorch executor and trainer tests (tests/train), one constant each.
#pragma once

namespace hqp::test {

// TorchExecutor forward vs the reference executor, single ops: max|torch - ref| / max|ref|. Both
// accumulate in f32 in different orders (oneDNN/im2col vs plain loops): ~1e-7 per op.
inline constexpr double kTorchOpMaxRelErr = 1e-5;
// Whole models (tiny_cnn, zoo models with random weights): error compounds over 20-50 layers.
inline constexpr double kTorchModelMaxRelErr = 1e-4;

// Backward vs central finite differences in f64 with step kGradCheckStep: an element passes when
// |analytic - numeric| <= kGradCheckAtol + kGradCheckRtol * |numeric| (truncation error O(h²)
// ~1e-12 relative, rounding ~1e-16/h ~1e-10).
inline constexpr double kGradCheckStep = 1e-6;
inline constexpr double kGradCheckAtol = 1e-6;
inline constexpr double kGradCheckRtol = 1e-5;

// Fisher term Σ_hw a·g from the backward hook vs the same product formed from retained gradients
// (identical f64 arithmetic up to summation order).
inline constexpr double kFisherRelErr = 1e-10;

// Loss formulas (f64) against explicit re-computation.
inline constexpr double kLossAbsErr = 1e-10;

}  // namespace hqp::test
