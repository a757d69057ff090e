// The loop bodies of the INT8 element-wise reference kernels (quantize.h), shared with the
// kernels/x86 builds of the same loops for wider vector units: one source, so the same IEEE
// operations in the same order everywhere (both libraries compile with -ffp-contract=off). Not a
// public header: include only from kernels/ref/quantize.cpp and kernels/x86/.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/ref/quantize.h"
#include "kernels/ref/requantize.h"

// Forced inline: a caller compiled for a wider ISA (kernels/x86) gets the loop in its own body,
// vectorized for that ISA.
#define HQP_KERNEL_INLINE [[gnu::always_inline]] inline

namespace hqp::kernels::detail {

// Channels per block of the channels-last loops (one 512-bit vector of floats).
inline constexpr int64_t kChannelBlock = 16;

template <typename Q>
HQP_KERNEL_INLINE void quantize_impl(const QuantizeParams& p, const float* src, const float* scale, const Q* zero_point, Q* dst,
                   int32_t qmin, int32_t qmax) {
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23, as in requantize.h
  if (p.inner == 1 && p.axis_len > 1 && zero_point != nullptr) {
    // The axis innermost (per-channel parameters of a channels-last tensor), one scale and zero
    // point per lane; the element operations are the ones below. A row of at least kWideRow
    // channels runs as one loop along the row. A narrower row is too short for the compiler's
    // vector of 64 u8 lanes, so tiles of kRowTile rows (a few KB, cache-resident) run in blocks of
    // kChannelBlock channels down the tile's rows (a fixed-length loop: one vector op per row),
    // then the tile's remaining channels.
    constexpr int64_t kWideRow = 64;
    constexpr int64_t kRowTile = 64;
    const int64_t n = p.axis_len;
    const int64_t rows = p.outer;
    auto element = [qmin, qmax](float x, float s, int32_t zp) {
      const float lo = static_cast<float>(qmin - zp);
      const float hi = static_cast<float>(qmax - zp);
      float v = x / s;
      v = v != v ? 0.0f : v;
      v = v < lo ? lo : v;
      v = v > hi ? hi : v;
      return static_cast<Q>(static_cast<int32_t>((v + kRoundMagic) - kRoundMagic) + zp);
    };
    const int64_t tile = n < kWideRow ? kRowTile : rows;
    for (int64_t o0 = 0; o0 < rows; o0 += tile) {
      const int64_t o1 = std::min(rows, o0 + tile);
      int64_t c0 = 0;
      if (n < kWideRow) {
        for (; c0 + kChannelBlock <= n; c0 += kChannelBlock) {
          float sb[kChannelBlock];
          int32_t zb[kChannelBlock];
          for (int64_t k = 0; k < kChannelBlock; ++k) {
            sb[k] = scale[c0 + k];
            zb[k] = static_cast<int32_t>(zero_point[c0 + k]);
          }
          for (int64_t o = o0; o < o1; ++o) {
            const float* x = src + o * n + c0;
            Q* y = dst + o * n + c0;
            for (int64_t k = 0; k < kChannelBlock; ++k) y[k] = element(x[k], sb[k], zb[k]);
          }
        }
      }
      for (int64_t o = o0; o < o1 && c0 < n; ++o) {
        const float* x = src + o * n;
        Q* y = dst + o * n;
        for (int64_t a = c0; a < n; ++a) y[a] = element(x[a], scale[a], static_cast<int32_t>(zero_point[a]));
      }
    }
    return;
  }
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
HQP_KERNEL_INLINE void dequantize_impl(const QuantizeParams& p, const Q* src, const float* scale, const Q* zero_point, float* dst) {
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
HQP_KERNEL_INLINE void qadd_impl(const QAddParams& p, const Q* a, const Q* b, Q* dst, int32_t qmin, int32_t qmax) {
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
  HQP_KERNEL_INLINE int32_t operator()(float v) const {  // v finite (integer inputs, finite positive scales)
    constexpr float kRoundMagic = 12582912.0f;  // as in requantize.h
    v = std::max(v, lo);
    v = std::min(v, hi);
    return static_cast<int32_t>((v + kRoundMagic) - kRoundMagic) + zero;
  }
};

template <typename Q>
HQP_KERNEL_INLINE void qmul_impl(const QMulParams& p, const Q* a, const Q* b, Q* dst, int32_t qmin, int32_t qmax) {
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
      // Blocks of kChannelBlock channels down all positions (a fixed-length inner loop: one vector
      // op per position when the ISA is wide enough), then the remaining channels.
      int64_t c0 = 0;
      for (; c0 + kChannelBlock <= nc; c0 += kChannelBlock) {
        float fb[kChannelBlock];
        for (int64_t k = 0; k < kChannelBlock; ++k) fb[k] = (static_cast<float>(gate[c0 + k]) - zb) * sb;
        for (int64_t s = 0; s < ns; ++s) {
          const int64_t base = (bi * ns + s) * nc + c0;
          for (int64_t k = 0; k < kChannelBlock; ++k) {
            const float fa = (static_cast<float>(a[base + k]) - za) * sa;
            dst[base + k] = static_cast<Q>(rq((fa * fb[k]) / sy));
          }
        }
      }
      for (int64_t s = 0; s < ns && c0 < nc; ++s) {
        const int64_t base = (bi * ns + s) * nc;
        for (int64_t c = c0; c < nc; ++c) {
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
HQP_KERNEL_INLINE void qgap_impl(const QGlobalAveragePoolParams& p, const Q* x, Q* dst, float* scratch, int32_t qmin, int32_t qmax) {
  const float zx = static_cast<float>(p.x_zero);
  const float sx = p.x_scale, sy = p.y_scale;
  const float count = static_cast<float>(p.spatial);
  const Requantizer rq(p.y_zero, qmin, qmax);
  const int64_t nc = p.channels, ns = p.spatial;
  for (int64_t bi = 0; bi < p.batch; ++bi) {
    if (p.channels_last) {
      // Blocks of kChannelBlock running sums (kept in registers) down all positions, in order, then
      // the remaining channels: every channel's sum still adds its positions 0, 1, 2, ...
      int64_t c0 = 0;
      for (; c0 + kChannelBlock <= nc; c0 += kChannelBlock) {
        float acc[kChannelBlock] = {};
        for (int64_t s = 0; s < ns; ++s) {
          const Q* row = x + (bi * ns + s) * nc + c0;
          for (int64_t k = 0; k < kChannelBlock; ++k) acc[k] += (static_cast<float>(row[k]) - zx) * sx;
        }
        for (int64_t k = 0; k < kChannelBlock; ++k) scratch[c0 + k] = acc[k];
      }
      for (int64_t c = c0; c < nc; ++c) scratch[c] = 0.0f;
      for (int64_t s = 0; s < ns && c0 < nc; ++s) {
        const Q* row = x + (bi * ns + s) * nc;
        for (int64_t c = c0; c < nc; ++c) scratch[c] += (static_cast<float>(row[c]) - zx) * sx;
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

}  // namespace hqp::kernels::detail
