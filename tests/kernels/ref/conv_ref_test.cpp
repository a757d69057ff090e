// Tests of conv_f32__ref against an independent im2col + FP64 matmul formulation (rank-generic,
// no 3-D normalization) over awkward geometries, plus hand-computed cases.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/conv.h"
#include "ref_test_util.h"
#include "ref_tolerances.h"

namespace hqp::kernels {
namespace {

using test::kConvRefTol;

struct ConvCase {
  std::string name;
  int64_t batch, in_channels, out_channels, groups;
  std::vector<int64_t> in, kernel, stride, dilation, pad_begin, pad_end;
};

std::vector<int64_t> conv_out_size(const ConvCase& c) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < c.in.size(); ++i) {
    const int64_t span = c.dilation[i] * (c.kernel[i] - 1) + 1;
    out.push_back((c.in[i] + c.pad_begin[i] + c.pad_end[i] - span) / c.stride[i] + 1);
  }
  return out;
}

// Unravels a flat row-major index over `dims`.
std::vector<int64_t> unravel(int64_t flat, const std::vector<int64_t>& dims) {
  std::vector<int64_t> idx(dims.size());
  for (size_t i = dims.size(); i-- > 0;) {
    idx[i] = flat % dims[i];
    flat /= dims[i];
  }
  return idx;
}

// Builds im2col columns per (n, g) and multiplies by the group's weight matrix in FP64.
std::vector<double> naive_conv(const ConvCase& c, const std::vector<float>& src, const std::vector<float>& wei,
                               const std::vector<float>* bias) {
  const std::vector<int64_t> out = conv_out_size(c);
  const int64_t in_plane = test::product(c.in), out_plane = test::product(out), taps = test::product(c.kernel);
  const int64_t icg = c.in_channels / c.groups, ocg = c.out_channels / c.groups;
  const int64_t rows = icg * taps;
  std::vector<double> dst(static_cast<size_t>(c.batch * c.out_channels * out_plane));
  std::vector<double> cols(static_cast<size_t>(rows * out_plane));
  for (int64_t n = 0; n < c.batch; ++n) {
    for (int64_t g = 0; g < c.groups; ++g) {
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t ic = g * icg + r / taps;
        const std::vector<int64_t> k = unravel(r % taps, c.kernel);
        for (int64_t p = 0; p < out_plane; ++p) {
          const std::vector<int64_t> o = unravel(p, out);
          int64_t flat = 0;
          bool inside = true;
          for (size_t i = 0; i < c.in.size(); ++i) {
            const int64_t pos = o[i] * c.stride[i] - c.pad_begin[i] + k[i] * c.dilation[i];
            inside = inside && pos >= 0 && pos < c.in[i];
            flat = flat * c.in[i] + pos;
          }
          cols[static_cast<size_t>(r * out_plane + p)] =
              inside ? src[static_cast<size_t>((n * c.in_channels + ic) * in_plane + flat)] : 0.0;
        }
      }
      for (int64_t m = 0; m < ocg; ++m) {
        const int64_t oc = g * ocg + m;
        for (int64_t p = 0; p < out_plane; ++p) {
          double acc = bias != nullptr ? (*bias)[static_cast<size_t>(oc)] : 0.0;
          for (int64_t r = 0; r < rows; ++r) {
            acc += static_cast<double>(wei[static_cast<size_t>(oc * rows + r)]) *
                   cols[static_cast<size_t>(r * out_plane + p)];
          }
          dst[static_cast<size_t>((n * c.out_channels + oc) * out_plane + p)] = acc;
        }
      }
    }
  }
  return dst;
}

ConvParams to_params(const ConvCase& c) {
  ConvParams p;
  p.batch = c.batch;
  p.in_channels = c.in_channels;
  p.out_channels = c.out_channels;
  p.groups = c.groups;
  p.spatial_rank = static_cast<int>(c.in.size());
  const std::vector<int64_t> out = conv_out_size(c);
  for (size_t i = 0; i < c.in.size(); ++i) {
    p.in_size[i] = c.in[i];
    p.out_size[i] = out[i];
    p.kernel[i] = c.kernel[i];
    p.stride[i] = c.stride[i];
    p.dilation[i] = c.dilation[i];
    p.pad_begin[i] = c.pad_begin[i];
  }
  // Poison the unused trailing entries: the kernel must not read them.
  for (size_t i = c.in.size(); i < 3; ++i) {
    p.in_size[i] = p.out_size[i] = p.kernel[i] = p.stride[i] = p.dilation[i] = 7;
    p.pad_begin[i] = 5;
  }
  return p;
}

class ConvRefSweep : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvRefSweep, MatchesIm2colFp64) {
  const ConvCase& c = GetParam();
  const std::vector<int64_t> out = conv_out_size(c);
  for (int64_t o : out) ASSERT_GT(o, 0) << "bad test case";
  const size_t src_n = static_cast<size_t>(c.batch * c.in_channels * test::product(c.in));
  const size_t wei_n = static_cast<size_t>(c.out_channels * (c.in_channels / c.groups) * test::product(c.kernel));
  const size_t dst_n = static_cast<size_t>(c.batch * c.out_channels * test::product(out));
  const std::vector<float> src = test::random_floats(src_n, test::kRefTestSeed);
  const std::vector<float> wei = test::random_floats(wei_n, test::kRefTestSeed + 1);
  const std::vector<float> bias = test::random_floats(static_cast<size_t>(c.out_channels), test::kRefTestSeed + 2);
  const ConvParams params = to_params(c);

