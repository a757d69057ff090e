// Tests of QuantizeLinear / DequantizeLinear and the shared requantization definition: ONNX hand
// cases, exact .5 ties, saturation, and sweeps against an independent floor-based rounding.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/quantize.h"
#include "kernels/ref/requantize.h"
#include "ref_test_util.h"
#include "ref_tolerances.h"

namespace hqp::kernels {
namespace {

using test::kDequantizeRefTol;

// Round half to even via floor, independent of std::nearbyint and the FP rounding mode.
double round_half_even(double v) {
  const double f = std::floor(v);
  const double frac = v - f;
  if (frac > 0.5) return f + 1;
  if (frac < 0.5) return f;
  return std::fmod(f, 2.0) == 0.0 ? f : f + 1;
}

int64_t expect_quantized(float x, float scale, int64_t zp, int64_t qmin, int64_t qmax) {
  const float v = x / scale;  // FP32 division, as ONNX specifies
  const double r = round_half_even(v) + static_cast<double>(zp);
  return static_cast<int64_t>(std::fmin(std::fmax(r, static_cast<double>(qmin)), static_cast<double>(qmax)));
}

TEST(QuantizeLinearRef, OnnxPerTensor) {
  // ONNX test_quantizelinear: x / 2 + 128, with 3/2 = 1.5 rounding to 2.
  const std::vector<float> x = {0, 2, 3, 1000, -254, -1000};
  const float scale = 2.0f;
  const uint8_t zp = 128;
  std::vector<uint8_t> y(6);
  quantize_linear_u8__ref(QuantizeParams{1, 1, 6}, x.data(), &scale, &zp, y.data());
  EXPECT_EQ(y, (std::vector<uint8_t>{128, 129, 130, 255, 1, 0}));
}

TEST(QuantizeLinearRef, OnnxPerAxis) {
  // ONNX test_quantizelinear_axis: x [1, 3, 3, 2], axis 1, scale [2, 4, 5], zp [84, 24, 196].
  const std::vector<float> x = {-162, 10,  -100, 232, -20, -50,  -76,  0,    0,
                                252,  32,  -44,  245, -485, -960, -270, -375, -470};
  const std::vector<float> scale = {2, 4, 5};
  const std::vector<uint8_t> zp = {84, 24, 196};
  std::vector<uint8_t> y(18);
  quantize_linear_u8__ref(QuantizeParams{1, 3, 6}, x.data(), scale.data(), zp.data(), y.data());
  EXPECT_EQ(y, (std::vector<uint8_t>{3, 89, 34, 200, 74, 59, 5, 24, 24, 87, 32, 13, 245, 99, 4, 142, 121, 102}));
}

TEST(QuantizeLinearRef, TiesRoundToEvenBeforeZeroPoint) {
  const std::vector<float> x = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 0.49999997f};
  const float scale = 1.0f;
  const int8_t zp = 1;  // odd: rounding must happen before the zero point is added
  std::vector<int8_t> y(x.size());
  quantize_linear_s8__ref(QuantizeParams{1, 1, static_cast<int64_t>(x.size())}, x.data(), &scale, &zp, y.data());
  EXPECT_EQ(y, (std::vector<int8_t>{1, 3, 3, 1, -1, -1, 1}));
}

TEST(QuantizeLinearRef, SaturationNanAndNullZeroPoint) {
  const std::vector<float> x = {1e30f, -1e30f, std::numeric_limits<float>::infinity(),
                                -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                                127.5f, -128.5f};
  const float scale = 1.0f;
  std::vector<int8_t> y(x.size());
  quantize_linear_s8__ref(QuantizeParams{1, 1, static_cast<int64_t>(x.size())}, x.data(), &scale, nullptr, y.data());
  EXPECT_EQ(y, (std::vector<int8_t>{127, -128, 127, -128, 0, 127, -128}));
  std::vector<uint8_t> u(x.size());
  quantize_linear_u8__ref(QuantizeParams{1, 1, static_cast<int64_t>(x.size())}, x.data(), &scale, nullptr, u.data());
  EXPECT_EQ(u, (std::vector<uint8_t>{255, 0, 255, 0, 0, 128, 0}));
}

TEST(QuantizeLinearRef, PerAxisSweepMatchesIndependentRounding) {
  // [outer=3, axis=5, inner=7]; inputs include exact ties x = (k + 0.5) * scale.
  const QuantizeParams p{3, 5, 7};
  const size_t count = 3 * 5 * 7;
  std::vector<float> x = test::random_floats(count, test::kRefTestSeed + 80, -300.0f, 300.0f);
  const std::vector<float> scale = {0.5f, 1.0f, 2.0f, 0.0625f, 3.0f};
  for (size_t i = 0; i < count; i += 3) {
    const size_t a = (i / 7) % 5;
    x[i] = (std::floor(x[i] / scale[a]) + 0.5f) * scale[a];
  }
  const std::vector<uint8_t> zp_u8 = {0, 1, 128, 255, 37};
  const std::vector<int8_t> zp_s8 = {0, -1, 127, -128, 5};
  std::vector<uint8_t> yu(count);
  std::vector<int8_t> ys(count);
  quantize_linear_u8__ref(p, x.data(), scale.data(), zp_u8.data(), yu.data());
  quantize_linear_s8__ref(p, x.data(), scale.data(), zp_s8.data(), ys.data());
  for (size_t i = 0; i < count; ++i) {
    const size_t a = (i / 7) % 5;
    ASSERT_EQ(yu[i], expect_quantized(x[i], scale[a], zp_u8[a], 0, 255)) << i << " x=" << x[i];
    ASSERT_EQ(ys[i], expect_quantized(x[i], scale[a], zp_s8[a], -128, 127)) << i << " x=" << x[i];
  }
}

TEST(DequantizeLinearRef, OnnxPerTensorAndPerAxis) {
  // ONNX test_dequantizelinear: (x - 128) * 2.
  const std::vector<uint8_t> x = {0, 3, 128, 255};
  const float scale = 2.0f;
  const uint8_t zp = 128;
  std::vector<float> y(4);
  dequantize_linear_u8__ref(QuantizeParams{1, 1, 4}, x.data(), &scale, &zp, y.data());
  EXPECT_EQ(y, (std::vector<float>{-256, -250, 0, 254}));

  // Per-axis on axis 1 of [2, 2, 2] s8, zero points [-1, 3], scales [0.5, 4].
  const std::vector<int8_t> xs = {-128, 127, 0, 3, 1, -1, 10, -10};
  const std::vector<float> scales = {0.5f, 4.0f};
  const std::vector<int8_t> zps = {-1, 3};
  std::vector<float> ys(8);
  dequantize_linear_s8__ref(QuantizeParams{2, 2, 2}, xs.data(), scales.data(), zps.data(), ys.data());
  EXPECT_EQ(ys, (std::vector<float>{-63.5f, 64.0f, -12.0f, 0.0f, 1.0f, 0.0f, 28.0f, -52.0f}));
}

TEST(DequantizeLinearRef, S32BiasAndSweep) {
  const std::vector<int32_t> x = {std::numeric_limits<int32_t>::min(), -7, 0, 123456789};
  const float scale = 0.001f;
  std::vector<float> y(4);
  dequantize_linear_s32__ref(QuantizeParams{1, 1, 4}, x.data(), &scale, nullptr, y.data());
  std::vector<float> want;
  for (int32_t v : x) want.push_back(static_cast<float>(v) * scale);  // FP32 product, same rounding
  test::expect_all_near(y, want, kDequantizeRefTol, "dequantize s32");

  const std::vector<uint8_t> xu = test::random_ints<uint8_t>(5 * 11, test::kRefTestSeed + 81, 0, 255);
  const std::vector<float> scales = test::random_floats(5, test::kRefTestSeed + 82, 0.001f, 2.0f);
  const std::vector<uint8_t> zpu = {0, 1, 128, 200, 255};
  std::vector<float> yu(xu.size());
  dequantize_linear_u8__ref(QuantizeParams{1, 5, 11}, xu.data(), scales.data(), zpu.data(), yu.data());
  std::vector<float> wantu;
  for (size_t i = 0; i < xu.size(); ++i) {
    const size_t a = i / 11;
    wantu.push_back(static_cast<float>(static_cast<int>(xu[i]) - static_cast<int>(zpu[a])) * scales[a]);
  }
  test::expect_all_near(yu, wantu, kDequantizeRefTol, "dequantize u8 per-axis");
}

TEST(RequantizeRef, HandComputed) {
  EXPECT_EQ(requantize_u8(5, 0.5f, 0), 2);      // 2.5 -> 2 (tie to even)
  EXPECT_EQ(requantize_u8(7, 0.5f, 0), 4);      // 3.5 -> 4
  EXPECT_EQ(requantize_u8(1, 0.5f, 1), 1);      // 0.5 -> 0, then +1: round before zero point
  EXPECT_EQ(requantize_s8(-5, 0.5f, 0), -2);    // -2.5 -> -2
  EXPECT_EQ(requantize_s8(-7, 0.5f, 3), -1);    // -3.5 -> -4, +3
  EXPECT_EQ(requantize_u8(1000, 1.0f, 10), 255);
  EXPECT_EQ(requantize_u8(-1000, 1.0f, 10), 0);
  EXPECT_EQ(requantize_s8(std::numeric_limits<int32_t>::max(), 1.0f, 0), 127);
  EXPECT_EQ(requantize_s8(std::numeric_limits<int32_t>::min(), 1.0f, 0), -128);
  EXPECT_EQ(requantize_s8(1 << 30, 1e-9f, -3), -2);  // 1.0737 -> 1, -3
  // Fused ReLU: qmin raised to the zero point.
  EXPECT_EQ(requantize(-40, 0.25f, 20, 20, kU8Max), 20);
  EXPECT_EQ(requantize(40, 0.25f, 20, 20, kU8Max), 30);
}

TEST(RequantizeRef, SweepMatchesIndependentDefinition) {
  const std::vector<int32_t> accs =
      test::random_ints<int32_t>(4000, test::kRefTestSeed + 83, -(int64_t{1} << 20), int64_t{1} << 20);
  const std::vector<float> multipliers = {1.0f / 1024.0f, 0.5f, 0.0123f, 3.7e-4f, 1.0f};
  for (float m : multipliers) {
    for (int32_t zp : {0, 1, -7, 128, 127}) {
      for (int32_t acc : accs) {
        const double v = static_cast<double>(static_cast<float>(acc) * m);
        if (zp >= kS8Min && zp <= kS8Max) {
          const double want = std::fmin(std::fmax(round_half_even(v) + zp, kS8Min), kS8Max);
          ASSERT_EQ(requantize_s8(acc, m, zp), static_cast<int>(want)) << acc << " * " << m << " + " << zp;
        }
        if (zp >= kU8Min && zp <= kU8Max) {
          const double want = std::fmin(std::fmax(round_half_even(v) + zp, kU8Min), kU8Max);
          ASSERT_EQ(requantize_u8(acc, m, zp), static_cast<int>(want)) << acc << " * " << m << " + " << zp;
        }
      }
    }
  }
}

TEST(RequantizeRef, QuantizeLinearIsTheSameDefinition) {
  // QuantizeLinear of v*scale equals round_and_saturate(v): one rounding rule for every INT8 path.
  const std::vector<float> v = test::random_floats(1000, test::kRefTestSeed + 84, -200.0f, 200.0f);
  const float scale = 1.0f;
  const uint8_t zp = 77;
  std::vector<uint8_t> q(v.size());
  quantize_linear_u8__ref(QuantizeParams{1, 1, static_cast<int64_t>(v.size())}, v.data(), &scale, &zp, q.data());
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(q[i], round_and_saturate(v[i], zp, kU8Min, kU8Max)) << v[i];
}

}  // namespace
}  // namespace hqp::kernels
