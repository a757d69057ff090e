// Internal helpers of conv.cpp and pool.cpp: 3-D normalization of spatial geometry and the
// range of outputs a kernel tap touches. Not a public kernel API; include only from kernels/ref/*.cpp.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>

#include "kernels/ref/kernel_limits.h"

namespace hqp::kernels::detail {

// Spatial geometry with exactly three dims [D, H, W]; a rank-r problem occupies the last r entries
// and the leading 3-r entries are size 1, stride 1, dilation 1, padding 0. W is the contiguous dim.
struct Window3 {
  int64_t in[kMaxSpatialRank];
  int64_t out[kMaxSpatialRank];
  int64_t kernel[kMaxSpatialRank];
  int64_t stride[kMaxSpatialRank];
  int64_t dilation[kMaxSpatialRank];
  int64_t pad_begin[kMaxSpatialRank];
  int64_t pad_end[kMaxSpatialRank];  // only meaningful where the caller provides it (average pooling)
};

// Reads the first `rank` entries of each array; `pad_end` may be null (then treated as 0).
inline Window3 normalize_window(int rank, const int64_t* in, const int64_t* out, const int64_t* kernel,
                                const int64_t* stride, const int64_t* dilation, const int64_t* pad_begin,
                                const int64_t* pad_end) {
  assert(rank >= 1 && rank <= kMaxSpatialRank);
  Window3 w{};
  const int lead = kMaxSpatialRank - rank;
  for (int i = 0; i < kMaxSpatialRank; ++i) {
    const bool used = i >= lead;
    const int j = i - lead;
    w.in[i] = used ? in[j] : 1;
    w.out[i] = used ? out[j] : 1;
    w.kernel[i] = used ? kernel[j] : 1;
    w.stride[i] = used ? stride[j] : 1;
    w.dilation[i] = used ? dilation[j] : 1;
    w.pad_begin[i] = used ? pad_begin[j] : 0;
    w.pad_end[i] = used && pad_end != nullptr ? pad_end[j] : 0;
    assert(w.in[i] >= 0 && w.out[i] >= 0 && w.kernel[i] >= 1 && w.stride[i] >= 1 && w.dilation[i] >= 1);
  }
  return w;
}

// Outputs o in [*lo, *hi) are exactly those with 0 <= o*stride + offset < in_size
// (offset = tap*dilation - pad_begin), clipped to [0, out_size).
inline void valid_output_range(int64_t offset, int64_t stride, int64_t in_size, int64_t out_size, int64_t* lo,
                               int64_t* hi) {
  int64_t first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t last_excl = in_size - 1 - offset < 0 ? 0 : (in_size - 1 - offset) / stride + 1;
  first = std::min(first, out_size);
  last_excl = std::min(last_excl, out_size);
  *lo = first;
  *hi = std::max(first, last_excl);
}

}  // namespace hqp::kernels::detail
