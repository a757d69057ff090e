// Test of the layer normalization reference kernel against its formula evaluated in double.
#include <cmath>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/normalization.h"

namespace hqp::kernels {
namespace {

// Layer normalization against the formula in double precision (rows of 7, per-element scale and
// bias, and a single shared scale without bias).
TEST(LayerNormRef, MatchesTheFormulaInDouble) {
  const int64_t rows = 3, inner = 7;
  std::vector<float> x(static_cast<size_t>(rows * inner)), scale(inner), bias(inner);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 11) * 0.75f - 3.0f;
  for (int64_t k = 0; k < inner; ++k) {
    scale[static_cast<size_t>(k)] = 0.5f + 0.1f * static_cast<float>(k);
    bias[static_cast<size_t>(k)] = -0.2f * static_cast<float>(k);
  }
  std::vector<float> y(x.size()), mean(rows), inv(rows), y1(x.size());
  layer_norm_f32__ref(rows, inner, 1e-3f, x.data(), scale.data(), inner, bias.data(), inner, y.data(), mean.data(),
                      inv.data());
  const float one = 1.5f;
  layer_norm_f32__ref(rows, inner, 1e-3f, x.data(), &one, 1, nullptr, 0, y1.data(), nullptr, nullptr);
  for (int64_t r = 0; r < rows; ++r) {
    double m = 0, v = 0;
    for (int64_t k = 0; k < inner; ++k) m += x[static_cast<size_t>(r * inner + k)];
    m /= inner;
    for (int64_t k = 0; k < inner; ++k) v += std::pow(x[static_cast<size_t>(r * inner + k)] - m, 2);
    v /= inner;
    const double is = 1.0 / std::sqrt(v + 1e-3);
    EXPECT_NEAR(mean[static_cast<size_t>(r)], m, 1e-6);
    EXPECT_NEAR(inv[static_cast<size_t>(r)], is, 1e-5 * is);
    for (int64_t k = 0; k < inner; ++k) {
      const size_t i = static_cast<size_t>(r * inner + k);
      const double n = (x[i] - m) * is;
      EXPECT_NEAR(y[i], n * scale[static_cast<size_t>(k)] + bias[static_cast<size_t>(k)], 1e-5);
      EXPECT_NEAR(y1[i], n * 1.5, 1e-5);
    }
  }
}

}  // namespace
}  // namespace hqp::kernels