  for (bool with_bias : {false, true}) {
    std::vector<float> dst(dst_n, 12345.0f);  // garbage: the kernel must overwrite everything
    conv_f32__ref(params, src.data(), wei.data(), with_bias ? bias.data() : nullptr, dst.data());
    const std::vector<double> want = naive_conv(c, src, wei, with_bias ? &bias : nullptr);
    test::expect_all_near(dst, want, kConvRefTol, c.name + (with_bias ? " with bias" : " no bias"));
  }
}

// name, N, IC, OC, G, in, kernel, stride, dilation, pad_begin, pad_end
INSTANTIATE_TEST_SUITE_P(
    Geometries, ConvRefSweep,
    ::testing::Values(
        ConvCase{"Basic3x3Pad1", 1, 3, 5, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
        ConvCase{"Pointwise", 2, 13, 7, 1, {5, 3}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
        ConvCase{"Stride2AsymPads", 1, 4, 3, 1, {11, 8}, {3, 2}, {2, 2}, {1, 1}, {1, 0}, {0, 1}},
        ConvCase{"DepthwiseStride2", 2, 5, 5, 5, {9, 10}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
        ConvCase{"DepthwiseMultiplier3", 1, 3, 9, 3, {6, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
        ConvCase{"Grouped2", 1, 6, 4, 2, {5, 5}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
        ConvCase{"Dilation2", 1, 2, 3, 1, {9, 9}, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}},
        ConvCase{"DilationStrideMix", 1, 3, 2, 1, {13, 11}, {3, 2}, {2, 3}, {3, 2}, {1, 2}, {3, 0}},
        ConvCase{"PrimeChannels", 1, 7, 11, 1, {13, 17}, {3, 5}, {1, 1}, {1, 1}, {1, 2}, {1, 2}},
        ConvCase{"KernelLargerThanInput", 1, 2, 2, 1, {2, 2}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
        ConvCase{"AnisotropicStride", 3, 2, 3, 1, {10, 9}, {2, 3}, {3, 1}, {1, 1}, {0, 1}, {1, 1}},
        ConvCase{"TrailingRowsDropped", 1, 2, 2, 1, {8, 8}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}},
        ConvCase{"SingleOutput", 1, 1, 1, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
        ConvCase{"OneD", 2, 3, 4, 1, {17}, {5}, {3}, {2}, {2}, {1}},
        ConvCase{"OneDDepthwise", 1, 4, 4, 4, {10}, {3}, {1}, {1}, {1}, {1}},
        ConvCase{"ThreeD", 1, 2, 3, 1, {5, 6, 7}, {3, 2, 3}, {1, 2, 1}, {1, 1, 2}, {1, 0, 2}, {1, 1, 0}},
        ConvCase{"ThreeDGroupedStride2", 2, 4, 6, 2, {4, 5, 5}, {2, 3, 3}, {2, 2, 2}, {1, 1, 1}, {0, 1, 1},
                 {1, 1, 1}},
        ConvCase{"ResNetStem", 1, 3, 8, 1, {64, 64}, {7, 7}, {2, 2}, {1, 1}, {3, 3}, {3, 3}},
        ConvCase{"WideReduction", 1, 96, 5, 1, {6, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}}),
    [](const ::testing::TestParamInfo<ConvCase>& info) { return info.param.name; });

TEST(ConvRef, HandComputedValid2x2) {
  // src 3x3 = 1..9, all-ones 2x2 kernel: each output is the sum of a 2x2 block, plus bias 0.5.
  const std::vector<float> src = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<float> wei = {1, 1, 1, 1};
  const float bias = 0.5f;
  ConvParams p;
  p.in_size[0] = p.in_size[1] = 3;
  p.out_size[0] = p.out_size[1] = 2;
  p.kernel[0] = p.kernel[1] = 2;
  std::vector<float> dst(4);
  conv_f32__ref(p, src.data(), wei.data(), &bias, dst.data());
  EXPECT_EQ(dst, (std::vector<float>{12.5f, 16.5f, 24.5f, 28.5f}));
}

TEST(ConvRef, HandComputedSamePadding) {
  // ONNX test_basic_conv_with_padding: 5x5 input 0..24, 3x3 ones kernel, pads 1.
  std::vector<float> src(25);
  for (int i = 0; i < 25; ++i) src[static_cast<size_t>(i)] = static_cast<float>(i);
  const std::vector<float> wei(9, 1.0f);
  ConvParams p;
  p.in_size[0] = p.in_size[1] = 5;
  p.out_size[0] = p.out_size[1] = 5;
  p.kernel[0] = p.kernel[1] = 3;
  p.pad_begin[0] = p.pad_begin[1] = 1;
  std::vector<float> dst(25);
  conv_f32__ref(p, src.data(), wei.data(), nullptr, dst.data());
  const std::vector<float> want = {12, 21, 27, 33, 24,  33, 54, 63, 72,  51,  63, 99, 108,
                                   117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84};
  EXPECT_EQ(dst, want);
}

TEST(ConvRef, HandComputedStridedWithChannelMultiplier) {
  // groups=1 input channel, 2 output channels with weights +1 and -1 on a 1x1 kernel, stride 2.
  const std::vector<float> src = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<float> wei = {1, -1};
  ConvParams p;
  p.out_channels = 2;
  p.in_size[0] = p.in_size[1] = 3;
  p.out_size[0] = p.out_size[1] = 2;
  p.stride[0] = p.stride[1] = 2;
  std::vector<float> dst(8);
  conv_f32__ref(p, src.data(), wei.data(), nullptr, dst.data());
  EXPECT_EQ(dst, (std::vector<float>{1, 3, 7, 9, -1, -3, -7, -9}));
}

}  // namespace
}  // namespace hqp::kernels
