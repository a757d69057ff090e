// Tests of the oneDNN eltwise, binary (with broadcast) and layout-reorder kernels against the
// reference kernels, the strided copy (Transpose) against the reference transpose, the thread-count
// control, and applies() rejections.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/onednn/elementwise_onednn.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/layout.h"
#include "kernels/ref/ref_test_util.h"
#include "onednn_test_util.h"
#include "onednn_tolerances.h"

namespace hqp::kernels::onednn {
namespace {

using test::kBinaryOnednnTol;
using test::kEltwiseOnednnTol;
using test::kRefTestSeed;

// Sqrt on non-negative inputs (NaN below zero on both sides, which the comparison would not accept).
TEST(EltwiseF32Onednn, SqrtMatchesReference) {
  const std::vector<float> src = test::random_floats(1031, kRefTestSeed, 0.0f, 100.0f);
  EltwiseF32OnednnParams params{1031, Activation::kSqrt, 0, 0};
  Result<EltwiseF32Onednn> k = EltwiseF32Onednn::create(params);
  ASSERT_TRUE(k.ok()) << k.status().message();
  std::vector<float> want = src;
  test::apply_activation_ref(Activation::kSqrt, 0, 0, want);
  std::vector<float> got(src.size());
  ASSERT_TRUE(k->run(src.data(), got.data()).ok());
  test::expect_all_near(got, want, kEltwiseOnednnTol, "sqrt [" + k->implementation() + "]");
}

TEST(EltwiseF32Onednn, EveryActivationMatchesReference) {
  struct A {
    Activation act;
    float alpha, beta;
  };
  for (int64_t count : {int64_t{1}, int64_t{17}, int64_t{1031}, int64_t{112 * 112 * 16}}) {
    const std::vector<float> src = test::random_floats(static_cast<size_t>(count), kRefTestSeed, -8.0f, 8.0f);
    for (const A& a : {A{Activation::kRelu, 0, 0}, A{Activation::kClip, 0.0f, 6.0f}, A{Activation::kClip, -1.5f, 0.25f},
                       A{Activation::kHardSwish, 0, 0}, A{Activation::kHardSigmoid, 0.2f, 0.5f},
                       A{Activation::kHardSigmoid, 1.0f / 6.0f, 0.5f}, A{Activation::kSigmoid, 0, 0},
                       A{Activation::kLeakyRelu, 0.01f, 0}, A{Activation::kLeakyRelu, 0.2f, 0}, A{Activation::kTanh, 0, 0},
                       A{Activation::kExp, 0, 0}, A{Activation::kSwish, 0, 0}}) {
      EltwiseF32OnednnParams params{count, a.act, a.alpha, a.beta};
      const std::string what = std::string(EltwiseF32Onednn::name(params)) + "/" + std::to_string(count);
      Result<EltwiseF32Onednn> k = EltwiseF32Onednn::create(params);
      ASSERT_TRUE(k.ok()) << what << ": " << k.status().message();
      std::vector<float> want = src;
      test::apply_activation_ref(a.act, a.alpha, a.beta, want);
      std::vector<float> got(src.size());
      ASSERT_TRUE(k->run(src.data(), got.data()).ok());
      test::expect_all_near(got, want, kEltwiseOnednnTol, what + " [" + k->implementation() + "]");
      std::vector<float> in_place = src;  // dst may alias src
      ASSERT_TRUE(k->run(in_place.data(), in_place.data()).ok());
      test::expect_all_near(in_place, want, kEltwiseOnednnTol, what + " in place");
    }
  }
}

TEST(EltwiseF32OnednnApplies, RejectsNoneAndEmptyClip) {
  Status st = EltwiseF32Onednn::applies({16, Activation::kNone, 0, 0});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("activation=none"), std::string::npos) << st.message();
  st = EltwiseF32Onednn::applies({16, Activation::kClip, 2.0f, 1.0f});
  EXPECT_EQ(st.code(), StatusCode::kUnsupported);
  EXPECT_NE(st.message().find("min=2"), std::string::npos) << st.message();
}

struct BinaryCase {
  std::string name;
  int rank;
  std::vector<int64_t> src0, src1;
};

// Reference: make_broadcast_params + binary_f32__ref.
std::vector<float> binary_ref(BinaryOp op, const BinaryCase& c, const std::vector<float>& a, const std::vector<float>& b) {
  BroadcastParams bp;
  EXPECT_TRUE(make_broadcast_params(c.src0, c.src1, &bp));
  int64_t n = 1;
  for (int i = 0; i < bp.rank; ++i) n *= bp.dst_shape[i];
  std::vector<float> dst(static_cast<size_t>(n));
  binary_f32__ref(op, bp, a.data(), b.data(), dst.data());
  return dst;
}

TEST(BinaryF32Onednn, BroadcastCasesMatchReference) {
  const BinaryCase cases[] = {
      {"SameShape", 4, {1, 24, 28, 28}, {1, 24, 28, 28}},
      {"SeBlockMul", 4, {1, 96, 14, 14}, {1, 96, 1, 1}},
      {"SeBlockOddChannels", 4, {2, 17, 5, 7}, {2, 17, 1, 1}},
      {"Src0Broadcast", 4, {1, 40, 1, 1}, {1, 40, 9, 9}},
      {"ScalarLike", 3, {3, 5, 7}, {1, 1, 1}},
      {"Rank2Row", 2, {6, 11}, {1, 11}},
  };
  for (const BinaryCase& c : cases) {
    int64_t n0 = 1, n1 = 1;
    for (int64_t d : c.src0) n0 *= d;
    for (int64_t d : c.src1) n1 *= d;
    const std::vector<float> a = test::random_floats(static_cast<size_t>(n0), kRefTestSeed, -2.0f, 2.0f);
    const std::vector<float> b = test::random_floats(static_cast<size_t>(n1), kRefTestSeed + 1, -2.0f, 2.0f);
    for (BinaryAlgorithm alg : {BinaryAlgorithm::kAdd, BinaryAlgorithm::kMul}) {
      for (Activation act : {Activation::kNone, Activation::kRelu}) {
        BinaryF32OnednnParams params;
        params.algorithm = alg;
        params.rank = c.rank;
        for (int i = 0; i < c.rank; ++i) {
          params.src0_dims[i] = c.src0[static_cast<size_t>(i)];
          params.src1_dims[i] = c.src1[static_cast<size_t>(i)];
        }
        params.activation = act;
        const std::string what = c.name + "/" + std::string(BinaryF32Onednn::name(params)) + "/" +
                                 std::string(activation_name(act));
        Result<BinaryF32Onednn> k = BinaryF32Onednn::create(params);
        ASSERT_TRUE(k.ok()) << what << ": " << k.status().message();
        std::vector<float> want = binary_ref(alg == BinaryAlgorithm::kAdd ? BinaryOp::kAdd : BinaryOp::kMul, c, a, b);
        test::apply_activation_ref(act, 0, 0, want);
        std::vector<float> got(want.size());
        ASSERT_TRUE(k->run(a.data(), b.data(), got.data()).ok());
        test::expect_all_near(got, want, kBinaryOnednnTol, what + " [" + k->implementation() + "]");
      }
    }
  }
}

TEST(BinaryF32Onednn, SeBlockInNhwc) {
  const int64_t n = 1, c = 24, h = 5, w = 6;
  const std::vector<float> x = test::random_floats(static_cast<size_t>(n * c * h * w), kRefTestSeed);
  const std::vector<float> s = test::random_floats(static_cast<size_t>(n * c), kRefTestSeed + 1);
  BinaryF32OnednnParams params;
  params.algorithm = BinaryAlgorithm::kMul;
  params.layout = Layout::kNhwc;
  const int64_t d0[4] = {n, c, h, w}, d1[4] = {n, c, 1, 1};
  std::copy(d0, d0 + 4, params.src0_dims);
  std::copy(d1, d1 + 4, params.src1_dims);
  Result<BinaryF32Onednn> k = BinaryF32Onednn::create(params);
  ASSERT_TRUE(k.ok()) << k.status().message();
  const BinaryCase bc{"se", 4, {n, c, h, w}, {n, c, 1, 1}};
  const std::vector<float> want = binary_ref(BinaryOp::kMul, bc, x, s);
  const std::vector<float> x_l = test::to_layout(x, Layout::kNhwc, n, c, h * w);
  std::vector<float> got_l(x.size());
  ASSERT_TRUE(k->run(x_l.data(), s.data(), got_l.data()).ok());
  test::expect_all_near(test::from_layout(got_l, Layout::kNhwc, n, c, h * w), want, kBinaryOnednnTol, "se nhwc");
}

TEST(BinaryF32OnednnApplies, RejectsTwoSidedBroadcastAndMismatch) {
  BinaryF32OnednnParams params;
  params.rank = 2;
  params.src0_dims[0] = 4;
  params.src0_dims[1] = 1;
  params.src1_dims[0] = 1;
  params.src1_dims[1] = 5;
  Status st = BinaryF32Onednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kUnsupported);
  EXPECT_NE(st.message().find("both operands broadcast"), std::string::npos) << st.message();
  params.src1_dims[0] = 3;
  st = BinaryF32Onednn::applies(params);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("src0=4, src1=3"), std::string::npos) << st.message();
}

