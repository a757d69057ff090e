// Reference forward convolution (FP32, 1-D/2-D/3-D, grouped, dilated, asymmetric padding): the
// specification that fast conv kernels are tested against. Not a fast path and not INT8.
#pragma once

#include <cstdint>

#include "kernels/ref/kernel_limits.h"

namespace hqp::kernels {

// Geometry of an ONNX Conv. Only the first `spatial_rank` entries of each spatial array are read
// (the kernel normalizes to 3-D internally; unused entries may hold anything).
// Contract (validated by the caller, asserted here):
//   in_channels % groups == 0, out_channels % groups == 0, kernel/stride/dilation >= 1,
//   pad_begin >= 0, out_size[i] = floor((in_size[i] + pad_begin[i] + pad_end[i]
//                                        - dilation[i]*(kernel[i]-1) - 1) / stride[i]) + 1.
// pad_end is implied by out_size: taps that land outside [0, in_size) read zero.
struct ConvParams {
  int64_t batch = 1;
  int64_t in_channels = 1;
  int64_t out_channels = 1;
  int64_t groups = 1;
  int spatial_rank = 2;  // 1..3
  int64_t in_size[kMaxSpatialRank] = {1, 1, 1};
  int64_t out_size[kMaxSpatialRank] = {1, 1, 1};
  int64_t kernel[kMaxSpatialRank] = {1, 1, 1};
  int64_t stride[kMaxSpatialRank] = {1, 1, 1};
  int64_t dilation[kMaxSpatialRank] = {1, 1, 1};
  int64_t pad_begin[kMaxSpatialRank] = {0, 0, 0};
};

// dst[n, oc, o...] = bias[oc] + sum_{ic < IC/G, k...} wei[oc, ic, k...]
//                                 * src[n, g*IC/G + ic, o*stride + k*dilation - pad_begin]   (g = oc / (OC/G))
// src:  [N, IC, in_size...]            NCHW-style, contiguous row-major
// wei:  [OC, IC/G, kernel...]          contiguous row-major (ONNX layout)
// bias: [OC] or nullptr (zero bias)
// dst:  [N, OC, out_size...]           contiguous row-major; fully overwritten
// Depthwise is groups == IC == OC; a channel multiplier m is groups == IC, OC == m*IC.
// Accumulates in FP32 in the order (ic, k...) per output; results differ from other summation
// orders only by rounding.
void conv_f32__ref(const ConvParams& params, const float* src, const float* wei, const float* bias, float* dst);

}  // namespace hqp::kernels
