// Tests of the pooling reference kernels against an ONNX-reference-style formulation (explicitly
// padded input with NaN for excluded positions), plus the ONNX backend tests' hand values.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/pool.h"
#include "ref_test_util.h"
#include "ref_tolerances.h"

namespace hqp::kernels {
namespace {

using test::kPoolRefTol;

struct PoolCase {
  std::string name;
  int64_t batch, channels;
  std::vector<int64_t> in, kernel, stride, dilation, pad_begin, pad_end;
  bool ceil_mode;
};

std::vector<int64_t> pool_out_size(const PoolCase& c) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < c.in.size(); ++i) {
    const int64_t span = c.dilation[i] * (c.kernel[i] - 1) + 1;
    const int64_t num = c.in[i] + c.pad_begin[i] + c.pad_end[i] - span;
    int64_t o = (c.ceil_mode ? (num + c.stride[i] - 1) / c.stride[i] : num / c.stride[i]) + 1;
    // ONNX / PyTorch: the last window must start inside the input or the begin padding.
    if (c.ceil_mode && (o - 1) * c.stride[i] >= c.in[i] + c.pad_begin[i]) --o;
    out.push_back(o);
  }
  return out;
}

std::vector<int64_t> unravel(int64_t flat, const std::vector<int64_t>& dims) {
  std::vector<int64_t> idx(dims.size());
  for (size_t i = dims.size(); i-- > 0;) {
    idx[i] = flat % dims[i];
    flat /= dims[i];
  }
  return idx;
}

struct NaivePool {
  std::vector<double> max, avg_exclude_pad, avg_include_pad;
  std::vector<int64_t> argmax;
};

// Per (n, c): a padded plane large enough for every window (begin pad, end pad and the ceil_mode
// overhang). Padding holds 0 ("counted") and the overhang NaN ("never counted"), as in onnx's
// pool reference; the unpadded input view decides "excluded" for max and count_include_pad=0.
NaivePool naive_pool(const PoolCase& c, const std::vector<float>& src) {
  const std::vector<int64_t> out = pool_out_size(c);
  const size_t rank = c.in.size();
  std::vector<int64_t> padded(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t need = (out[i] - 1) * c.stride[i] + c.dilation[i] * (c.kernel[i] - 1) + 1;
    padded[i] = std::max(need, c.pad_begin[i] + c.in[i] + c.pad_end[i]);
  }
  const int64_t in_plane = test::product(c.in), out_plane = test::product(out), pad_plane = test::product(padded);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  NaivePool r;
  for (int64_t nc = 0; nc < c.batch * c.channels; ++nc) {
    std::vector<double> plane(static_cast<size_t>(pad_plane));
    std::vector<int64_t> src_index(static_cast<size_t>(pad_plane), -1);  // -1: not an input position
    for (int64_t q = 0; q < pad_plane; ++q) {
      const std::vector<int64_t> pos = unravel(q, padded);
      bool in_input = true, in_padded = true;
      int64_t flat = 0;
      for (size_t i = 0; i < rank; ++i) {
        const int64_t x = pos[i] - c.pad_begin[i];
        in_input = in_input && x >= 0 && x < c.in[i];
        in_padded = in_padded && pos[i] < c.pad_begin[i] + c.in[i] + c.pad_end[i];
        flat = flat * c.in[i] + x;
      }
      if (in_input) {
        plane[static_cast<size_t>(q)] = src[static_cast<size_t>(nc * in_plane + flat)];
        src_index[static_cast<size_t>(q)] = nc * in_plane + flat;
      } else {
        plane[static_cast<size_t>(q)] = in_padded ? 0.0 : nan;
      }
    }
    for (int64_t p = 0; p < out_plane; ++p) {
      const std::vector<int64_t> o = unravel(p, out);
      double best = -std::numeric_limits<double>::infinity(), sum_in = 0, sum_all = 0;
      int64_t best_index = -1, count_in = 0, count_all = 0;
      for (int64_t t = 0; t < test::product(c.kernel); ++t) {
        const std::vector<int64_t> k = unravel(t, c.kernel);
        int64_t q = 0;
        for (size_t i = 0; i < rank; ++i) q = q * padded[i] + o[i] * c.stride[i] + k[i] * c.dilation[i];
        const double v = plane[static_cast<size_t>(q)];
        if (std::isnan(v)) continue;
        sum_all += v;
        ++count_all;
        if (src_index[static_cast<size_t>(q)] < 0) continue;
        sum_in += v;
        ++count_in;
        if (v > best) {
          best = v;
          best_index = src_index[static_cast<size_t>(q)];
        }
      }
      r.max.push_back(best);
      r.argmax.push_back(best_index);
      r.avg_exclude_pad.push_back(sum_in / static_cast<double>(count_in));
      r.avg_include_pad.push_back(sum_all / static_cast<double>(count_all));
    }
  }
  return r;
}

