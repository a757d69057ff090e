// Tests of the oneDNN pooling kernels against maxpool_f32__ref / maxpool_u8__ref /
// averagepool_f32__ref / global_average_pool_f32__ref, both layouts, plus applies() rejections.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/onednn/pool_onednn.h"
#include "kernels/ref/pool.h"
#include "kernels/ref/ref_test_util.h"
#include "onednn_test_util.h"
#include "onednn_tolerances.h"

namespace hqp::kernels::onednn {
namespace {

using test::kPoolOnednnTol;
using test::kRefTestSeed;

struct PoolCase {
  std::string name;
  int64_t batch, channels;
  std::vector<int64_t> in, kernel, stride, dilation, pad_begin, pad_end;
  bool ceil_mode;
};

PoolParams to_params(const PoolCase& c) {
  PoolParams p;
  p.batch = c.batch;
  p.channels = c.channels;
  p.spatial_rank = static_cast<int>(c.in.size());
  for (size_t i = 0; i < c.in.size(); ++i) {
    const int64_t span = c.dilation[i] * (c.kernel[i] - 1) + 1;
    const int64_t num = c.in[i] + c.pad_begin[i] + c.pad_end[i] - span;
    int64_t out = (c.ceil_mode ? (num + c.stride[i] - 1) / c.stride[i] : num / c.stride[i]) + 1;
    // ONNX: the last window must start inside the input or the begin padding.
    if (c.ceil_mode && (out - 1) * c.stride[i] >= c.in[i] + c.pad_begin[i]) --out;
    p.in_size[i] = c.in[i];
    p.out_size[i] = out;
    p.kernel[i] = c.kernel[i];
    p.stride[i] = c.stride[i];
    p.dilation[i] = c.dilation[i];
    p.pad_begin[i] = c.pad_begin[i];
    p.pad_end[i] = c.pad_end[i];
  }
  return p;
}

int64_t spatial(const int64_t* size, int rank) {
  int64_t s = 1;
  for (int i = 0; i < rank; ++i) s *= size[i];
  return s;
}

const PoolCase kCases[] = {
    {"ResNetMaxPool3x3s2", 1, 64, {16, 16}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, false},
    {"OddChannels2x2", 2, 5, {7, 9}, {2, 2}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, false},
    {"CeilMode", 1, 3, {8, 8}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, true},
    {"AsymPads", 1, 17, {6, 5}, {3, 2}, {1, 2}, {1, 1}, {1, 0}, {2, 1}, false},
    {"Dilated", 1, 4, {11, 11}, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}, false},
    {"OneD", 2, 3, {13}, {4}, {3}, {1}, {1}, {0}, false},
};

class PoolOnednnSweep : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolOnednnSweep, MatchesReference) {
  const PoolCase& c = GetParam();
  const PoolParams pp = to_params(c);
  const int64_t in_s = spatial(pp.in_size, pp.spatial_rank), out_s = spatial(pp.out_size, pp.spatial_rank);
  const size_t src_n = static_cast<size_t>(c.batch * c.channels * in_s), dst_n = static_cast<size_t>(c.batch * c.channels * out_s);
  const std::vector<float> src = test::random_floats(src_n, kRefTestSeed);
  const std::vector<uint8_t> src_u8 = test::random_ints<uint8_t>(src_n, kRefTestSeed + 1, 0, 255);
  const std::vector<int8_t> src_s8 = test::random_ints<int8_t>(src_n, kRefTestSeed + 2, -128, 127);

