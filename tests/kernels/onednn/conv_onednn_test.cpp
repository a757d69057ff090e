// Tests of conv_f32__onednn and conv_{u8,s8}s8__onednn against the reference kernels
// (conv_f32__ref + reference activations; conv_u8s8__ref / conv_s8s8__ref bit-exact) over awkward
// geometries, both layouts, all fused post-ops, plus applies() rejections.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/onednn/conv_onednn.h"
#include "kernels/onednn/gemm_onednn.h"
#include "kernels/ref/conv.h"
#include "kernels/ref/conv_int8.h"
#include "kernels/ref/ref_test_util.h"
#include "onednn_test_util.h"
#include "onednn_tolerances.h"

namespace hqp::kernels::onednn {
namespace {

using test::kConvOnednnTol;
using test::kRefTestSeed;

struct ConvCase {
  std::string name;
  int64_t batch, in_channels, out_channels, groups;
  std::vector<int64_t> in, kernel, stride, dilation, pad_begin, pad_end;
};

ConvParams to_params(const ConvCase& c) {
  ConvParams p;
  p.batch = c.batch;
  p.in_channels = c.in_channels;
  p.out_channels = c.out_channels;
  p.groups = c.groups;
  p.spatial_rank = static_cast<int>(c.in.size());
  for (size_t i = 0; i < c.in.size(); ++i) {
    const int64_t span = c.dilation[i] * (c.kernel[i] - 1) + 1;
    p.in_size[i] = c.in[i];
    p.out_size[i] = (c.in[i] + c.pad_begin[i] + c.pad_end[i] - span) / c.stride[i] + 1;
    p.kernel[i] = c.kernel[i];
    p.stride[i] = c.stride[i];
    p.dilation[i] = c.dilation[i];
    p.pad_begin[i] = c.pad_begin[i];
  }
  return p;
}

int64_t spatial(const int64_t* size, int rank) {
  int64_t s = 1;
  for (int i = 0; i < rank; ++i) s *= size[i];
  return s;
}

// name, N, IC, OC, G, in, kernel, stride, dilation, pad_begin, pad_end
// Whether `implementation` runs on the ISA of params' rank 0: only such ranks are candidates of
// create_fastest (conv_onednn.h), so only they must equal the reference.
bool same_isa_as_first(ConvInt8OnednnParams params, const std::string& implementation) {
  params.impl_rank = 0;
  return implementation_isa(ConvInt8Onednn::probe_implementation(params)) == implementation_isa(implementation);
}

const ConvCase kCases[] = {
    {"Basic3x3Pad1", 1, 3, 5, 1, {7, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"Pointwise", 2, 13, 7, 1, {5, 3}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    {"PointwiseStride2", 1, 17, 32, 1, {9, 9}, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}},
    {"Stride2AsymPads", 1, 4, 3, 1, {11, 8}, {3, 2}, {2, 2}, {1, 1}, {1, 0}, {0, 1}},
    {"Depthwise3x3", 1, 16, 16, 16, {10, 10}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"DepthwiseOddStride2", 2, 5, 5, 5, {9, 10}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
    {"Depthwise5x5Stride2", 1, 24, 24, 24, {13, 13}, {5, 5}, {2, 2}, {1, 1}, {2, 2}, {2, 2}},
    {"DepthwiseMultiplier3", 1, 3, 9, 3, {6, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"Grouped2", 1, 6, 4, 2, {5, 5}, {3, 3}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},
    {"Dilation2", 1, 2, 3, 1, {9, 9}, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}},
    {"PrimeChannels", 1, 7, 11, 1, {13, 17}, {3, 5}, {1, 1}, {1, 1}, {1, 2}, {1, 2}},
    {"TrailingRowsDropped", 1, 2, 2, 1, {8, 8}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}},
    {"ResNetStem7x7", 1, 3, 64, 1, {32, 32}, {7, 7}, {2, 2}, {1, 1}, {3, 3}, {3, 3}},
    {"Wide3x3", 1, 64, 64, 1, {8, 8}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"WideReductionOddOut", 1, 96, 5, 1, {6, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {"OneD", 2, 3, 4, 1, {17}, {5}, {3}, {2}, {2}, {1}},
};

// ---------------- FP32 ----------------

struct PostOpCase {
  std::string name;
  bool has_sum;
  Activation activation;
  float alpha, beta;
};

const PostOpCase kPostOps[] = {
    {"None", false, Activation::kNone, 0, 0},          {"Relu", false, Activation::kRelu, 0, 0},
    {"SumRelu", true, Activation::kRelu, 0, 0},        {"Clip", false, Activation::kClip, -0.5f, 0.75f},
    {"HardSwish", false, Activation::kHardSwish, 0, 0}, {"HardSigmoid", false, Activation::kHardSigmoid, 0.2f, 0.5f},
    {"Sigmoid", false, Activation::kSigmoid, 0, 0},    {"SumOnly", true, Activation::kNone, 0, 0},
    {"Swish", false, Activation::kSwish, 0, 0},        {"SumSwish", true, Activation::kSwish, 0, 0},
};

// Runs `kernel` (params.layout) on src / sum (NCHW) and compares with conv_f32__ref + sum +
// activation.
void expect_matches_reference(ConvF32Onednn& kernel, const ConvCase& c, const std::vector<float>& src,
                              const std::vector<float>& wei, const float* bias, const std::vector<float>& sum,
                              const std::string& what) {
  const ConvF32OnednnParams& params = kernel.params();
  const ConvParams& cp = params.conv;
  const Layout layout = params.layout;
  const int64_t in_s = spatial(cp.in_size, cp.spatial_rank), out_s = spatial(cp.out_size, cp.spatial_rank);
  const size_t dst_n = static_cast<size_t>(c.batch * c.out_channels * out_s);
  std::vector<float> want(dst_n);
  conv_f32__ref(cp, src.data(), wei.data(), bias, want.data());
  if (params.post_ops.has_sum) {
    for (size_t i = 0; i < dst_n; ++i) want[i] += sum[i];
  }
  test::apply_activation_ref(params.post_ops.activation, params.post_ops.alpha, params.post_ops.beta, want);
  const std::vector<float> src_l = test::to_layout(src, layout, c.batch, c.in_channels, in_s);
  const std::vector<float> sum_l = test::to_layout(sum, layout, c.batch, c.out_channels, out_s);
  std::vector<float> dst_l(dst_n, 12345.0f);
  ASSERT_TRUE(kernel.run(src_l.data(), sum_l.data(), dst_l.data()).ok()) << what;
  const std::vector<float> got = test::from_layout(dst_l, layout, c.batch, c.out_channels, out_s);
  test::expect_all_near(got, want, kConvOnednnTol, what + " [" + kernel.implementation() + "]");
}

class ConvF32OnednnSweep : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvF32OnednnSweep, MatchesReference) {
  const ConvCase& c = GetParam();
  const ConvParams cp = to_params(c);
  const int64_t in_s = spatial(cp.in_size, cp.spatial_rank), out_s = spatial(cp.out_size, cp.spatial_rank);
  const size_t dst_n = static_cast<size_t>(c.batch * c.out_channels * out_s);
  const std::vector<float> src = test::random_floats(static_cast<size_t>(c.batch * c.in_channels * in_s), kRefTestSeed);
  const std::vector<float> wei = test::random_floats(
      static_cast<size_t>(c.out_channels * c.in_channels / c.groups * spatial(cp.kernel, cp.spatial_rank)),
      kRefTestSeed + 1);
  const std::vector<float> bias = test::random_floats(static_cast<size_t>(c.out_channels), kRefTestSeed + 2);
  const std::vector<float> sum = test::random_floats(dst_n, kRefTestSeed + 3);

  for (Layout layout : {Layout::kNchw, Layout::kNhwc}) {
    for (const PostOpCase& po : kPostOps) {
      for (bool with_bias : {false, true}) {
        const std::string what = c.name + "/" + std::string(layout_name(layout)) + "/" + po.name +
                                 (with_bias ? "/bias" : "/nobias");
        ConvF32OnednnParams params;
        params.conv = cp;
        params.layout = layout;
        params.has_bias = with_bias;
        params.post_ops = {po.has_sum, po.activation, po.alpha, po.beta};
        Result<ConvF32Onednn> kernel = ConvF32Onednn::create(params, wei.data(), with_bias ? bias.data() : nullptr);
        ASSERT_TRUE(kernel.ok()) << what << ": " << kernel.status().message();
        expect_matches_reference(*kernel, c, src, wei, with_bias ? bias.data() : nullptr, sum, what);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Geometries, ConvF32OnednnSweep, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<ConvCase>& info) { return info.param.name; });

TEST(ConvF32Onednn, SumMayAliasDst) {
  const ConvCase c = kCases[0];
  const ConvParams cp = to_params(c);
  const size_t dst_n = static_cast<size_t>(c.out_channels * spatial(cp.out_size, 2));
  const std::vector<float> src = test::random_floats(static_cast<size_t>(c.in_channels * 49), kRefTestSeed);
  const std::vector<float> wei = test::random_floats(static_cast<size_t>(c.out_channels * c.in_channels * 9), 7);
  const std::vector<float> residual = test::random_floats(dst_n, 8);
  ConvF32OnednnParams params;
  params.conv = cp;
  params.post_ops.has_sum = true;
  Result<ConvF32Onednn> kernel = ConvF32Onednn::create(params, wei.data(), nullptr);
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  std::vector<float> want(dst_n);
  conv_f32__ref(cp, src.data(), wei.data(), nullptr, want.data());
  for (size_t i = 0; i < dst_n; ++i) want[i] += residual[i];
  std::vector<float> dst = residual;  // in place: dst holds the residual on entry
  ASSERT_TRUE(kernel->run(src.data(), dst.data(), dst.data()).ok());
  test::expect_all_near(dst, want, kConvOnednnTol, "in-place sum");
}

// Group widening (ConvF32OnednnParams::group_widening): a grouped conv with 4 channels per group
// run as one with 2x / 4x wider, block-diagonal groups equals the reference, for both layouts,
// with bias, residual sum and activation; unpack_weights() gives back the original weights.
TEST(ConvF32Onednn, WidenedGroupsMatchReference) {
  const ConvCase c{"Groups8x4", 2, 32, 32, 8, {9, 7}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}};
  const ConvParams cp = to_params(c);
  const int64_t in_s = spatial(cp.in_size, 2), out_s = spatial(cp.out_size, 2);
  const size_t dst_n = static_cast<size_t>(c.batch * c.out_channels * out_s);
  const size_t wei_n = static_cast<size_t>(c.out_channels * (c.in_channels / c.groups) * 9);
  const std::vector<float> src = test::random_floats(static_cast<size_t>(c.batch * c.in_channels * in_s), kRefTestSeed);
  const std::vector<float> wei = test::random_floats(wei_n, kRefTestSeed + 1);
  const std::vector<float> bias = test::random_floats(static_cast<size_t>(c.out_channels), kRefTestSeed + 2);
  const std::vector<float> sum = test::random_floats(dst_n, kRefTestSeed + 3);
  for (int k : {2, 4, 8}) {
    for (Layout layout : {Layout::kNchw, Layout::kNhwc}) {
      for (bool has_sum : {false, true}) {
        std::string what = "x";
        what += std::to_string(k);
        what += "/";
        what += layout_name(layout);
        if (has_sum) what += "/sum";
        ConvF32OnednnParams params;
        params.conv = cp;
        params.layout = layout;
        params.has_bias = true;
        params.post_ops = {has_sum, Activation::kRelu, 0, 0};
        params.group_widening = k;
        Result<ConvF32Onednn> kernel = ConvF32Onednn::create(params, wei.data(), bias.data());
        ASSERT_TRUE(kernel.ok()) << what << ": " << kernel.status().message();
        EXPECT_EQ(kernel->group_widening(), k) << what;
        EXPECT_NE(kernel->implementation().find("groups x" + std::to_string(k)), std::string::npos)
            << what << ": " << kernel->implementation();
        expect_matches_reference(*kernel, c, src, wei, bias.data(), sum, what);

        std::vector<float> unpacked(wei_n, -7.0f);
        ASSERT_TRUE(kernel->unpack_weights(unpacked.data()).ok()) << what;
        EXPECT_EQ(unpacked, wei) << what;
      }
    }
  }
}

TEST(ConvF32Onednn, BadGroupWideningIsRejected) {
  const std::vector<float> wei(32 * 4 * 9, 0.5f);
  ConvF32OnednnParams params;
  params.conv = to_params({"Groups8x4", 1, 32, 32, 8, {5, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}});
  params.group_widening = 3;  // 8 groups are not divisible by 3
  Result<ConvF32Onednn> kernel = ConvF32Onednn::create(params, wei.data(), nullptr);
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(kernel.status().message().find("group_widening=3"), std::string::npos) << kernel.status().message();
  params.conv = to_params(kCases[4]);  // depthwise
  params.group_widening = 2;
  kernel = ConvF32Onednn::create(params, wei.data(), nullptr);
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.status().code(), StatusCode::kInvalidArgument);
}

// Automatic widening replaces exactly oneDNN's GEMM-based convolution. On AVX2 (this test also runs
// under ONEDNN_MAX_CPU_ISA=AVX2, tests/CMakeLists.txt) 4 channels per group have no direct kernel,
// so the widening branch runs there; on AVX-512 they have one and nothing changes.
TEST(ConvF32Onednn, AutomaticGroupWideningOnlyReplacesGemm) {
  const ConvCase c{"Groups32x4", 1, 128, 128, 32, {14, 14}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}};
  const ConvParams cp = to_params(c);
  const std::vector<float> src = test::random_floats(static_cast<size_t>(128 * 196), kRefTestSeed);
  const std::vector<float> wei = test::random_floats(static_cast<size_t>(128 * 4 * 9), kRefTestSeed + 1);
  ConvF32OnednnParams params;
  params.conv = cp;
  params.layout = Layout::kNhwc;
  params.group_widening = 1;
  Result<ConvF32Onednn> plain = ConvF32Onednn::create(params, wei.data(), nullptr);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  params.group_widening = 0;
  Result<ConvF32Onednn> automatic = ConvF32Onednn::create(params, wei.data(), nullptr);
  ASSERT_TRUE(automatic.ok()) << automatic.status().message();
  const std::string& impl = plain->implementation();
  const bool gemm = impl.find("gemm:") != std::string::npos;
  const char* max_isa = std::getenv("ONEDNN_MAX_CPU_ISA");
  if (max_isa != nullptr && std::string(max_isa) == "AVX2") {
    EXPECT_TRUE(gemm) << "expected oneDNN's GEMM-based conv for 4 channels per group on AVX2, got " << impl;
  }
  if (gemm) {
    EXPECT_GT(automatic->group_widening(), 1) << automatic->implementation();
    EXPECT_EQ(automatic->implementation().find("gemm:"), std::string::npos) << automatic->implementation();
  } else {
    EXPECT_EQ(automatic->group_widening(), 1) << impl << " / " << automatic->implementation();
    EXPECT_EQ(automatic->implementation(), impl);
  }
  std::vector<float> want(static_cast<size_t>(128 * 196));
  conv_f32__ref(cp, src.data(), wei.data(), nullptr, want.data());
  const std::vector<float> src_l = test::to_layout(src, Layout::kNhwc, 1, 128, 196);
  std::vector<float> dst_l(want.size());
  ASSERT_TRUE(automatic->run(src_l.data(), nullptr, dst_l.data()).ok());
  test::expect_all_near(test::from_layout(dst_l, Layout::kNhwc, 1, 128, 196), want, kConvOnednnTol,
                        automatic->implementation());
}

// ---------------- INT8 ----------------

struct Int8Case {
  std::string name;
  DType src_dtype;
  int32_t src_zero_point;
  DType dst_dtype;
  int32_t dst_zero_point;
  bool has_sum;
  float act_min, act_max;
};

constexpr float kInf = INFINITY;
const Int8Case kInt8Cases[] = {
    {"U8ToU8", DType::kU8, 131, DType::kU8, 7, false, -kInf, kInf},
    {"U8ToU8Relu", DType::kU8, 3, DType::kU8, 121, false, 0.0f, kInf},
    {"U8ToU8SumRelu", DType::kU8, 128, DType::kU8, 9, true, 0.0f, kInf},
    {"U8ToS8Clip", DType::kU8, 0, DType::kS8, -5, false, -1.5f, 2.0f},
    {"U8ToF32", DType::kU8, 77, DType::kF32, 0, false, -kInf, kInf},
    {"U8ToF32SumRelu", DType::kU8, 77, DType::kF32, 0, true, 0.0f, kInf},
    {"S8ToS8", DType::kS8, 0, DType::kS8, 3, false, -kInf, kInf},
    {"S8ToU8SumClip", DType::kS8, 0, DType::kU8, 11, true, 0.0f, 6.0f},
    {"S8ZeroPointToU8", DType::kS8, -9, DType::kU8, 1, false, -kInf, kInf},
};

struct QuantData {
  std::vector<uint8_t> src;  // bytes of u8 or s8
  std::vector<int8_t> wei;
  std::vector<float> wei_scales;
  std::vector<int32_t> bias;
  std::vector<uint8_t> sum;  // bytes of the dst dtype
};

int64_t dtype_lo(DType t) { return t == DType::kU8 ? 0 : -128; }
int64_t dtype_hi(DType t) { return t == DType::kU8 ? 255 : 127; }

// Runs the reference with an f32 dst to pick a dst scale putting about 3 sigma at the dtype edge
// (so saturation and every clamp are exercised).
float pick_dst_scale(const ConvParams& cp, Int8OutputParams out, DType src_dtype, const QuantData& d, int64_t dst_n) {
  out.dst_dtype = DType::kF32;
  out.has_sum = false;
  out.act_min = -kInf;
  out.act_max = kInf;
  std::vector<float> real(static_cast<size_t>(dst_n));
  if (src_dtype == DType::kU8) {
    conv_u8s8__ref(cp, out, d.src.data(), d.wei.data(), d.wei_scales.data(), d.bias.data(), nullptr, real.data());
  } else {
    conv_s8s8__ref(cp, out, reinterpret_cast<const int8_t*>(d.src.data()), d.wei.data(), d.wei_scales.data(),
                   d.bias.data(), nullptr, real.data());
  }
  double ss = 0.0;
  for (float v : real) ss += static_cast<double>(v) * v;
  const double sigma = std::sqrt(ss / static_cast<double>(real.size()));
  return static_cast<float>(std::max(3.0 * sigma / 127.0, 1e-6));
}

// forced_src_scale > 0 selects the tie setup: that src scale, dst scale 1, the given weight scales,
// and small data (src within 3 of its zero point, |wei| <= 3, |bias| <= 50) so that outputs stay
// inside the dtype range instead of saturating.
// impl_rank > 0: that implementation rank, skipped where oneDNN lists none (see conv_onednn.h).
// exact_without_vnni: ConvInt8OnednnParams' (the doubled input on CPUs without VNNI).
void run_int8_case(const ConvCase& c, const Int8Case& q, Layout layout, bool with_bias, float forced_src_scale,
                   const std::vector<float>* forced_wei_scales, int impl_rank = 0, bool exact_without_vnni = false) {
  const bool small = forced_src_scale > 0.0f;
  const ConvParams cp = to_params(c);
  const int64_t in_s = spatial(cp.in_size, cp.spatial_rank), out_s = spatial(cp.out_size, cp.spatial_rank);
  const int64_t src_n = c.batch * c.in_channels * in_s, dst_n = c.batch * c.out_channels * out_s;
  const int64_t wei_n = c.out_channels * c.in_channels / c.groups * spatial(cp.kernel, cp.spatial_rank);
  const size_t dst_elem = dtype_size(q.dst_dtype);
  QuantData d;
  if (small) {
    const int64_t lo = std::max(dtype_lo(q.src_dtype), int64_t{q.src_zero_point} - 3);
    const int64_t hi = std::min(dtype_hi(q.src_dtype), int64_t{q.src_zero_point} + 3);
    const std::vector<int64_t> v = test::random_ints<int64_t>(static_cast<size_t>(src_n), kRefTestSeed, lo, hi);
    d.src.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) d.src[i] = static_cast<uint8_t>(v[i]);  // two's complement for s8
  } else {
    d.src = test::random_ints<uint8_t>(static_cast<size_t>(src_n), kRefTestSeed, 0, 255);  // any byte: u8 or s8
  }
  d.wei = test::random_ints<int8_t>(static_cast<size_t>(wei_n), kRefTestSeed + 1, small ? -3 : -127, small ? 3 : 127);
  d.wei_scales = forced_wei_scales != nullptr ? *forced_wei_scales
                                              : test::random_floats(static_cast<size_t>(c.out_channels),
                                                                    kRefTestSeed + 2, 0.001f, 0.01f);
  d.bias = test::random_ints<int32_t>(static_cast<size_t>(c.out_channels), kRefTestSeed + 3, small ? -50 : -5000,
                                      small ? 50 : 5000);
  if (!with_bias) std::fill(d.bias.begin(), d.bias.end(), 0);

  ConvInt8OnednnParams params;
  params.conv = cp;
  params.layout = layout;
  params.src_dtype = q.src_dtype;
  params.has_bias = with_bias;
  params.impl_rank = impl_rank;
  params.exact_without_vnni = exact_without_vnni;
  Int8OutputParams& out = params.out;
  out.src_scale = small ? forced_src_scale : 0.02f;
  out.src_zero_point = q.src_zero_point;
  out.dst_dtype = q.dst_dtype;
  out.dst_zero_point = q.dst_zero_point;
  out.dst_scale = small ? 1.0f : pick_dst_scale(cp, out, q.src_dtype, d, dst_n);
  out.has_sum = q.has_sum;
  out.sum_scale = out.dst_scale * 1.37f;
  out.sum_zero_point = q.dst_dtype == DType::kF32 ? 0 : q.dst_zero_point - 2;
  out.act_min = q.act_min;
  out.act_max = q.act_max;
  if (q.dst_dtype == DType::kF32) {
    const std::vector<float> s = test::random_floats(static_cast<size_t>(dst_n), kRefTestSeed + 4, -3.0f, 3.0f);
    d.sum.resize(s.size() * sizeof(float));
    std::memcpy(d.sum.data(), s.data(), d.sum.size());
  } else {
    d.sum = test::random_ints<uint8_t>(static_cast<size_t>(dst_n), kRefTestSeed + 4, 0, 255);
  }

  const std::string what = c.name + "/" + q.name + "/" + std::string(layout_name(layout)) +
                           (with_bias ? "/bias" : "/nobias") + "/rank" + std::to_string(impl_rank);
  // Known gap of oneDNN 2.6: grouped convs that are not plain depthwise (groups == IC == OC) have
  // no optimized INT8 implementation with a sum post-op into a u8/s8 dst; applies() must say so.
  const bool plain_depthwise = c.groups == c.in_channels && c.groups == c.out_channels;
  if (c.groups > 1 && !plain_depthwise && q.has_sum && q.dst_dtype != DType::kF32) {
    if (impl_rank > 0) return;
    const Status st = ConvInt8Onednn::applies(params);
    EXPECT_EQ(st.code(), StatusCode::kUnsupported) << what;
    EXPECT_NE(st.message().find("reference implementation"), std::string::npos) << what << ": " << st.message();
    return;
  }
  if (impl_rank > 0 && ConvInt8Onednn::applies(params).code() == StatusCode::kUnsupported) return;
  // Doubled per group, a grouped conv of few channels per group has no optimized oneDNN code (the
  // runtime then takes conv_int8_acc__onednn or the FP32 emulation); plain and depthwise ones do.
  if (exact_without_vnni && c.groups > 1 && !plain_depthwise && !int8_kernels_exact_on_this_cpu() &&
      ConvInt8Onednn::applies(params).code() == StatusCode::kUnsupported) {
    return;
  }
  Result<ConvInt8Onednn> kernel =
      ConvInt8Onednn::create(params, d.wei.data(), d.wei_scales.data(), with_bias ? d.bias.data() : nullptr);
  ASSERT_TRUE(kernel.ok()) << what << ": " << kernel.status().message();
  if (impl_rank > 0 && !same_isa_as_first(params, kernel->implementation())) return;
  if (exact_without_vnni && !int8_kernels_exact_on_this_cpu()) {
    EXPECT_EQ(kernel->doubles_input(), !plain_depthwise) << what;
  }

  std::vector<uint8_t> want(static_cast<size_t>(dst_n) * dst_elem);
  if (q.src_dtype == DType::kU8) {
    conv_u8s8__ref(cp, out, d.src.data(), d.wei.data(), d.wei_scales.data(), with_bias ? d.bias.data() : nullptr,
                   d.sum.data(), want.data());
  } else {
    conv_s8s8__ref(cp, out, reinterpret_cast<const int8_t*>(d.src.data()), d.wei.data(), d.wei_scales.data(),
                   with_bias ? d.bias.data() : nullptr, d.sum.data(), want.data());
  }

  const std::vector<uint8_t> src_l = test::to_layout(d.src, layout, c.batch, c.in_channels, in_s);
  std::vector<uint8_t> sum_l = d.sum, dst_l(want.size(), 0xAB);
  if (layout == Layout::kNhwc) sum_l = test::to_nhwc_bytes(d.sum.data(), c.batch, c.out_channels, out_s, dst_elem);
  ASSERT_TRUE(kernel->run(src_l.data(), sum_l.data(), dst_l.data()).ok()) << what;
  std::vector<uint8_t> got = dst_l;
  if (layout == Layout::kNhwc) got = test::to_nchw_bytes(dst_l.data(), c.batch, c.out_channels, out_s, dst_elem);

  const std::string tag = what + " [" + kernel->implementation() + "]";
  if (q.dst_dtype == DType::kF32) {
    // f32 dst: the same FP32 operations in the same order (int32 acc -> float, * multiplier, + sum,
    // clamp), so also bit-exact.
    test::expect_all_equal(test::from_bytes<float>(got), test::from_bytes<float>(want), tag);
  } else if (q.dst_dtype == DType::kU8) {
    test::expect_all_equal(got, want, tag);
  } else {
    test::expect_all_equal(test::from_bytes<int8_t>(got), test::from_bytes<int8_t>(want), tag);
  }
}

class ConvInt8OnednnSweep : public ::testing::TestWithParam<ConvCase> {};

// Bit-exact: the kernel appends eltwise_round before oneDNN adds the dst zero point. Every
// implementation rank create_fastest() may pick is bit-exact too.
TEST_P(ConvInt8OnednnSweep, BitExactAgainstReference) {
  HQP_SKIP_WITHOUT_EXACT_INT8();
  for (int rank = 0; rank < kTuneCandidates; ++rank) {
    for (const Int8Case& q : kInt8Cases) {
      for (bool with_bias : {false, true}) {
        run_int8_case(GetParam(), q, Layout::kNhwc, with_bias, 0.0f, nullptr, rank);
      }
    }
  }
}

// Without VNNI (exact_without_vnni: the input doubled against halved weights, depthwise as it is):
// every geometry, output dtype, sum and clamp, u8 sources, every rank, bit for bit.
TEST_P(ConvInt8OnednnSweep, BitExactWithoutVnni) {
  if (int8_kernels_exact_on_this_cpu()) GTEST_SKIP() << "this CPU has VNNI: the kernels run as they are";
  for (int rank = 0; rank < kTuneCandidates; ++rank) {
    for (const Int8Case& q : kInt8Cases) {
      if (q.src_dtype != DType::kU8) continue;
      for (bool with_bias : {false, true}) {
        run_int8_case(GetParam(), q, Layout::kNhwc, with_bias, 0.0f, nullptr, rank, /*exact_without_vnni=*/true);
      }
    }
  }
}

TEST(ConvInt8Onednn, WithoutVnniRefusesS8InputAndSumsPastTheFloatRange) {
  if (int8_kernels_exact_on_this_cpu()) GTEST_SKIP() << "this CPU has VNNI";
  ConvInt8OnednnParams params;
  params.conv = to_params({"Deep", 1, 512, 8, 1, {4, 4}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}});
  params.exact_without_vnni = true;
  params.src_dtype = DType::kS8;
  Status st = ConvInt8Onednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kUnsupported);
  EXPECT_NE(st.message().find("s8 input"), std::string::npos) << st.message();
  params.src_dtype = DType::kU8;
  ASSERT_TRUE(ConvInt8Onednn::applies(params).ok());
  const std::vector<int8_t> wei(static_cast<size_t>(8 * 512 * 9), 100);  // 255 * 100 * 4608 > 2^24
  const std::vector<float> scales(8, 0.01f);
  Result<ConvInt8Onednn> k = ConvInt8Onednn::create(params, wei.data(), scales.data(), nullptr);
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(k.status().message().find("2^24"), std::string::npos) << k.status().message();
}