PoolParams to_params(const PoolCase& c, bool count_include_pad) {
  PoolParams p;
  p.batch = c.batch;
  p.channels = c.channels;
  p.spatial_rank = static_cast<int>(c.in.size());
  const std::vector<int64_t> out = pool_out_size(c);
  for (size_t i = 0; i < c.in.size(); ++i) {
    p.in_size[i] = c.in[i];
    p.out_size[i] = out[i];
    p.kernel[i] = c.kernel[i];
    p.stride[i] = c.stride[i];
    p.dilation[i] = c.dilation[i];
    p.pad_begin[i] = c.pad_begin[i];
    p.pad_end[i] = c.pad_end[i];
  }
  p.count_include_pad = count_include_pad;
  return p;
}

class PoolRefSweep : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolRefSweep, MatchesPaddedFormulation) {
  const PoolCase& c = GetParam();
  const std::vector<int64_t> out = pool_out_size(c);
  const size_t src_n = static_cast<size_t>(c.batch * c.channels * test::product(c.in));
  const size_t dst_n = static_cast<size_t>(c.batch * c.channels * test::product(out));
  const std::vector<float> src = test::random_floats(src_n, test::kRefTestSeed + 10, -4.0f, 4.0f);
  const NaivePool want = naive_pool(c, src);

  std::vector<float> dst(dst_n, 999.0f);
  std::vector<int64_t> indices(dst_n, -7);
  maxpool_f32__ref(to_params(c, false), src.data(), dst.data(), indices.data());
  test::expect_all_near(dst, want.max, 0.0, c.name + " maxpool");
  EXPECT_EQ(indices, want.argmax) << c.name << " maxpool indices";

  maxpool_f32__ref(to_params(c, false), src.data(), dst.data(), nullptr);  // Indices output is optional
  test::expect_all_near(dst, want.max, 0.0, c.name + " maxpool without indices");

  averagepool_f32__ref(to_params(c, false), src.data(), dst.data());
  test::expect_all_near(dst, want.avg_exclude_pad, kPoolRefTol, c.name + " avgpool count_include_pad=0");
  averagepool_f32__ref(to_params(c, true), src.data(), dst.data());
  test::expect_all_near(dst, want.avg_include_pad, kPoolRefTol, c.name + " avgpool count_include_pad=1");

  // u8 maxpool: same geometry on integer data; exact match including indices.
  const std::vector<uint8_t> src_u8 = test::random_ints<uint8_t>(src_n, test::kRefTestSeed + 11, 0, 255);
  const std::vector<float> src_u8_as_f32(src_u8.begin(), src_u8.end());
  const NaivePool want_u8 = naive_pool(c, src_u8_as_f32);
  std::vector<uint8_t> dst_u8(dst_n, 0);
  maxpool_u8__ref(to_params(c, false), src_u8.data(), dst_u8.data(), indices.data());
  const std::vector<float> dst_u8_as_f32(dst_u8.begin(), dst_u8.end());
  test::expect_all_near(dst_u8_as_f32, want_u8.max, 0.0, c.name + " maxpool u8");
  EXPECT_EQ(indices, want_u8.argmax) << c.name << " maxpool u8 indices";

  // s8 maxpool: negative codes too (padding never wins over a real element).
  const std::vector<int8_t> src_s8 = test::random_ints<int8_t>(src_n, test::kRefTestSeed + 12, -128, 127);
  const std::vector<float> src_s8_as_f32(src_s8.begin(), src_s8.end());
  const NaivePool want_s8 = naive_pool(c, src_s8_as_f32);
  std::vector<int8_t> dst_s8(dst_n, 0);
  maxpool_s8__ref(to_params(c, false), src_s8.data(), dst_s8.data(), indices.data());
  const std::vector<float> dst_s8_as_f32(dst_s8.begin(), dst_s8.end());
  test::expect_all_near(dst_s8_as_f32, want_s8.max, 0.0, c.name + " maxpool s8");
  EXPECT_EQ(indices, want_s8.argmax) << c.name << " maxpool s8 indices";
}

