// Reference layer normalization (ONNX LayerNormalization with float statistics), FP32.
#pragma once

#include <cstdint>

namespace hqp::kernels {

// x: [rows, inner] contiguous. Per row:
//   mean = sum(x) / inner                       (accumulated in double, index order, rounded to f32)
//   d    = x - mean                             (f32)
//   var  = sum(d * d) / inner                   (d * d in f32, accumulated in double, rounded to f32)
//   inv  = 1 / sqrt(var + epsilon)              (f32)
//   y    = d * inv * scale[k] + bias[k]         (f32, left to right; scale / bias: `inner` values,
//                                                or one when scale_count / bias_count is 1)
// bias may be null (no shift). mean / inv_std_dev ([rows]) are written when non-null. An empty row
// (inner == 0) writes nothing to y and NaN statistics.
void layer_norm_f32__ref(int64_t rows, int64_t inner, float epsilon, const float* x, const float* scale,
                         int64_t scale_count, const float* bias, int64_t bias_count, float* y, float* mean,
                         float* inv_std_dev);

}  // namespace hqp::kernels