INSTANTIATE_TEST_SUITE_P(Geometries, ConvInt8OnednnSweep, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<ConvCase>& info) { return info.param.name; });

// multiplier = 0.5 exactly (src_scale 0.5, wei_scale 1, dst_scale 1): every odd accumulator is an
// exact .5 tie, and the dst zero point is odd. Without the explicit round post-op oneDNN computes
// round(v + zp), which differs from requantize.h's round(v) + zp by 1 LSB on exactly these ties.
TEST(ConvInt8Onednn, ExactOnHalfwayTiesWithOddZeroPoint) {
  HQP_SKIP_WITHOUT_EXACT_INT8();
  const ConvCase c{"TieGeometry", 1, 8, 8, 1, {6, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}};
  const std::vector<float> unit_scales(8, 1.0f);
  // Small data so that v = acc / 2 stays inside the u8 range around zero point 7 or 121.
  for (const Int8Case& q : {Int8Case{"TiesZp7", DType::kU8, 0, DType::kU8, 7, false, -kInf, kInf},
                            Int8Case{"TiesZp121", DType::kU8, 131, DType::kU8, 121, false, -kInf, kInf},
                            Int8Case{"TiesS8Zp-3", DType::kS8, 0, DType::kS8, -3, false, -kInf, kInf}}) {
    for (int rank = 0; rank < kTuneCandidates; ++rank) run_int8_case(c, q, Layout::kNhwc, true, 0.5f, &unit_scales, rank);
  }
}

