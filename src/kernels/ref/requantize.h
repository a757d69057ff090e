// The one requantization definition shared by every hqp INT8 kernel (reference and fast paths)
// and by QuantizeLinear. Header-only scalar functions; not a kernel over tensors.
#pragma once

#include <cmath>
#include <cstdint>

namespace hqp::kernels {

inline constexpr int32_t kU8Min = 0;
inline constexpr int32_t kU8Max = 255;
inline constexpr int32_t kS8Min = -128;
inline constexpr int32_t kS8Max = 127;

// q(v) = saturate(round_half_to_even(v) + zero_point) to [qmin, qmax] — exactly ONNX
// QuantizeLinear's saturate(round(x / scale) + zero_point) with v = x / scale in FP32.
// Rounding happens BEFORE the zero point is added (as in ONNX and XNNPACK); adding an odd zero
// point first would round exact .5 ties differently (oneDNN's reference adds the zero point in
// FP32 before rounding, so it can differ from this definition by 1 LSB on exact ties).
// Rounding is round-half-to-even, as std::nearbyint under the default rounding mode. It is computed
// as (v + 1.5*2^23) - 1.5*2^23, which equals nearbyint(v) exactly for |v| < 2^22 (v is clamped into
// the quantized range first, so this always holds) and needs no libm call, so loops vectorize.
// Clamping to [qmin - zero_point, qmax - zero_point] before rounding is equivalent to clamping
// after (the bounds are integers) and keeps the float -> int conversion in range.
// A fused ReLU is expressed by raising qmin to zero_point. NaN maps to zero_point (real 0).
// Contract: qmin <= zero_point <= qmax, |qmin - zero_point|, |qmax - zero_point| < 2^22.
inline int32_t round_and_saturate(float v, int32_t zero_point, int32_t qmin, int32_t qmax) {
  if (std::isnan(v)) v = 0.0f;
  const float lo = static_cast<float>(qmin - zero_point);
  const float hi = static_cast<float>(qmax - zero_point);
  v = v < lo ? lo : (v > hi ? hi : v);
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23
  return static_cast<int32_t>((v + kRoundMagic) - kRoundMagic) + zero_point;
}

// INT8 requantization of an int32 accumulator (bias already added in int32, scale
// s_bias = s_src * s_wei): dst = q((float)acc * multiplier) with multiplier = s_src * s_wei / s_dst,
// i.e. int32 accumulate -> scale (FP32 multiply; (float)acc itself rounds when |acc| > 2^24)
// -> activation as a [qmin, qmax] clamp -> round half to even -> zero point -> saturate.
inline int32_t requantize(int32_t acc, float multiplier, int32_t zero_point, int32_t qmin, int32_t qmax) {
  return round_and_saturate(static_cast<float>(acc) * multiplier, zero_point, qmin, qmax);
}

inline uint8_t requantize_u8(int32_t acc, float multiplier, int32_t zero_point) {
  return static_cast<uint8_t>(requantize(acc, multiplier, zero_point, kU8Min, kU8Max));
}

inline int8_t requantize_s8(int32_t acc, float multiplier, int32_t zero_point) {
  return static_cast<int8_t>(requantize(acc, multiplier, zero_point, kS8Min, kS8Max));
}

}  // namespace hqp::kernels
