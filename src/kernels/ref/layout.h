// Reference data-movement kernels (Transpose, Gather, Concat, Slice, Pad, Expand) for any dtype, addressed by element
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

// ONNX Slice (and each output of Split): dst index i along axis a reads src index
// start[a] + i * step[a] (step may be negative). Callers resolve ONNX's clamping first
// (ir::slice_geometry); every index read must lie in [0, src_shape[a]).
struct SliceParams {
  int rank = 0;
  int64_t src_shape[kMaxKernelRank] = {};
  int64_t dst_shape[kMaxKernelRank] = {};
  int64_t start[kMaxKernelRank] = {};
  int64_t step[kMaxKernelRank] = {};
};

void slice_any__ref(const SliceParams& params, size_t elem_size, const void* src, void* dst);

// ONNX Pad: dst_shape[a] = begin[a] + src_shape[a] + end[a] (begin/end may be negative: a crop).
// dst index i along axis a stands for src index j = i - begin[a]; where j lies outside the source:
//   kConstant: the element is `value` (elem_size bytes);
//   kReflect:  j mirrors at the borders without repeating the edge (numpy "reflect", applied
//              repeatedly for pads wider than the axis; an axis of size 1 repeats its element);
//   kEdge:     j clamps to the nearest edge.
// kReflect and kEdge need every padded axis to be non-empty (ir::pad_geometry checks).
enum class PadMode { kConstant, kReflect, kEdge };

struct PadParams {
  int rank = 0;
  int64_t src_shape[kMaxKernelRank] = {};
  int64_t begin[kMaxKernelRank] = {};
  int64_t dst_shape[kMaxKernelRank] = {};
  PadMode mode = PadMode::kConstant;
};

void pad_any__ref(const PadParams& params, size_t elem_size, const void* src, const void* value, void* dst);

// ONNX Expand (numpy broadcasting to a larger shape): src_shape is right-aligned to dst's rank by
// the caller (leading 1s); every src dim is 1 or equal to the dst dim. A dim of 1 repeats.
struct ExpandParams {
  int rank = 0;
  int64_t src_shape[kMaxKernelRank] = {};
  int64_t dst_shape[kMaxKernelRank] = {};
};

void expand_any__ref(const ExpandParams& params, size_t elem_size, const void* src, void* dst);

}  // namespace hqp::kernels
