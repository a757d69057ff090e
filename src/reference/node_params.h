// The one translation from an IR node (attributes, quantization parameters of its values, concrete
// shapes) to the params structs of the kernels. The reference executor and the fast runtime both
// call these, so a node means the same thing on every engine and is rejected for the same reasons.
// Computes no tensor values; errors carry only the problem (callers add "cannot run node ...").
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "kernels/ref/conv.h"
#include "kernels/ref/gemm.h"
#include "kernels/ref/int8_output.h"
#include "kernels/ref/pool.h"
#include "kernels/ref/quantize.h"
#include "kernels/ref/resize.h"

namespace hqp::reference {

// The conv attributes of a Conv, FusedConv or QConv node.
const ir::ConvAttrs& conv_attrs(const ir::Node& node);
// The gemm attributes of a Gemm, FusedGemm or QGemm node.
const ir::GemmAttrs& gemm_attrs(const ir::Node& node);
// The fused post-ops of FusedConv / FusedGemm / QConv / QGemm; none for other nodes.
ir::PostOps post_ops(const ir::Node& node);

// x: [N, C, spatial...] (1..3 spatial dims); w: [OC, C/group, kernel...].
Result<kernels::ConvParams> conv_params(const ir::ConvAttrs& attrs, const Shape& x, const Shape& w);

// MaxPool / AveragePool windows over x: [N, C, spatial...].
Result<kernels::PoolParams> pool_params(const ir::PoolAttrs& attrs, const Shape& x, bool is_max);

// ONNX Gemm on a [M, K] (or transposed) and b [K, N] (or transposed); c: the shape of C (rank <= 2,
// unidirectionally broadcast to [M, N]) or nullptr when absent.
Result<kernels::GemmParams> gemm_params(const ir::GemmAttrs& attrs, const Shape& a, const Shape& b, const Shape* c);

// Resize of an input of dims `x` with the node's scales (f32 values; nullopt or empty when absent)
// or sizes (ir::resize_geometry decides the output dims and scale factors).
Result<kernels::ResizeParams> resize_params(const ir::ResizeAttrs& attrs, const Shape& x,
                                            const std::optional<std::vector<float>>& scales,
                                            const std::optional<std::vector<int64_t>>& sizes);

// QuantizeLinear / DequantizeLinear geometry: per-tensor when the scale has one element (rank <= 1),
// per-axis along the node's axis (default 1) otherwise, where the scale must have that axis' size.
Result<kernels::QuantizeParams> quantize_params(const ir::Node& node, const Shape& x, const Shape& scale);

// INT8 output stage of a QConv / QGemm from the Value::quant of its values (see ops.def):
//   input 0 (X):   u8/s8, per-tensor scale and zero point (absent zero point = 0); for a depthwise
//                  QConv (group = input channels, W [channels, 1, ...]) also per channel (axis 1, one
//                  zero point for all channels)
//   input 1 (W):   s8, symmetric (zero points 0), one scale or one per output channel along axis 0
//   output 0 (Y):  u8/s8 per-tensor, or f32 (no output quantization); for a QConv without Sum also
//                  u8/s8 per channel (axis 1, one zero point), when the activation's clamp quantizes
//                  to one [lo, hi] in every channel
//   input 3 (Sum): only with post.has_sum; same dtype as Y, quantized per-tensor like Y
//   activation:    None, Relu or Clip (a clamp); others are kUnsupported
// channels: the output channel count (W's dim 0). wei_scales gets one scale per output channel.
// Per-channel scales are folded into wei_scales, so the kernels see per-tensor src / dst:
//   per-channel X: src_scale = 1, wei_scales[oc] = s_x[oc / (channels / group)] * s_w[oc]
//                  (the bias's accumulator scale, passes/lower_qdq.cpp)
//   per-channel Y: src_scale = dst_scale = 1, wei_scales[oc] = (src_scale * wei_scales[oc]) / s_y[oc]
//                  (the per-tensor multiplier's operations, so equal scales give per-tensor codes),
//                  and the activation bounds re-expressed so that int8_output_clamp gives the same codes
// Every INT8 kernel takes its multipliers from these values (int8_output_multiplier), so reference and
// fast paths stay bit-equal.
struct Int8Quantization {
  kernels::Int8OutputParams out;
  std::vector<float> wei_scales;
};
Result<Int8Quantization> int8_quantization(const ir::Node& node, int64_t channels);

// QAdd: per-tensor parameters of inputs A, B and output Y (Value::quant), for n elements.
Result<kernels::QAddParams> qadd_params(const ir::Node& node, int64_t n);

// QMul: per-tensor parameters of A, B, Y and the geometry of a: [N, C, spatial...] and b (a's
// shape, or [N, C, 1...]: one value per channel). channels_last: a and Y are stored NHWC-like.
Result<kernels::QMulParams> qmul_params(const ir::Node& node, const Shape& a, const Shape& b, bool channels_last);

// QGlobalAveragePool over x: [N, C, spatial...] (channels_last: stored NHWC-like).
Result<kernels::QGlobalAveragePoolParams> qglobal_average_pool_params(const ir::Node& node, const Shape& x,
                                                                      bool channels_last);

}  // namespace hqp::reference
