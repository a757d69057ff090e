// Tests of softmax_f32__ref against an FP64 log-sum-exp formulation over (outer, axis, inner)
// decompositions, including the opset<13 coerced-2-D mapping and large inputs.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/softmax.h"
#include "ref_test_util.h"
#include "ref_tolerances.h"

namespace hqp::kernels {
namespace {

using test::kSoftmaxRefTol;

std::vector<double> naive_softmax(int64_t outer, int64_t axis_len, int64_t inner, const std::vector<float>& src) {
  std::vector<double> dst(src.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t a) { return static_cast<size_t>((o * axis_len + a) * inner + i); };
      double lse_max = -INFINITY;
      for (int64_t a = 0; a < axis_len; ++a) lse_max = std::fmax(lse_max, src[at(a)]);
      double s = 0;
      for (int64_t a = 0; a < axis_len; ++a) s += std::exp(src[at(a)] - lse_max);
      const double log_sum = lse_max + std::log(s);
      for (int64_t a = 0; a < axis_len; ++a) dst[at(a)] = std::exp(src[at(a)] - log_sum);
    }
  return dst;
}

TEST(SoftmaxRef, SweepDecompositions) {
  struct Dec { int64_t outer, axis_len, inner; };
  uint32_t seed = test::kRefTestSeed + 70;
  for (const Dec& d : {Dec{1, 1, 1}, Dec{1, 10, 1}, Dec{3, 4, 5}, Dec{7, 1, 3}, Dec{2, 13, 1}, Dec{1, 1000, 1},
                       Dec{5, 3, 17}, Dec{1, 60, 1} /* opset<13 axis=1 of [3,4,5]: outer 3, axis 20 */}) {
    const std::vector<float> src =
        test::random_floats(static_cast<size_t>(d.outer * d.axis_len * d.inner), seed++, -10.0f, 10.0f);
    std::vector<float> dst(src.size());
    softmax_f32__ref(d.outer, d.axis_len, d.inner, src.data(), dst.data());
    test::expect_all_near(dst, naive_softmax(d.outer, d.axis_len, d.inner, src), kSoftmaxRefTol,
                          "softmax " + std::to_string(d.outer) + "x" + std::to_string(d.axis_len) + "x" +
                              std::to_string(d.inner));
  }
}

TEST(SoftmaxRef, LargeNumbersStayFinite) {
  // ONNX test_softmax_large_number: rows [1, 2, 3, 4] and [10000, 10001, 10002, 10003] agree.
  const std::vector<float> src = {1, 2, 3, 4, 10000, 10001, 10002, 10003};
  std::vector<float> dst(8);
  softmax_f32__ref(2, 4, 1, src.data(), dst.data());
  const std::vector<float> row = {0.032058604f, 0.087144315f, 0.23688282f, 0.6439142f};
  for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(dst[i], row[i % 4], kSoftmaxRefTol) << i;
}

TEST(SoftmaxRef, InnerAxisIsStrided) {
  // [1, 2, 2] softmax over axis 1: columns are normalized, not rows.
  const std::vector<float> src = {0, 0, std::log(3.0f), 0};
  std::vector<float> dst(4);
  softmax_f32__ref(1, 2, 2, src.data(), dst.data());
  EXPECT_NEAR(dst[0], 0.25f, kSoftmaxRefTol);
  EXPECT_NEAR(dst[1], 0.5f, kSoftmaxRefTol);
  EXPECT_NEAR(dst[2], 0.75f, kSoftmaxRefTol);
  EXPECT_NEAR(dst[3], 0.5f, kSoftmaxRefTol);
}

TEST(SoftmaxRef, InPlace) {
  std::vector<float> buf = {1, 1, 1, 1};
  softmax_f32__ref(1, 4, 1, buf.data(), buf.data());
  for (float v : buf) EXPECT_FLOAT_EQ(v, 0.25f);
}

}  // namespace
}  // namespace hqp::kernels
