// Tests of the Slice / Pad / Expand reference kernels against numpy's results (computed once with
// numpy and written here: a[1:3, 3:0:-2], np.pad with 'reflect' / 'edge' / constant, broadcast_to),
// for several element sizes, including crops (negative pads), reflection wider than the axis and
// empty outputs.
#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/layout.h"

namespace hqp::kernels {
namespace {

template <typename T>
std::vector<T> iota_values(int64_t n) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<T>(i);
  return v;
}

TEST(SliceRef, NegativeStepAndRange) {
  // a = arange(12).reshape(3, 4); a[1:3, 3:0:-2] == [[7, 5], [11, 9]]
  SliceParams p;
  p.rank = 2;
  p.src_shape[0] = 3;
  p.src_shape[1] = 4;
  p.dst_shape[0] = 2;
  p.dst_shape[1] = 2;
  p.start[0] = 1;
  p.step[0] = 1;
  p.start[1] = 3;
  p.step[1] = -2;
  const auto src = iota_values<int64_t>(12);
  std::vector<int64_t> dst(4, -1);
  slice_any__ref(p, sizeof(int64_t), src.data(), dst.data());
  EXPECT_EQ(dst, (std::vector<int64_t>{7, 5, 11, 9}));
}

TEST(SliceRef, EmptyOutputWritesNothing) {
  SliceParams p;
  p.rank = 2;
  p.src_shape[0] = 3;
  p.src_shape[1] = 4;
  p.dst_shape[0] = 0;
  p.dst_shape[1] = 4;
  p.step[0] = p.step[1] = 1;
  const auto src = iota_values<float>(12);
  float sentinel = -7.0f;
  slice_any__ref(p, sizeof(float), src.data(), &sentinel);
  EXPECT_EQ(sentinel, -7.0f);
}

TEST(PadRef, ReflectWiderThanTheAxisRepeats) {
  // np.pad([1, 2, 3], (5, 4), 'reflect')
  PadParams p;
  p.rank = 1;
  p.src_shape[0] = 3;
  p.begin[0] = 5;
  p.dst_shape[0] = 12;
  p.mode = PadMode::kReflect;
  const std::vector<float> src = {1, 2, 3};
  std::vector<float> dst(12, -1);
  pad_any__ref(p, sizeof(float), src.data(), nullptr, dst.data());
  EXPECT_EQ(dst, (std::vector<float>{2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3}));
}

TEST(PadRef, ReflectOfOneElementAndEdge) {
  PadParams p;
  p.rank = 1;
  p.src_shape[0] = 1;
  p.begin[0] = 2;
  p.dst_shape[0] = 4;
  p.mode = PadMode::kReflect;
  const std::vector<int8_t> one = {5};
  std::vector<int8_t> dst(4, 0);
  pad_any__ref(p, 1, one.data(), nullptr, dst.data());
  EXPECT_EQ(dst, (std::vector<int8_t>{5, 5, 5, 5}));  // np.pad([5], (2, 1), 'reflect')

  p.src_shape[0] = 3;
  p.begin[0] = 2;
  p.dst_shape[0] = 8;
  p.mode = PadMode::kEdge;
  const std::vector<int8_t> src = {1, 2, 3};
  std::vector<int8_t> edge(8, 0);
  pad_any__ref(p, 1, src.data(), nullptr, edge.data());
  EXPECT_EQ(edge, (std::vector<int8_t>{1, 1, 1, 2, 3, 3, 3, 3}));  // np.pad([1, 2, 3], (2, 3), 'edge')
}

TEST(PadRef, ConstantWithCrops) {
  // pads ((1, -1), (-1, 2)) on arange(12).reshape(3, 4) with value 9: np.pad by the positive
  // parts, then the negative ones cut: [[9]*5, [1, 2, 3, 9, 9], [5, 6, 7, 9, 9]].
  PadParams p;
  p.rank = 2;
  p.src_shape[0] = 3;
  p.src_shape[1] = 4;
  p.begin[0] = 1;
  p.begin[1] = -1;
  p.dst_shape[0] = 3;
  p.dst_shape[1] = 5;
  p.mode = PadMode::kConstant;
  const auto src = iota_values<float>(12);
  const float nine = 9.0f;
  std::vector<float> dst(15, -1);
  pad_any__ref(p, sizeof(float), src.data(), &nine, dst.data());
  EXPECT_EQ(dst, (std::vector<float>{9, 9, 9, 9, 9, 1, 2, 3, 9, 9, 5, 6, 7, 9, 9}));
}

TEST(ExpandRef, RepeatsOnesAndKeepsEqualDims) {
  // np.broadcast_to(arange(3).reshape(3, 1), (2, 3, 4))
  ExpandParams p;
  p.rank = 3;
  p.src_shape[0] = 1;
  p.src_shape[1] = 3;
  p.src_shape[2] = 1;
  p.dst_shape[0] = 2;
  p.dst_shape[1] = 3;
  p.dst_shape[2] = 4;
  const auto src = iota_values<int32_t>(3);
  std::vector<int32_t> dst(24, -1);
  expand_any__ref(p, sizeof(int32_t), src.data(), dst.data());
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t c = 0; c < 3; ++c) {
      for (int64_t w = 0; w < 4; ++w) EXPECT_EQ(dst[static_cast<size_t>((n * 3 + c) * 4 + w)], c);
    }
  }
}

}  // namespace
}  // namespace hqp::kernels