TEST(ConvInt8Onednn, NchwLayoutEitherAppliesExactlyOrIsRejected) {
  HQP_SKIP_WITHOUT_EXACT_INT8();
  for (const ConvCase& c : {kCases[0], kCases[1], kCases[4]}) {
    ConvInt8OnednnParams params;
    params.conv = to_params(c);
    params.layout = Layout::kNchw;
    params.out.src_zero_point = 5;
    const Status st = ConvInt8Onednn::applies(params);
    if (st.ok()) {
      run_int8_case(c, kInt8Cases[0], Layout::kNchw, true, 0.0f, nullptr);
    } else {
      EXPECT_EQ(st.code(), StatusCode::kUnsupported) << st.message();
    }
  }
}

// ---------------- implementation ranks and create_fastest ----------------

// A 1x1 u8 conv on a small map: every x86 ISA oneDNN supports lists several INT8 implementations
// (e.g. brgconv_1x1, jit_int8_1x1, jit_int8 on AVX-512; the avx2 / sse41 ones, gemm), so the rank
// sweeps above do compare more than one.
ConvInt8OnednnParams small_pointwise_int8() {
  ConvInt8OnednnParams params;
  params.conv = to_params(ConvCase{"Pointwise", 1, 24, 48, 1, {7, 7}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}});
  params.has_bias = true;
  params.out.src_scale = 0.02f;
  params.out.src_zero_point = 3;
  params.out.dst_scale = 0.05f;
  params.out.dst_zero_point = 5;
  return params;
}

