// The AVX-512 builds of the INT8 element-wise kernels against the reference kernels, bit for bit:
// random codes and parameters, every layout and broadcast form, lengths with vector tails, and
// for QuantizeLinear the edge values (NaN, +-Inf, ties, saturation). On a CPU without AVX-512 both
// take the reference path (the test prints which ran).
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/quantize.h"
#include "kernels/x86/quantize_x86.h"

namespace hqp::kernels {
namespace {

template <typename Q>
std::vector<Q> random_codes(std::mt19937& rng, int64_t n) {
  std::uniform_int_distribution<int> d(std::numeric_limits<Q>::min(), std::numeric_limits<Q>::max());
  std::vector<Q> v(static_cast<size_t>(n));
  for (Q& x : v) x = static_cast<Q>(d(rng));
  return v;
}

template <typename Q>
int32_t random_zero(std::mt19937& rng) {
  return std::uniform_int_distribution<int>(std::numeric_limits<Q>::min(), std::numeric_limits<Q>::max())(rng);
}

float random_scale(std::mt19937& rng) { return std::uniform_real_distribution<float>(0.001f, 0.2f)(rng); }

template <typename Q>
void check_qadd_qmul(std::mt19937& rng, void (*add_ref)(const QAddParams&, const Q*, const Q*, Q*),
                     void (*add_x86)(const QAddParams&, const Q*, const Q*, Q*),
                     void (*mul_ref)(const QMulParams&, const Q*, const Q*, Q*),
                     void (*mul_x86)(const QMulParams&, const Q*, const Q*, Q*)) {
  for (int64_t n : {1, 15, 16, 17, 63, 64, 65, 1000, 3 * 56 * 56 + 5}) {
    const std::vector<Q> a = random_codes<Q>(rng, n), b = random_codes<Q>(rng, n);
    QAddParams p{n, random_scale(rng), random_scale(rng), random_scale(rng), random_zero<Q>(rng), random_zero<Q>(rng),
                 random_zero<Q>(rng)};
    std::vector<Q> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
    add_ref(p, a.data(), b.data(), want.data());
    add_x86(p, a.data(), b.data(), got.data());
    EXPECT_EQ(got, want) << "qadd n " << n;
    QMulParams m;
    m.batch = n;
    m.a_scale = p.a_scale, m.b_scale = p.b_scale, m.y_scale = p.y_scale;
    m.a_zero = p.a_zero, m.b_zero = p.b_zero, m.y_zero = p.y_zero;
    mul_ref(m, a.data(), b.data(), want.data());
    mul_x86(m, a.data(), b.data(), got.data());
    EXPECT_EQ(got, want) << "qmul n " << n;
  }
  for (bool channels_last : {false, true}) {  // the SE gate, one value per (batch, channel)
    for (auto [batch, channels, spatial] : {std::tuple<int64_t, int64_t, int64_t>{1, 16, 49}, {2, 72, 196}, {1, 3, 1}}) {
      const int64_t n = batch * channels * spatial;
      const std::vector<Q> a = random_codes<Q>(rng, n), g = random_codes<Q>(rng, batch * channels);
      QMulParams m{batch, channels, spatial, true, channels_last, random_scale(rng), random_scale(rng),
                   random_scale(rng), random_zero<Q>(rng), random_zero<Q>(rng), random_zero<Q>(rng)};
      std::vector<Q> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
      mul_ref(m, a.data(), g.data(), want.data());
      mul_x86(m, a.data(), g.data(), got.data());
      EXPECT_EQ(got, want) << "qmul gate channels_last " << channels_last << " C " << channels;
    }
  }
}

template <typename Q>
void check_qgap(std::mt19937& rng, void (*ref)(const QGlobalAveragePoolParams&, const Q*, Q*, float*),
                void (*x86)(const QGlobalAveragePoolParams&, const Q*, Q*, float*)) {
  for (bool channels_last : {false, true}) {
    for (auto [batch, channels, spatial] : {std::tuple<int64_t, int64_t, int64_t>{1, 16, 3136}, {2, 96, 49}, {1, 5, 1}}) {
      const std::vector<Q> x = random_codes<Q>(rng, batch * channels * spatial);
      QGlobalAveragePoolParams p{batch, channels, spatial, channels_last, random_scale(rng), random_scale(rng),
                                 random_zero<Q>(rng), random_zero<Q>(rng)};
      std::vector<Q> want(static_cast<size_t>(batch * channels)), got(want.size());
      std::vector<float> scratch(static_cast<size_t>(channels));
      ref(p, x.data(), want.data(), scratch.data());
      x86(p, x.data(), got.data(), scratch.data());
      EXPECT_EQ(got, want) << "qgap channels_last " << channels_last << " C " << channels;
    }
  }
}

TEST(QuantizeX86, ElementwiseKernelsEqualTheReference) {
  std::printf("[ int8     ] path: %s\n", std::string(int8_eltwise__x86_isa()).c_str());
  std::mt19937 rng(7);
  check_qadd_qmul<uint8_t>(rng, qadd_u8__ref, qadd_u8__x86, qmul_u8__ref, qmul_u8__x86);
  check_qadd_qmul<int8_t>(rng, qadd_s8__ref, qadd_s8__x86, qmul_s8__ref, qmul_s8__x86);
  check_qgap<uint8_t>(rng, qglobal_average_pool_u8__ref, qglobal_average_pool_u8__x86);
  check_qgap<int8_t>(rng, qglobal_average_pool_s8__ref, qglobal_average_pool_s8__x86);
}

TEST(QuantizeX86, QuantizeLinearEqualsTheReferenceOnEdgeValues) {
  std::mt19937 rng(11);
  std::vector<float> x;
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {0.0f, -0.0f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 127.5f, 128.5f, -128.5f, 1e30f, -1e30f, inf, -inf,
                  std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::denorm_min()}) {
    x.push_back(v);
  }
  std::normal_distribution<float> d(0.0f, 50.0f);
  while (x.size() < 1037) x.push_back(d(rng));
  const int64_t n = static_cast<int64_t>(x.size());
  for (float scale : {1.0f, 0.5f, 0.0371f, 3.0f}) {
    for (int32_t zero : {0, 3, 128, 255}) {
      QuantizeParams p;
      p.inner = n;
      const uint8_t zu = static_cast<uint8_t>(zero);
      const int8_t zs = static_cast<int8_t>(zero - 128);
      std::vector<uint8_t> wu(static_cast<size_t>(n)), gu(wu.size());
      std::vector<int8_t> ws(static_cast<size_t>(n)), gs(ws.size());
      quantize_linear_u8__ref(p, x.data(), &scale, &zu, wu.data());
      quantize_linear_u8__x86(p, x.data(), &scale, &zu, gu.data());
      EXPECT_EQ(gu, wu) << "u8 scale " << scale << " zero " << zero;
      quantize_linear_s8__ref(p, x.data(), &scale, &zs, ws.data());
      quantize_linear_s8__x86(p, x.data(), &scale, &zs, gs.data());
      EXPECT_EQ(gs, ws) << "s8 scale " << scale << " zero " << zs;
    }
  }
}

// Per channel on channels-last data (the axis innermost: inner = 1, the loop form the runtime uses
// for NNCF's per-channel activations in NHWC) equals the channels-first loop on the same elements,
// bit for bit, edge values included.
// Channels-last rows narrower than 64 channels (blocks of 16 down the rows, then a tail) and
// wider ones (one loop along each row).
class PerChannelQuantizeX86 : public ::testing::TestWithParam<int64_t> {};

TEST_P(PerChannelQuantizeX86, ChannelsLastEqualsChannelsFirst) {
  std::mt19937 rng(5);
  const int64_t n = 2, c = GetParam(), hw = 77;  // 154 rows: tiles of 64 rows and a partial one
  std::vector<float> nchw(static_cast<size_t>(n * c * hw));
  std::normal_distribution<float> d(0.0f, 40.0f);
  for (float& v : nchw) v = d(rng);
  const float inf = std::numeric_limits<float>::infinity();
  const float edges[] = {0.5f, -0.5f, 1.5f, 2.5f, 1e30f, -inf, std::numeric_limits<float>::quiet_NaN(), -0.0f};
  for (size_t i = 0; i < std::size(edges); ++i) nchw[i * 41] = edges[i];
  std::vector<float> scale(static_cast<size_t>(c));
  std::uniform_real_distribution<float> ds(0.01f, 2.0f);
  for (float& s : scale) s = ds(rng);
  std::vector<uint8_t> zu(static_cast<size_t>(c));
  std::vector<int8_t> zs(static_cast<size_t>(c));
  for (int64_t k = 0; k < c; ++k) {
    zu[static_cast<size_t>(k)] = static_cast<uint8_t>(random_zero<uint8_t>(rng));
    zs[static_cast<size_t>(k)] = static_cast<int8_t>(random_zero<int8_t>(rng));
  }
  std::vector<float> nhwc(nchw.size());
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t k = 0; k < c; ++k) {
      for (int64_t e = 0; e < hw; ++e) nhwc[static_cast<size_t>((b * hw + e) * c + k)] = nchw[static_cast<size_t>((b * c + k) * hw + e)];
    }
  }
  QuantizeParams first{n, c, hw}, last{n * hw, c, 1};
  auto check = [&](auto* zero, auto tag) {
    using Q = decltype(tag);
    std::vector<Q> want(nchw.size()), got(nchw.size());
    if constexpr (std::is_same_v<Q, uint8_t>) {
      quantize_linear_u8__ref(first, nchw.data(), scale.data(), zero, want.data());
      quantize_linear_u8__x86(last, nhwc.data(), scale.data(), zero, got.data());
    } else {
      quantize_linear_s8__ref(first, nchw.data(), scale.data(), zero, want.data());
      quantize_linear_s8__x86(last, nhwc.data(), scale.data(), zero, got.data());
    }
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t k = 0; k < c; ++k) {
        for (int64_t e = 0; e < hw; ++e) {
          ASSERT_EQ(got[static_cast<size_t>((b * hw + e) * c + k)], want[static_cast<size_t>((b * c + k) * hw + e)])
              << "batch " << b << " channel " << k << " element " << e;
        }
      }
    }
  };
  check(zu.data(), uint8_t{});
  check(zs.data(), int8_t{});
}

