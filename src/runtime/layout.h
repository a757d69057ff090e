// Memory layouts of activation tensors inside the fast runtime's plans. The runtime owns this type;
// runtime_ops.cpp maps it onto each kernel library's own layout parameter at the kernel boundary.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/tensor.h"

namespace hqp::runtime {

// How an activation of logical shape [N, C, spatial...] lies in memory.
//   kNchw: channels-first, contiguous row-major (ONNX's layout; graph inputs and outputs)
//   kNhwc: channels-last ([N, spatial..., C] in memory), what the oneDNN convolutions prefer
//   kNchw8c: channels in blocks of 8 ([N, C/8, spatial..., 8] in memory), what oneDNN's AVX2 FP32
//            convolutions run fastest on. Only for tensors with C % 8 == 0 (blockable()): no
//            padding, so every layout of a tensor has the same size, and an element-wise op over
//            equal shapes runs on any of them alike.
// Tensors of rank < 3 are always row-major; weights never carry a Layout (kernels prepack them).
enum class Layout : uint8_t { kNchw, kNhwc, kNchw8c };

std::string_view layout_name(Layout layout);

// True when the tensor's bytes are the same in every layout (rank < 3, or all spatial dims 1 --
// for kNchw8c, whose C % 8 == 0, [N, C/8, 1.., 8] is [N, C] row-major too).
bool layout_agnostic(const Shape& shape);

// True when the tensor may be held in kNchw8c: rank 3..5 and C % 8 == 0.
bool blockable(const Shape& shape);

}  // namespace hqp::runtime