TEST(ConvInt8Onednn, SmallConvsListSeveralImplementationsAndRanksEnd) {
  HQP_SKIP_WITHOUT_EXACT_INT8();
  ConvInt8OnednnParams params = small_pointwise_int8();
  ASSERT_TRUE(ConvInt8Onednn::applies(params).ok());
  params.impl_rank = 1;
  EXPECT_TRUE(ConvInt8Onednn::applies(params).ok());
  params.impl_rank = 1000;  // past the end of oneDNN's list
  Status st = ConvInt8Onednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kUnsupported);
  EXPECT_NE(st.message().find("no implementation of that rank"), std::string::npos) << st.message();
  params.impl_rank = -1;
  st = ConvInt8Onednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("impl_rank=-1"), std::string::npos) << st.message();
}

// create_fastest picks by timing (machine-dependent), so the test checks what must hold whatever it
// picks: a working kernel, bit-equal to rank 0, among the first kTuneCandidates implementations.
TEST(ConvInt8Onednn, CreateFastestEqualsFirstChoiceBitForBit) {
  HQP_SKIP_WITHOUT_EXACT_INT8();
  const ConvInt8OnednnParams params = small_pointwise_int8();
  const ConvParams& cp = params.conv;
  const size_t src_n = static_cast<size_t>(cp.in_channels * 49), dst_n = static_cast<size_t>(cp.out_channels * 49);
  const std::vector<uint8_t> src = test::random_ints<uint8_t>(src_n, kRefTestSeed, 0, 255);
  const std::vector<int8_t> wei = test::random_ints<int8_t>(static_cast<size_t>(cp.out_channels * cp.in_channels),
                                                            kRefTestSeed + 1, -127, 127);
  const std::vector<float> scales = test::random_floats(static_cast<size_t>(cp.out_channels), kRefTestSeed + 2, 0.001f, 0.01f);
  const std::vector<int32_t> bias = test::random_ints<int32_t>(static_cast<size_t>(cp.out_channels), kRefTestSeed + 3, -5000, 5000);
  Result<ConvInt8Onednn> first = ConvInt8Onednn::create(params, wei.data(), scales.data(), bias.data());
  Result<ConvInt8Onednn> fastest = ConvInt8Onednn::create_fastest(params, wei.data(), scales.data(), bias.data());
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_TRUE(fastest.ok()) << fastest.status().message();
  std::vector<std::string> allowed;
  for (int rank = 0; rank < kTuneCandidates; ++rank) {
    ConvInt8OnednnParams p = params;
    p.impl_rank = rank;
    Result<ConvInt8Onednn> k = ConvInt8Onednn::create(p, wei.data(), scales.data(), bias.data());
    if (k.ok()) allowed.push_back(k->implementation());
  }
  EXPECT_NE(std::find(allowed.begin(), allowed.end(), fastest->implementation()), allowed.end())
      << fastest->implementation();
  std::vector<uint8_t> want(dst_n), got(dst_n, 0xAB);
  ASSERT_TRUE(first->run(src.data(), nullptr, want.data()).ok());
  ASSERT_TRUE(fastest->run(src.data(), nullptr, got.data()).ok());
  test::expect_all_equal(got, want, "create_fastest [" + fastest->implementation() + "]");
}

