// Quantization parameters from observed ranges and the s8 / s32 quantization of constant weights
// and biases (ONNX QDQ convention, see kernels/ref/int8_output.h). Pure arithmetic on tensors and
// numbers; it does not touch a graph.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace hqp::quant {

// How activations are quantized (weights are always s8 symmetric per output channel).
enum class ActivationScheme : uint8_t {
  kU8Asymmetric,  // u8 [0, 255], zero point from the range (ONNX Runtime's default)
  kS8Symmetric,   // s8 [-127, 127], zero point 0
};

// Range of the finite values seen in one tensor; empty until the first finite value.
struct ValueRange {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  bool empty() const { return min > max; }
  void add(float v) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  void merge(const ValueRange& o) {
    if (o.empty()) return;
    add(o.min);
    add(o.max);
  }
};

// Symmetric weights use [-kWeightQMax, kWeightQMax] (never -128: a symmetric grid, as ONNX
// Runtime and TensorRT quantize weights).
inline constexpr int32_t kWeightQMax = 127;
// |bias / (s_x * s_w[oc])| is kept below 2^24, where an s32 bias still converts exactly to FP32
// (DequantizeLinear computes (float)q * scale); a channel whose bias would exceed it gets a larger
// weight scale.
inline constexpr double kMaxBiasQ = 16777216.0;

// Per-tensor activation parameters for `range` (widened to include 0, so real 0 is exact):
//   u8: scale = (max - min) / 255, zero_point = round(-min / scale) in [0, 255]
//   s8: scale = max(|min|, |max|) / 127, zero_point 0
// An empty or zero-width range gets scale 1 (every value quantizes to the zero point).
ir::QuantParams activation_params(const ValueRange& range, ActivationScheme scheme);

// s8 symmetric per-channel weights along `axis` of f32 `wei`: scale[c] = max|wei[c]| / 127, at
// least `min_scale[c]` when given (empty: no minimum); q = round_half_even(wei / scale[c]) clamped
// to [-127, 127]. An all-zero channel gets scale 1.
struct QuantizedWeights {
  Tensor data;               // s8, shape of `wei`
  std::vector<float> scale;  // [wei.dim(axis)]
};
QuantizedWeights quantize_weights(const Tensor& wei, int64_t axis, const std::vector<float>& min_scale = {});

// s32 bias [channels]: q[c] = round_half_even(bias[c] / (src_scale * wei_scale[c])) with the
// accumulator scale as the FP32 product src_scale * wei_scale[c] (returned in `scale`).
// `bias` holds `channels` elements or one (broadcast). kOutOfRange when a value exceeds kMaxBiasQ
// (callers avoid it with min_bias_weight_scale).
struct QuantizedBias {
  Tensor data;               // s32 [channels]
  std::vector<float> scale;  // [channels]
};
Result<QuantizedBias> quantize_bias(const Tensor& bias, float src_scale, const std::vector<float>& wei_scale);

// The smallest weight scale per channel that keeps the quantized bias within kMaxBiasQ (with a
// margin): |bias[c]| / (src_scale * kMaxBiasQ / 2). `bias` as in quantize_bias.
std::vector<float> min_bias_weight_scale(const Tensor& bias, float src_scale, int64_t channels);

}  // namespace hqp::quant
