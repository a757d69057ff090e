// Reference ONNX QuantizeLinear (f32 -> u8/s8) and DequantizeLinear (u8/s8/s32 -> f32),
// per-tensor and per-axis. The rounding rule lives in requantize.h; this file adds no new one.
#pragma once

#include <cstdint>

namespace hqp::kernels {

// Tensors viewed as [outer, axis_len, inner] contiguous row-major; scale and zero_point have
// axis_len entries. Per-tensor: {1, 1, numel}. Per-axis along axis r of shape S:
// {prod S[:r], S[r], prod S[r+1:]}.
struct QuantizeParams {
  int64_t outer = 1;
  int64_t axis_len = 1;
  int64_t inner = 1;
};

// dst = saturate(round_half_to_even(src / scale[a]) + zero_point[a])   (FP32 division)
// zero_point: [axis_len] or nullptr (zero point 0, ONNX's default uint8 when absent is also 0).
// scale must be positive and finite (checked by the caller). See round_and_saturate for NaN.
void quantize_linear_u8__ref(const QuantizeParams& params, const float* src, const float* scale,
                             const uint8_t* zero_point, uint8_t* dst);
void quantize_linear_s8__ref(const QuantizeParams& params, const float* src, const float* scale,
                             const int8_t* zero_point, int8_t* dst);

// dst = ((float)src - (float)zero_point[a]) * scale[a]  (the ONNX reference's FP32 order)
// zero_point: [axis_len] or nullptr (0). For s32 ONNX requires zero_point 0 (caller's check).
void dequantize_linear_u8__ref(const QuantizeParams& params, const uint8_t* src, const float* scale,
                               const uint8_t* zero_point, float* dst);
void dequantize_linear_s8__ref(const QuantizeParams& params, const int8_t* src, const float* scale,
                               const int8_t* zero_point, float* dst);
void dequantize_linear_s32__ref(const QuantizeParams& params, const int32_t* src, const float* scale,
                                const int32_t* zero_point, float* dst);

// QuantizeLinear(DequantizeLinear(a) + DequantizeLinear(b)), per tensor, equal shapes (n elements):
//   dst = saturate(round_half_to_even((((float)a - a_zero) * a_scale + ((float)b - b_zero) * b_scale)
//                                     / y_scale) + y_zero)
// -- the FP32 operations of the three unfused ops in their order, so the result equals theirs bit
// for bit (the fused kernel only skips the f32 intermediates).
struct QAddParams {
  int64_t n = 0;
  float a_scale = 1.0f, b_scale = 1.0f, y_scale = 1.0f;
  int32_t a_zero = 0, b_zero = 0, y_zero = 0;
};
void qadd_u8__ref(const QAddParams& params, const uint8_t* a, const uint8_t* b, uint8_t* dst);
void qadd_s8__ref(const QAddParams& params, const int8_t* a, const int8_t* b, int8_t* dst);

// 8-bit table lookup: dst[i] = table[index(src[i])] with index = src[i] for u8 sources and
// src[i] + 128 for s8 sources (src_signed). The 256-entry table is of dst's 8-bit type; it holds
// Q(f(DQ(code))) for a per-tensor DQ -> element-wise f -> Q chain, computed once from the
// reference kernels of those ops (passes/lower_qdq.cpp), so the lookup equals them bit for bit.
void lut8__ref(int64_t n, const uint8_t* src, bool src_signed, const uint8_t* table, uint8_t* dst);

// QuantizeLinear(DequantizeLinear(a) * DequantizeLinear(b)), per tensor:
//   dst = saturate(round_half_to_even(((((float)a - a_zero) * a_scale) * (((float)b - b_zero) * b_scale))
//                                     / y_scale) + y_zero)
// -- the FP32 operations of the unfused ops in their order (bit-equal to them). a and dst are
// [batch, channels, spatial] (channels_last: [batch, spatial, channels]); b is the same shape
// (b_per_channel false) or one value per (batch, channel) -- [batch, channels, 1...], the gate of a
// squeeze-and-excitation block -- broadcast over the spatial positions.
struct QMulParams {
  int64_t batch = 1, channels = 1, spatial = 1;
  bool b_per_channel = false;
  bool channels_last = false;
  float a_scale = 1.0f, b_scale = 1.0f, y_scale = 1.0f;
  int32_t a_zero = 0, b_zero = 0, y_zero = 0;
};
void qmul_u8__ref(const QMulParams& params, const uint8_t* a, const uint8_t* b, uint8_t* dst);
void qmul_s8__ref(const QMulParams& params, const int8_t* a, const int8_t* b, int8_t* dst);

// QuantizeLinear(GlobalAveragePool(DequantizeLinear(x))), per tensor: per (batch, channel),
//   sum = FP32 sum over the spatial positions in order of ((float)x - x_zero) * x_scale
//   dst = saturate(round_half_to_even((sum / (float)spatial) / y_scale) + y_zero)
// -- the operations of the unfused reference ops (global_average_pool_f32__ref sums each plane in
// order from 0.0f), so bit-equal to them. x: [batch, channels, spatial] (channels_last: [batch,
// spatial, channels]; every channel's sum still runs over the positions in order); dst: [batch, channels].
struct QGlobalAveragePoolParams {
  int64_t batch = 1, channels = 1, spatial = 1;
  bool channels_last = false;
  float x_scale = 1.0f, y_scale = 1.0f;
  int32_t x_zero = 0, y_zero = 0;
};
// scratch: `channels` floats (channels_last only; may be nullptr otherwise).
void qglobal_average_pool_u8__ref(const QGlobalAveragePoolParams& params, const uint8_t* x, uint8_t* dst,
                                  float* scratch);
void qglobal_average_pool_s8__ref(const QGlobalAveragePoolParams& params, const int8_t* x, int8_t* dst,
                                  float* scratch);

}  // namespace hqp::kernels