TEST(LayoutReorderOnednn, RoundTripsAllDtypes) {
  const int64_t dims[4] = {2, 7, 5, 3};
  const std::vector<float> x = test::random_floats(2 * 7 * 5 * 3, kRefTestSeed);
  LayoutReorderOnednnParams to_nhwc;
  std::copy(dims, dims + 4, to_nhwc.dims);
  Result<LayoutReorderOnednn> k = LayoutReorderOnednn::create(to_nhwc);
  ASSERT_TRUE(k.ok()) << k.status().message();
  std::vector<float> got(x.size());
  ASSERT_TRUE(k->run(x.data(), got.data()).ok());
  test::expect_all_equal(got, test::to_layout(x, Layout::kNhwc, 2, 7, 15), "f32 to nhwc");

  LayoutReorderOnednnParams back = to_nhwc;
  back.dtype = DType::kU8;
  back.src_layout = Layout::kNhwc;
  back.dst_layout = Layout::kNchw;
  const std::vector<uint8_t> q = test::random_ints<uint8_t>(x.size(), kRefTestSeed, 0, 255);
  Result<LayoutReorderOnednn> kb = LayoutReorderOnednn::create(back);
  ASSERT_TRUE(kb.ok()) << kb.status().message();
  std::vector<uint8_t> q_nchw(q.size());
  ASSERT_TRUE(kb->run(q.data(), q_nchw.data()).ok());
  test::expect_all_equal(q_nchw, test::from_layout(q, Layout::kNhwc, 2, 7, 15), "u8 to nchw");

  LayoutReorderOnednnParams bad = to_nhwc;
  bad.dtype = DType::kS64;
  EXPECT_EQ(LayoutReorderOnednn::applies(bad).code(), StatusCode::kUnsupported);
}

