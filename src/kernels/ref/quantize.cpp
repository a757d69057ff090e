// Reference QuantizeLinear / DequantizeLinear over an (outer, axis, inner) view; rounding and
// saturation come from requantize.h so every INT8 path shares one definition.
#include "kernels/ref/quantize.h"

#include "kernels/ref/quantize_impl.h"

namespace hqp::kernels {

using namespace detail;  // NOLINT: the loop bodies of quantize_impl.h

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
