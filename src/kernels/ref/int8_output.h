// Output stage shared by the INT8 conv and gemm kernels (reference and oneDNN): the quantization
// parameters around an int32 accumulator and the one per-element epilogue built on requantize.h.
// Not a kernel over tensors; the rounding rule itself lives only in requantize.h.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "core/dtype.h"
#include "kernels/ref/requantize.h"

namespace hqp::kernels {

// Quantization of an INT8 conv / gemm (ONNX QDQ convention):
//   src: u8 (asymmetric) or s8, per tensor:  real = src_scale * (q - src_zero_point)
//   wei: s8 symmetric per output channel:    real = wei_scales[oc] * q   (wei_scales passed to the kernel)
//   bias: s32, scale src_scale * wei_scales[oc], zero point 0
//   dst: u8/s8 per tensor (dst_scale, dst_zero_point), or f32 (real values; dst_scale/zero point unused)
//   sum (optional residual input, same shape as dst): dtype == dst dtype; for u8/s8 it carries its
//        own sum_scale / sum_zero_point; for f32 it is real-valued (sum_scale/zero point unused)
//   activation: a clamp of the real output value to [act_min, act_max] (ReLU = [0, +inf),
//        Clip(a, b) = [a, b]); for a quantized dst the bounds are quantized with the dst
//        parameters (Q(clip(x, a, b)) == clip(Q(x), Q(a), Q(b)) because Q is monotonic).
struct Int8OutputParams {
  float src_scale = 1.0f;
  int32_t src_zero_point = 0;
  DType dst_dtype = DType::kU8;  // kU8, kS8 or kF32
  float dst_scale = 1.0f;
  int32_t dst_zero_point = 0;
  bool has_sum = false;
  float sum_scale = 1.0f;
  int32_t sum_zero_point = 0;
  float act_min = -std::numeric_limits<float>::infinity();
  float act_max = std::numeric_limits<float>::infinity();
};

// multiplier[oc] = src_scale * wei_scale[oc] / dst_scale in FP32, evaluated left to right
// (dst_scale taken as 1 for an f32 dst). Every INT8 kernel uses exactly this value.
inline float int8_output_multiplier(const Int8OutputParams& p, float wei_scale) {
  const float dst_scale = p.dst_dtype == DType::kF32 ? 1.0f : p.dst_scale;
  return p.src_scale * wei_scale / dst_scale;
}

// Factor applied to (sum - sum_zero_point): sum_scale / dst_scale (1 for an f32 dst).
inline float int8_sum_multiplier(const Int8OutputParams& p) {
  return p.dst_dtype == DType::kF32 ? 1.0f : p.sum_scale / p.dst_scale;
}

// Quantized clamp [lo, hi] of a u8/s8 dst: the dtype range intersected with the quantized
// activation bounds round_and_saturate(act / dst_scale) (an infinite bound leaves the range as is).
struct Int8Clamp {
  int32_t lo;
  int32_t hi;
};
inline Int8Clamp int8_output_clamp(const Int8OutputParams& p) {
  const int32_t qmin = p.dst_dtype == DType::kU8 ? kU8Min : kS8Min;
  const int32_t qmax = p.dst_dtype == DType::kU8 ? kU8Max : kS8Max;
  Int8Clamp c{qmin, qmax};
  if (std::isfinite(p.act_min)) c.lo = round_and_saturate(p.act_min / p.dst_scale, p.dst_zero_point, qmin, qmax);
  if (std::isfinite(p.act_max)) c.hi = round_and_saturate(p.act_max / p.dst_scale, p.dst_zero_point, qmin, qmax);
  return c;
}

// The epilogue of one output element, given acc = bias + sum (src - src_zero_point) * wei in int32:
//   v = (float)acc * multiplier
//   v = fma(sum_multiplier, residual, v)     when has_sum; residual = (float)(sum - sum_zero_point)
//                                            for a u8/s8 sum, the sum value itself for an f32 sum
//   u8/s8: dst = round_and_saturate(v, dst_zero_point, clamp.lo, clamp.hi)   (requantize.h)
//   f32:   dst = min(max(v, act_min), act_max)
// The residual term uses one fused multiply-add (a single rounding), as oneDNN's sum post-op does
// (for an f32 dst sum_multiplier is 1 and the fma is a plain addition).
inline float int8_output_real(int32_t acc, float multiplier, bool has_sum, float sum_multiplier, float residual) {
  const float v = static_cast<float>(acc) * multiplier;
  return has_sum ? std::fma(sum_multiplier, residual, v) : v;
}

}  // namespace hqp::kernels
