// Tests of cast__ref: truncation and saturation of float -> integer, NaN, wrap-around of narrowing
// integer casts, bool in both directions.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/cast.h"

namespace hqp::kernels {
namespace {

TEST(CastRef, FloatToIntegersTruncatesSaturatesAndMapsNaNToZero) {
  const std::vector<float> x = {1.7f, -1.7f, 300.0f, -300.0f, std::nanf(""), 1e30f};
  std::vector<uint8_t> u8(x.size());
  ASSERT_TRUE(cast__ref(6, DType::kF32, x.data(), DType::kU8, u8.data()));
  EXPECT_EQ(u8, (std::vector<uint8_t>{1, 0, 255, 0, 0, 255}));
  std::vector<int8_t> s8(x.size());
  ASSERT_TRUE(cast__ref(6, DType::kF32, x.data(), DType::kS8, s8.data()));
  EXPECT_EQ(s8, (std::vector<int8_t>{1, -1, 127, -128, 0, 127}));
  std::vector<int64_t> s64(x.size());
  ASSERT_TRUE(cast__ref(6, DType::kF32, x.data(), DType::kS64, s64.data()));
  EXPECT_EQ(s64[0], 1);
  EXPECT_EQ(s64[1], -1);
  EXPECT_EQ(s64[5], std::numeric_limits<int64_t>::max());
}

TEST(CastRef, IntegersWrapWhenNarrowedAndWidenExactly) {
  const std::vector<int64_t> x = {1, -1, 256 + 7, (int64_t{1} << 40) + 5};
  std::vector<uint8_t> u8(x.size());
  ASSERT_TRUE(cast__ref(4, DType::kS64, x.data(), DType::kU8, u8.data()));
  EXPECT_EQ(u8, (std::vector<uint8_t>{1, 255, 7, 5}));
  std::vector<int32_t> s32(x.size());
  ASSERT_TRUE(cast__ref(4, DType::kS64, x.data(), DType::kS32, s32.data()));
  EXPECT_EQ(s32, (std::vector<int32_t>{1, -1, 263, 5}));
  std::vector<float> f(x.size());
  ASSERT_TRUE(cast__ref(3, DType::kS64, x.data(), DType::kF32, f.data()));
  EXPECT_EQ(f[1], -1.0f);
}

TEST(CastRef, BoolBothWays) {
  const std::vector<float> x = {0.0f, -0.0f, 2.5f, std::nanf("")};
  std::vector<uint8_t> b(x.size(), 9);
  ASSERT_TRUE(cast__ref(4, DType::kF32, x.data(), DType::kBool, b.data()));
  EXPECT_EQ(b, (std::vector<uint8_t>{0, 0, 1, 1}));
  std::vector<int32_t> s32(b.size());
  ASSERT_TRUE(cast__ref(4, DType::kBool, b.data(), DType::kS32, s32.data()));
  EXPECT_EQ(s32, (std::vector<int32_t>{0, 0, 1, 1}));
  EXPECT_FALSE(cast__ref(4, DType::kUndefined, b.data(), DType::kS32, s32.data()));
}

}  // namespace
}  // namespace hqp::kernels