// ---------------- applies() rejections ----------------

TEST(ConvOnednnApplies, RejectsRank4Spatial) {
  ConvF32OnednnParams params;
  params.conv.spatial_rank = 4;
  const Status st = ConvF32Onednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kUnsupported);
  EXPECT_NE(st.message().find("spatial_rank=4"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("conv_f32__onednn"), std::string::npos) << st.message();
}

TEST(ConvOnednnApplies, RejectsGroupsNotDividingChannels) {
  ConvF32OnednnParams params;
  params.conv = to_params(kCases[0]);
  params.conv.groups = 2;  // IC = 3
  const Status st = ConvF32Onednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("groups=2"), std::string::npos) << st.message();
}

TEST(ConvOnednnApplies, RejectsNegativePadding) {
  ConvF32OnednnParams params;
  params.conv = to_params(kCases[0]);
  params.conv.pad_begin[1] = -1;
  EXPECT_EQ(ConvF32Onednn::applies(params).code(), StatusCode::kInvalidArgument);
}

TEST(ConvOnednnApplies, RejectsInt8Dtypes) {
  ConvInt8OnednnParams params;
  params.conv = to_params(kCases[0]);
  params.src_dtype = DType::kF32;
  Status st = ConvInt8Onednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kUnsupported);
  EXPECT_NE(st.message().find("src_dtype=f32"), std::string::npos) << st.message();
  params.src_dtype = DType::kU8;
  params.out.dst_dtype = DType::kS32;
  st = ConvInt8Onednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kUnsupported);
  EXPECT_NE(st.message().find("dst_dtype=s32"), std::string::npos) << st.message();
}

