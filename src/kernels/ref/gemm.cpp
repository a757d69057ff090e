// Reference Gemm and MatMul: i-k-j loop order so the innermost loop runs along a row of the
// output. No blocking, packing or threading.
#include "kernels/ref/gemm.h"

#include <cassert>

namespace hqp::kernels {

namespace {

// dst[M, N] = sum_k a(i, k) * b(k, j) where a(i, k) = src_a[i*a_rs + k*a_cs], b(k, j) = src_b[k*b_rs + j*b_cs].
void matmul_plain(int64_t m, int64_t n, int64_t k, const float* src_a, int64_t a_rs, int64_t a_cs, const float* src_b,
                  int64_t b_rs, int64_t b_cs, float* dst) {
  for (int64_t i = 0; i < m; ++i) {
    float* dst_row = dst + i * n;
    for (int64_t j = 0; j < n; ++j) dst_row[j] = 0.0f;
    for (int64_t kk = 0; kk < k; ++kk) {
      const float a = src_a[i * a_rs + kk * a_cs];
      const float* b_row = src_b + kk * b_rs;
      for (int64_t j = 0; j < n; ++j) dst_row[j] += a * b_row[j * b_cs];
    }
  }
}

}  // namespace

void gemm_f32__ref(const GemmParams& params, const float* src_a, const float* src_b, const float* src_c,
                   float* dst) {
  const int64_t m = params.m, n = params.n, k = params.k;
  // A is stored [M, K] (row stride K) or, transposed, [K, M]; likewise B.
  const int64_t a_rs = params.trans_a ? 1 : k;
  const int64_t a_cs = params.trans_a ? m : 1;
  const int64_t b_rs = params.trans_b ? 1 : n;
  const int64_t b_cs = params.trans_b ? k : 1;
  matmul_plain(m, n, k, src_a, a_rs, a_cs, src_b, b_rs, b_cs, dst);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float y = params.alpha * dst[i * n + j];
      if (src_c != nullptr) y += params.beta * src_c[i * params.c_stride_m + j * params.c_stride_n];
      dst[i * n + j] = y;
    }
  }
}

bool make_matmul_params(std::span<const int64_t> src_a_shape, std::span<const int64_t> src_b_shape,
                        MatMulParams* params) {
  const size_t rank_a = src_a_shape.size();
  const size_t rank_b = src_b_shape.size();
  constexpr size_t kMax = static_cast<size_t>(kMaxKernelRank);
  if (rank_a == 0 || rank_b == 0 || rank_a > kMax || rank_b > kMax) return false;
  for (int64_t d : src_a_shape) if (d < 0) return false;
  for (int64_t d : src_b_shape) if (d < 0) return false;

  MatMulParams p;
  const bool a_vector = rank_a == 1;
  const bool b_vector = rank_b == 1;
  p.m = a_vector ? 1 : src_a_shape[rank_a - 2];
  const int64_t k_a = src_a_shape[rank_a - 1];
  const int64_t k_b = b_vector ? src_b_shape[0] : src_b_shape[rank_b - 2];
  p.n = b_vector ? 1 : src_b_shape[rank_b - 1];
  if (k_a != k_b) return false;
  p.k = k_a;

  // Batch dims: everything before the last two (nothing for a 1-D operand), broadcast numpy-style.
  const size_t batch_a = a_vector ? 0 : rank_a - 2;
  const size_t batch_b = b_vector ? 0 : rank_b - 2;
  const size_t batch_rank = batch_a > batch_b ? batch_a : batch_b;
  p.batch_rank = static_cast<int>(batch_rank);
  int64_t stride_a = p.m * p.k;  // elements of one A matrix
  int64_t stride_b = p.k * p.n;
  for (size_t r = 0; r < batch_rank; ++r) {
    const size_t idx = batch_rank - 1 - r;
    const int64_t da = r < batch_a ? src_a_shape[batch_a - 1 - r] : 1;
    const int64_t db = r < batch_b ? src_b_shape[batch_b - 1 - r] : 1;
    if (da != db && da != 1 && db != 1) return false;
    p.batch_shape[idx] = da == 1 ? db : da;
    p.src_a_batch_strides[idx] = da == 1 ? 0 : stride_a;
    p.src_b_batch_strides[idx] = db == 1 ? 0 : stride_b;
    stride_a *= da;
    stride_b *= db;
  }

  p.dst_rank = 0;
  for (size_t i = 0; i < batch_rank; ++i) p.dst_shape[p.dst_rank++] = p.batch_shape[i];
  if (!a_vector) p.dst_shape[p.dst_rank++] = p.m;
  if (!b_vector) p.dst_shape[p.dst_rank++] = p.n;
  // Both 1-D gives a 0-d (scalar) output, as numpy does.
  *params = p;
  return true;
}

void matmul_f32__ref(const MatMulParams& params, const float* src_a, const float* src_b, float* dst) {
  assert(params.batch_rank >= 0 && params.batch_rank <= kMaxKernelRank);
  int64_t batch_count = 1;
  for (int i = 0; i < params.batch_rank; ++i) batch_count *= params.batch_shape[i];
  const int64_t m = params.m, n = params.n, k = params.k;
  int64_t index[kMaxKernelRank] = {};
  for (int64_t b = 0; b < batch_count; ++b) {
    int64_t off_a = 0, off_b = 0;
    for (int i = 0; i < params.batch_rank; ++i) {
      off_a += index[i] * params.src_a_batch_strides[i];
      off_b += index[i] * params.src_b_batch_strides[i];
    }
    matmul_plain(m, n, k, src_a + off_a, k, 1, src_b + off_b, n, 1, dst + b * m * n);
    for (int i = params.batch_rank - 1; i >= 0; --i) {
      if (++index[i] < params.batch_shape[i]) break;
      index[i] = 0;
    }
  }
}

}  // namespace hqp::kernels
