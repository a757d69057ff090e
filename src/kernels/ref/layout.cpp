// Reference Transpose / Gather / Concat as byte copies; transpose walks dst in row-major order with
// permuted source strides. Not optimized for cache blocking.
#include "kernels/ref/layout.h"

#include <cassert>
#include <cstring>

namespace hqp::kernels {

void transpose_any__ref(const TransposeParams& params, size_t elem_size, const void* src, void* dst) {
  const int rank = params.rank;
  assert(rank >= 0 && rank <= kMaxKernelRank);
  int64_t src_strides[kMaxKernelRank] = {};
  int64_t stride = 1;
  for (int i = rank - 1; i >= 0; --i) {
    src_strides[i] = stride;
    stride *= params.src_shape[i];
  }
  const int64_t count = stride;
  int64_t dst_shape[kMaxKernelRank] = {};
  int64_t perm_strides[kMaxKernelRank] = {};  // src stride of each dst dim
  for (int i = 0; i < rank; ++i) {
    assert(params.perm[i] >= 0 && params.perm[i] < rank);
    dst_shape[i] = params.src_shape[params.perm[i]];
    perm_strides[i] = src_strides[params.perm[i]];
  }
  const auto* src_bytes = static_cast<const unsigned char*>(src);
  auto* dst_bytes = static_cast<unsigned char*>(dst);
  int64_t index[kMaxKernelRank] = {};
  int64_t src_off = 0;
  for (int64_t d = 0; d < count; ++d) {
    std::memcpy(dst_bytes + d * elem_size, src_bytes + src_off * elem_size, elem_size);
    for (int i = rank - 1; i >= 0; --i) {
      ++index[i];
      src_off += perm_strides[i];
      if (index[i] < dst_shape[i]) break;
      src_off -= index[i] * perm_strides[i];
      index[i] = 0;
    }
  }
}

bool gather_indices_valid(const int64_t* indices, int64_t num_indices, int64_t axis_len) {
  for (int64_t j = 0; j < num_indices; ++j) {
    if (indices[j] < -axis_len || indices[j] >= axis_len) return false;
  }
  return true;
}

void gather_any__ref(const GatherParams& params, size_t elem_size, const void* src, const int64_t* indices,
                     void* dst) {
  const auto* src_bytes = static_cast<const unsigned char*>(src);
  auto* dst_bytes = static_cast<unsigned char*>(dst);
  const size_t row_bytes = static_cast<size_t>(params.inner) * elem_size;
  for (int64_t o = 0; o < params.outer; ++o) {
    for (int64_t j = 0; j < params.num_indices; ++j) {
      int64_t idx = indices[j];
      if (idx < 0) idx += params.axis_len;
      assert(idx >= 0 && idx < params.axis_len);
      const int64_t src_row = o * params.axis_len + idx;
      const int64_t dst_row = o * params.num_indices + j;
      if (row_bytes > 0) {
        std::memcpy(dst_bytes + dst_row * row_bytes, src_bytes + src_row * row_bytes, row_bytes);
      }
    }
  }
}

void concat_any__ref(std::span<const void* const> srcs, std::span<const int64_t> axis_lens, int64_t outer,
                     int64_t inner, size_t elem_size, void* dst) {
  assert(srcs.size() == axis_lens.size());
  int64_t total = 0;
  for (int64_t len : axis_lens) total += len;
  auto* dst_bytes = static_cast<unsigned char*>(dst);
  const size_t dst_block = static_cast<size_t>(total * inner) * elem_size;
  size_t dst_offset = 0;  // bytes into each outer block of dst
  for (size_t t = 0; t < srcs.size(); ++t) {
    const size_t block = static_cast<size_t>(axis_lens[t] * inner) * elem_size;
    if (block == 0) continue;
    const auto* src_bytes = static_cast<const unsigned char*>(srcs[t]);
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(dst_bytes + o * dst_block + dst_offset, src_bytes + o * block, block);
    }
    dst_offset += block;
  }
}

}  // namespace hqp::kernels