TEST(ConvOnednnApplies, RejectsInt8QuantizationParams) {
  ConvInt8OnednnParams params;
  params.conv = to_params(kCases[0]);
  params.src_dtype = DType::kS8;
  params.out.src_zero_point = 200;
  Status st = ConvInt8Onednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("src_zero_point=200"), std::string::npos) << st.message();
  params.out.src_zero_point = 0;
  params.out.dst_scale = 0.0f;
  st = ConvInt8Onednn::applies(params);
  EXPECT_NE(st.message().find("dst_scale=0"), std::string::npos) << st.message();
  params.out.dst_scale = 1.0f;
  params.out.act_min = 1.0f;
  params.out.act_max = 0.0f;
  st = ConvInt8Onednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("act_min"), std::string::npos) << st.message();
}

// On a CPU without VNNI oneDNN's INT8 convolutions and inner products would saturate u8*s8 pair
// sums: applies() refuses them there (naming the reason), and accepts them where VNNI exists.
TEST(ConvOnednnApplies, Int8KernelsRunOnlyWithVnni) {
  ConvInt8OnednnParams conv;
  conv.conv = to_params(kCases[0]);
  GemmInt8OnednnParams gemm;
  gemm.m = 4;
  gemm.n = 8;
  gemm.k = 16;
  const Status c = ConvInt8Onednn::applies(conv);
  const Status g = GemmInt8Onednn::applies(gemm);
  if (int8_kernels_exact_on_this_cpu()) {
    EXPECT_TRUE(c.ok()) << c.message();
    EXPECT_TRUE(g.ok()) << g.message();
  } else {
    for (const Status& st : {c, g}) {
      EXPECT_EQ(st.code(), StatusCode::kUnsupported);
      EXPECT_NE(st.message().find("no VNNI"), std::string::npos) << st.message();
    }
  }
}

