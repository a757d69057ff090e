// Tests of gemm_f32__onednn against gemm_f32__ref (+ reference activations) and of
// gemm_{u8,s8}s8__onednn against gemm_u8s8__ref / gemm_s8s8__ref (bit-exact), both weight
// layouts, awkward sizes, plus applies() rejections.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/onednn/gemm_onednn.h"
#include "kernels/ref/gemm.h"
#include "kernels/ref/gemm_int8.h"
#include "kernels/ref/ref_test_util.h"
#include "onednn_test_util.h"
#include "onednn_tolerances.h"

namespace hqp::kernels::onednn {
namespace {

using test::kGemmOnednnTol;
using test::kRefTestSeed;

struct GemmCase {
  std::string name;
  int64_t m, n, k;
};

const GemmCase kCases[] = {
    {"Vector", 1, 1, 1},          {"ResNetFc", 1, 1000, 512},  {"MobileNetFc", 2, 1000, 1024},
    {"Primes", 7, 13, 31},        {"TileEdge", 3, 17, 65},      {"LongK", 1, 5, 1537},
};

// [N, K] row-major -> [K, N] row-major.
template <typename T>
std::vector<T> transpose(const std::vector<T>& w, int64_t n, int64_t k) {
  std::vector<T> t(w.size());
  for (int64_t j = 0; j < n; ++j)
    for (int64_t kk = 0; kk < k; ++kk) t[static_cast<size_t>(kk * n + j)] = w[static_cast<size_t>(j * k + kk)];
  return t;
}

class GemmOnednnSweep : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmOnednnSweep, F32MatchesReference) {
  const GemmCase& c = GetParam();
  const std::vector<float> src = test::random_floats(static_cast<size_t>(c.m * c.k), kRefTestSeed);
  const std::vector<float> wei = test::random_floats(static_cast<size_t>(c.n * c.k), kRefTestSeed + 1);  // [N, K]
  const std::vector<float> bias = test::random_floats(static_cast<size_t>(c.n), kRefTestSeed + 2);
  const std::vector<float> sum = test::random_floats(static_cast<size_t>(c.m * c.n), kRefTestSeed + 3);
  for (bool trans_b : {true, false}) {
    for (const auto& [act, has_sum] : {std::pair{Activation::kNone, false}, std::pair{Activation::kRelu, true},
                                       std::pair{Activation::kHardSwish, false}, std::pair{Activation::kSwish, false}}) {
      const std::string what = c.name + (trans_b ? "/transB" : "/noTransB") + "/" + std::string(activation_name(act)) +
                               (has_sum ? "+sum" : "");
      GemmF32OnednnParams params{c.m, c.n, c.k, trans_b, true, {has_sum, act, 0.0f, 0.0f}};
      const std::vector<float> wei_user = trans_b ? wei : transpose(wei, c.n, c.k);
      Result<GemmF32Onednn> kernel = GemmF32Onednn::create(params, wei_user.data(), bias.data());
      ASSERT_TRUE(kernel.ok()) << what << ": " << kernel.status().message();
      GemmParams ref{c.m, c.n, c.k, false, trans_b, 1.0f, 1.0f, 0, 1};
      std::vector<float> want(static_cast<size_t>(c.m * c.n));
      gemm_f32__ref(ref, src.data(), wei_user.data(), bias.data(), want.data());
      if (has_sum) {
        for (size_t i = 0; i < want.size(); ++i) want[i] += sum[i];
      }
      test::apply_activation_ref(act, 0.0f, 0.0f, want);
      std::vector<float> got(want.size(), 777.0f);
      ASSERT_TRUE(kernel->run(src.data(), sum.data(), got.data()).ok());
      test::expect_all_near(got, want, kGemmOnednnTol, what + " [" + kernel->implementation() + "]");
    }
  }
}

// AlexNet's classifier at batch 1 in miniature: two rows against 33.6 MB of weights, which the
// kernel keeps plain for oneDNN's GEMV (GemmF32Onednn::plain_weights); same results as the
// reference, in both weight layouts, and the weights come back out unchanged.
TEST(GemmF32OnednnStreaming, PlainWeightsMatchReference) {
  const int64_t m = 2, n = 8192, k = 1025;  // K within kGemmOnednnTol's range
  const std::vector<float> src = test::random_floats(static_cast<size_t>(m * k), kRefTestSeed);
  const std::vector<float> wei = test::random_floats(static_cast<size_t>(n * k), kRefTestSeed + 1);
  const std::vector<float> bias = test::random_floats(static_cast<size_t>(n), kRefTestSeed + 2);
  for (bool trans_b : {true, false}) {
    GemmF32OnednnParams params{m, n, k, trans_b, true, {false, Activation::kRelu, 0.0f, 0.0f}};
    EXPECT_TRUE(GemmF32Onednn::plain_weights(params));
    EXPECT_FALSE(GemmF32Onednn::plain_weights({64, n, k, trans_b, true, {}}));  // a batch: blocked
    EXPECT_FALSE(GemmF32Onednn::plain_weights({1, 1000, 512, trans_b, true, {}}));  // ResNet's fc: cached
    const std::vector<float> wei_user = trans_b ? wei : transpose(wei, n, k);
    Result<GemmF32Onednn> kernel = GemmF32Onednn::create(params, wei_user.data(), bias.data());
    ASSERT_TRUE(kernel.ok()) << kernel.status().message();
    GemmParams ref{m, n, k, false, trans_b, 1.0f, 1.0f, 0, 1};
    std::vector<float> want(static_cast<size_t>(m * n));
    gemm_f32__ref(ref, src.data(), wei_user.data(), bias.data(), want.data());
    test::apply_activation_ref(Activation::kRelu, 0.0f, 0.0f, want);
    std::vector<float> got(want.size(), 777.0f);
    ASSERT_TRUE(kernel->run(src.data(), nullptr, got.data()).ok());
    test::expect_all_near(got, want, kGemmOnednnTol, std::string(trans_b ? "transB" : "noTransB") + " [" +
                                                         kernel->implementation() + "]");
    std::vector<float> back(wei_user.size());
    ASSERT_TRUE(kernel->unpack_weights(back.data()).ok());
    EXPECT_EQ(back, wei_user);
  }
}

// With VNNI as oneDNN runs it; without, with exact_without_vnni (the input doubled against halved
// weights; u8 sources; refused where sums could pass 2^24, i.e. long K with full-range weights).
TEST_P(GemmOnednnSweep, Int8BitExact) {
  const bool vnni = int8_kernels_exact_on_this_cpu();
  const GemmCase& c = GetParam();
  const std::vector<int8_t> wei = test::random_ints<int8_t>(static_cast<size_t>(c.n * c.k), kRefTestSeed, -127, 127);
  const std::vector<float> wei_scales =
      test::random_floats(static_cast<size_t>(c.n), kRefTestSeed + 1, 0.001f, 0.01f);
  const std::vector<int32_t> bias = test::random_ints<int32_t>(static_cast<size_t>(c.n), kRefTestSeed + 2, -9000, 9000);
  const std::vector<uint8_t> src = test::random_ints<uint8_t>(static_cast<size_t>(c.m * c.k), kRefTestSeed + 3, 0, 255);
  const std::vector<uint8_t> sum = test::random_ints<uint8_t>(static_cast<size_t>(c.m * c.n), kRefTestSeed + 4, 0, 255);
  struct Q {
    std::string name;
    DType src_dtype;
    int32_t src_zp;
    DType dst_dtype;
    int32_t dst_zp;
    bool has_sum;
    float act_min;
  };
  for (const Q& q : {Q{"U8ToU8", DType::kU8, 129, DType::kU8, 5, false, -INFINITY},
                     Q{"U8ToU8SumRelu", DType::kU8, 3, DType::kU8, 77, true, 0.0f},
                     Q{"S8ToS8", DType::kS8, 0, DType::kS8, -7, false, -INFINITY},
                     Q{"U8ToF32Relu", DType::kU8, 128, DType::kF32, 0, false, 0.0f}}) {
    if (!vnni && q.src_dtype != DType::kU8) continue;
    for (bool trans_b : {true, false}) {
      const std::string what = c.name + "/" + q.name + (trans_b ? "/transB" : "/noTransB");
      GemmInt8OnednnParams params;
      params.exact_without_vnni = !vnni;
      params.m = c.m;
      params.n = c.n;
      params.k = c.k;
      params.trans_b = trans_b;
      params.src_dtype = q.src_dtype;
      params.has_bias = true;
      Int8OutputParams& out = params.out;
      out.src_scale = 0.03f;
      out.src_zero_point = q.src_zp;
      out.dst_dtype = q.dst_dtype;
      out.dst_scale = 0.02f * std::sqrt(static_cast<float>(c.k));
      out.dst_zero_point = q.dst_zp;
      out.has_sum = q.has_sum;
      out.sum_scale = out.dst_scale * 0.61f;
      out.sum_zero_point = 100;
      out.act_min = q.act_min;
      const std::vector<int8_t> wei_user = trans_b ? wei : transpose(wei, c.n, c.k);
      Result<GemmInt8Onednn> kernel = GemmInt8Onednn::create(params, wei_user.data(), wei_scales.data(), bias.data());
      if (!vnni && c.k > 512 && !kernel.ok() && kernel.status().message().find("2^24") != std::string::npos) continue;
      ASSERT_TRUE(kernel.ok()) << what << ": " << kernel.status().message();
      EXPECT_EQ(kernel->doubles_input(), !vnni) << what;

      const size_t dst_bytes = static_cast<size_t>(c.m * c.n) * dtype_size(q.dst_dtype);
      std::vector<uint8_t> want(dst_bytes), got(dst_bytes, 0xCD);
      if (q.src_dtype == DType::kU8) {
        gemm_u8s8__ref(c.m, c.n, c.k, out, src.data(), wei.data(), wei_scales.data(), bias.data(), sum.data(),
                       want.data());
      } else {
        gemm_s8s8__ref(c.m, c.n, c.k, out, reinterpret_cast<const int8_t*>(src.data()), wei.data(), wei_scales.data(),
                       bias.data(), sum.data(), want.data());
      }
      ASSERT_TRUE(kernel->run(src.data(), sum.data(), got.data()).ok());
      const std::string tag = what + " [" + kernel->implementation() + "]";
      if (q.dst_dtype == DType::kF32) {
        test::expect_all_equal(test::from_bytes<float>(got), test::from_bytes<float>(want), tag);
      } else {
        test::expect_all_equal(got, want, tag);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, GemmOnednnSweep, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<GemmCase>& info) { return info.param.name; });

TEST(GemmOnednnApplies, RejectsEmptyGemm) {
  GemmF32OnednnParams params;
  params.k = 0;
  const Status st = GemmF32Onednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("k=0"), std::string::npos) << st.message();
}

TEST(GemmOnednnApplies, RejectsInt8ZeroPointOutsideDtype) {
  GemmInt8OnednnParams params;
  params.out.dst_dtype = DType::kS8;
  params.out.dst_zero_point = 128;
  const Status st = GemmInt8Onednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("dst_zero_point=128"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("gemm_u8s8__onednn"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace hqp::kernels::onednn
