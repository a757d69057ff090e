// Reference Resize (ONNX Resize, opset 11+: nearest and N-linear modes), the specification the
// runtime's Resize follows. Each output axis maps its index x to a source coordinate (double):
//   kHalfPixel         (x + 0.5) / scale - 0.5
//   kPytorchHalfPixel  resized_len > 1 ? (x + 0.5) / scale - 0.5 : 0
//   kAlignCorners      resized_len > 1 ? x * (src_len - 1) / (resized_len - 1) : 0
//   kAsymmetric        x / scale
//   kTfHalfPixelForNn  (x + 0.5) / scale
// where scale is the axis's scale factor (ONNX's `scales`, or dst_len / src_len when `sizes` is given)
// and resized_len = src_len * scale, unrounded (ONNX's length_resized: with scales 0.6 on 4 values
// the output has 2 but align_corners divides by 2.4 - 1).
// Nearest: the source index is the coordinate rounded per `nearest` (round_prefer_floor = ceil(c -
// 0.5), round_prefer_ceil = floor(c + 0.5), floor, ceil), clamped into [0, src_len). Linear: the
// coordinate is clamped into [0, src_len - 1]; lo = floor(c), hi = min(lo + 1, src_len - 1),
// w = c - lo; interpolated one axis at a time from the last axis to the first, each step
// v = v_lo * (1 - w) + v_hi * w in float (an axis whose w is 0 everywhere reads v_lo only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/ref/kernel_limits.h"

namespace hqp::kernels {

enum class ResizeMode { kNearest, kLinear };
enum class ResizeCoordinates { kHalfPixel, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNn };
enum class ResizeNearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

struct ResizeParams {
  int rank = 0;
  int64_t src_shape[kMaxKernelRank] = {};
  int64_t dst_shape[kMaxKernelRank] = {};
  double scale[kMaxKernelRank] = {};  // > 0
  ResizeMode mode = ResizeMode::kNearest;
  ResizeCoordinates coordinates = ResizeCoordinates::kHalfPixel;
  ResizeNearest nearest = ResizeNearest::kRoundPreferFloor;
};

// The source coordinate of output index x along one axis (see above).
double resize_source_coordinate(ResizeCoordinates coordinates, int64_t x, double scale, int64_t src_len);

// One axis's taps: for output index i, source indices lo[i] and hi[i] with weight w[i] on hi (nearest:
// hi = lo, w = 0). src_len >= 1.
struct ResizeTaps {
  std::vector<int64_t> lo, hi;
  std::vector<float> w;
};
ResizeTaps resize_taps(const ResizeParams& params, int axis);

// Nearest mode, any element size: src [src_shape] and dst [dst_shape] contiguous row-major.
void resize_nearest_any__ref(const ResizeParams& params, size_t elem_size, const void* src, void* dst);
// Linear mode, f32.
void resize_linear_f32__ref(const ResizeParams& params, const float* src, float* dst);

}  // namespace hqp::kernels