TEST(ConvOnednnApplies, CreateRejectsNonPositiveWeightScale) {
  ConvInt8OnednnParams params;
  params.conv = to_params(kCases[0]);
  std::vector<int8_t> wei(5 * 3 * 9, 1);
  std::vector<float> scales(5, 0.01f);
  scales[3] = 0.0f;
  Result<ConvInt8Onednn> kernel = ConvInt8Onednn::create(params, wei.data(), scales.data(), nullptr);
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(kernel.status().message().find("channel 3"), std::string::npos) << kernel.status().message();
}

// ---------------- Exact INT8 accumulators (any CPU) ----------------

enum class AccData { kRandom, kSaturating, kLargeSums };

// src / wei for ConvInt8AccOnednn: random; saturating (src near 255 and runs of same-sign weights
// near +-127: without the split, u8*s8 pair sums would overflow int16); large sums (src 200..255,
// weights 40..127: accumulators far above 2^24, so an FP32 pass would round them).
void acc_data(AccData kind, size_t src_n, size_t wei_n, uint32_t seed, std::vector<uint8_t>& src,
              std::vector<int8_t>& wei) {
  switch (kind) {
    case AccData::kRandom:
      src = ::hqp::test::random_ints<uint8_t>(src_n, seed, 0, 255);
      wei = ::hqp::test::random_ints<int8_t>(wei_n, seed + 1, -127, 127);
      break;
    case AccData::kSaturating: {
      src = ::hqp::test::random_ints<uint8_t>(src_n, seed, 250, 255);
      wei = ::hqp::test::random_ints<int8_t>(wei_n, seed + 1, 120, 127);
      for (size_t i = 0; i < wei_n; ++i) {
        if ((i / 8) % 2 == 1) wei[i] = static_cast<int8_t>(-wei[i] - 1);  // runs of -128..-121 too
      }
      break;
    }
    case AccData::kLargeSums:
      src = ::hqp::test::random_ints<uint8_t>(src_n, seed, 200, 255);
      wei = ::hqp::test::random_ints<int8_t>(wei_n, seed + 1, 40, 127);
      break;
  }
}