INSTANTIATE_TEST_SUITE_P(QuantizeX86, PerChannelQuantizeX86, ::testing::Values(16, 37, 75, 130));

// Every code of both types, per tensor and per axis (an axis length that is not a multiple of
// the vector width), against dequantize_linear_*__ref bit for bit.
TEST(QuantizeX86, DequantizeLinearEqualsTheReference) {
  std::vector<uint8_t> xu;
  for (int rep = 0; rep < 5; ++rep) {
    for (int v = 0; v < 256; ++v) xu.push_back(static_cast<uint8_t>((v * 37 + rep) & 255));
  }
  std::vector<int8_t> xs(xu.size());
  for (size_t i = 0; i < xu.size(); ++i) xs[i] = static_cast<int8_t>(static_cast<int>(xu[i]) - 128);
  const int64_t n = static_cast<int64_t>(xu.size());  // 1280 = 5 x 256
  const std::vector<float> scales = {0.0371f, 1.0f, 3.0f, 0.5f, 1e-3f};
  const std::vector<uint8_t> zu = {0, 3, 128, 255, 17};
  const std::vector<int8_t> zs = {0, -128, 127, -3, 5};
  for (bool per_axis : {false, true}) {
    QuantizeParams p;
    if (per_axis) {
      p.outer = 2;
      p.axis_len = 5;
      p.inner = n / 10;  // 128
    } else {
      p.inner = n;
    }
    for (size_t k = 0; k < (per_axis ? size_t{1} : scales.size()); ++k) {
      const float* s = per_axis ? scales.data() : &scales[k];
      std::vector<float> want(static_cast<size_t>(n)), got(want.size(), -1.0f);
      dequantize_linear_u8__ref(p, xu.data(), s, per_axis ? zu.data() : &zu[k], want.data());
      dequantize_linear_u8__x86(p, xu.data(), s, per_axis ? zu.data() : &zu[k], got.data());
      EXPECT_EQ(got, want) << "u8 per_axis " << per_axis << " case " << k;
      dequantize_linear_s8__ref(p, xs.data(), s, per_axis ? zs.data() : &zs[k], want.data());
      dequantize_linear_s8__x86(p, xs.data(), s, per_axis ? zs.data() : &zs[k], got.data());
      EXPECT_EQ(got, want) << "s8 per_axis " << per_axis << " case " << k;
    }
  }
}

}  // namespace
}  // namespace hqp::kernels
