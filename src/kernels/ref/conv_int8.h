// Reference INT8 forward convolution (u8 or s8 src, s8 per-output-channel weights, s32 bias):
// int32 accumulation then the shared epilogue of int8_output.h. The spec for fast INT8 convs; not fast.
#pragma once

#include <cstdint>

#include "kernels/ref/conv.h"
#include "kernels/ref/int8_output.h"

namespace hqp::kernels {

// acc[n, oc, o...] = bias[oc] + sum_{ic < IC/G, k...} (src[n, g*IC/G + ic, o*stride + k*dilation - pad_begin]
//                                                      - src_zero_point) * wei[oc, ic, k...]     (int32)
// Taps in the padding contribute 0 (padding is real zero, i.e. the value src_zero_point).
// dst = the epilogue of int8_output.h with multiplier[oc] = int8_output_multiplier(out, wei_scales[oc]).
// src:        [N, IC, in_size...]  u8 or s8, contiguous row-major (NCHW-style)
// wei:        [OC, IC/G, kernel...] s8 (symmetric), contiguous row-major (ONNX layout)
// wei_scales: [OC], positive
// bias:       [OC] s32 or nullptr (zero)
// sum:        [N, OC, out_size...] of out.dst_dtype when out.has_sum, else ignored (may be nullptr)
// dst:        [N, OC, out_size...] of out.dst_dtype (u8, s8 or f32); fully overwritten; may alias sum
// Contract: ConvParams' (see conv.h); |acc| < 2^24 keeps (float)acc exact (then fast paths that add
// bias in FP32 agree bit for bit).
void conv_u8s8__ref(const ConvParams& params, const Int8OutputParams& out, const uint8_t* src, const int8_t* wei,
                    const float* wei_scales, const int32_t* bias, const void* sum, void* dst);
void conv_s8s8__ref(const ConvParams& params, const Int8OutputParams& out, const int8_t* src, const int8_t* wei,
                    const float* wei_scales, const int32_t* bias, const void* sum, void* dst);

// The int32 accumulators alone (no bias, no epilogue): acc[n, oc, o...] = the sum above, exactly
// (int32 arithmetic; the caller keeps |acc| < 2^31). src u8; acc: [N, OC, out_size...] int32,
// contiguous row-major, fully overwritten. The spec of the exact INT8 convolutions of CPUs without
// VNNI (kernels/onednn ConvInt8AccOnednn), which apply the epilogue themselves.
void conv_u8s8_acc__ref(const ConvParams& params, int32_t src_zero_point, const uint8_t* src, const int8_t* wei,
                        int32_t* acc);

// The epilogue over rows x channels, channels contiguous (NHWC-style): dst[r, c] from the
// accumulator acc[r, 0, c] + ... + acc[r, pieces - 1, c] + bias[c] (int32; bias may be null: zero),
// multipliers[c] and sum[r, c] (out.has_sum; same dtype as dst), exactly as int8_output_row__ref
// computes each element. acc: [rows, pieces, channels], pieces 1 or 2 (an accumulator split in
// two pieces, as kernels/onednn ConvInt8AccOnednn leaves it).
void int8_output_nhwc__ref(const Int8OutputParams& out, const float* multipliers, const int32_t* bias, int64_t rows,
                           int64_t channels, const int32_t* acc, const void* sum, void* dst, int pieces = 1);

// Applies the epilogue to `count` int32 accumulators of one output channel: dst[i] from acc[i]
// and sum[i] (same dtype as dst), all contiguous starting at element `offset` of dst / sum.
// Shared by conv_int8.cpp and gemm_int8.cpp; not a public kernel.
void int8_output_row__ref(const Int8OutputParams& out, float multiplier, int64_t count, const int32_t* acc,
                          const void* sum, void* dst, int64_t offset, int64_t stride);

}  // namespace hqp::kernels
