// Element types of hqp tensors. Quantized tensors are s8/u8 storage with quantization parameters
// attached to the IR value (see ir/value.h), not separate dtypes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hqp {

enum class DType : uint8_t {
  kUndefined = 0,
  kF32,
  kU8,
  kS8,
  kS32,
  kS64,
  kBool,  // stored as one byte per element, 0 or 1
};

constexpr size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kU8: return 1;
    case DType::kS8: return 1;
    case DType::kS32: return 4;
    case DType::kS64: return 8;
    case DType::kBool: return 1;
    case DType::kUndefined: return 0;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "f32";
    case DType::kU8: return "u8";
    case DType::kS8: return "s8";
    case DType::kS32: return "s32";
    case DType::kS64: return "s64";
    case DType::kBool: return "bool";
    case DType::kUndefined: return "undefined";
  }
  return "undefined";
}

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kF32; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::kU8; }
template <> constexpr DType dtype_of<int8_t>() { return DType::kS8; }
template <> constexpr DType dtype_of<int32_t>() { return DType::kS32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kS64; }
template <> constexpr DType dtype_of<bool>() { return DType::kBool; }

}  // namespace hqp