void expect_acc_equals_reference(const ConvCase& c, AccData kind, int32_t zero_point) {
  const ConvParams cp = to_params(c);
  const int64_t in_s = spatial(cp.in_size, cp.spatial_rank), out_s = spatial(cp.out_size, cp.spatial_rank);
  const int64_t taps = spatial(cp.kernel, cp.spatial_rank);
  std::vector<uint8_t> src;
  std::vector<int8_t> wei;
  acc_data(kind, static_cast<size_t>(cp.batch * cp.in_channels * in_s),
           static_cast<size_t>(cp.out_channels * cp.in_channels / cp.groups * taps), kRefTestSeed, src, wei);
  std::vector<int32_t> expected(static_cast<size_t>(cp.batch * cp.out_channels * out_s));
  conv_u8s8_acc__ref(cp, zero_point, src.data(), wei.data(), expected.data());

  ConvInt8AccOnednnParams params;
  params.conv = cp;
  params.src_zero_point = zero_point;
  ASSERT_TRUE(ConvInt8AccOnednn::applies(params).ok()) << ConvInt8AccOnednn::applies(params).message();
  Result<ConvInt8AccOnednn> kernel = ConvInt8AccOnednn::create(params, wei.data());
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  const std::vector<uint8_t> src_nhwc = ::hqp::test::to_layout(src, Layout::kNhwc, cp.batch, cp.in_channels, in_s);
  const int pieces = kernel->output_pieces();
  std::vector<int32_t> acc(expected.size() * static_cast<size_t>(pieces), 12345);
  ASSERT_TRUE(kernel->run(src_nhwc.data(), acc.data()).ok());
  std::vector<int32_t> summed(expected.size(), 0);  // [rows, pieces, OC] -> [rows, OC]
  for (size_t r = 0; r < expected.size() / static_cast<size_t>(cp.out_channels); ++r) {
    for (int k = 0; k < pieces; ++k) {
      for (int64_t oc = 0; oc < cp.out_channels; ++oc) {
        summed[r * cp.out_channels + oc] += acc[(r * pieces + k) * cp.out_channels + oc];
      }
    }
  }
  EXPECT_EQ(pieces, c.groups == 1 && kernel->ic_splits() == 1 ? 2 : 1) << c.name;
  const std::vector<int32_t> got = ::hqp::test::from_layout(summed, Layout::kNhwc, cp.batch, cp.out_channels, out_s);
  int64_t mismatches = 0;
  for (size_t i = 0; i < got.size(); ++i) mismatches += got[i] != expected[i];
  EXPECT_EQ(mismatches, 0) << c.name << " (" << kernel->implementation() << ", halves " << kernel->halves()
                           << ", input slices " << kernel->ic_splits() << ")";
}

class ConvInt8AccOnednnSweep : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvInt8AccOnednnSweep, ExactOnEveryData) {
  const ConvCase& c = GetParam();
  ConvInt8AccOnednnParams params;
  params.conv = to_params(c);
  const Status applies = ConvInt8AccOnednn::applies(params);
  const bool depthwise = c.groups > 1 && c.in_channels == c.groups && c.out_channels == c.groups;
  if (!applies.ok()) {
    // Grouped convolutions whose halved groups oneDNN has no optimized u8 code for (few channels
    // per group): the runtime falls back to the next candidate. Plain and depthwise ones must apply.
    EXPECT_TRUE(c.groups > 1 && !depthwise) << applies.message();
    EXPECT_EQ(applies.code(), StatusCode::kUnsupported);
    GTEST_SKIP() << applies.message();
  }
  for (AccData kind : {AccData::kRandom, AccData::kSaturating, AccData::kLargeSums}) {
    for (int32_t zp : {0, 131}) expect_acc_equals_reference(c, kind, zp);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ConvInt8AccOnednnSweep, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param.name; });

// Sums that reach 255 * 127 * 4608 (ResNet's 3x3 x 512 channels): the input channels are sliced
// until every piece stays below 2^24, and the result is still exact.
TEST(ConvInt8AccOnednn, SlicesInputChannelsForLargeReductions) {
  const ConvCase c{"Deep3x3", 1, 512, 16, 1, {5, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}};
  expect_acc_equals_reference(c, AccData::kLargeSums, 0);
  expect_acc_equals_reference(c, AccData::kLargeSums, 200);
  ConvInt8AccOnednnParams params;
  params.conv = to_params(c);
  const std::vector<int8_t> wei(static_cast<size_t>(16 * 512 * 9), 127);
  Result<ConvInt8AccOnednn> kernel = ConvInt8AccOnednn::create(params, wei.data());
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  EXPECT_EQ(kernel->halves(), 2);
  EXPECT_GT(kernel->ic_splits(), 1);  // 255 * 64 * 4608 > 2^24
}

TEST(ConvInt8AccOnednn, RejectsBadZeroPoint) {
  ConvInt8AccOnednnParams params;
  params.conv = to_params(kCases[0]);
  params.src_zero_point = 300;
  const Status st = ConvInt8AccOnednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("zero point"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace hqp::kernels::onednn