// A Transpose as a strided copy (source strides permuted, destination row-major) equals the
// reference transpose bit for bit, for f32 and u8, ranks 2..6, permutations that keep and that
// move the innermost axis.
TEST(StridedCopyOnednn, TransposeEqualsReference) {
  struct Case {
    std::vector<int64_t> shape;
    std::vector<int> perm;
  };
  const std::vector<Case> cases = {{{5, 7}, {1, 0}},
                                   {{2, 8, 6, 5}, {0, 2, 3, 1}},
                                   {{2, 6, 5, 8}, {0, 3, 1, 2}},
                                   {{1, 2, 4, 3, 3}, {0, 2, 1, 3, 4}},
                                   {{3, 1, 4, 2, 5, 2}, {5, 3, 1, 0, 2, 4}}};
  for (const Case& c : cases) {
    const int r = static_cast<int>(c.shape.size());
    int64_t count = 1;
    for (int64_t d : c.shape) count *= d;
    std::vector<int64_t> src_strides(static_cast<size_t>(r), 1);
    for (int i = r - 1; i > 0; --i) src_strides[i - 1] = src_strides[i] * c.shape[i];
    StridedCopyOnednnParams p;
    p.rank = r;
    TransposeParams ref;
    ref.rank = r;
    for (int i = 0; i < r; ++i) {
      p.dims[i] = c.shape[c.perm[i]];
      p.src_strides[i] = src_strides[c.perm[i]];
      ref.src_shape[i] = c.shape[i];
      ref.perm[i] = c.perm[i];
    }
    for (int i = r - 1; i >= 0; --i) p.dst_strides[i] = i == r - 1 ? 1 : p.dst_strides[i + 1] * p.dims[i + 1];
    const std::string what = "rank " + std::to_string(r);

    const std::vector<float> x = test::random_floats(count, kRefTestSeed);
    Result<StridedCopyOnednn> k = StridedCopyOnednn::create(p);
    ASSERT_TRUE(k.ok()) << k.status().message();
    EXPECT_NE(k->implementation(), "memcpy") << what;
    std::vector<float> got(x.size()), want(x.size());
    ASSERT_TRUE(k->run(x.data(), got.data()).ok());
    transpose_any__ref(ref, sizeof(float), x.data(), want.data());
    test::expect_all_equal(got, want, what + " f32");

    p.dtype = DType::kU8;
    const std::vector<uint8_t> q = test::random_ints<uint8_t>(static_cast<size_t>(count), kRefTestSeed, 0, 255);
    Result<StridedCopyOnednn> kq = StridedCopyOnednn::create(p);
    ASSERT_TRUE(kq.ok()) << kq.status().message();
    std::vector<uint8_t> got_q(q.size()), want_q(q.size());
    ASSERT_TRUE(kq->run(q.data(), got_q.data()).ok());
    transpose_any__ref(ref, 1, q.data(), want_q.data());
    test::expect_all_equal(got_q, want_q, what + " u8");
  }
}

