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
// Tensors of rank < 3 are always row-major; weights never carry a Layout (kernels prepack them).
enum class Layout : uint8_t { kNchw, kNhwc };

std::string_view layout_name(Layout layout);

// True when the tensor's bytes are the same in NCHW and NHWC (rank < 3, or all spatial dims 1).
bool layout_agnostic(const Shape& shape);

}  // namespace hqp::runtime
