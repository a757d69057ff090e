// Reference Cast: every element read as double or int64, then written in the target type.
#include "kernels/ref/cast.h"

#include <cmath>
#include <limits>
#include <type_traits>

namespace hqp::kernels {

namespace {

template <typename To>
To from_double(double v) {
  if constexpr (std::is_same_v<To, float>) {
    return static_cast<float>(v);
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != 0.0 || std::isnan(v);
  } else {
    if (std::isnan(v)) return To{0};
    const double t = std::trunc(v);
    if (t <= static_cast<double>(std::numeric_limits<To>::min())) return std::numeric_limits<To>::min();
    if (t >= static_cast<double>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
    return static_cast<To>(t);
  }
}

template <typename To>
To from_int(int64_t v) {
  if constexpr (std::is_same_v<To, float>) {
    return static_cast<float>(v);
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != 0;
  } else {
    return static_cast<To>(static_cast<std::make_unsigned_t<To>>(static_cast<uint64_t>(v)));  // wraps
  }
}

template <typename To>
void cast_to(int64_t count, DType src_dtype, const void* src, To* dst) {
  for (int64_t i = 0; i < count; ++i) {
    switch (src_dtype) {
      case DType::kF32: dst[i] = from_double<To>(static_cast<const float*>(src)[i]); break;
      case DType::kU8: dst[i] = from_int<To>(static_cast<const uint8_t*>(src)[i]); break;
      case DType::kS8: dst[i] = from_int<To>(static_cast<const int8_t*>(src)[i]); break;
      case DType::kS32: dst[i] = from_int<To>(static_cast<const int32_t*>(src)[i]); break;
      case DType::kS64: dst[i] = from_int<To>(static_cast<const int64_t*>(src)[i]); break;
      case DType::kBool: dst[i] = from_int<To>(static_cast<const uint8_t*>(src)[i] != 0 ? 1 : 0); break;
      case DType::kUndefined: return;
    }
  }
}

}  // namespace

bool cast__ref(int64_t count, DType src_dtype, const void* src, DType dst_dtype, void* dst) {
  if (src_dtype == DType::kUndefined) return false;
  switch (dst_dtype) {
    case DType::kF32: cast_to(count, src_dtype, src, static_cast<float*>(dst)); return true;
    case DType::kU8: cast_to(count, src_dtype, src, static_cast<uint8_t*>(dst)); return true;
    case DType::kS8: cast_to(count, src_dtype, src, static_cast<int8_t*>(dst)); return true;
    case DType::kS32: cast_to(count, src_dtype, src, static_cast<int32_t*>(dst)); return true;
    case DType::kS64: cast_to(count, src_dtype, src, static_cast<int64_t*>(dst)); return true;
    case DType::kBool: {
      // bool is stored as one byte 0/1.
      auto* d = static_cast<uint8_t*>(dst);
      for (int64_t i = 0; i < count; ++i) {
        bool b = false;
        cast_to(1, src_dtype, static_cast<const std::byte*>(src) + static_cast<size_t>(i) * dtype_size(src_dtype), &b);
        d[i] = b ? 1 : 0;
      }
      return true;
    }
    case DType::kUndefined: return false;
  }
  return false;
}

}  // namespace hqp::kernels
