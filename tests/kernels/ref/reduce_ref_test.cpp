// Tests of reduce_f32__ref: hand-computed means, sums and maxima over axis subsets of a [2, 3, 2]
// tensor, NaN propagation of max and the empty reduction.
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/reduce.h"

namespace hqp::kernels {
namespace {

// x[i][j][k] = 100 i + 10 j + k, shape [2, 3, 2].
std::vector<float> iota_tensor() {
  std::vector<float> x;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) x.push_back(static_cast<float>(100 * i + 10 * j + k));
  return x;
}

ReduceParams params(std::initializer_list<bool> reduce) {
  ReduceParams p;
  p.rank = 3;
  p.shape[0] = 2;
  p.shape[1] = 3;
  p.shape[2] = 2;
  int i = 0;
  for (bool r : reduce) p.reduce[i++] = r;
  return p;
}

TEST(ReduceRef, MeanOverTheMiddleAxis) {
  const std::vector<float> x = iota_tensor();
  std::vector<float> y(4);
  reduce_f32__ref(params({false, true, false}), ReduceOp::kMean, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{10, 11, 110, 111}));  // mean over j of 10 j = 10
}

TEST(ReduceRef, SumOverFirstAndLastAxes) {
  const std::vector<float> x = iota_tensor();
  std::vector<float> y(3);
  reduce_f32__ref(params({true, false, true}), ReduceOp::kSum, x.data(), y.data());
  // sum over i, k of 100 i + 10 j + k = 200 + 40 j + 2
  EXPECT_EQ(y, (std::vector<float>{202, 242, 282}));
}

TEST(ReduceRef, MaxOverAllAxesAndNaN) {
  std::vector<float> x = iota_tensor();
  float y = 0;
  reduce_f32__ref(params({true, true, true}), ReduceOp::kMax, x.data(), &y);
  EXPECT_EQ(y, 121.0f);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  reduce_f32__ref(params({true, true, true}), ReduceOp::kMax, x.data(), &y);
  EXPECT_TRUE(std::isnan(y));
}

TEST(ReduceRef, NoAxisIsACopyAndAnEmptyReductionFollowsNumpy) {
  const std::vector<float> x = iota_tensor();
  std::vector<float> y(x.size());
  reduce_f32__ref(params({false, false, false}), ReduceOp::kMean, x.data(), y.data());
  EXPECT_EQ(y, x);
  ReduceParams empty;
  empty.rank = 2;
  empty.shape[0] = 2;
  empty.shape[1] = 0;
  empty.reduce[1] = true;
  std::vector<float> z(2, 7.0f);
  reduce_f32__ref(empty, ReduceOp::kSum, nullptr, z.data());
  EXPECT_EQ(z, (std::vector<float>{0, 0}));
  reduce_f32__ref(empty, ReduceOp::kMax, nullptr, z.data());
  EXPECT_EQ(z[0], -std::numeric_limits<float>::infinity());
}

}  // namespace
}  // namespace hqp::kernels
