// Tests of gemm_f32__ref and matmul_f32__ref against FP64 formulations with explicitly
// materialized transposes and per-element broadcast indexing, plus ONNX hand cases.
#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/gemm.h"
#include "ref_test_util.h"
#include "ref_tolerances.h"

namespace hqp::kernels {
namespace {

using test::kGemmRefTol;

enum class CShape { kNone, kScalar, kRow, kColumn, kFull };

struct GemmCase {
  int64_t m, n, k;
  bool trans_a, trans_b;
  float alpha, beta;
  CShape c_shape;
};

std::string gemm_name(const GemmCase& c) {
  std::ostringstream os;
  os << "M" << c.m << " N" << c.n << " K" << c.k << (c.trans_a ? " tA" : "") << (c.trans_b ? " tB" : "") << " C"
     << static_cast<int>(c.c_shape);
  return os.str();
}

void run_gemm_case(const GemmCase& c, uint32_t seed) {
  const std::vector<float> a = test::random_floats(static_cast<size_t>(c.m * c.k), seed);
  const std::vector<float> b = test::random_floats(static_cast<size_t>(c.k * c.n), seed + 1);
  GemmParams p;
  p.m = c.m;
  p.n = c.n;
  p.k = c.k;
  p.trans_a = c.trans_a;
  p.trans_b = c.trans_b;
  p.alpha = c.alpha;
  p.beta = c.beta;
  size_t c_count = 0;
  switch (c.c_shape) {
    case CShape::kNone: break;
    case CShape::kScalar: c_count = 1; p.c_stride_m = 0; p.c_stride_n = 0; break;
    case CShape::kRow: c_count = static_cast<size_t>(c.n); p.c_stride_m = 0; p.c_stride_n = 1; break;
    case CShape::kColumn: c_count = static_cast<size_t>(c.m); p.c_stride_m = 1; p.c_stride_n = 0; break;
    case CShape::kFull: c_count = static_cast<size_t>(c.m * c.n); p.c_stride_m = c.n; p.c_stride_n = 1; break;
  }
  const std::vector<float> cm = test::random_floats(c_count, seed + 2);

  // Logical A' [M, K] and B' [K, N] materialized from their stored layouts.
  std::vector<double> at(static_cast<size_t>(c.m * c.k)), bt(static_cast<size_t>(c.k * c.n));
  for (int64_t i = 0; i < c.m; ++i)
    for (int64_t kk = 0; kk < c.k; ++kk)
      at[static_cast<size_t>(i * c.k + kk)] = a[static_cast<size_t>(c.trans_a ? kk * c.m + i : i * c.k + kk)];
  for (int64_t kk = 0; kk < c.k; ++kk)
    for (int64_t j = 0; j < c.n; ++j)
      bt[static_cast<size_t>(kk * c.n + j)] = b[static_cast<size_t>(c.trans_b ? j * c.k + kk : kk * c.n + j)];
  std::vector<double> want(static_cast<size_t>(c.m * c.n));
  for (int64_t j = 0; j < c.n; ++j) {
    for (int64_t i = 0; i < c.m; ++i) {
      double dot = 0;
      for (int64_t kk = 0; kk < c.k; ++kk) {
        dot += at[static_cast<size_t>(i * c.k + kk)] * bt[static_cast<size_t>(kk * c.n + j)];
      }
      double cv = 0;
      switch (c.c_shape) {
        case CShape::kNone: break;
        case CShape::kScalar: cv = cm[0]; break;
        case CShape::kRow: cv = cm[static_cast<size_t>(j)]; break;
        case CShape::kColumn: cv = cm[static_cast<size_t>(i)]; break;
        case CShape::kFull: cv = cm[static_cast<size_t>(i * c.n + j)]; break;
      }
      want[static_cast<size_t>(i * c.n + j)] = c.alpha * dot + c.beta * cv;
    }
  }
  std::vector<float> dst(static_cast<size_t>(c.m * c.n), 1e9f);
  gemm_f32__ref(p, a.data(), b.data(), c.c_shape == CShape::kNone ? nullptr : cm.data(), dst.data());
  test::expect_all_near(dst, want, kGemmRefTol, gemm_name(c));
}

TEST(GemmRef, SweepSizesTransposesAndBias) {
  uint32_t seed = test::kRefTestSeed + 50;
  const int64_t sizes[] = {1, 7, 16, 17};
  for (int64_t m : sizes)
    for (int64_t n : sizes)
      for (int64_t k : {int64_t{1}, int64_t{13}, int64_t{64}})
        for (int t = 0; t < 4; ++t)
          for (CShape cs : {CShape::kNone, CShape::kScalar, CShape::kRow, CShape::kColumn, CShape::kFull}) {
            run_gemm_case(GemmCase{m, n, k, (t & 1) != 0, (t & 2) != 0, 0.75f, -1.25f, cs}, seed);
            seed += 3;
          }
}

TEST(GemmRef, ClassifierShape) {
  // ResNet-18's fc: [1, 512] x [1000, 512]^T + [1000].
  run_gemm_case(GemmCase{1, 1000, 512, false, true, 1.0f, 1.0f, CShape::kRow}, test::kRefTestSeed + 51);
}

TEST(GemmRef, HandComputed) {
  // A [2, 3], B^T stored [2, 3]; alpha 2, beta 0.5, C row [10, 20].
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  const std::vector<float> b = {1, 0, -1, 2, 1, 0};
  const std::vector<float> c = {10, 20};
  GemmParams p;
  p.m = 2;
  p.n = 2;
  p.k = 3;
  p.trans_b = true;
  p.alpha = 2.0f;
  p.beta = 0.5f;
  p.c_stride_m = 0;
  p.c_stride_n = 1;
  std::vector<float> dst(4);
  gemm_f32__ref(p, a.data(), b.data(), c.data(), dst.data());
  // A*B^T = [[-2, 4], [-2, 13]]
  EXPECT_EQ(dst, (std::vector<float>{1, 18, 1, 36}));
}

// ---- MatMul ----

struct MatMulCase {
  std::vector<int64_t> a, b, want_dst;
};

// Per output element: locate the A row and B column by broadcasting the batch index directly.
std::vector<double> naive_matmul(const MatMulCase& c, const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<int64_t> as = c.a, bs = c.b;
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const size_t batch_rank = std::max(as.size(), bs.size()) - 2;
  std::vector<int64_t> batch(batch_rank);
  for (size_t i = 0; i < batch_rank; ++i) {
    const int64_t da = i + as.size() - 2 >= batch_rank ? as[i + as.size() - 2 - batch_rank] : 1;
    const int64_t db = i + bs.size() - 2 >= batch_rank ? bs[i + bs.size() - 2 - batch_rank] : 1;
    batch[i] = da == 1 ? db : da;
  }
  auto operand_batch_offset = [&](const std::vector<int64_t>& shape, const std::vector<int64_t>& idx) {
    int64_t flat = 0;
    const size_t ob = shape.size() - 2;
    for (size_t i = 0; i < ob; ++i) {
      const int64_t d = shape[i];
      flat = flat * d + (d == 1 ? 0 : idx[batch_rank - ob + i]);
    }
    return flat;
  };
  std::vector<double> dst;
  const int64_t batch_count = test::product(batch);
  for (int64_t bi = 0; bi < batch_count; ++bi) {
    std::vector<int64_t> idx(batch_rank);
    int64_t flat = bi;
    for (size_t i = batch_rank; i-- > 0;) {
      idx[i] = flat % batch[i];
      flat /= batch[i];
    }
    const int64_t oa = operand_batch_offset(as, idx) * m * k, ob = operand_batch_offset(bs, idx) * k * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t kk = 0; kk < k; ++kk)
          acc += static_cast<double>(a[static_cast<size_t>(oa + i * k + kk)]) * b[static_cast<size_t>(ob + kk * n + j)];
        dst.push_back(acc);
      }
  }
  return dst;
}