// Same strides on both sides (an NHWC tensor read as [N, H, W, C] row-major): one memcpy, also
// when a size-1 dim carries a different stride.
TEST(StridedCopyOnednn, SameStridesAreOneMemcpy) {
  StridedCopyOnednnParams p;
  p.rank = 4;
  const int64_t dims[4] = {1, 3, 4, 5};
  const int64_t src[4] = {999, 20, 5, 1};
  const int64_t dst[4] = {60, 20, 5, 1};
  std::copy(dims, dims + 4, p.dims);
  std::copy(src, src + 4, p.src_strides);
  std::copy(dst, dst + 4, p.dst_strides);
  Result<StridedCopyOnednn> k = StridedCopyOnednn::create(p);
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(k->implementation(), "memcpy");
  const std::vector<float> x = test::random_floats(60, kRefTestSeed);
  std::vector<float> got(60);
  ASSERT_TRUE(k->run(x.data(), got.data()).ok());
  test::expect_all_equal(got, x, "memcpy");
}

TEST(StridedCopyOnednn, RejectsWhatItCannotCopy) {
  StridedCopyOnednnParams p;
  p.rank = 2;
  p.dims[0] = 3;
  p.dims[1] = 4;
  p.src_strides[0] = 4;
  p.src_strides[1] = 1;
  p.dst_strides[0] = 1;
  p.dst_strides[1] = 3;
  EXPECT_TRUE(StridedCopyOnednn::applies(p).ok());
  StridedCopyOnednnParams s64 = p;
  s64.dtype = DType::kS64;
  EXPECT_EQ(StridedCopyOnednn::applies(s64).code(), StatusCode::kUnsupported);
  StridedCopyOnednnParams overlapping = p;
  overlapping.src_strides[0] = 2;  // rows overlap: not a dense permutation
  Status st = StridedCopyOnednn::applies(overlapping);
  EXPECT_EQ(st.code(), StatusCode::kUnsupported);
  EXPECT_NE(st.message().find("dense permutation"), std::string::npos) << st.message();
  StridedCopyOnednnParams empty = p;
  empty.dims[1] = 0;
  EXPECT_EQ(StridedCopyOnednn::applies(empty).code(), StatusCode::kInvalidArgument);
  StridedCopyOnednnParams rank0 = p;
  rank0.rank = 0;
  EXPECT_EQ(StridedCopyOnednn::applies(rank0).code(), StatusCode::kInvalidArgument);
}

TEST(OnednnThreads, RejectsNonPositiveCountAndReportsRuntime) {
  const int before = num_threads();
  Status st = set_num_threads(0);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("threads=0"), std::string::npos) << st.message();
  EXPECT_EQ(set_num_threads(-3).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(num_threads(), before);
  ASSERT_TRUE(set_num_threads(1).ok());
  EXPECT_EQ(num_threads(), 1);
  ASSERT_TRUE(set_num_threads(before).ok());
  EXPECT_EQ(threading_runtime(), "OpenMP");
  EXPECT_EQ(onednn_version().rfind("2.", 0), 0u) << onednn_version();
}

TEST(OnednnCache, IdenticalParamsShareOnePrimitive) {
  const size_t before = primitive_cache_size();
  EltwiseF32OnednnParams params{4099, Activation::kRelu, 0, 0};
  Result<EltwiseF32Onednn> a = EltwiseF32Onednn::create(params);
  ASSERT_TRUE(a.ok());
  const size_t after_first = primitive_cache_size();
  EXPECT_EQ(after_first, before + 1);
  Result<EltwiseF32Onednn> b = EltwiseF32Onednn::create(params);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(primitive_cache_size(), after_first);
}

}  // namespace
}  // namespace hqp::kernels::onednn
