// Reference pooling kernels (max, average, global average; 1-D/2-D/3-D) with ONNX semantics.
// The specification for fast pooling paths; not vectorized and not threaded.
#pragma once

#include <cstdint>

#include "kernels/ref/kernel_limits.h"

namespace hqp::kernels {

// Geometry of an ONNX MaxPool / AveragePool. Only the first `spatial_rank` entries of each spatial
// array are read (normalized to 3-D internally).
// Contract (validated by the caller, asserted here): kernel/stride/dilation >= 1, pads >= 0, and
// out_size already reflects ceil_mode / auto_pad. Every output window must contain at least one
// input position (true for any out_size computed by the ONNX formulas, since the last window
// starts inside the input or the begin padding); the one exception is average pooling with
// count_include_pad, where a window lying entirely in padding yields 0.
// pad_end is only read by average pooling with count_include_pad: the divisor counts window
// positions inside [-pad_begin, in_size + pad_end). Window positions beyond in_size + pad_end
// (the overhang that ceil_mode creates) never count, matching onnx.reference and PyTorch.
struct PoolParams {
  int64_t batch = 1;
  int64_t channels = 1;
  int spatial_rank = 2;  // 1..3
  int64_t in_size[kMaxSpatialRank] = {1, 1, 1};
  int64_t out_size[kMaxSpatialRank] = {1, 1, 1};
  int64_t kernel[kMaxSpatialRank] = {1, 1, 1};
  int64_t stride[kMaxSpatialRank] = {1, 1, 1};
  int64_t dilation[kMaxSpatialRank] = {1, 1, 1};
  int64_t pad_begin[kMaxSpatialRank] = {0, 0, 0};
  int64_t pad_end[kMaxSpatialRank] = {0, 0, 0};
  bool count_include_pad = false;
};

// Max over each window; padded positions are ignored (never win). Ties keep the first position in
// row-major window order. NaN inputs never win a comparison against a non-NaN earlier value.
// src:     [N, C, in_size...]   contiguous row-major
// dst:     [N, C, out_size...]  contiguous row-major
// indices: [N, C, out_size...] or nullptr; ONNX MaxPool "Indices" with storage_order=0: the
//          row-major flat index of the winning element in the whole src tensor, i.e.
//          ((n*C + c)*D + d)*H + h)*W + w (including the batch and channel offsets).
void maxpool_f32__ref(const PoolParams& params, const float* src, float* dst, int64_t* indices);
void maxpool_u8__ref(const PoolParams& params, const uint8_t* src, uint8_t* dst, int64_t* indices);
void maxpool_s8__ref(const PoolParams& params, const int8_t* src, int8_t* dst, int64_t* indices);

// Mean over each window. count_include_pad=false: divisor = positions inside the input.
// count_include_pad=true: divisor = positions inside the padded input (see PoolParams).
// src: [N, C, in_size...], dst: [N, C, out_size...], contiguous row-major. FP32 accumulation.
void averagepool_f32__ref(const PoolParams& params, const float* src, float* dst);

// dst[n, c] = mean of src[n, c, ...] over all `spatial_size` positions (any spatial rank).
// src: [N, C, spatial...] contiguous, dst: [N, C] (ONNX output [N, C, 1, ...] has the same layout).
void global_average_pool_f32__ref(int64_t batch, int64_t channels, int64_t spatial_size, const float* src,
                                  float* dst);

}  // namespace hqp::kernels
