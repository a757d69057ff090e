// Tests of the oneDNN layer and batch normalizations against the reference kernels and their
// argument checks.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/onednn/normalization_onednn.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/normalization.h"
#include "onednn_test_util.h"
#include "kernels/ref/ref_test_util.h"
#include "onednn_tolerances.h"

namespace hqp::kernels::onednn {
namespace {

using test::kLayerNormOnednnTol;
using test::kRefTestSeed;

// Per-element scale and bias, a broadcast scale without bias, rows whose values sit far from 0
// (a large mean: the variance must not be computed as E[x^2] - E[x]^2 in float).
TEST(LayerNormF32Onednn, MatchesReference) {
  struct Case {
    int64_t rows, inner;
    bool per_element, with_bias;
    float offset;
  };
  for (const Case& c : {Case{37, 96, true, true, 0.0f}, Case{5, 768, true, true, 0.0f}, Case{9, 33, false, false, 0.0f},
                        Case{4, 64, true, true, 50.0f}}) {
    const std::string what = "rows " + std::to_string(c.rows) + " inner " + std::to_string(c.inner);
    std::vector<float> x = test::random_floats(c.rows * c.inner, kRefTestSeed);
    for (float& v : x) v += c.offset;
    const std::vector<float> scale = test::random_floats(c.per_element ? c.inner : 1, kRefTestSeed + 1);
    const std::vector<float> bias = test::random_floats(c.inner, kRefTestSeed + 2);
    LayerNormF32OnednnParams p{c.rows, c.inner, 1e-5f, c.with_bias};
    const int64_t scale_count = static_cast<int64_t>(scale.size());
    Result<LayerNormF32Onednn> k = LayerNormF32Onednn::create(p, scale.data(), scale_count,
                                                              c.with_bias ? bias.data() : nullptr, c.inner);
    ASSERT_TRUE(k.ok()) << k.status().message();
    std::vector<float> got(x.size()), want(x.size());
    ASSERT_TRUE(k->run(x.data(), got.data()).ok());
    layer_norm_f32__ref(c.rows, c.inner, 1e-5f, x.data(), scale.data(), scale_count,
                        c.with_bias ? bias.data() : nullptr, c.with_bias ? c.inner : 0, want.data(), nullptr, nullptr);
    test::expect_all_near(got, want, kLayerNormOnednnTol, what);
  }
}

TEST(LayerNormF32Onednn, RejectsBadArguments) {
  const std::vector<float> scale(8, 1.0f);
  EXPECT_EQ(LayerNormF32Onednn::applies({0, 8, 1e-5f, false}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LayerNormF32Onednn::applies({2, 8, -1.0f, false}).code(), StatusCode::kInvalidArgument);
  Result<LayerNormF32Onednn> k = LayerNormF32Onednn::create({2, 8, 1e-5f, false}, scale.data(), 3, nullptr, 0);
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(k.status().message().find("scale has 3 values"), std::string::npos) << k.status().message();
  Result<LayerNormF32Onednn> no_bias = LayerNormF32Onednn::create({2, 8, 1e-5f, true}, scale.data(), 8, nullptr, 8);
  ASSERT_FALSE(no_bias.ok());
  EXPECT_NE(no_bias.status().message().find("bias"), std::string::npos) << no_bias.status().message();
}

// Inference batch norm in both layouts against the reference (per-channel affine with given
// statistics; oneDNN multiplies by 1/sqrt(var + eps) where the reference may divide).
TEST(BatchNormF32Onednn, MatchesReferenceInBothLayouts) {
  const int64_t n = 2, c = 13, h = 5, w = 4;
  const std::vector<float> x = test::random_floats(n * c * h * w, kRefTestSeed);
  const std::vector<float> scale = test::random_floats(c, kRefTestSeed + 1);
  const std::vector<float> bias = test::random_floats(c, kRefTestSeed + 2);
  const std::vector<float> mean = test::random_floats(c, kRefTestSeed + 3);
  const std::vector<float> var = test::random_floats(c, kRefTestSeed + 4, 0.1f, 2.0f);
  BatchNormParams ref{n, c, h * w, 1e-3f};
  std::vector<float> want(x.size());
  batchnorm_f32__ref(ref, x.data(), scale.data(), bias.data(), mean.data(), var.data(), want.data());
  for (Layout layout : {Layout::kNchw, Layout::kNhwc}) {
    BatchNormF32OnednnParams p;
    const int64_t dims[4] = {n, c, h, w};
    std::copy(dims, dims + 4, p.dims);
    p.epsilon = 1e-3f;
    p.layout = layout;
    Result<BatchNormF32Onednn> k = BatchNormF32Onednn::create(p, scale.data(), bias.data(), mean.data(), var.data());
    ASSERT_TRUE(k.ok()) << k.status().message();
    const std::vector<float> src = test::to_layout(x, layout, n, c, h * w);
    std::vector<float> got(x.size());
    ASSERT_TRUE(k->run(src.data(), got.data()).ok());
    test::expect_all_near(test::from_layout(got, layout, n, c, h * w), want, test::kBatchNormOnednnTol,
                          std::string(layout_name(layout)));
  }
  BatchNormF32OnednnParams rank2;
  rank2.rank = 2;
  EXPECT_EQ(BatchNormF32Onednn::applies(rank2).code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace hqp::kernels::onednn
