// AVX2 and AVX-512 builds of the INT8 epilogue (one source with the reference: int8_output_impl.h).
#include "kernels/x86/int8_output_x86.h"

#include <type_traits>
#include <vector>

#include "kernels/ref/int8_output_impl.h"

#include "kernels/x86/cpu_features.h"

#ifdef HQP_X86_DISPATCH
#define HQP_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,prefer-vector-width=512")))
#define HQP_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace hqp::kernels {

namespace {

using EpilogueFn = void (*)(const Int8OutputParams&, const float*, const int32_t*, int64_t, int64_t, const int32_t*,
                            const void*, void*);

using x86::has_avx2;
using x86::has_avx512;

#ifdef HQP_X86_DISPATCH

// One function per (ISA, dst dtype, sum): the body inlined into a function of that target.
#define HQP_EPILOGUE_VARIANT(isa, attr, Dst, has_sum, pieces)                                                  \
  attr void epilogue_##isa##_##Dst##_##has_sum##_##pieces(const Int8OutputParams& o, const float* m,           \
                                                          const int32_t* b, int64_t rows, int64_t ch,          \
                                                          const int32_t* acc, const void* sum, void* dst) {    \
    detail::int8_output_nhwc_impl<Dst, has_sum, pieces>(o, m, b, rows, ch, acc, static_cast<const Dst*>(sum),  \
                                                        static_cast<Dst*>(dst));                               \
  }
#define HQP_EPILOGUE_DTYPES(isa, attr, pieces)               \
  HQP_EPILOGUE_VARIANT(isa, attr, uint8_t, true, pieces)     \
  HQP_EPILOGUE_VARIANT(isa, attr, uint8_t, false, pieces)    \
  HQP_EPILOGUE_VARIANT(isa, attr, int8_t, true, pieces)      \
  HQP_EPILOGUE_VARIANT(isa, attr, int8_t, false, pieces)     \
  HQP_EPILOGUE_VARIANT(isa, attr, float, true, pieces)       \
  HQP_EPILOGUE_VARIANT(isa, attr, float, false, pieces)
#define HQP_EPILOGUE_ISA(isa, attr) \
  HQP_EPILOGUE_DTYPES(isa, attr, 1) \
  HQP_EPILOGUE_DTYPES(isa, attr, 2)

HQP_EPILOGUE_ISA(avx512, HQP_AVX512)
HQP_EPILOGUE_ISA(avx2, HQP_AVX2)

#define HQP_EPILOGUE_PICK_DTYPE(isa, p)                                                                   \
  switch (o.dst_dtype) {                                                                                  \
    case DType::kU8: return o.has_sum ? epilogue_##isa##_uint8_t_true_##p : epilogue_##isa##_uint8_t_false_##p; \
    case DType::kS8: return o.has_sum ? epilogue_##isa##_int8_t_true_##p : epilogue_##isa##_int8_t_false_##p;   \
    default: return o.has_sum ? epilogue_##isa##_float_true_##p : epilogue_##isa##_float_false_##p;             \
  }
#define HQP_EPILOGUE_PICK(isa)         \
  if (pieces == 2) {                   \
    HQP_EPILOGUE_PICK_DTYPE(isa, 2)    \
  } else {                             \
    HQP_EPILOGUE_PICK_DTYPE(isa, 1)    \
  }

EpilogueFn pick(const Int8OutputParams& o, int pieces) {
  if (has_avx512()) {
    HQP_EPILOGUE_PICK(avx512)
  }
  if (has_avx2()) {
    HQP_EPILOGUE_PICK(avx2)
  }
  return nullptr;
}
#else
EpilogueFn pick(const Int8OutputParams&, int) { return nullptr; }
#endif

}  // namespace

void int8_output_nhwc__x86(const Int8OutputParams& out, const float* multipliers, const int32_t* bias, int64_t rows,
                           int64_t channels, const int32_t* acc, const void* sum, void* dst, int pieces) {
  const EpilogueFn fn = pieces == 1 || pieces == 2 ? pick(out, pieces) : nullptr;
  if (fn == nullptr || bias == nullptr) {
    int8_output_nhwc__ref(out, multipliers, bias, rows, channels, acc, sum, dst, pieces);
    return;
  }
  fn(out, multipliers, bias, rows, channels, acc, sum, dst);
}

std::string_view int8_output__x86_isa() {
  if (has_avx512()) return "avx512";
  if (has_avx2()) return "avx2";
  return "ref";
}

}  // namespace hqp::kernels
