// int8_output_nhwc__x86 (the INT8 conv / gemm epilogue, AVX2 / AVX-512 builds) and
// int8_output_nhwc__ref against the per-element spec int8_output_row__ref applied channel by
// channel, bit for bit: every dst dtype, with and without the residual sum, clamps, zero points,
// accumulators across the float-exact range and beyond, whole or in two pieces, channel counts
// with vector tails.
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/conv_int8.h"
#include "kernels/x86/int8_output_x86.h"

namespace hqp::kernels {
namespace {

template <typename Dst>
std::vector<Dst> random_dst_values(std::mt19937& rng, size_t n) {
  std::vector<Dst> v(n);
  if constexpr (std::is_same_v<Dst, float>) {
    std::uniform_real_distribution<float> d(-4.0f, 4.0f);
    for (Dst& x : v) x = d(rng);
  } else {
    std::uniform_int_distribution<int> d(std::numeric_limits<Dst>::min(), std::numeric_limits<Dst>::max());
    for (Dst& x : v) x = static_cast<Dst>(d(rng));
  }
  return v;
}

template <typename Dst>
void check(std::mt19937& rng, DType dtype, bool has_sum, bool clamp, bool with_bias, int pieces) {
  for (auto [rows, channels] : {std::pair<int64_t, int64_t>{1, 1}, {3, 7}, {5, 8}, {2, 17}, {9, 64}, {4, 100}}) {
    Int8OutputParams o;
    o.dst_dtype = dtype;
    o.src_scale = 0.02f;
    o.dst_scale = 0.05f;
    o.dst_zero_point = dtype == DType::kU8 ? 37 : (dtype == DType::kS8 ? -5 : 0);
    o.has_sum = has_sum;
    o.sum_scale = 0.07f;
    o.sum_zero_point = dtype == DType::kU8 ? 120 : -3;
    if (clamp) {
      o.act_min = 0.0f;
      o.act_max = 6.0f;
    }
    const size_t n = static_cast<size_t>(rows * channels);
    std::uniform_int_distribution<int32_t> acc_d(-(1 << 26), 1 << 26);  // beyond 2^24 too: (float)acc rounds
    std::uniform_real_distribution<float> mult_d(1e-5f, 3e-3f);
    std::vector<int32_t> acc(n), bias(static_cast<size_t>(channels));
    for (int32_t& a : acc) a = acc_d(rng) >> (rng() % 20);
    // The same accumulators cut into `pieces` pieces, [rows, pieces, channels].
    std::vector<int32_t> split(n * static_cast<size_t>(pieces));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < channels; ++c) {
        const int32_t a = acc[static_cast<size_t>(r * channels + c)];
        const int32_t first = pieces == 2 ? a / 3 : a;
        split[static_cast<size_t>(r * pieces * channels + c)] = first;
        if (pieces == 2) split[static_cast<size_t>((r * pieces + 1) * channels + c)] = a - first;
      }
    }
    for (int32_t& b : bias) b = acc_d(rng) >> 10;
    std::vector<float> mult(static_cast<size_t>(channels));
    for (float& m : mult) m = mult_d(rng);
    mult[0] = 0.5f;  // odd accumulators of channel 0 land on rounding ties
    const std::vector<Dst> sum = random_dst_values<Dst>(rng, n);

    // The spec: one output channel at a time (stride = channels), acc already including the bias.
    std::vector<Dst> want(n), got_ref(n), got_x86(n);
    std::vector<int32_t> column(static_cast<size_t>(rows));
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t r = 0; r < rows; ++r) {
        column[static_cast<size_t>(r)] = acc[static_cast<size_t>(r * channels + c)] + (with_bias ? bias[c] : 0);
      }
      int8_output_row__ref(o, mult[static_cast<size_t>(c)], rows, column.data(), sum.data(), want.data(), c, channels);
    }
    const int32_t* b = with_bias ? bias.data() : nullptr;
    int8_output_nhwc__ref(o, mult.data(), b, rows, channels, split.data(), sum.data(), got_ref.data(), pieces);
    int8_output_nhwc__x86(o, mult.data(), b, rows, channels, split.data(), sum.data(), got_x86.data(), pieces);
    for (size_t i = 0; i < n; ++i) {
      // float outputs compared as bits (NaN-free here), 8-bit ones as values
      ASSERT_EQ(got_ref[i], want[i]) << "ref, element " << i << " rows " << rows << " channels " << channels;
      ASSERT_EQ(got_x86[i], want[i]) << int8_output__x86_isa() << ", element " << i << " rows " << rows
                                     << " channels " << channels;
    }
  }
}

TEST(Int8OutputNhwc, EqualsPerChannelSpecBitForBit) {
  std::printf("int8_output_nhwc__x86 runs the %s path on this CPU\n", std::string(int8_output__x86_isa()).c_str());
  std::mt19937 rng(7);
  for (bool has_sum : {false, true}) {
    for (bool clamp : {false, true}) {
      for (bool with_bias : {false, true}) {
        for (int pieces : {1, 2}) {
          check<uint8_t>(rng, DType::kU8, has_sum, clamp, with_bias, pieces);
          check<int8_t>(rng, DType::kS8, has_sum, clamp, with_bias, pieces);
          check<float>(rng, DType::kF32, has_sum, clamp, with_bias, pieces);
        }
      }
    }
  }
}

}  // namespace
}  // namespace hqp::kernels
