// Reference QuantizeLinear / DequantizeLinear over an (outer, axis, inner) view; rounding and
// saturation come from requantize.h so every INT8 path shares one definition.
#include "kernels/ref/quantize.h"

#include <algorithm>

#include "kernels/ref/requantize.h"

namespace hqp::kernels {

namespace {

template <typename Q>
void quantize_impl(const QuantizeParams& p, const float* src, const float* scale, const Q* zero_point, Q* dst,
                   int32_t qmin, int32_t qmax) {
  int64_t i = 0;
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t a = 0; a < p.axis_len; ++a) {
      const float s = scale[a];
      const int32_t zp = zero_point != nullptr ? static_cast<int32_t>(zero_point[a]) : 0;
      // round_and_saturate written branch-free, so the compiler vectorizes it: the same IEEE
      // operations in the same order (division, NaN -> 0, clamp, magic-number rounding), so the
      // same result as the scalar definition, bit for bit.
      const float lo = static_cast<float>(qmin - zp);
      const float hi = static_cast<float>(qmax - zp);
      constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23, as in requantize.h
      const float* x = src + i;
      Q* y = dst + i;
      const int64_t n = p.inner;  // a local: u8 stores may alias p, which would stop vectorization
      for (int64_t in = 0; in < n; ++in) {
        float v = x[in] / s;
        v = v != v ? 0.0f : v;
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
        y[in] = static_cast<Q>(static_cast<int32_t>((v + kRoundMagic) - kRoundMagic) + zp);
      }
      i += p.inner;
    }
  }
}

template <typename Q>
void dequantize_impl(const QuantizeParams& p, const Q* src, const float* scale, const Q* zero_point, float* dst) {
  int64_t i = 0;
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t a = 0; a < p.axis_len; ++a) {
      const float s = scale[a];
      const float zp = zero_point != nullptr ? static_cast<float>(zero_point[a]) : 0.0f;
      const int64_t n = p.inner;
      for (int64_t in = 0; in < n; ++in, ++i) dst[i] = (static_cast<float>(src[i]) - zp) * s;
    }
  }
}

template <typename Q>
void qadd_impl(const QAddParams& p, const Q* a, const Q* b, Q* dst, int32_t qmin, int32_t qmax) {
  const float za = static_cast<float>(p.a_zero);  // DequantizeLinear's float zero point
  const float zb = static_cast<float>(p.b_zero);
  const float sa = p.a_scale, sb = p.b_scale, sy = p.y_scale;
  const float lo = static_cast<float>(qmin - p.y_zero);
  const float hi = static_cast<float>(qmax - p.y_zero);
  constexpr float kRoundMagic = 12582912.0f;  // as in requantize.h
  const int64_t n = p.n;
  const int32_t zy = p.y_zero;  // locals: u8 stores may alias `p`, which would stop vectorization
  for (int64_t i = 0; i < n; ++i) {
    const float fa = (static_cast<float>(a[i]) - za) * sa;
    const float fb = (static_cast<float>(b[i]) - zb) * sb;
    float v = (fa + fb) / sy;  // finite: integer inputs, finite positive scales (never NaN)
    v = std::max(v, lo);       // (v < lo) ? lo : v, as round_and_saturate clamps
    v = std::min(v, hi);
    dst[i] = static_cast<Q>(static_cast<int32_t>((v + kRoundMagic) - kRoundMagic) + zy);
  }
}

}  // namespace

void qadd_u8__ref(const QAddParams& params, const uint8_t* a, const uint8_t* b, uint8_t* dst) {
  qadd_impl(params, a, b, dst, kU8Min, kU8Max);
}

void qadd_s8__ref(const QAddParams& params, const int8_t* a, const int8_t* b, int8_t* dst) {
  qadd_impl(params, a, b, dst, kS8Min, kS8Max);
}

void quantize_linear_u8__ref(const QuantizeParams& params, const float* src, const float* scale,
                             const uint8_t* zero_point, uint8_t* dst) {
  quantize_impl(params, src, scale, zero_point, dst, kU8Min, kU8Max);
}

void quantize_linear_s8__ref(const QuantizeParams& params, const float* src, const float* scale,
                             const int8_t* zero_point, int8_t* dst) {
  quantize_impl(params, src, scale, zero_point, dst, kS8Min, kS8Max);
}

void dequantize_linear_u8__ref(const QuantizeParams& params, const uint8_t* src, const float* scale,
                               const uint8_t* zero_point, float* dst) {
  dequantize_impl(params, src, scale, zero_point, dst);
}

void dequantize_linear_s8__ref(const QuantizeParams& params, const int8_t* src, const float* scale,
                               const int8_t* zero_point, float* dst) {
  dequantize_impl(params, src, scale, zero_point, dst);
}

void dequantize_linear_s32__ref(const QuantizeParams& params, const int32_t* src, const float* scale,
                                const int32_t* zero_point, float* dst) {
  dequantize_impl(params, src, scale, zero_point, dst);
}

}  // namespace hqp::kernels
