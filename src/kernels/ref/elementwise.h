// Reference element-wise kernels: FP32 activations, Clip, inference BatchNormalization and the
// broadcasting binary arithmetic ops (Add/Sub/Mul/Div) with ONNX (numpy) semantics. No fused ops.
#pragma once

#include <cstdint>
#include <span>

#include "core/dtype.h"
#include "kernels/ref/kernel_limits.h"

namespace hqp::kernels {

// ---- Unary. src and dst hold `count` contiguous elements; dst may alias src. NaN propagates. ----

// dst = max(src, 0)
void relu_f32__ref(int64_t count, const float* src, float* dst);
// dst = 1 / (1 + exp(-src))
void sigmoid_f32__ref(int64_t count, const float* src, float* dst);
// dst = src * sigmoid(src), rounded as Sigmoid then Mul (sigmoid_f32__ref, then one float product)
void silu_f32__ref(int64_t count, const float* src, float* dst);
// dst = src >= 0 ? src : alpha * src   (ONNX LeakyRelu, default alpha=0.01)
void leaky_relu_f32__ref(int64_t count, float alpha, const float* src, float* dst);
// dst = tanh(src), exp(src), sqrt(src) (NaN for src < 0), erf(src): the C library's functions.
void tanh_f32__ref(int64_t count, const float* src, float* dst);
void exp_f32__ref(int64_t count, const float* src, float* dst);
void sqrt_f32__ref(int64_t count, const float* src, float* dst);
void erf_f32__ref(int64_t count, const float* src, float* dst);
// dst = (x * (erf(x / kGeluSqrt2) + 1)) * 0.5 in float, operation by operation as PyTorch's ONNX
// export of GELU computes it (Div, Erf, Add, Mul, Mul), so the fused op equals the unfused graph.
inline constexpr float kGeluSqrt2 = 1.41421353816986083984375f;  // float(sqrt(2)), as exported
void gelu_erf_f32__ref(int64_t count, const float* src, float* dst);
// dst = max(0, min(1, alpha*src + beta))   (ONNX defaults alpha=0.2, beta=0.5)
void hardsigmoid_f32__ref(int64_t count, float alpha, float beta, const float* src, float* dst);
// dst = src * max(0, min(1, src/6 + 0.5))  (ONNX HardSwish: alpha=1/6, beta=0.5)
void hardswish_f32__ref(int64_t count, const float* src, float* dst);
// dst = min(max(src, lo), hi), i.e. numpy.clip: when lo > hi every element becomes hi.
void clip_f32__ref(int64_t count, float lo, float hi, const float* src, float* dst);
void clip_u8__ref(int64_t count, uint8_t lo, uint8_t hi, const uint8_t* src, uint8_t* dst);
void clip_s8__ref(int64_t count, int8_t lo, int8_t hi, const int8_t* src, int8_t* dst);
void clip_s32__ref(int64_t count, int32_t lo, int32_t hi, const int32_t* src, int32_t* dst);
void clip_s64__ref(int64_t count, int64_t lo, int64_t hi, const int64_t* src, int64_t* dst);

// ---- BatchNormalization (inference mode, training_mode=0). ----

struct BatchNormParams {
  int64_t batch = 1;
  int64_t channels = 1;      // axis 1
  int64_t spatial_size = 1;  // product of dims after axis 1 (1 for a 2-D [N, C] input)
  float epsilon = 1e-5f;
};

// dst[n, c, i] = scale[c] * (src[n, c, i] - mean[c]) / sqrt(var[c] + epsilon) + bias[c]
// src, dst: [N, C, spatial...] contiguous (dst may alias src); scale, bias, mean, var: [C].
void batchnorm_f32__ref(const BatchNormParams& params, const float* src, const float* scale, const float* bias,
                        const float* mean, const float* var, float* dst);

// ---- Binary arithmetic with numpy multidirectional broadcasting. ----

enum class BinaryOp { kAdd, kSub, kMul, kDiv };

// dst[i...] = src0[sum_k i_k * src0_strides[k]] op src1[sum_k i_k * src1_strides[k]] for every index
// i of dst_shape; a stride of 0 broadcasts that dim. rank 0 is a scalar op.
struct BroadcastParams {
  int rank = 0;
  int64_t dst_shape[kMaxKernelRank] = {};
  int64_t src0_strides[kMaxKernelRank] = {};  // in elements
  int64_t src1_strides[kMaxKernelRank] = {};  // in elements
};

// Fills `params` for contiguous row-major inputs of the given shapes (numpy rules: align trailing
// dims; each pair must be equal or contain a 1). Returns false when the shapes are incompatible,
// a dim is negative, or the broadcast rank exceeds kMaxKernelRank; `params` is then unspecified.
bool make_broadcast_params(std::span<const int64_t> src0_shape, std::span<const int64_t> src1_shape,
                           BroadcastParams* params);

// dst: contiguous row-major [dst_shape]; must not alias an input that is broadcast.
// f32: IEEE arithmetic (x/0 = ±inf or NaN).
// Integers follow numpy on int arrays: Add/Sub/Mul wrap modulo 2^bits (u8 200+100 = 44);
// Div truncates toward zero like C (-7/2 = -3), INT_MIN / -1 wraps to INT_MIN, and x / 0 = 0
// (ONNX leaves integer division by zero undefined; numpy also yields 0).
void binary_f32__ref(BinaryOp op, const BroadcastParams& params, const float* src0, const float* src1, float* dst);
// dst = pow(base, exponent) with numpy broadcasting (ONNX Pow): base f32 / s32 / s64, exponent f32 /
// s32 / s64 / u8 / s8, dst of the base's dtype. Evaluated as std::pow in double, then rounded to f32
// or truncated toward zero to the integer type (NaN for a negative base and a non-integer
// exponent). Returns false, writing nothing, for other dtypes.
bool pow__ref(const BroadcastParams& params, DType base_dtype, const void* base, DType exp_dtype, const void* exponent,
              void* dst);
// dst = x >= 0 ? x : slope * x (ONNX PRelu), broadcasting (the slope broadcasts to x's shape).
void prelu_f32__ref(const BroadcastParams& params, const float* x, const float* slope, float* dst);
void binary_u8__ref(BinaryOp op, const BroadcastParams& params, const uint8_t* src0, const uint8_t* src1,
                    uint8_t* dst);
void binary_s8__ref(BinaryOp op, const BroadcastParams& params, const int8_t* src0, const int8_t* src1,
                    int8_t* dst);
void binary_s32__ref(BinaryOp op, const BroadcastParams& params, const int32_t* src0, const int32_t* src1,
                     int32_t* dst);
void binary_s64__ref(BinaryOp op, const BroadcastParams& params, const int64_t* src0, const int64_t* src1,
                     int64_t* dst);

}  // namespace hqp::kernels
