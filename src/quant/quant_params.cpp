// Activation parameters from ranges; s8 per-channel weights and s32 biases.
#include "quant/quant_params.h"

#include <algorithm>
#include <cmath>

#include "kernels/ref/requantize.h"

namespace hqp::quant {

namespace {

// Scales below this (or non-finite) mean "no usable range": the tensor is (almost) constant 0.
constexpr float kMinScale = std::numeric_limits<float>::min();

// Channel c of `t` along `axis` as (outer, channels, inner) strides: element (o, c, i) sits at
// (o * channels + c) * inner + i.
struct AxisView {
  int64_t outer = 1;
  int64_t channels = 1;
  int64_t inner = 1;
};
AxisView axis_view(const Tensor& t, int64_t axis) {
  AxisView v;
  for (int64_t d = 0; d < t.rank(); ++d) {
    if (d < axis) v.outer *= t.dim(d);
    if (d > axis) v.inner *= t.dim(d);
  }
  v.channels = t.dim(axis);
  return v;
}

float bias_at(const Tensor& bias, int64_t c) { return bias.data<float>()[bias.numel() == 1 ? 0 : c]; }

}  // namespace

ir::QuantParams activation_params(const ValueRange& range, ActivationScheme scheme) {
  ir::QuantParams p;
  const double lo = range.empty() ? 0.0 : std::min(static_cast<double>(range.min), 0.0);
  const double hi = range.empty() ? 0.0 : std::max(static_cast<double>(range.max), 0.0);
  if (scheme == ActivationScheme::kU8Asymmetric) {
    p.storage = DType::kU8;
    float scale = static_cast<float>((hi - lo) / kernels::kU8Max);
    int32_t zero_point = 0;
    if (!(scale >= kMinScale) || !std::isfinite(scale)) {
      scale = 1.0f;
    } else {
      const double z = std::nearbyint(-lo / static_cast<double>(scale));
      zero_point = static_cast<int32_t>(std::clamp(z, static_cast<double>(kernels::kU8Min),
                                                   static_cast<double>(kernels::kU8Max)));
    }
    p.scale = {scale};
    p.zero_point = {zero_point};
  } else {
    p.storage = DType::kS8;
    float scale = static_cast<float>(std::max(-lo, hi) / kWeightQMax);
    if (!(scale >= kMinScale) || !std::isfinite(scale)) scale = 1.0f;
    p.scale = {scale};
    p.zero_point = {0};
  }
  return p;
}

QuantizedWeights quantize_weights(const Tensor& wei, int64_t axis, const std::vector<float>& min_scale) {
  HQP_CHECK(wei.dtype() == DType::kF32 && axis >= 0 && axis < wei.rank());
  const AxisView v = axis_view(wei, axis);
  HQP_CHECK(min_scale.empty() || static_cast<int64_t>(min_scale.size()) == v.channels);
  const float* src = wei.data<float>();
  QuantizedWeights out;
  out.scale.assign(static_cast<size_t>(v.channels), 0.0f);
  for (int64_t o = 0; o < v.outer; ++o) {
    for (int64_t c = 0; c < v.channels; ++c) {
      for (int64_t i = 0; i < v.inner; ++i) {
        const float a = std::fabs(src[(o * v.channels + c) * v.inner + i]);
        if (a > out.scale[static_cast<size_t>(c)]) out.scale[static_cast<size_t>(c)] = a;  // NaN never wins
      }
    }
  }
  for (int64_t c = 0; c < v.channels; ++c) {
    float& s = out.scale[static_cast<size_t>(c)];
    s = s / static_cast<float>(kWeightQMax);
    if (!min_scale.empty()) s = std::max(s, min_scale[static_cast<size_t>(c)]);
    if (!(s >= kMinScale) || !std::isfinite(s)) s = 1.0f;
  }
  out.data = Tensor::zeros(DType::kS8, wei.shape()).value();
  int8_t* dst = out.data.data<int8_t>();
  for (int64_t o = 0; o < v.outer; ++o) {
    for (int64_t c = 0; c < v.channels; ++c) {
      const float s = out.scale[static_cast<size_t>(c)];
      for (int64_t i = 0; i < v.inner; ++i) {
        const int64_t k = (o * v.channels + c) * v.inner + i;
        // ONNX QuantizeLinear's arithmetic: saturate(round_half_even(x / scale)).
        dst[k] = static_cast<int8_t>(kernels::round_and_saturate(src[k] / s, 0, -kWeightQMax, kWeightQMax));
      }
    }
  }
  return out;
}

Result<QuantizedBias> quantize_bias(const Tensor& bias, float src_scale, const std::vector<float>& wei_scale) {
  const int64_t channels = static_cast<int64_t>(wei_scale.size());
  HQP_CHECK(bias.dtype() == DType::kF32 && (bias.numel() == channels || bias.numel() == 1));
  QuantizedBias out;
  std::vector<int32_t> q;
  for (int64_t c = 0; c < channels; ++c) {
    const float acc_scale = src_scale * wei_scale[static_cast<size_t>(c)];
    const double v = std::nearbyint(static_cast<double>(bias_at(bias, c)) / static_cast<double>(acc_scale));
    if (!(std::fabs(v) <= kMaxBiasQ)) {
      return make_error(StatusCode::kOutOfRange,
                        "cannot quantize bias: channel {} gives {} in the accumulator scale (bias={}, scale={}, "
                        "expected |q| <= {})",
                        c, v, bias_at(bias, c), acc_scale, kMaxBiasQ);
    }
    q.push_back(static_cast<int32_t>(v));
    out.scale.push_back(acc_scale);
  }
  out.data = Tensor::from_vector<int32_t>({channels}, q);
  return out;
}

std::vector<float> min_bias_weight_scale(const Tensor& bias, float src_scale, int64_t channels) {
  HQP_CHECK(bias.dtype() == DType::kF32 && (bias.numel() == channels || bias.numel() == 1));
  // Half of kMaxBiasQ: room for the FP32 rounding of src_scale * wei_scale and of the division.
  const double limit = static_cast<double>(src_scale) * (kMaxBiasQ / 2.0);
  std::vector<float> out;
  for (int64_t c = 0; c < channels; ++c) {
    out.push_back(static_cast<float>(std::fabs(static_cast<double>(bias_at(bias, c))) / limit));
  }
  return out;
}

}  // namespace hqp::quant
