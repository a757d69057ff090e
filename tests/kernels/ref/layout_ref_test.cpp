// Tests of transpose/gather/concat reference kernels against scatter-style formulations (each
// source element placed by its own computed destination index), for element sizes 1 to 8.
#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/layout.h"
#include "ref_test_util.h"

namespace hqp::kernels {
namespace {

// Distinct byte patterns per element so a misplaced element or byte is visible.
std::vector<unsigned char> pattern_bytes(int64_t count, size_t elem_size) {
  std::vector<unsigned char> v(static_cast<size_t>(count) * elem_size);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<unsigned char>((i * 131 + 7) % 251);
  return v;
}

void check_transpose(const std::vector<int64_t>& shape, const std::vector<int>& perm, size_t elem_size) {
  TransposeParams p;
  p.rank = static_cast<int>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    p.src_shape[i] = shape[i];
    p.perm[i] = perm[i];
  }
  const int64_t count = test::product(shape);
  const std::vector<unsigned char> src = pattern_bytes(count, elem_size);
  std::vector<unsigned char> dst(src.size(), 0xEE), want(src.size(), 0xDD);
  transpose_any__ref(p, elem_size, src.data(), dst.data());
  // Scatter: src element at index s goes to dst index d with d_i = s_{perm[i]}.
  std::vector<int64_t> dst_shape(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) dst_shape[i] = shape[static_cast<size_t>(perm[i])];
  for (int64_t s = 0; s < count; ++s) {
    std::vector<int64_t> sidx(shape.size());
    int64_t flat = s;
    for (size_t i = shape.size(); i-- > 0;) {
      sidx[i] = flat % shape[i];
      flat /= shape[i];
    }
    int64_t d = 0;
    for (size_t i = 0; i < shape.size(); ++i) d = d * dst_shape[i] + sidx[static_cast<size_t>(perm[i])];
    std::memcpy(&want[static_cast<size_t>(d) * elem_size], &src[static_cast<size_t>(s) * elem_size], elem_size);
  }
  std::string what = "perm";
  for (int q : perm) {
    what += ' ';
    what += std::to_string(q);
  }
  EXPECT_EQ(dst, want) << what << " elem_size " << elem_size;
}

TEST(TransposeRef, AllPermutationsRank3) {
  std::vector<int> perm = {0, 1, 2};
  do {
    for (size_t elem : {1, 2, 4, 8}) check_transpose({2, 3, 5}, perm, elem);
  } while (std::next_permutation(perm.begin(), perm.end()));
}

TEST(TransposeRef, HigherRanksAndEdgeShapes) {
  check_transpose({2, 3, 1, 5, 7}, {4, 0, 3, 2, 1}, 4);
  check_transpose({3, 1, 2, 1, 2, 3, 1, 2}, {7, 6, 5, 4, 3, 2, 1, 0}, 2);
  check_transpose({13}, {0}, 8);
  check_transpose({}, {}, 4);          // scalar
  check_transpose({4, 0, 3}, {2, 0, 1}, 4);  // empty tensor
}

TEST(TransposeRef, HandComputed2D) {
  const std::vector<float> src = {1, 2, 3, 4, 5, 6};  // [2, 3]
  TransposeParams p;
  p.rank = 2;
  p.src_shape[0] = 2;
  p.src_shape[1] = 3;
  p.perm[0] = 1;
  p.perm[1] = 0;
  std::vector<float> dst(6);
  transpose_any__ref(p, sizeof(float), src.data(), dst.data());
  EXPECT_EQ(dst, (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(GatherRef, SweepAxesAndNegativeIndices) {
  // data [4, 5, 6]; gather along each axis with repeated and negative indices.
  const std::vector<int64_t> shape = {4, 5, 6};
  for (size_t axis = 0; axis < 3; ++axis) {
    for (size_t elem : {1, 4, 8}) {
      const int64_t axis_len = shape[axis];
      const std::vector<int64_t> indices = {0, axis_len - 1, -1, 1, -axis_len, 1};
      ASSERT_TRUE(gather_indices_valid(indices.data(), static_cast<int64_t>(indices.size()), axis_len));
      GatherParams p;
      p.outer = 1;
      for (size_t i = 0; i < axis; ++i) p.outer *= shape[i];
      p.axis_len = axis_len;
      p.inner = 1;
      for (size_t i = axis + 1; i < 3; ++i) p.inner *= shape[i];
      p.num_indices = static_cast<int64_t>(indices.size());
      const std::vector<unsigned char> src = pattern_bytes(test::product(shape), elem);
      std::vector<unsigned char> dst(static_cast<size_t>(p.outer * p.num_indices * p.inner) * elem, 0xEE);
      gather_any__ref(p, elem, src.data(), indices.data(), dst.data());
      // Expected: for each dst element (o, j, i), the bytes of src element (o, wrap(idx[j]), i).
      for (int64_t o = 0; o < p.outer; ++o)
        for (int64_t j = 0; j < p.num_indices; ++j)
          for (int64_t i = 0; i < p.inner; ++i) {
            const int64_t idx = indices[static_cast<size_t>(j)] < 0 ? indices[static_cast<size_t>(j)] + axis_len
                                                                    : indices[static_cast<size_t>(j)];
            const size_t s = static_cast<size_t>((o * axis_len + idx) * p.inner + i) * elem;
            const size_t d = static_cast<size_t>((o * p.num_indices + j) * p.inner + i) * elem;
            ASSERT_EQ(0, std::memcmp(&dst[d], &src[s], elem)) << "axis " << axis << " o " << o << " j " << j;
          }
    }
  }
}

TEST(GatherRef, OnnxGather0HandComputed) {
  // data [3, 2] = [[1, 1.2], [2.3, 3.4], [4.5, 5.7]], indices [[0, 1], [1, 2]], axis 0.
  const std::vector<float> data = {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f};
  const std::vector<int64_t> indices = {0, 1, 1, 2};
  GatherParams p{1, 3, 2, 4};
  std::vector<float> dst(8);
  gather_any__ref(p, sizeof(float), data.data(), indices.data(), dst.data());
  EXPECT_EQ(dst, (std::vector<float>{1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f}));
}

TEST(GatherRef, ValidatorRejectsOutOfRange) {
  const std::vector<int64_t> too_big = {0, 3};
  const std::vector<int64_t> too_small = {-4};
  const std::vector<int64_t> edges = {-3, 2};
  EXPECT_FALSE(gather_indices_valid(too_big.data(), 2, 3));
  EXPECT_FALSE(gather_indices_valid(too_small.data(), 1, 3));
  EXPECT_TRUE(gather_indices_valid(edges.data(), 2, 3));
  EXPECT_FALSE(gather_indices_valid(edges.data(), 1, 0));  // any index into an empty axis
  EXPECT_TRUE(gather_indices_valid(nullptr, 0, 0));        // no indices: vacuously valid
}

TEST(ConcatRef, ThreeInputsAlongMiddleAxisWithEmptyPart) {
  // Inputs [2, a_t, 3] for a_t = {1, 0, 4}, element size 2; dst [2, 5, 3].
  const int64_t outer = 2, inner = 3;
  const std::vector<int64_t> lens = {1, 0, 4};
  const size_t elem = 2;
  std::vector<std::vector<unsigned char>> parts;
  std::vector<const void*> srcs;
  for (size_t t = 0; t < lens.size(); ++t) {
    parts.push_back(pattern_bytes(outer * lens[t] * inner, elem));
    for (unsigned char& b : parts.back()) b = static_cast<unsigned char>(b + 40 * t);
  }
  for (const auto& part : parts) srcs.push_back(part.data());
  const int64_t total = 5;
  std::vector<unsigned char> dst(static_cast<size_t>(outer * total * inner) * elem, 0xEE);
  concat_any__ref(srcs, lens, outer, inner, elem, dst.data());
  // Expected: walk dst (o, a, i) and find which input and offset holds position a.
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t a = 0; a < total; ++a) {
      size_t t = 0;
      int64_t local = a;
      while (local >= lens[t]) local -= lens[t++];
      for (int64_t i = 0; i < inner; ++i) {
        const size_t d = static_cast<size_t>((o * total + a) * inner + i) * elem;
        const size_t s = static_cast<size_t>((o * lens[t] + local) * inner + i) * elem;
        ASSERT_EQ(0, std::memcmp(&dst[d], &parts[t][s], elem)) << "o " << o << " a " << a;
      }
    }
}

TEST(ConcatRef, HandComputedAxis0And1) {
  const std::vector<float> x = {1, 2, 3, 4}, y = {5, 6, 7, 8};  // both [2, 2]
  const std::vector<const void*> srcs = {x.data(), y.data()};
  const std::vector<int64_t> lens = {2, 2};
  std::vector<float> dst(8);
  concat_any__ref(srcs, lens, 1, 2, sizeof(float), dst.data());  // axis 0
  EXPECT_EQ(dst, (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  concat_any__ref(srcs, lens, 2, 1, sizeof(float), dst.data());  // axis 1
  EXPECT_EQ(dst, (std::vector<float>{1, 2, 5, 6, 3, 4, 7, 8}));
}

}  // namespace
}  // namespace hqp::kernels
