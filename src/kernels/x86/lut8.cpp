// AVX-512 VBMI table lookup; the reference loop elsewhere.
#include "kernels/x86/lut8.h"

#include "kernels/ref/quantize.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HQP_LUT8_VBMI 1
#endif

namespace hqp::kernels {

namespace {

#ifdef HQP_LUT8_VBMI
#define HQP_VBMI __attribute__((target("avx512f,avx512bw,avx512vbmi")))

// 64 lookups: t0..t3 hold entries 0..63, 64..127, 128..191, 192..255.
HQP_VBMI inline __m512i lookup64(__m512i x, __m512i flip, __m512i t0, __m512i t1, __m512i t2, __m512i t3) {
  x = _mm512_xor_si512(x, flip);                            // table index (s8 code c -> c + 128)
  const __m512i lo = _mm512_permutex2var_epi8(t0, x, t1);  // index bits 0..6 over entries 0..127
  const __m512i hi = _mm512_permutex2var_epi8(t2, x, t3);  // ... over entries 128..255
  return _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), lo, hi);  // bit 7 picks the half
}

HQP_VBMI void lut8_vbmi(int64_t n, const uint8_t* src, bool src_signed, const uint8_t* table, uint8_t* dst) {
  const __m512i t0 = _mm512_loadu_si512(table);
  const __m512i t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128);
  const __m512i t3 = _mm512_loadu_si512(table + 192);
  const __m512i flip = _mm512_set1_epi8(src_signed ? static_cast<char>(0x80) : 0);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    _mm512_storeu_si512(dst + i, lookup64(_mm512_loadu_si512(src + i), flip, t0, t1, t2, t3));
  }
  if (i < n) {
    const __mmask64 m = (1ULL << (n - i)) - 1;  // n - i < 64
    _mm512_mask_storeu_epi8(dst + i, m, lookup64(_mm512_maskz_loadu_epi8(m, src + i), flip, t0, t1, t2, t3));
  }
}

bool has_vbmi() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vbmi");
  return yes;
}
#endif

}  // namespace

void lut8__x86(int64_t n, const uint8_t* src, bool src_signed, const uint8_t* table, uint8_t* dst) {
#ifdef HQP_LUT8_VBMI
  if (has_vbmi()) return lut8_vbmi(n, src, src_signed, table, dst);
#endif
  lut8__ref(n, src, src_signed, table, dst);
}

std::string_view lut8__x86_isa() {
#ifdef HQP_LUT8_VBMI
  if (has_vbmi()) return "avx512_vbmi";
#endif
  return "ref";
}

}  // namespace hqp::kernels