// name, N, C, in, kernel, stride, dilation, pad_begin, pad_end, ceil_mode
INSTANTIATE_TEST_SUITE_P(
    Geometries, PoolRefSweep,
    ::testing::Values(
        PoolCase{"Default2x2", 1, 3, {8, 8}, {2, 2}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, false},
        PoolCase{"ResNetMaxPool", 2, 3, {13, 12}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, false},
        PoolCase{"AsymPads", 1, 2, {7, 9}, {3, 2}, {2, 1}, {1, 1}, {0, 1}, {2, 0}, false},
        PoolCase{"CeilOverhang", 1, 1, {6, 6}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, true},
        PoolCase{"CeilNoPads", 2, 1, {4, 7}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, true},
        PoolCase{"CeilLastWindowDropped", 1, 1, {5, 5}, {2, 2}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, true},
        PoolCase{"Dilation2", 1, 2, {9, 10}, {3, 2}, {1, 2}, {2, 3}, {1, 1}, {1, 0}, false},
        PoolCase{"DilationCeil", 1, 1, {10, 10}, {2, 2}, {3, 3}, {2, 2}, {0, 1}, {1, 0}, true},
        PoolCase{"KernelIsInput", 3, 5, {5, 3}, {5, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, false},
        PoolCase{"GlobalLikeWithPad", 1, 1, {3, 3}, {3, 3}, {1, 1}, {1, 1}, {2, 2}, {2, 2}, false},
        PoolCase{"OneD", 2, 3, {17}, {4}, {3}, {1}, {1}, {2}, false},
        PoolCase{"OneDCeil", 1, 2, {11}, {3}, {2}, {1}, {1}, {1}, true},
        PoolCase{"ThreeD", 1, 2, {5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {1, 1, 1}, {1, 1, 0}, {0, 1, 1}, false},
        PoolCase{"ThreeDCeil", 1, 1, {4, 5, 6}, {3, 2, 3}, {2, 2, 2}, {1, 1, 1}, {1, 0, 1}, {1, 0, 1}, true}),
    [](const ::testing::TestParamInfo<PoolCase>& info) { return info.param.name; });

std::vector<float> iota_floats(int count, float first) {
  std::vector<float> v(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) v[static_cast<size_t>(i)] = first + static_cast<float>(i);
  return v;
}

PoolParams square_params(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad) {
  PoolParams p;
  p.in_size[0] = p.in_size[1] = in;
  p.out_size[0] = p.out_size[1] = out;
  p.kernel[0] = p.kernel[1] = kernel;
  p.stride[0] = p.stride[1] = stride;
  p.pad_begin[0] = p.pad_begin[1] = pad;
  p.pad_end[0] = p.pad_end[1] = pad;
  return p;
}

TEST(AveragePoolRef, OnnxCeilMode) {
  // ONNX test_averagepool_2d_ceil: 4x4 input 1..16, kernel 3, stride 2, ceil_mode=1.
  const std::vector<float> src = iota_floats(16, 1.0f);
  std::vector<float> dst(4);
  averagepool_f32__ref(square_params(4, 2, 3, 2, 0), src.data(), dst.data());
  EXPECT_EQ(dst, (std::vector<float>{6.0f, 7.5f, 12.0f, 13.5f}));
  PoolParams include = square_params(4, 2, 3, 2, 0);
  include.count_include_pad = true;  // the overhang is not padding: same result
  averagepool_f32__ref(include, src.data(), dst.data());
  EXPECT_EQ(dst, (std::vector<float>{6.0f, 7.5f, 12.0f, 13.5f}));
}

TEST(AveragePoolRef, OnnxPrecomputedPads) {
  // ONNX test_averagepool_2d_precomputed_pads(_count_include_pad): 5x5 input 1..25, kernel 5, pads 2.
  const std::vector<float> src = iota_floats(25, 1.0f);
  std::vector<float> dst(25);
  averagepool_f32__ref(square_params(5, 5, 5, 1, 2), src.data(), dst.data());
  const std::vector<float> exclude = {7,    7.5f, 8,  8.5f,  9,  9.5f,  10, 10.5f, 11, 11.5f, 12,   12.5f, 13,
                                      13.5f, 14,  14.5f, 15, 15.5f, 16, 16.5f, 17, 17.5f, 18, 18.5f, 19};
  test::expect_all_near(dst, exclude, kPoolRefTol, "count_include_pad=0");
  PoolParams include = square_params(5, 5, 5, 1, 2);
  include.count_include_pad = true;
  averagepool_f32__ref(include, src.data(), dst.data());
  const std::vector<float> with_pad = {2.52f, 3.6f, 4.8f,  4.08f,  3.24f, 4.56f, 6.4f, 8.4f,  7.04f,
                                       5.52f, 7.2f, 10.0f, 13.0f,  10.8f, 8.4f,  6.96f, 9.6f, 12.4f,
                                       10.24f, 7.92f, 6.12f, 8.4f, 10.8f, 8.88f, 6.84f};
  test::expect_all_near(dst, with_pad, kPoolRefTol, "count_include_pad=1");
}

TEST(MaxPoolRef, OnnxArgmaxPrecomputedPads) {
  // ONNX test_maxpool_with_argmax_2d_precomputed_pads: 5x5 input 1..25, kernel 5, pads 2.
  const std::vector<float> src = iota_floats(25, 1.0f);
  std::vector<float> dst(25);
  std::vector<int64_t> indices(25);
  maxpool_f32__ref(square_params(5, 5, 5, 1, 2), src.data(), dst.data(), indices.data());
  const std::vector<float> want = {13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25,
                                   25, 25, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25};
  EXPECT_EQ(dst, want);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(indices[i], static_cast<int64_t>(want[i]) - 1) << i;
}

TEST(MaxPoolRef, IndicesIncludeBatchAndChannelOffsets) {
  // N=2, C=2 of 2x2 planes, global 2x2 max: the index addresses the whole tensor.
  const std::vector<float> src = {0, 5, 1, 2, /**/ 9, 1, 1, 1, /**/ 1, 1, 1, 7, /**/ 3, 3, 3, 3};
  PoolParams p = square_params(2, 1, 2, 1, 0);
  p.batch = 2;
  p.channels = 2;
  std::vector<float> dst(4);
  std::vector<int64_t> indices(4);
  maxpool_f32__ref(p, src.data(), dst.data(), indices.data());
  EXPECT_EQ(dst, (std::vector<float>{5, 9, 7, 3}));
  EXPECT_EQ(indices, (std::vector<int64_t>{1, 4, 11, 12}));  // ties keep the first position
}

TEST(MaxPoolRef, U8PaddingNeverWins) {
  // All-zero input with padding: u8 padding must not introduce a value (output 0, index inside).
  const std::vector<uint8_t> src(9, 0);
  std::vector<uint8_t> dst(9, 77);
  std::vector<int64_t> indices(9);
  maxpool_u8__ref(square_params(3, 3, 3, 1, 1), src.data(), dst.data(), indices.data());
  EXPECT_EQ(dst, std::vector<uint8_t>(9, 0));
  EXPECT_EQ(indices, (std::vector<int64_t>{0, 0, 1, 0, 0, 1, 3, 3, 4}));
}

TEST(MaxPoolRef, NegativeValuesBeatPadding) {
  // Padding is excluded, not zero: a window of negatives stays negative.
  const std::vector<float> src = {-3, -2, -5, -4};
  std::vector<float> dst(9);
  maxpool_f32__ref(square_params(2, 3, 2, 1, 1), src.data(), dst.data(), nullptr);
  EXPECT_EQ(dst, (std::vector<float>{-3, -2, -2, -3, -2, -2, -5, -4, -4}));
}

TEST(GlobalAveragePoolRef, MatchesMeanForAnyRank) {
  const int64_t batch = 2, channels = 3;
  for (int64_t spatial : {1, 7, 49, 5 * 6 * 7}) {
    const std::vector<float> src =
        test::random_floats(static_cast<size_t>(batch * channels * spatial), test::kRefTestSeed + 12);
    std::vector<float> dst(static_cast<size_t>(batch * channels));
    global_average_pool_f32__ref(batch, channels, spatial, src.data(), dst.data());
    std::vector<double> want;
    for (int64_t nc = 0; nc < batch * channels; ++nc) {
      double sum = 0;
      for (int64_t i = 0; i < spatial; ++i) sum += src[static_cast<size_t>(nc * spatial + i)];
      want.push_back(sum / static_cast<double>(spatial));
    }
    test::expect_all_near(dst, want, kPoolRefTol, "spatial=" + std::to_string(spatial));
  }
}

TEST(GlobalAveragePoolRef, OnnxPrecomputed) {
  // ONNX test_globalaveragepool_precomputed: 3x3 input 1..9 -> 5.
  const std::vector<float> src = iota_floats(9, 1.0f);
  float dst = 0;
  global_average_pool_f32__ref(1, 1, 9, src.data(), &dst);
  EXPECT_EQ(dst, 5.0f);
}

}  // namespace
}  // namespace hqp::kernels
