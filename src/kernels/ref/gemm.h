// Reference FP32 matrix products: ONNX Gemm and numpy-style batched MatMul.
// The specification for fast GEMM paths; plain triple loops, no blocking, no INT8.
#pragma once

#include <cstdint>
#include <span>

#include "kernels/ref/kernel_limits.h"

namespace hqp::kernels {

// ONNX Gemm: Y = alpha * A' * B' + beta * C, with A' = transA ? A^T : A, B' = transB ? B^T : B.
struct GemmParams {
  int64_t m = 1;
  int64_t n = 1;
  int64_t k = 1;
  bool trans_a = false;
  bool trans_b = false;
  float alpha = 1.0f;
  float beta = 1.0f;
  // C (when present) is read as C[i * c_stride_m + j * c_stride_n]: strides in elements of C
  // after unidirectional broadcasting to [M, N]; 0 broadcasts. C of shape [N] is (0, 1), [M, 1]
  // is (1, 0), [M, N] is (N, 1), a scalar or [1] or [1, 1] is (0, 0).
  int64_t c_stride_m = 0;
  int64_t c_stride_n = 0;
};

// src_a: [M, K] (or [K, M] when trans_a), src_b: [K, N] (or [N, K] when trans_b), row-major.
// src_c: nullptr (no C term) or broadcastable to [M, N] as described by the strides.
// dst: [M, N] row-major, fully overwritten; must not alias the inputs. FP32 accumulation over k.
void gemm_f32__ref(const GemmParams& params, const float* src_a, const float* src_b, const float* src_c,
                   float* dst);

// numpy.matmul / ONNX MatMul. The leading (batch) dims broadcast; a 1-D first operand [K] acts as
// [1, K] and a 1-D second operand [K] acts as [K, 1], and the added dim is removed from the output.
struct MatMulParams {
  int64_t m = 1;
  int64_t n = 1;
  int64_t k = 1;
  int batch_rank = 0;                              // broadcast batch dims of the output
  int64_t batch_shape[kMaxKernelRank] = {};        // [batch_rank]
  int64_t src_a_batch_strides[kMaxKernelRank] = {};  // elements per batch step of A; 0 broadcasts
  int64_t src_b_batch_strides[kMaxKernelRank] = {};
  int dst_rank = 0;                                // ONNX output rank (after 1-D promotion removal)
  int64_t dst_shape[kMaxKernelRank] = {};
};

// Fills `params` for contiguous row-major operands. Returns false when a rank is 0, the inner
// dims differ, the batch dims do not broadcast, a dim is negative, or a rank exceeds
// kMaxKernelRank; `params` is then unspecified.
bool make_matmul_params(std::span<const int64_t> src_a_shape, std::span<const int64_t> src_b_shape,
                        MatMulParams* params);

// For every batch index b: dst[b] ([M, N]) = src_a[b] ([M, K]) * src_b[b] ([K, N]).
// dst: [dst_shape] contiguous row-major, fully overwritten; must not alias the inputs.
void matmul_f32__ref(const MatMulParams& params, const float* src_a, const float* src_b, float* dst);

}  // namespace hqp::kernels
