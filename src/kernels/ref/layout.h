// Reference data-movement kernels (Transpose, Gather, Concat) for any dtype, addressed by element
// size in bytes. They copy bytes only: no arithmetic, no dtype conversion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/ref/kernel_limits.h"

namespace hqp::kernels {

// ONNX Transpose: dst_shape[i] = src_shape[perm[i]].
struct TransposeParams {
  int rank = 0;
  int64_t src_shape[kMaxKernelRank] = {};
  int perm[kMaxKernelRank] = {};  // a permutation of [0, rank)
};

// src: [src_shape] contiguous row-major; dst: [src_shape[perm[0]], ...] contiguous row-major.
// elem_size: bytes per element (1, 2, 4, 8, ...). dst must not alias src.
void transpose_any__ref(const TransposeParams& params, size_t elem_size, const void* src, void* dst);

// ONNX Gather along one axis. data viewed as [outer, axis_len, inner]; indices flattened to
// [num_indices]; dst = [outer, num_indices, inner] (the ONNX output shape
// data.shape[:axis] + indices.shape + data.shape[axis+1:] has this layout).
struct GatherParams {
  int64_t outer = 1;
  int64_t axis_len = 1;
  int64_t inner = 1;
  int64_t num_indices = 1;
};

// True when every index lies in [-axis_len, axis_len). Callers check this before gathering
// untrusted indices; the kernel itself only asserts.
bool gather_indices_valid(const int64_t* indices, int64_t num_indices, int64_t axis_len);

// dst[o, j, i] = src[o, idx(j), i] with idx(j) = indices[j] < 0 ? indices[j] + axis_len : indices[j].
void gather_any__ref(const GatherParams& params, size_t elem_size, const void* src, const int64_t* indices,
                     void* dst);

// ONNX Concat. Input t is viewed as [outer, axis_lens[t], inner]; dst is
// [outer, sum_t axis_lens[t], inner], all contiguous row-major. srcs.size() == axis_lens.size().
void concat_any__ref(std::span<const void* const> srcs, std::span<const int64_t> axis_lens, int64_t outer,
                     int64_t inner, size_t elem_size, void* dst);

}  // namespace hqp::kernels
