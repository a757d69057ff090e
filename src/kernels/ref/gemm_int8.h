// Reference INT8 Gemm with transposed weights (ONNX Gemm transB=1, i.e. a fully connected layer):
// int32 accumulation then the shared epilogue of int8_output.h. The spec for fast INT8 inner products.
#pragma once

#include <cstdint>

#include "kernels/ref/int8_output.h"

namespace hqp::kernels {

// acc[i, j] = bias[j] + sum_{kk < K} (src[i, kk] - src_zero_point) * wei[j, kk]      (int32)
// dst[i, j] = the epilogue of int8_output.h with multiplier[j] = int8_output_multiplier(out, wei_scales[j]).
// src:        [M, K] u8 or s8, row-major
// wei:        [N, K] s8 symmetric, row-major (output channel j is row j)
// wei_scales: [N], positive;  bias: [N] s32 or nullptr
// sum:        [M, N] of out.dst_dtype when out.has_sum (may alias dst);  dst: [M, N] of out.dst_dtype
void gemm_u8s8__ref(int64_t m, int64_t n, int64_t k, const Int8OutputParams& out, const uint8_t* src,
                    const int8_t* wei, const float* wei_scales, const int32_t* bias, const void* sum, void* dst);
void gemm_s8s8__ref(int64_t m, int64_t n, int64_t k, const Int8OutputParams& out, const int8_t* src,
                    const int8_t* wei, const float* wei_scales, const int32_t* bias, const void* sum, void* dst);

}  // namespace hqp::kernels
