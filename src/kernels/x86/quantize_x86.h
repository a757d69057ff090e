// The INT8 element-wise kernels of kernels/ref/quantize.h (QAdd, QMul, QGlobalAveragePool,
// QuantizeLinear, DequantizeLinear) compiled again for AVX-512 and for AVX2 and chosen at run time: the
// same loop bodies (kernels/ref/quantize_impl.h), so the same IEEE operations in the same order and
// the reference's result bit for bit, 16 / 8 lanes wide. On CPUs with neither (AVX-512 meaning
// F + BW + VL + DQ) each calls its reference kernel.
#pragma once

#include <string_view>

#include "kernels/ref/quantize.h"

namespace hqp::kernels {

void qadd_u8__x86(const QAddParams& params, const uint8_t* a, const uint8_t* b, uint8_t* dst);
void qadd_s8__x86(const QAddParams& params, const int8_t* a, const int8_t* b, int8_t* dst);
void qmul_u8__x86(const QMulParams& params, const uint8_t* a, const uint8_t* b, uint8_t* dst);
void qmul_s8__x86(const QMulParams& params, const int8_t* a, const int8_t* b, int8_t* dst);
void qglobal_average_pool_u8__x86(const QGlobalAveragePoolParams& params, const uint8_t* x, uint8_t* dst,
                                  float* scratch);
void qglobal_average_pool_s8__x86(const QGlobalAveragePoolParams& params, const int8_t* x, int8_t* dst,
                                  float* scratch);
// Per-tensor or per-axis, as quantize_linear_*__ref.
void quantize_linear_u8__x86(const QuantizeParams& params, const float* src, const float* scale,
                             const uint8_t* zero_point, uint8_t* dst);
void quantize_linear_s8__x86(const QuantizeParams& params, const float* src, const float* scale,
                             const int8_t* zero_point, int8_t* dst);
// Per-tensor or per-axis, as dequantize_linear_*__ref.
void dequantize_linear_u8__x86(const QuantizeParams& params, const uint8_t* src, const float* scale,
                               const uint8_t* zero_point, float* dst);
void dequantize_linear_s8__x86(const QuantizeParams& params, const int8_t* src, const float* scale,
                               const int8_t* zero_point, float* dst);

// The path these take on this CPU: "avx512", "avx2" or "ref".
std::string_view int8_eltwise__x86_isa();

}  // namespace hqp::kernels
