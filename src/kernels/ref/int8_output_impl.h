// The loop body of int8_output_nhwc__ref (conv_int8.h), shared with its kernels/x86 builds for
// wider vector units: one source, so the same IEEE operations in the same order everywhere (both
// libraries compile with -ffp-contract=off). Not a public header: include only from
// kernels/ref/conv_int8.cpp and kernels/x86/.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/ref/int8_output.h"
#include "kernels/ref/quantize_impl.h"  // HQP_KERNEL_INLINE

namespace hqp::kernels::detail {

// dst[r, c] = the epilogue of int8_output.h on acc[r, 0, c] (+ acc[r, 1, c] when kPieces == 2) +
// bias[c] with multipliers[c] (and the residual sum[r, c]), rows x channels, channels contiguous;
// acc is [rows, kPieces, channels]. bias is never null here (zeros).
// round_and_saturate and the f32 clamp are written branch-free so that the compiler vectorizes
// them; they are the same operations as requantize.h's, in the same order.
template <typename Dst, bool kHasSum, int kPieces>
HQP_KERNEL_INLINE void int8_output_nhwc_impl(const Int8OutputParams& o, const float* multipliers,
                                             const int32_t* bias, int64_t rows, int64_t channels,
                                             const int32_t* acc, const Dst* sum, Dst* dst) {
  static_assert(kPieces == 1 || kPieces == 2);
  constexpr bool kF32 = std::is_same_v<Dst, float>;
  const float sum_mult = int8_sum_multiplier(o);
  const Int8Clamp clamp = kF32 ? Int8Clamp{0, 0} : int8_output_clamp(o);
  const int32_t zp = o.dst_zero_point;
  const int32_t sum_zp = o.sum_zero_point;
  const float lo = static_cast<float>(clamp.lo - zp);
  const float hi = static_cast<float>(clamp.hi - zp);
  const float act_min = o.act_min, act_max = o.act_max;
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23, as in requantize.h
  const int64_t n = channels;  // a local: 8-bit stores may alias the params
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* a = acc + r * n * kPieces;
    const Dst* s = kHasSum ? sum + r * n : nullptr;
    Dst* d = dst + r * n;
    for (int64_t c = 0; c < n; ++c) {
      int32_t q = a[c] + bias[c];
      if constexpr (kPieces == 2) q += a[n + c];
      float v = static_cast<float>(q) * multipliers[c];
      if constexpr (kHasSum) {
        float residual;
        if constexpr (kF32) {
          residual = s[c];
        } else {
          residual = static_cast<float>(static_cast<int32_t>(s[c]) - sum_zp);
        }
        v = std::fma(sum_mult, residual, v);
      }
      if constexpr (kF32) {
        d[c] = std::min(std::max(v, act_min), act_max);
      } else {
        v = v != v ? 0.0f : v;
        v = v < lo ? lo : (v > hi ? hi : v);
        d[c] = static_cast<Dst>(static_cast<int32_t>((v + kRoundMagic) - kRoundMagic) + zp);
      }
    }
  }
}

}  // namespace hqp::kernels::detail
