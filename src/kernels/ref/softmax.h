// Reference FP32 Softmax over one axis of an (outer, axis, inner) decomposition.
// The caller maps ONNX opset<13 (coerce to 2-D at `axis`) and opset>=13 (single axis) onto it.
#pragma once

#include <cstdint>

namespace hqp::kernels {

// View src/dst as [outer, axis_len, inner] contiguous row-major. For each (o, i):
//   dst[o, a, i] = exp(src[o, a, i] - max_a src) / sum_a exp(src[o, a, i] - max_a src)
// opset>=13, axis r of shape S: outer = prod S[:r], axis_len = S[r], inner = prod S[r+1:].
// opset<13, axis r: outer = prod S[:r], axis_len = prod S[r:], inner = 1.
// dst may alias src. The max subtraction keeps exp finite for large inputs.
void softmax_f32__ref(int64_t outer, int64_t axis_len, int64_t inner, const float* src, float* dst);

}  // namespace hqp::kernels
