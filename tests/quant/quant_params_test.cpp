// quant_params: activation parameters from ranges, s8 per-channel weights, s32 biases.
#include <cmath>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "kernels/ref/requantize.h"
#include "quant/quant_params.h"

namespace hqp::test {
namespace {

using quant::ActivationScheme;
using quant::ValueRange;

ValueRange range(float lo, float hi) {
  ValueRange r;
  r.add(lo);
  r.add(hi);
  return r;
}

// q(x) as ONNX QuantizeLinear computes it.
int32_t quantize(float x, const ir::QuantParams& p) {
  const bool u8 = p.storage == DType::kU8;
  return kernels::round_and_saturate(x / p.scale[0], p.zero_point[0], u8 ? 0 : -128, u8 ? 255 : 127);
}

TEST(ActivationParams, U8CoversTheRangeAndRepresentsZeroExactly) {
  const ir::QuantParams p = quant::activation_params(range(-1.0f, 3.0f), ActivationScheme::kU8Asymmetric);
  EXPECT_EQ(p.storage, DType::kU8);
  EXPECT_FLOAT_EQ(p.scale[0], 4.0f / 255.0f);
  EXPECT_EQ(p.zero_point[0], 64);  // round(1 / (4/255)) = round(63.75)
  EXPECT_FALSE(p.axis.has_value());
  EXPECT_EQ(quantize(0.0f, p), 64);
  EXPECT_EQ(quantize(-1.0f, p), 0);
  EXPECT_EQ(quantize(3.0f, p), 255);
}

TEST(ActivationParams, U8OfANonNegativeRangeHasZeroPointZero) {
  const ir::QuantParams relu = quant::activation_params(range(0.0f, 6.0f), ActivationScheme::kU8Asymmetric);
  EXPECT_EQ(relu.zero_point[0], 0);
  EXPECT_FLOAT_EQ(relu.scale[0], 6.0f / 255.0f);
  // A range away from zero is widened to include it.
  const ir::QuantParams pos = quant::activation_params(range(2.0f, 5.0f), ActivationScheme::kU8Asymmetric);
  EXPECT_EQ(pos.zero_point[0], 0);
  EXPECT_FLOAT_EQ(pos.scale[0], 5.0f / 255.0f);
  const ir::QuantParams neg = quant::activation_params(range(-5.0f, -2.0f), ActivationScheme::kU8Asymmetric);
  EXPECT_EQ(neg.zero_point[0], 255);
}

TEST(ActivationParams, S8IsSymmetric) {
  const ir::QuantParams p = quant::activation_params(range(-2.0f, 1.0f), ActivationScheme::kS8Symmetric);
  EXPECT_EQ(p.storage, DType::kS8);
  EXPECT_EQ(p.zero_point[0], 0);
  EXPECT_FLOAT_EQ(p.scale[0], 2.0f / 127.0f);
  EXPECT_EQ(quantize(-2.0f, p), -127);
  EXPECT_EQ(quantize(1.0f, p), 64);  // 63.5 rounds half to even
}

TEST(ActivationParams, EmptyOrZeroWidthRangeGetsScaleOne) {
  for (ActivationScheme s : {ActivationScheme::kU8Asymmetric, ActivationScheme::kS8Symmetric}) {
    const ir::QuantParams empty = quant::activation_params(ValueRange{}, s);
    EXPECT_EQ(empty.scale[0], 1.0f);
    EXPECT_EQ(empty.zero_point[0], 0);
    const ir::QuantParams zero = quant::activation_params(range(0.0f, 0.0f), s);
    EXPECT_EQ(zero.scale[0], 1.0f);
  }
}

TEST(QuantizeWeights, PerOutputChannelAlongAxis0) {
  // wei [3, 2]: channel 0 max 1.27, channel 1 all zero, channel 2 with scale 1 and a tie.
  const Tensor w = Tensor::from_vector<float>({3, 2}, {1.27f, -0.5f, 0.0f, 0.0f, -127.0f, 2.5f});
  const quant::QuantizedWeights q = quant::quantize_weights(w, 0);
  ASSERT_EQ(q.scale.size(), 3u);
  EXPECT_FLOAT_EQ(q.scale[0], 0.01f);
  EXPECT_EQ(q.scale[1], 1.0f);
  EXPECT_EQ(q.scale[2], 1.0f);
  EXPECT_EQ(q.data.dtype(), DType::kS8);
  const int8_t* d = q.data.data<int8_t>();
  EXPECT_EQ(d[0], 127);
  EXPECT_EQ(d[1], -50);
  EXPECT_EQ(d[2], 0);
  EXPECT_EQ(d[3], 0);
  EXPECT_EQ(d[4], -127);
  EXPECT_EQ(d[5], 2);  // 2.5 -> 2 (half to even)
}

TEST(QuantizeWeights, PerOutputChannelAlongAxis1AndMinimumScale) {
  // Gemm weight [K=2, N=3] with transB=0: channels along axis 1.
  const Tensor w = Tensor::from_vector<float>({2, 3}, {63.5f, 1.0f, -3.0f, -127.0f, 0.5f, 0.0f});
  const quant::QuantizedWeights q = quant::quantize_weights(w, 1, {0.0f, 0.1f, 0.0f});
  EXPECT_EQ(q.scale[0], 1.0f);
  EXPECT_FLOAT_EQ(q.scale[1], 0.1f);  // raised from 1/127 to the minimum
  EXPECT_FLOAT_EQ(q.scale[2], 3.0f / 127.0f);
  const int8_t* d = q.data.data<int8_t>();
  EXPECT_EQ(d[0], 64);  // 63.5 -> 64 (half to even)
  EXPECT_EQ(d[1], 10);
  EXPECT_EQ(d[2], -127);
  EXPECT_EQ(d[3], -127);
  EXPECT_EQ(d[4], 5);
}

TEST(QuantizeBias, UsesTheAccumulatorScale) {
  const Tensor b = Tensor::from_vector<float>({2}, {0.5f, -0.25f});
  const float sx = 0.02f;
  Result<quant::QuantizedBias> q = quant::quantize_bias(b, sx, {0.01f, 0.005f});
  HQP_ASSERT_OK(q.status());
  EXPECT_EQ(q->scale[0], sx * 0.01f);
  EXPECT_EQ(q->scale[1], sx * 0.005f);
  EXPECT_EQ(q->data.dtype(), DType::kS32);
  EXPECT_EQ(q->data.data<int32_t>()[0], 2500);
  EXPECT_EQ(q->data.data<int32_t>()[1], -2500);
  // A broadcast (one-element) bias fills every channel.
  Result<quant::QuantizedBias> one = quant::quantize_bias(Tensor::from_vector<float>({1}, {0.5f}), sx, {0.01f, 0.01f});
  HQP_ASSERT_OK(one.status());
  EXPECT_EQ(one->data.data<int32_t>()[1], 2500);
}

TEST(QuantizeBias, TooLargeForTheAccumulatorIsOutOfRangeUnlessTheWeightScaleGrows) {
  const Tensor b = Tensor::from_vector<float>({1}, {100.0f});
  const float sx = 0.01f;
  const Tensor w = Tensor::from_vector<float>({1, 2}, {1e-6f, -1e-6f});
  quant::QuantizedWeights tiny = quant::quantize_weights(w, 0);
  Result<quant::QuantizedBias> bad = quant::quantize_bias(b, sx, tiny.scale);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(bad.status().message().find("cannot quantize bias"), std::string::npos) << bad.status().message();
  const quant::QuantizedWeights grown = quant::quantize_weights(w, 0, quant::min_bias_weight_scale(b, sx, 1));
  Result<quant::QuantizedBias> ok = quant::quantize_bias(b, sx, grown.scale);
  HQP_ASSERT_OK(ok.status());
  EXPECT_LE(std::abs(ok->data.data<int32_t>()[0]), quant::kMaxBiasQ);
}

}  // namespace
}  // namespace hqp::test
