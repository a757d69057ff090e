// Reference element-wise kernels: one scalar expression per element, written to mirror the ONNX
// reference formulas. Not vectorized; broadcasting walks an index odometer.
#include "kernels/ref/elementwise.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

namespace hqp::kernels {

namespace {

template <typename T>
void clip_impl(int64_t count, T lo, T hi, const T* src, T* dst) {
  for (int64_t i = 0; i < count; ++i) {
    T v = src[i];
    v = v < lo ? lo : v;  // comparisons are false for NaN, so NaN passes through
    v = v > hi ? hi : v;
    dst[i] = v;
  }
}

// Integer arithmetic with numpy semantics (see elementwise.h), free of C++ undefined behaviour.
template <typename T>
T int_apply(BinaryOp op, T a, T b) {
  using U = std::make_unsigned_t<T>;
  switch (op) {
    case BinaryOp::kAdd: return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
    case BinaryOp::kSub: return static_cast<T>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
    case BinaryOp::kMul: return static_cast<T>(static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
    case BinaryOp::kDiv:
      if (b == 0) return T{0};
      if constexpr (std::is_signed_v<T>) {
        if (b == T{-1}) return static_cast<T>(static_cast<U>(U{0} - static_cast<U>(a)));
      }
      return static_cast<T>(a / b);
  }
  return T{0};
}

float float_apply(BinaryOp op, float a, float b) {
  switch (op) {
    case BinaryOp::kAdd: return a + b;
    case BinaryOp::kSub: return a - b;
    case BinaryOp::kMul: return a * b;
    case BinaryOp::kDiv: return a / b;
  }
  return 0.0f;
}

// Walks dst in row-major order; the innermost dim is a strided loop.
template <typename T, typename Apply>
void broadcast_loop(const BroadcastParams& p, const T* src0, const T* src1, T* dst, Apply apply) {
  assert(p.rank >= 0 && p.rank <= kMaxKernelRank);
  if (p.rank == 0) {
    dst[0] = apply(src0[0], src1[0]);
    return;
  }
  for (int k = 0; k < p.rank; ++k) {
    if (p.dst_shape[k] == 0) return;
  }
  const int last = p.rank - 1;
  const int64_t inner = p.dst_shape[last];
  const int64_t s0 = p.src0_strides[last];
  const int64_t s1 = p.src1_strides[last];
  int64_t index[kMaxKernelRank] = {};
  int64_t off0 = 0, off1 = 0;
  while (true) {
    for (int64_t i = 0; i < inner; ++i) dst[i] = apply(src0[off0 + i * s0], src1[off1 + i * s1]);
    dst += inner;
    // Advance the odometer over dims [0, last).
    int k = last - 1;
    for (; k >= 0; --k) {
      ++index[k];
      off0 += p.src0_strides[k];
      off1 += p.src1_strides[k];
      if (index[k] < p.dst_shape[k]) break;
      off0 -= index[k] * p.src0_strides[k];
      off1 -= index[k] * p.src1_strides[k];
      index[k] = 0;
    }
    if (k < 0) return;
  }
}

template <typename T>
void binary_int(BinaryOp op, const BroadcastParams& p, const T* src0, const T* src1, T* dst) {
  broadcast_loop(p, src0, src1, dst, [op](T a, T b) { return int_apply<T>(op, a, b); });
}

}  // namespace

void relu_f32__ref(int64_t count, const float* src, float* dst) {
  for (int64_t i = 0; i < count; ++i) dst[i] = src[i] < 0.0f ? 0.0f : src[i];
}

void sigmoid_f32__ref(int64_t count, const float* src, float* dst) {
  for (int64_t i = 0; i < count; ++i) dst[i] = 1.0f / (1.0f + std::exp(-src[i]));
}

void silu_f32__ref(int64_t count, const float* src, float* dst) {
  for (int64_t i = 0; i < count; ++i) {
    const float s = 1.0f / (1.0f + std::exp(-src[i]));
    dst[i] = src[i] * s;
  }
}

void leaky_relu_f32__ref(int64_t count, float alpha, const float* src, float* dst) {
  for (int64_t i = 0; i < count; ++i) dst[i] = src[i] >= 0.0f ? src[i] : alpha * src[i];
}

void tanh_f32__ref(int64_t count, const float* src, float* dst) {
  for (int64_t i = 0; i < count; ++i) dst[i] = std::tanh(src[i]);
}

void exp_f32__ref(int64_t count, const float* src, float* dst) {
  for (int64_t i = 0; i < count; ++i) dst[i] = std::exp(src[i]);
}

void sqrt_f32__ref(int64_t count, const float* src, float* dst) {
  for (int64_t i = 0; i < count; ++i) dst[i] = std::sqrt(src[i]);
}

void gelu_erf_f32__ref(int64_t count, const float* src, float* dst) {
  for (int64_t i = 0; i < count; ++i) {
    const float x = src[i];
    const float e = std::erf(x / kGeluSqrt2);
    dst[i] = (x * (e + 1.0f)) * 0.5f;
  }
}
void erf_f32__ref(int64_t count, const float* src, float* dst) {
  for (int64_t i = 0; i < count; ++i) dst[i] = std::erf(src[i]);
}

void hardsigmoid_f32__ref(int64_t count, float alpha, float beta, const float* src, float* dst) {
  for (int64_t i = 0; i < count; ++i) {
    float v = alpha * src[i] + beta;
    v = v > 1.0f ? 1.0f : v;
    v = v < 0.0f ? 0.0f : v;
    dst[i] = v;
  }
}

void hardswish_f32__ref(int64_t count, const float* src, float* dst) {
  constexpr float kAlpha = 1.0f / 6.0f;
  constexpr float kBeta = 0.5f;
  for (int64_t i = 0; i < count; ++i) {
    const float x = src[i];
    float gate = kAlpha * x + kBeta;
    gate = gate > 1.0f ? 1.0f : gate;
    gate = gate < 0.0f ? 0.0f : gate;
    dst[i] = x * gate;
  }
}

void clip_f32__ref(int64_t count, float lo, float hi, const float* src, float* dst) {
  clip_impl(count, lo, hi, src, dst);
}
void clip_u8__ref(int64_t count, uint8_t lo, uint8_t hi, const uint8_t* src, uint8_t* dst) {
  clip_impl(count, lo, hi, src, dst);
}
void clip_s8__ref(int64_t count, int8_t lo, int8_t hi, const int8_t* src, int8_t* dst) {
  clip_impl(count, lo, hi, src, dst);
}
void clip_s32__ref(int64_t count, int32_t lo, int32_t hi, const int32_t* src, int32_t* dst) {
  clip_impl(count, lo, hi, src, dst);
}
void clip_s64__ref(int64_t count, int64_t lo, int64_t hi, const int64_t* src, int64_t* dst) {
  clip_impl(count, lo, hi, src, dst);
}

void batchnorm_f32__ref(const BatchNormParams& params, const float* src, const float* scale, const float* bias,
                        const float* mean, const float* var, float* dst) {
  for (int64_t n = 0; n < params.batch; ++n) {
    for (int64_t c = 0; c < params.channels; ++c) {
      const float std_dev = std::sqrt(var[c] + params.epsilon);
      const int64_t base = (n * params.channels + c) * params.spatial_size;
      for (int64_t i = 0; i < params.spatial_size; ++i) {
        dst[base + i] = scale[c] * ((src[base + i] - mean[c]) / std_dev) + bias[c];
      }
    }
  }
}

bool make_broadcast_params(std::span<const int64_t> src0_shape, std::span<const int64_t> src1_shape,
                           BroadcastParams* params) {
  const size_t rank = src0_shape.size() > src1_shape.size() ? src0_shape.size() : src1_shape.size();
  if (rank > static_cast<size_t>(kMaxKernelRank)) return false;
  BroadcastParams p;
  p.rank = static_cast<int>(rank);
  int64_t stride0 = 1, stride1 = 1;
  // Walk from the trailing dim; a missing leading dim behaves as 1.
  for (size_t r = 0; r < rank; ++r) {
    const size_t k = rank - 1 - r;
    const int64_t d0 = r < src0_shape.size() ? src0_shape[src0_shape.size() - 1 - r] : 1;
    const int64_t d1 = r < src1_shape.size() ? src1_shape[src1_shape.size() - 1 - r] : 1;
    if (d0 < 0 || d1 < 0) return false;
    if (d0 != d1 && d0 != 1 && d1 != 1) return false;
    p.dst_shape[k] = d0 == 1 ? d1 : d0;
    p.src0_strides[k] = d0 == 1 ? 0 : stride0;
    p.src1_strides[k] = d1 == 1 ? 0 : stride1;
    stride0 *= d0;
    stride1 *= d1;
  }
  *params = p;
  return true;
}

void binary_f32__ref(BinaryOp op, const BroadcastParams& params, const float* src0, const float* src1, float* dst) {
  broadcast_loop(params, src0, src1, dst, [op](float a, float b) { return float_apply(op, a, b); });
}
namespace {

// The numel elements of a broadcast operand (dst_shape with its strides) as double, or empty when
// the dtype is not one Pow takes.
std::vector<double> as_double(DType dtype, const void* data, int64_t numel) {
  std::vector<double> v(static_cast<size_t>(numel));
  for (int64_t i = 0; i < numel; ++i) {
    switch (dtype) {
      case DType::kF32: v[static_cast<size_t>(i)] = static_cast<const float*>(data)[i]; break;
      case DType::kS32: v[static_cast<size_t>(i)] = static_cast<const int32_t*>(data)[i]; break;
      case DType::kS64: v[static_cast<size_t>(i)] = static_cast<double>(static_cast<const int64_t*>(data)[i]); break;
      case DType::kU8: v[static_cast<size_t>(i)] = static_cast<const uint8_t*>(data)[i]; break;
      case DType::kS8: v[static_cast<size_t>(i)] = static_cast<const int8_t*>(data)[i]; break;
      default: return {};
    }
  }
  return v;
}

// Elements a broadcast operand holds: the product of dst dims where its stride is nonzero.
int64_t operand_numel(const BroadcastParams& p, const int64_t* strides) {
  int64_t n = 1;
  for (int k = 0; k < p.rank; ++k) {
    if (strides[k] != 0) n = std::max(n, strides[k] * p.dst_shape[k]);
  }
  return n;
}

template <typename T>
void store_truncated(const std::vector<double>& v, T* dst) {
  for (size_t i = 0; i < v.size(); ++i) {
    const double t = std::trunc(v[i]);
    dst[i] = std::isfinite(t) ? static_cast<T>(std::clamp(t, static_cast<double>(std::numeric_limits<T>::min()),
                                                          static_cast<double>(std::numeric_limits<T>::max())))
                              : T{0};
  }
}

}  // namespace

bool pow__ref(const BroadcastParams& params, DType base_dtype, const void* base, DType exp_dtype, const void* exponent,
              void* dst) {
  if (base_dtype != DType::kF32 && base_dtype != DType::kS32 && base_dtype != DType::kS64) return false;
  // f32 ** 2 (a scalar f32 exponent of 2: LayerNorm's variance in exported graphs): x * x in float is
  // the same value, since (double)x * (double)x is exact and rounds to f32 once either way.
  if (base_dtype == DType::kF32 && exp_dtype == DType::kF32 && operand_numel(params, params.src1_strides) == 1 &&
      static_cast<const float*>(exponent)[0] == 2.0f) {
    broadcast_loop(params, static_cast<const float*>(base), static_cast<const float*>(exponent),
                   static_cast<float*>(dst), [](float x, float) { return x * x; });
    return true;
  }
  const std::vector<double> a = as_double(base_dtype, base, operand_numel(params, params.src0_strides));
  const std::vector<double> b = as_double(exp_dtype, exponent, operand_numel(params, params.src1_strides));
  if (a.empty() || b.empty()) return false;
  int64_t dst_numel = 1;
  for (int k = 0; k < params.rank; ++k) dst_numel *= params.dst_shape[k];
  std::vector<double> out(static_cast<size_t>(dst_numel));
  broadcast_loop(params, a.data(), b.data(), out.data(), [](double x, double y) { return std::pow(x, y); });
  switch (base_dtype) {
    case DType::kF32:
      for (size_t i = 0; i < out.size(); ++i) static_cast<float*>(dst)[i] = static_cast<float>(out[i]);
      break;
    case DType::kS32: store_truncated(out, static_cast<int32_t*>(dst)); break;
    case DType::kS64: store_truncated(out, static_cast<int64_t*>(dst)); break;
    default: return false;
  }
  return true;
}
void prelu_f32__ref(const BroadcastParams& params, const float* x, const float* slope, float* dst) {
  broadcast_loop(params, x, slope, dst, [](float a, float s) { return a >= 0.0f ? a : s * a; });
}
void binary_u8__ref(BinaryOp op, const BroadcastParams& params, const uint8_t* src0, const uint8_t* src1,
                    uint8_t* dst) {
  binary_int(op, params, src0, src1, dst);
}
void binary_s8__ref(BinaryOp op, const BroadcastParams& params, const int8_t* src0, const int8_t* src1,
                    int8_t* dst) {
  binary_int(op, params, src0, src1, dst);
}
void binary_s32__ref(BinaryOp op, const BroadcastParams& params, const int32_t* src0, const int32_t* src1,
                     int32_t* dst) {
  binary_int(op, params, src0, src1, dst);
}
void binary_s64__ref(BinaryOp op, const BroadcastParams& params, const int64_t* src0, const int64_t* src1,
                     int64_t* dst) {
  binary_int(op, params, src0, src1, dst);
}

}  // namespace hqp::kernels
