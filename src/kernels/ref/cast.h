// Reference element-type conversion (ONNX Cast) between hqp's dtypes.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace hqp::kernels {

// dst[i] = src[i] converted from src_dtype to dst_dtype (any of f32, u8, s8, s32, s64, bool), as
// numpy's astype for values in range:
//   float -> integer: truncation toward zero, saturated to the target range; NaN -> 0
//   integer -> narrower integer: two's-complement wrap-around (numpy / C++ conversion)
//   any -> bool: value != 0 (NaN -> true); bool -> any: 0 or 1
// Returns false (writing nothing) for kUndefined on either side.
bool cast__ref(int64_t count, DType src_dtype, const void* src, DType dst_dtype, void* dst);

}  // namespace hqp::kernels