class MatMulRefSweep : public ::testing::TestWithParam<MatMulCase> {};

TEST_P(MatMulRefSweep, MatchesBroadcastFormulation) {
  const MatMulCase& c = GetParam();
  MatMulParams p;
  ASSERT_TRUE(make_matmul_params(c.a, c.b, &p));
  ASSERT_EQ(std::vector<int64_t>(p.dst_shape, p.dst_shape + p.dst_rank), c.want_dst);
  const std::vector<float> a = test::random_floats(static_cast<size_t>(test::product(c.a)), test::kRefTestSeed + 60);
  const std::vector<float> b = test::random_floats(static_cast<size_t>(test::product(c.b)), test::kRefTestSeed + 61);
  std::vector<float> dst(static_cast<size_t>(test::product(c.want_dst)), 1e9f);
  matmul_f32__ref(p, a.data(), b.data(), dst.data());
  test::expect_all_near(dst, naive_matmul(c, a, b), kGemmRefTol, "matmul");
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MatMulRefSweep,
    ::testing::Values(MatMulCase{{3, 4}, {4, 5}, {3, 5}},                      // test_matmul_2d
                      MatMulCase{{2, 3, 4}, {2, 4, 3}, {2, 3, 3}},             // test_matmul_3d
                      MatMulCase{{1, 2, 3, 4}, {1, 2, 4, 3}, {1, 2, 3, 3}},    // test_matmul_4d
                      MatMulCase{{2, 3, 4}, {4, 5}, {2, 3, 5}},                // batch x matrix
                      MatMulCase{{4, 5}, {3, 5, 2}, {3, 4, 2}},                // matrix x batch
                      MatMulCase{{4}, {4, 5}, {5}},                            // 1-D first operand
                      MatMulCase{{3, 4}, {4}, {3}},                            // 1-D second operand
                      MatMulCase{{7}, {7}, {}},                                // dot product, 0-d output
                      MatMulCase{{4}, {2, 4, 3}, {2, 3}},                      // 1-D x batch
                      MatMulCase{{2, 3, 4}, {4}, {2, 3}},                      // batch x 1-D
                      MatMulCase{{2, 1, 3, 4}, {5, 4, 6}, {2, 5, 3, 6}},       // two-way batch broadcast
                      MatMulCase{{1, 3, 4}, {2, 4, 2}, {2, 3, 2}},
                      MatMulCase{{3, 1, 13}, {1, 13, 1}, {3, 1, 1}},
                      MatMulCase{{0, 3, 4}, {4, 2}, {0, 3, 2}}));

