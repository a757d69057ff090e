// Reference Transpose / Gather / Concat / Slice / Pad / Expand as byte copies; transpose walks dst in
// row-major order with permuted source strides; Slice, Pad and Expand share one walk over dst with a
// per-axis table of source indices. Not optimized for cache blocking.
#include "kernels/ref/layout.h"

#include <cassert>
#include <cstring>
#include <vector>

namespace hqp::kernels {

void transpose_any__ref(const TransposeParams& params_in, size_t elem_size, const void* src, void* dst) {
  // Trailing dims the permutation keeps in place travel together: one element of their product's
  // size (a channel shuffle [N, g, C/g, H, W] -> [N, C/g, g, H, W] moves H*W runs).
  TransposeParams params = params_in;
  while (params.rank > 0 && params.perm[params.rank - 1] == params.rank - 1) {
    elem_size *= static_cast<size_t>(params.src_shape[params.rank - 1]);
    --params.rank;
  }
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

namespace {

// Walks dst [rank dims] in row-major order; element i reads src at sum_a map[a][i_a] * src_stride[a],
// or copies `fill` (elem_size bytes) where any map entry is -1 (fill may be null when no entry is).
// The innermost axis goes by runs: consecutive source indices are one memcpy, a run of -1 one fill.
void copy_mapped(int rank, const int64_t* src_shape, const int64_t* dst_shape,
                 const std::vector<std::vector<int64_t>>& map, size_t elem_size, const void* src, const void* fill,
                 void* dst) {
  if (rank == 0) {
    std::memcpy(dst, src, elem_size);
    return;
  }
  int64_t src_strides[kMaxKernelRank] = {};
  int64_t stride = 1;
  int64_t rows = 1;
  for (int a = rank - 1; a >= 0; --a) {
    src_strides[a] = stride;
    stride *= src_shape[a];
    if (a < rank - 1) rows *= dst_shape[a];
  }
  const int last = rank - 1;
  const int64_t row_len = dst_shape[last];
  if (rows == 0 || row_len == 0) return;
  // Runs of the innermost axis: [begin, begin + length) of dst reading src from `from` on (-1: fill).
  struct Run {
    int64_t begin, length, from;
  };
  std::vector<Run> runs;
  const std::vector<int64_t>& inner = map[static_cast<size_t>(last)];
  for (int64_t i = 0; i < row_len; ++i) {
    const int64_t j = inner[static_cast<size_t>(i)];
    if (!runs.empty()) {
      Run& r = runs.back();
      const bool extends = (j < 0 && r.from < 0) || (j >= 0 && r.from >= 0 && j == r.from + r.length);
      if (extends) {
        ++r.length;
        continue;
      }
    }
    runs.push_back({i, 1, j});
  }
  const auto* src_bytes = static_cast<const unsigned char*>(src);
  auto* dst_bytes = static_cast<unsigned char*>(dst);
  int64_t index[kMaxKernelRank] = {};
  for (int64_t r = 0; r < rows; ++r) {
    int64_t off = 0;
    bool outside = false;
    for (int a = 0; a < last; ++a) {
      const int64_t j = map[static_cast<size_t>(a)][static_cast<size_t>(index[a])];
      if (j < 0) {
        outside = true;
        break;
      }
      off += j * src_strides[a];
    }
    unsigned char* row = dst_bytes + r * row_len * elem_size;
    for (const Run& run : runs) {
      unsigned char* d = row + run.begin * elem_size;
      if (outside || run.from < 0) {
        assert(fill != nullptr);
        for (int64_t k = 0; k < run.length; ++k) std::memcpy(d + k * elem_size, fill, elem_size);
      } else {
        std::memcpy(d, src_bytes + (off + run.from) * elem_size, static_cast<size_t>(run.length) * elem_size);
      }
    }
    for (int a = last - 1; a >= 0; --a) {
      if (++index[a] < dst_shape[a]) break;
      index[a] = 0;
    }
  }
}

// Source index of padded position j (j outside [0, n)) for reflect / edge; n >= 1.
int64_t pad_source(PadMode mode, int64_t j, int64_t n) {
  if (mode == PadMode::kEdge) return j < 0 ? 0 : n - 1;
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  int64_t m = j % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

}  // namespace

void slice_any__ref(const SliceParams& params_in, size_t elem_size, const void* src, void* dst) {
  // Trailing axes taken whole travel together as one larger element.
  SliceParams params = params_in;
  while (params.rank > 1 && params.start[params.rank - 1] == 0 && params.step[params.rank - 1] == 1 &&
         params.dst_shape[params.rank - 1] == params.src_shape[params.rank - 1]) {
    elem_size *= static_cast<size_t>(params.src_shape[params.rank - 1]);
    --params.rank;
  }
  assert(params.rank >= 0 && params.rank <= kMaxKernelRank);
  std::vector<std::vector<int64_t>> map(static_cast<size_t>(params.rank));
  for (int a = 0; a < params.rank; ++a) {
    for (int64_t i = 0; i < params.dst_shape[a]; ++i) {
      const int64_t j = params.start[a] + i * params.step[a];
      assert(j >= 0 && j < params.src_shape[a]);
      map[static_cast<size_t>(a)].push_back(j);
    }
  }
  copy_mapped(params.rank, params.src_shape, params.dst_shape, map, elem_size, src, nullptr, dst);
}

void pad_any__ref(const PadParams& params_in, size_t elem_size, const void* src, const void* value, void* dst) {
  // Trailing axes without padding travel together as one larger element (the fill value is then
  // repeated to that size).
  PadParams params = params_in;
  size_t inner = 1;
  while (params.rank > 1 && params.begin[params.rank - 1] == 0 &&
         params.dst_shape[params.rank - 1] == params.src_shape[params.rank - 1]) {
    inner *= static_cast<size_t>(params.src_shape[params.rank - 1]);
    --params.rank;
  }
  std::vector<unsigned char> fill;
  if (params.mode == PadMode::kConstant && inner > 1) {
    fill.resize(inner * elem_size);
    for (size_t k = 0; k < inner; ++k) std::memcpy(fill.data() + k * elem_size, value, elem_size);
    value = fill.data();
  }
  elem_size *= inner;
  assert(params.rank >= 0 && params.rank <= kMaxKernelRank);
  std::vector<std::vector<int64_t>> map(static_cast<size_t>(params.rank));
  for (int a = 0; a < params.rank; ++a) {
    const int64_t n = params.src_shape[a];
    for (int64_t i = 0; i < params.dst_shape[a]; ++i) {
      int64_t j = i - params.begin[a];
      if (j < 0 || j >= n) {
        if (params.mode == PadMode::kConstant) {
          j = -1;
        } else {
          assert(n > 0);
          j = pad_source(params.mode, j, n);
        }
      }
      map[static_cast<size_t>(a)].push_back(j);
    }
  }
  copy_mapped(params.rank, params.src_shape, params.dst_shape, map, elem_size, src, value, dst);
}

void expand_any__ref(const ExpandParams& params_in, size_t elem_size, const void* src, void* dst) {
  // Trailing axes that are not broadcast travel together as one larger element.
  ExpandParams params = params_in;
  while (params.rank > 1 && params.src_shape[params.rank - 1] == params.dst_shape[params.rank - 1]) {
    elem_size *= static_cast<size_t>(params.src_shape[params.rank - 1]);
    --params.rank;
  }
  assert(params.rank >= 0 && params.rank <= kMaxKernelRank);
  std::vector<std::vector<int64_t>> map(static_cast<size_t>(params.rank));
  for (int a = 0; a < params.rank; ++a) {
    assert(params.src_shape[a] == 1 || params.src_shape[a] == params.dst_shape[a]);
    for (int64_t i = 0; i < params.dst_shape[a]; ++i) map[static_cast<size_t>(a)].push_back(params.src_shape[a] == 1 ? 0 : i);
  }
  copy_mapped(params.rank, params.src_shape, params.dst_shape, map, elem_size, src, nullptr, dst);
}

}  // namespace hqp::kernels
