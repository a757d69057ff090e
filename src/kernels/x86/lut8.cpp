// AVX-512 VBMI and AVX2 table lookups; the reference loop elsewhere.
#include "kernels/x86/lut8.h"

#include "kernels/ref/quantize.h"
#include "kernels/x86/cpu_features.h"

#ifdef HQP_X86_DISPATCH
#include <immintrin.h>
#endif

namespace hqp::kernels {

namespace {

#ifdef HQP_X86_DISPATCH
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

#define HQP_AVX2 __attribute__((target("avx2")))

// 32 lookups: t[k] holds entries 16k..16k+15 in both 128-bit lanes. VPSHUFB looks up the index's
// low nibble in each of the 16 tables; the table whose number equals the high nibble is kept.
HQP_AVX2 inline __m256i lookup32(__m256i x, __m256i flip, const __m256i* t) {
  x = _mm256_xor_si256(x, flip);
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  const __m256i lo = _mm256_and_si256(x, nibble);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), nibble);
  __m256i r = _mm256_setzero_si256();
  for (int k = 0; k < 16; ++k) {
    const __m256i pick = _mm256_cmpeq_epi8(hi, _mm256_set1_epi8(static_cast<char>(k)));
    r = _mm256_or_si256(r, _mm256_and_si256(_mm256_shuffle_epi8(t[k], lo), pick));
  }
  return r;
}

HQP_AVX2 void lut8_avx2(int64_t n, const uint8_t* src, bool src_signed, const uint8_t* table, uint8_t* dst) {
  __m256i t[16];
  for (int k = 0; k < 16; ++k) {
    t[k] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * k)));
  }
  const __m256i flip = _mm256_set1_epi8(src_signed ? static_cast<char>(0x80) : 0);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), lookup32(x, flip, t));
  }
  if (i < n) lut8__ref(n - i, src + i, src_signed, table, dst + i);
}

#endif

}  // namespace

void lut8__x86(int64_t n, const uint8_t* src, bool src_signed, const uint8_t* table, uint8_t* dst) {
#ifdef HQP_X86_DISPATCH
  if (x86::has_avx512_vbmi()) return lut8_vbmi(n, src, src_signed, table, dst);
  if (x86::has_avx2()) return lut8_avx2(n, src, src_signed, table, dst);
#endif
  lut8__ref(n, src, src_signed, table, dst);
}

std::string_view lut8__x86_isa() {
#ifdef HQP_X86_DISPATCH
  if (x86::has_avx512_vbmi()) return "avx512_vbmi";
  if (x86::has_avx2()) return "avx2";
#endif
  return "ref";
}

}  // namespace hqp::kernels
