// Helpers of the oneDNN kernel tests: NCHW <-> NHWC conversion, the reference activations applied
// in place, seeded quantized data and an exact comparison with a readable first mismatch. Test-only.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/onednn/onednn_common.h"
#include "kernels/ref/elementwise.h"

// INT8 kernel tests that need oneDNN's INT8 kernels to run: they do only on CPUs with VNNI
// (onednn::int8_kernels_exact_on_this_cpu); elsewhere the test is skipped with the reason, and
// ConvOnednnApplies.Int8KernelsRunOnlyWithVnni checks the refusal instead.
#define HQP_SKIP_WITHOUT_EXACT_INT8()                                                                  \
  do {                                                                                                 \
    if (!::hqp::kernels::onednn::int8_kernels_exact_on_this_cpu()) {                                   \
      GTEST_SKIP() << "this CPU has no VNNI: oneDNN's INT8 kernels are refused here (not exact)";      \
    }                                                                                                  \
  } while (0)

namespace hqp::test {

// [N, C, S] (S = product of spatial dims) -> [N, S, C]; elements of `elem_size` bytes.
inline std::vector<uint8_t> to_nhwc_bytes(const void* src, int64_t n, int64_t c, int64_t s, size_t elem_size) {
  std::vector<uint8_t> dst(static_cast<size_t>(n * c * s) * elem_size);
  const auto* in = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < s; ++i)
        std::memcpy(&dst[static_cast<size_t>((b * s + i) * c + ch) * elem_size],
                    &in[static_cast<size_t>((b * c + ch) * s + i) * elem_size], elem_size);
  return dst;
}

// [N, S, C] -> [N, C, S].
inline std::vector<uint8_t> to_nchw_bytes(const void* src, int64_t n, int64_t c, int64_t s, size_t elem_size) {
  std::vector<uint8_t> dst(static_cast<size_t>(n * c * s) * elem_size);
  const auto* in = static_cast<const uint8_t*>(src);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < s; ++i)
        std::memcpy(&dst[static_cast<size_t>((b * c + ch) * s + i) * elem_size],
                    &in[static_cast<size_t>((b * s + i) * c + ch) * elem_size], elem_size);
  return dst;
}

template <typename T>
std::vector<T> from_bytes(const std::vector<uint8_t>& bytes) {
  std::vector<T> v(bytes.size() / sizeof(T));
  std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}

// Converts a [N, C, S] tensor to `layout` (identity for kNchw).
template <typename T>
std::vector<T> to_layout(const std::vector<T>& nchw, kernels::onednn::Layout layout, int64_t n, int64_t c, int64_t s) {
  if (layout == kernels::onednn::Layout::kNchw) return nchw;
  return from_bytes<T>(to_nhwc_bytes(nchw.data(), n, c, s, sizeof(T)));
}

// Converts a [N, C, S] tensor stored in `layout` back to NCHW.
template <typename T>
std::vector<T> from_layout(const std::vector<T>& data, kernels::onednn::Layout layout, int64_t n, int64_t c,
                           int64_t s) {
  if (layout == kernels::onednn::Layout::kNchw) return data;
  return from_bytes<T>(to_nchw_bytes(data.data(), n, c, s, sizeof(T)));
}

// The reference FP32 activation (kernels/ref/elementwise.h) applied in place.
inline void apply_activation_ref(kernels::onednn::Activation act, float alpha, float beta, std::vector<float>& v) {
  using kernels::onednn::Activation;
  const int64_t count = static_cast<int64_t>(v.size());
  switch (act) {
    case Activation::kNone: break;
    case Activation::kRelu: kernels::relu_f32__ref(count, v.data(), v.data()); break;
    case Activation::kClip: kernels::clip_f32__ref(count, alpha, beta, v.data(), v.data()); break;
    case Activation::kHardSwish: kernels::hardswish_f32__ref(count, v.data(), v.data()); break;
    case Activation::kHardSigmoid: kernels::hardsigmoid_f32__ref(count, alpha, beta, v.data(), v.data()); break;
    case Activation::kSigmoid: kernels::sigmoid_f32__ref(count, v.data(), v.data()); break;
    case Activation::kLeakyRelu: kernels::leaky_relu_f32__ref(count, alpha, v.data(), v.data()); break;
    case Activation::kTanh: kernels::tanh_f32__ref(count, v.data(), v.data()); break;
    case Activation::kExp: kernels::exp_f32__ref(count, v.data(), v.data()); break;
    case Activation::kSqrt: kernels::sqrt_f32__ref(count, v.data(), v.data()); break;
    case Activation::kGeluErf: kernels::gelu_erf_f32__ref(count, v.data(), v.data()); break;
    case Activation::kSwish: kernels::silu_f32__ref(count, v.data(), v.data()); break;
  }
}

// Fails at the first differing element (integers compared exactly).
template <typename T>
void expect_all_equal(const std::vector<T>& got, const std::vector<T>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int64_t bad = 0;
  int64_t first = -1;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!(got[i] == want[i])) {
      if (first < 0) first = static_cast<int64_t>(i);
      ++bad;
    }
  }
  if (bad > 0) {
    const size_t f = static_cast<size_t>(first);
    ADD_FAILURE() << what << ": " << bad << " of " << got.size() << " elements differ; first at " << first << ": got "
                  << +got[f] << " want " << +want[f];
  }
}

}  // namespace hqp::test
