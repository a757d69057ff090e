// AVX-512 and AVX2 builds of the INT8 element-wise loops (one source with the reference: quantize_impl.h).
#include "kernels/x86/quantize_x86.h"

#include "kernels/ref/quantize_impl.h"

#include "kernels/x86/cpu_features.h"

#ifdef HQP_X86_DISPATCH
#define HQP_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,prefer-vector-width=512")))
#define HQP_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace hqp::kernels {

namespace {

using x86::has_avx2;
using x86::has_avx512;

#ifdef HQP_X86_DISPATCH
// The ten loops built for one ISA: <name>_<isa>(...), each the reference's loop body inlined.
#define HQP_INT8_ELTWISE_ISA(isa, attr)                                                                       \
  attr void qadd_u8_##isa(const QAddParams& p, const uint8_t* a, const uint8_t* b, uint8_t* d) {              \
    detail::qadd_impl(p, a, b, d, kU8Min, kU8Max);                                                          \
  }                                                                                                         \
  attr void qadd_s8_##isa(const QAddParams& p, const int8_t* a, const int8_t* b, int8_t* d) {                 \
    detail::qadd_impl(p, a, b, d, kS8Min, kS8Max);                                                          \
  }                                                                                                         \
  attr void qmul_u8_##isa(const QMulParams& p, const uint8_t* a, const uint8_t* b, uint8_t* d) {              \
    detail::qmul_impl(p, a, b, d, kU8Min, kU8Max);                                                          \
  }                                                                                                         \
  attr void qmul_s8_##isa(const QMulParams& p, const int8_t* a, const int8_t* b, int8_t* d) {                 \
    detail::qmul_impl(p, a, b, d, kS8Min, kS8Max);                                                          \
  }                                                                                                         \
  attr void qgap_u8_##isa(const QGlobalAveragePoolParams& p, const uint8_t* x, uint8_t* d, float* s) {        \
    detail::qgap_impl(p, x, d, s, kU8Min, kU8Max);                                                          \
  }                                                                                                         \
  attr void qgap_s8_##isa(const QGlobalAveragePoolParams& p, const int8_t* x, int8_t* d, float* s) {          \
    detail::qgap_impl(p, x, d, s, kS8Min, kS8Max);                                                          \
  }                                                                                                         \
  attr void quantize_u8_##isa(const QuantizeParams& p, const float* src, const float* scale, const uint8_t* zp, \
                              uint8_t* d) {                                                                 \
    detail::quantize_impl(p, src, scale, zp, d, kU8Min, kU8Max);                                            \
  }                                                                                                         \
  attr void quantize_s8_##isa(const QuantizeParams& p, const float* src, const float* scale, const int8_t* zp,  \
                              int8_t* d) {                                                                  \
    detail::quantize_impl(p, src, scale, zp, d, kS8Min, kS8Max);                                            \
  }                                                                                                         \
  attr void dequantize_u8_##isa(const QuantizeParams& p, const uint8_t* src, const float* scale,             \
                                const uint8_t* zp, float* d) {                                              \
    detail::dequantize_impl(p, src, scale, zp, d);                                                          \
  }                                                                                                         \
  attr void dequantize_s8_##isa(const QuantizeParams& p, const int8_t* src, const float* scale,              \
                                const int8_t* zp, float* d) {                                               \
    detail::dequantize_impl(p, src, scale, zp, d);                                                          \
  }

HQP_INT8_ELTWISE_ISA(avx512, HQP_AVX512)
HQP_INT8_ELTWISE_ISA(avx2, HQP_AVX2)

#define HQP_DISPATCH(name, args)                 \
  if (has_avx512()) return name##_avx512 args; \
  if (has_avx2()) return name##_avx2 args
#else
#define HQP_DISPATCH(name, args)
#endif

}  // namespace

void qadd_u8__x86(const QAddParams& p, const uint8_t* a, const uint8_t* b, uint8_t* d) {
  HQP_DISPATCH(qadd_u8, (p, a, b, d));
  qadd_u8__ref(p, a, b, d);
}
void qadd_s8__x86(const QAddParams& p, const int8_t* a, const int8_t* b, int8_t* d) {
  HQP_DISPATCH(qadd_s8, (p, a, b, d));
  qadd_s8__ref(p, a, b, d);
}
void qmul_u8__x86(const QMulParams& p, const uint8_t* a, const uint8_t* b, uint8_t* d) {
  HQP_DISPATCH(qmul_u8, (p, a, b, d));
  qmul_u8__ref(p, a, b, d);
}
void qmul_s8__x86(const QMulParams& p, const int8_t* a, const int8_t* b, int8_t* d) {
  HQP_DISPATCH(qmul_s8, (p, a, b, d));
  qmul_s8__ref(p, a, b, d);
}
void qglobal_average_pool_u8__x86(const QGlobalAveragePoolParams& p, const uint8_t* x, uint8_t* d, float* s) {
  HQP_DISPATCH(qgap_u8, (p, x, d, s));
  qglobal_average_pool_u8__ref(p, x, d, s);
}
void qglobal_average_pool_s8__x86(const QGlobalAveragePoolParams& p, const int8_t* x, int8_t* d, float* s) {
  HQP_DISPATCH(qgap_s8, (p, x, d, s));
  qglobal_average_pool_s8__ref(p, x, d, s);
}
void quantize_linear_u8__x86(const QuantizeParams& p, const float* src, const float* scale, const uint8_t* zp,
                             uint8_t* d) {
  HQP_DISPATCH(quantize_u8, (p, src, scale, zp, d));
  quantize_linear_u8__ref(p, src, scale, zp, d);
}
void quantize_linear_s8__x86(const QuantizeParams& p, const float* src, const float* scale, const int8_t* zp,
                             int8_t* d) {
  HQP_DISPATCH(quantize_s8, (p, src, scale, zp, d));
  quantize_linear_s8__ref(p, src, scale, zp, d);
}

void dequantize_linear_u8__x86(const QuantizeParams& p, const uint8_t* src, const float* scale, const uint8_t* zp,
                               float* d) {
  HQP_DISPATCH(dequantize_u8, (p, src, scale, zp, d));
  dequantize_linear_u8__ref(p, src, scale, zp, d);
}
void dequantize_linear_s8__x86(const QuantizeParams& p, const int8_t* src, const float* scale, const int8_t* zp,
                               float* d) {
  HQP_DISPATCH(dequantize_s8, (p, src, scale, zp, d));
  dequantize_linear_s8__ref(p, src, scale, zp, d);
}

std::string_view int8_eltwise__x86_isa() {
  if (has_avx512()) return "avx512";
  if (has_avx2()) return "avx2";
  return "ref";
}

}  // namespace hqp::kernels