  for (Layout layout : {Layout::kNchw, Layout::kNhwc}) {
    const std::string where = c.name + "/" + std::string(layout_name(layout));
    PoolOnednnParams params;
    params.pool = pp;
    params.layout = layout;
    // Known gaps of oneDNN 2.6 (only its reference implementation): dilated pooling in any layout,
    // and u8/s8 pooling in NCHW. applies() must reject them.
    const bool dilated = std::any_of(c.dilation.begin(), c.dilation.end(), [](int64_t d) { return d > 1; });
    if (dilated) {
      const Status st = PoolOnednn::applies(params);
      EXPECT_EQ(st.code(), StatusCode::kUnsupported) << where;
      EXPECT_NE(st.message().find("reference implementation"), std::string::npos) << st.message();
      continue;
    }
    if (layout == Layout::kNchw) {
      params.dtype = DType::kU8;
      const Status st = PoolOnednn::applies(params);
      EXPECT_EQ(st.code(), StatusCode::kUnsupported) << where;
      EXPECT_NE(st.message().find("reference implementation"), std::string::npos) << st.message();
      params.dtype = DType::kF32;
    }
    // max f32
    {
      Result<PoolOnednn> k = PoolOnednn::create(params);
      ASSERT_TRUE(k.ok()) << where << ": " << k.status().message();
      std::vector<float> want(dst_n), got(dst_n);
      maxpool_f32__ref(pp, src.data(), want.data(), nullptr);
      const std::vector<float> src_l = test::to_layout(src, layout, c.batch, c.channels, in_s);
      ASSERT_TRUE(k->run(src_l.data(), got.data()).ok());
      test::expect_all_equal(test::from_layout(got, layout, c.batch, c.channels, out_s), want,
                             where + "/max_f32 [" + k->implementation() + "]");
    }
    // max u8 (exact) and s8 (exact; the reference is the f32 one on exactly representable values)
    if (layout == Layout::kNhwc) {
      params.dtype = DType::kU8;
      Result<PoolOnednn> k = PoolOnednn::create(params);
      ASSERT_TRUE(k.ok()) << where << ": " << k.status().message();
      std::vector<uint8_t> want(dst_n), got(dst_n);
      maxpool_u8__ref(pp, src_u8.data(), want.data(), nullptr);
      const std::vector<uint8_t> src_l = test::to_layout(src_u8, layout, c.batch, c.channels, in_s);
      ASSERT_TRUE(k->run(src_l.data(), got.data()).ok());
      test::expect_all_equal(test::from_layout(got, layout, c.batch, c.channels, out_s), want, where + "/max_u8");

      params.dtype = DType::kS8;
      Result<PoolOnednn> ks = PoolOnednn::create(params);
      ASSERT_TRUE(ks.ok()) << where << ": " << ks.status().message();
      const std::vector<float> src_f(src_s8.begin(), src_s8.end());
      std::vector<float> want_f(dst_n);
      maxpool_f32__ref(pp, src_f.data(), want_f.data(), nullptr);
      std::vector<int8_t> got_s8(dst_n);
      const std::vector<int8_t> src_s8_l = test::to_layout(src_s8, layout, c.batch, c.channels, in_s);
      ASSERT_TRUE(ks->run(src_s8_l.data(), got_s8.data()).ok());
      const std::vector<int8_t> got_nchw = test::from_layout(got_s8, layout, c.batch, c.channels, out_s);
      test::expect_all_equal(std::vector<float>(got_nchw.begin(), got_nchw.end()), want_f, where + "/max_s8");
      params.dtype = DType::kF32;
    }
    // average, both count_include_pad modes (ceil-mode overhang with include_pad is rejected)
    params.algorithm = PoolAlgorithm::kAverage;
    for (bool include_pad : {false, true}) {
      params.pool.count_include_pad = include_pad;
      const std::string what = where + (include_pad ? "/avg_include_pad" : "/avg_exclude_pad");
      if (include_pad && c.ceil_mode) {
        EXPECT_EQ(PoolOnednn::applies(params).code(), StatusCode::kUnsupported) << what;
        continue;
      }
      Result<PoolOnednn> k = PoolOnednn::create(params);
      ASSERT_TRUE(k.ok()) << what << ": " << k.status().message();
      std::vector<float> want(dst_n), got(dst_n);
      averagepool_f32__ref(params.pool, src.data(), want.data());
      const std::vector<float> src_l = test::to_layout(src, layout, c.batch, c.channels, in_s);
      ASSERT_TRUE(k->run(src_l.data(), got.data()).ok());
      test::expect_all_near(test::from_layout(got, layout, c.batch, c.channels, out_s), want, kPoolOnednnTol,
                            what + " [" + k->implementation() + "]");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Geometries, PoolOnednnSweep, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<PoolCase>& info) { return info.param.name; });

TEST(PoolOnednn, GlobalAveragePoolMatchesReference) {
  struct G {
    int64_t n, c, h, w;
  };
  for (const G& g : {G{1, 512, 7, 7}, G{2, 576, 7, 7}, G{1, 13, 5, 3}, G{1, 16, 1, 1}}) {
    const int64_t in[2] = {g.h, g.w};
    const std::vector<float> src = test::random_floats(static_cast<size_t>(g.n * g.c * g.h * g.w), kRefTestSeed);
    std::vector<float> want(static_cast<size_t>(g.n * g.c));
    global_average_pool_f32__ref(g.n, g.c, g.h * g.w, src.data(), want.data());
    for (Layout layout : {Layout::kNchw, Layout::kNhwc}) {
      Result<PoolOnednn> k = PoolOnednn::create(global_average_pool_params(g.n, g.c, 2, in, layout));
      ASSERT_TRUE(k.ok()) << k.status().message();
      std::vector<float> got(want.size());
      const std::vector<float> src_l = test::to_layout(src, layout, g.n, g.c, g.h * g.w);
      ASSERT_TRUE(k->run(src_l.data(), got.data()).ok());
      // [N, C, 1, 1] is the same in both layouts.
      test::expect_all_near(got, want, kPoolOnednnTol, "gap " + std::to_string(g.c) + "/" +
                                                           std::string(layout_name(layout)));
    }
  }
}

TEST(PoolOnednnApplies, RejectsAveragePoolOnU8) {
  PoolOnednnParams params;
  params.algorithm = PoolAlgorithm::kAverage;
  params.dtype = DType::kU8;
  const Status st = PoolOnednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kUnsupported);
  EXPECT_NE(st.message().find("dtype=u8"), std::string::npos) << st.message();
}

TEST(PoolOnednnApplies, RejectsIncludePadWithCeilOverhang) {
  PoolOnednnParams params;
  params.pool = to_params(kCases[2]);  // CeilMode
  params.algorithm = PoolAlgorithm::kAverage;
  params.pool.count_include_pad = true;
  const Status st = PoolOnednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kUnsupported);
  EXPECT_NE(st.message().find("count_include_pad"), std::string::npos) << st.message();
}

TEST(PoolOnednnApplies, RejectsZeroStride) {
  PoolOnednnParams params;
  params.pool.stride[0] = 0;
  EXPECT_EQ(PoolOnednn::applies(params).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hqp::kernels::onednn
