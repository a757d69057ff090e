// Compile-time limits shared by the reference kernels' params structs.
// Not a place for runtime configuration; kernels trust callers to stay within these limits.
#pragma once

namespace hqp::kernels {

// Largest tensor rank a kernel params struct can describe (equals hqp::kMaxRank in core/tensor.h).
inline constexpr int kMaxKernelRank = 8;
// Largest number of spatial dimensions of conv and pooling (1-D, 2-D and 3-D).
inline constexpr int kMaxSpatialRank = 3;

}  // namespace hqp::kernels
