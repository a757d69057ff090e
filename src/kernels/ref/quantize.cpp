// Reference QuantizeLinear / DequantizeLinear over an (outer, axis, inner) view; rounding and
// saturation come from requantize.h so every INT8 path shares one definition.
#include "kernels/ref/quantize.h"

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
      for (int64_t in = 0; in < p.inner; ++in, ++i) {
        dst[i] = static_cast<Q>(round_and_saturate(src[i] / s, zp, qmin, qmax));
      }
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
      for (int64_t in = 0; in < p.inner; ++in, ++i) dst[i] = (static_cast<float>(src[i]) - zp) * s;
    }
  }
}

}  // namespace

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