TEST(MatMulRef, HandComputed) {
  const std::vector<float> a = {1, 2, 3, 4};  // [2, 2]
  const std::vector<float> b = {5, 6, 7, 8};  // [2, 2]
  MatMulParams p;
  ASSERT_TRUE(make_matmul_params(std::vector<int64_t>{2, 2}, std::vector<int64_t>{2, 2}, &p));
  std::vector<float> dst(4);
  matmul_f32__ref(p, a.data(), b.data(), dst.data());
  EXPECT_EQ(dst, (std::vector<float>{19, 22, 43, 50}));
}

TEST(MatMulRef, RejectsIncompatibleShapes) {
  MatMulParams p;
  EXPECT_FALSE(make_matmul_params(std::vector<int64_t>{3, 4}, std::vector<int64_t>{5, 6}, &p));      // K mismatch
  EXPECT_FALSE(make_matmul_params(std::vector<int64_t>{2, 3, 4}, std::vector<int64_t>{3, 4, 5}, &p));  // batch 2 vs 3
  EXPECT_FALSE(make_matmul_params(std::vector<int64_t>{}, std::vector<int64_t>{3}, &p));             // scalar
  EXPECT_FALSE(make_matmul_params(std::vector<int64_t>{4}, std::vector<int64_t>{5}, &p));
  EXPECT_FALSE(make_matmul_params(std::vector<int64_t>(kMaxKernelRank + 1, 1), std::vector<int64_t>{1, 1}, &p));
}

}  // namespace
}  // namespace hqp::kernels
