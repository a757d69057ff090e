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

// The requantization of an FP32 value, as round_and_saturate with the clamp written branch-free
// (the same IEEE operations, so vectorizable loops give the scalar definition's result).
struct Requantizer {
  float lo, hi;
  int32_t zero;
  Requantizer(int32_t zero_point, int32_t qmin, int32_t qmax)
      : lo(static_cast<float>(qmin - zero_point)), hi(static_cast<float>(qmax - zero_point)), zero(zero_point) {}
  int32_t operator()(float v) const {  // v finite (integer inputs, finite positive scales)
    constexpr float kRoundMagic = 12582912.0f;  // as in requantize.h
    v = std::max(v, lo);
    v = std::min(v, hi);
    return static_cast<int32_t>((v + kRoundMagic) - kRoundMagic) + zero;
  }
};

template <typename Q>
void qmul_impl(const QMulParams& p, const Q* a, const Q* b, Q* dst, int32_t qmin, int32_t qmax) {
  const float za = static_cast<float>(p.a_zero);
  const float zb = static_cast<float>(p.b_zero);
  const float sa = p.a_scale, sb = p.b_scale, sy = p.y_scale;
  const Requantizer rq(p.y_zero, qmin, qmax);
  const int64_t nb = p.batch, nc = p.channels, ns = p.spatial;
  if (!p.b_per_channel) {
    const int64_t n = nb * nc * ns;
    for (int64_t i = 0; i < n; ++i) {
      const float fa = (static_cast<float>(a[i]) - za) * sa;
      const float fb = (static_cast<float>(b[i]) - zb) * sb;
      dst[i] = static_cast<Q>(rq((fa * fb) / sy));
    }
    return;
  }
  for (int64_t bi = 0; bi < nb; ++bi) {
    const Q* gate = b + bi * nc;
    if (p.channels_last) {
      for (int64_t s = 0; s < ns; ++s) {
        const int64_t base = (bi * ns + s) * nc;
        for (int64_t c = 0; c < nc; ++c) {
          const float fa = (static_cast<float>(a[base + c]) - za) * sa;
          const float fb = (static_cast<float>(gate[c]) - zb) * sb;
          dst[base + c] = static_cast<Q>(rq((fa * fb) / sy));
        }
      }
    } else {
      for (int64_t c = 0; c < nc; ++c) {
        const float fb = (static_cast<float>(gate[c]) - zb) * sb;
        const int64_t base = (bi * nc + c) * ns;
        for (int64_t s = 0; s < ns; ++s) {
          const float fa = (static_cast<float>(a[base + s]) - za) * sa;
          dst[base + s] = static_cast<Q>(rq((fa * fb) / sy));
        }
      }
    }
  }
}

template <typename Q>
void qgap_impl(const QGlobalAveragePoolParams& p, const Q* x, Q* dst, float* scratch, int32_t qmin, int32_t qmax) {
  const float zx = static_cast<float>(p.x_zero);
  const float sx = p.x_scale, sy = p.y_scale;
  const float count = static_cast<float>(p.spatial);
  const Requantizer rq(p.y_zero, qmin, qmax);
  const int64_t nc = p.channels, ns = p.spatial;
  for (int64_t bi = 0; bi < p.batch; ++bi) {
    if (p.channels_last) {
      for (int64_t c = 0; c < nc; ++c) scratch[c] = 0.0f;
      for (int64_t s = 0; s < ns; ++s) {
        const Q* row = x + (bi * ns + s) * nc;
        for (int64_t c = 0; c < nc; ++c) scratch[c] += (static_cast<float>(row[c]) - zx) * sx;
      }
      for (int64_t c = 0; c < nc; ++c) dst[bi * nc + c] = static_cast<Q>(rq((scratch[c] / count) / sy));
    } else {
      for (int64_t c = 0; c < nc; ++c) {
        const Q* plane = x + (bi * nc + c) * ns;
        float sum = 0.0f;
        for (int64_t s = 0; s < ns; ++s) sum += (static_cast<float>(plane[s]) - zx) * sx;
        dst[bi * nc + c] = static_cast<Q>(rq((sum / count) / sy));
      }
    }
  }
}

}  // namespace

void lut8__ref(int64_t n, const uint8_t* src, bool src_signed, const uint8_t* table, uint8_t* dst) {
  const uint8_t flip = src_signed ? 0x80 : 0x00;  // s8 code c sits at table[c + 128] = table[byte ^ 0x80]
  for (int64_t i = 0; i < n; ++i) dst[i] = table[src[i] ^ flip];
}

void qmul_u8__ref(const QMulParams& params, const uint8_t* a, const uint8_t* b, uint8_t* dst) {
  qmul_impl(params, a, b, dst, kU8Min, kU8Max);
}

void qmul_s8__ref(const QMulParams& params, const int8_t* a, const int8_t* b, int8_t* dst) {
  qmul_impl(params, a, b, dst, kS8Min, kS8Max);
}

void qglobal_average_pool_u8__ref(const QGlobalAveragePoolParams& params, const uint8_t* x, uint8_t* dst,
                                  float* scratch) {
  qgap_impl(params, x, dst, scratch, kU8Min, kU8Max);
}

void qglobal_average_pool_s8__ref(const QGlobalAveragePoolParams& params, const int8_t* x, int8_t* dst,
                                  float* scratch) {
  qgap_impl(params, x, dst, scratch, kS8Min, kS8Max);
}

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
