// Tensor comparisons shared by the model-level tests: ONNX-style allclose, max relative error and
// bit-exact equality, each returning a readable description of the first mismatch. Test-only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "core/tensor.h"

namespace hqp::test {

// "f32[2x1000]"
inline std::string tensor_type_string(const Tensor& t) {
  return fmt::format("{}[{}]", dtype_name(t.dtype()), shape_to_string(t.shape()));
}

inline std::optional<std::string> type_mismatch(const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype() || got.shape() != want.shape()) {
    return fmt::format("got {} but expected {}", tensor_type_string(got), tensor_type_string(want));
  }
  return std::nullopt;
}

// ONNX backend-test comparison (np.testing.assert_allclose semantics): same dtype and shape; f32
// elements satisfy |got - want| <= atol + rtol * |want| (NaN matches NaN, an infinity only itself);
// every other dtype is compared exactly. nullopt when they match.
inline std::optional<std::string> allclose_mismatch(const Tensor& got, const Tensor& want, double rtol, double atol) {
  if (auto m = type_mismatch(got, want)) return m;
  if (want.dtype() != DType::kF32) {
    for (int64_t i = 0; i < want.numel(); ++i) {
      if (got.element_as_int64(i) != want.element_as_int64(i)) {
        return fmt::format("element {} is {} but expected {} (integers compare exactly)", i, got.element_as_int64(i),
                           want.element_as_int64(i));
      }
    }
    return std::nullopt;
  }
  const float* g = got.data<float>();
  const float* w = want.data<float>();
  int64_t bad = 0;
  int64_t first = -1;
  double max_abs = 0.0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double gi = g[i];
    const double wi = w[i];
    bool ok;
    if (std::isnan(wi) || std::isnan(gi)) {
      ok = std::isnan(wi) && std::isnan(gi);
    } else if (std::isinf(wi) || std::isinf(gi)) {
      ok = gi == wi;
    } else {
      const double err = std::fabs(gi - wi);
      max_abs = std::max(max_abs, err);
      ok = err <= atol + rtol * std::fabs(wi);
    }
    if (!ok) {
      if (first < 0) first = i;
      ++bad;
    }
  }
  if (bad == 0) return std::nullopt;
  return fmt::format("{} of {} elements differ beyond atol={:g} + rtol={:g}*|want|; first at {}: got {:.9g}, "
                     "expected {:.9g}; max abs error {:.3g}",
                     bad, want.numel(), atol, rtol, first, g[first], w[first], max_abs);
}

// max|got - want| / max|want| over f32 tensors of equal shape (both assumed finite); infinity when
// any element of `got` is not finite.
inline double max_relative_error(const Tensor& got, const Tensor& want) {
  const float* g = got.data<float>();
  const float* w = want.data<float>();
  double max_diff = 0.0;
  double max_ref = 0.0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    if (!std::isfinite(g[i])) return INFINITY;
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(g[i]) - static_cast<double>(w[i])));
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(w[i])));
  }
  return max_ref > 0.0 ? max_diff / max_ref : max_diff;
}

// Bit-exact equality of dtype, shape and bytes; nullopt when identical.
inline std::optional<std::string> bitwise_mismatch(const Tensor& got, const Tensor& want) {
  if (auto m = type_mismatch(got, want)) return m;
  if (got.equals(want)) return std::nullopt;
  const size_t elem = dtype_size(want.dtype());
  const auto* gb = static_cast<const unsigned char*>(got.raw_data());
  const auto* wb = static_cast<const unsigned char*>(want.raw_data());
  int64_t bad = 0;
  int64_t first = -1;
  for (int64_t i = 0; i < want.numel(); ++i) {
    if (!std::equal(gb + i * elem, gb + (i + 1) * elem, wb + i * elem)) {
      if (first < 0) first = i;
      ++bad;
    }
  }
  return fmt::format("{} of {} elements are not bit-identical; first at {}: got {:.9g}, expected {:.9g}", bad,
                     want.numel(), first, got.element_as_double(first), want.element_as_double(first));
}

}  // namespace hqp::test
