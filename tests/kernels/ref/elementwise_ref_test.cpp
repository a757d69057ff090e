// Tests of the element-wise reference kernels: activations and Clip against FP64 formulas,
// BatchNormalization, and broadcasting binary ops against an unravel/ravel formulation.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/elementwise.h"
#include "ref_test_util.h"
#include "ref_tolerances.h"

namespace hqp::kernels {
namespace {

using test::kBatchNormRefTol;
using test::kBinaryF32RefTol;
using test::kUnaryRefTol;

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Awkward inputs: prime count, values around the activation knees, large magnitudes.
std::vector<float> unary_inputs() {
  std::vector<float> v = test::random_floats(101, test::kRefTestSeed + 20, -8.0f, 8.0f);
  for (float x : {0.0f, -0.0f, 3.0f, -3.0f, 2.5f, -2.5f, 1e-8f, -100.0f, 100.0f, 89.0f, -89.0f}) v.push_back(x);
  return v;
}

TEST(UnaryRef, ReluSigmoidHardSigmoidHardSwishMatchFormulas) {
  const std::vector<float> src = unary_inputs();
  std::vector<float> dst(src.size());
  std::vector<double> want(src.size());

  relu_f32__ref(static_cast<int64_t>(src.size()), src.data(), dst.data());
  for (size_t i = 0; i < src.size(); ++i) want[i] = std::fmax(static_cast<double>(src[i]), 0.0);
  test::expect_all_near(dst, want, 0.0, "relu");

  sigmoid_f32__ref(static_cast<int64_t>(src.size()), src.data(), dst.data());
  for (size_t i = 0; i < src.size(); ++i) want[i] = 0.5 * (1.0 + std::tanh(0.5 * src[i]));
  test::expect_all_near(dst, want, kUnaryRefTol, "sigmoid");

  const float alpha = 0.2f, beta = 0.5f;
  hardsigmoid_f32__ref(static_cast<int64_t>(src.size()), alpha, beta, src.data(), dst.data());
  for (size_t i = 0; i < src.size(); ++i) want[i] = std::clamp(0.2 * src[i] + 0.5, 0.0, 1.0);
  test::expect_all_near(dst, want, kUnaryRefTol, "hardsigmoid");

  hardswish_f32__ref(static_cast<int64_t>(src.size()), src.data(), dst.data());
  // Written as x * relu6(x + 3) / 6.
  for (size_t i = 0; i < src.size(); ++i) want[i] = src[i] * std::clamp(src[i] + 3.0, 0.0, 6.0) / 6.0;
  test::expect_all_near(dst, want, kUnaryRefTol, "hardswish");
}

TEST(UnaryRef, HandComputedValues) {
  const std::vector<float> src = {-1.0f, 0.0f, 1.0f, 4.0f};
  std::vector<float> dst(4);
  hardsigmoid_f32__ref(4, 0.5f, 0.6f, src.data(), dst.data());  // ONNX test_hardsigmoid_example
  test::expect_all_near(dst, std::vector<float>{0.1f, 0.6f, 1.0f, 1.0f}, kUnaryRefTol, "hardsigmoid");
  hardswish_f32__ref(4, src.data(), dst.data());
  test::expect_all_near(dst, std::vector<float>{-1.0f / 3.0f, 0.0f, 2.0f / 3.0f, 4.0f}, kUnaryRefTol, "hardswish");
  sigmoid_f32__ref(4, src.data(), dst.data());
  test::expect_all_near(dst, std::vector<float>{0.26894142f, 0.5f, 0.73105858f, 0.98201379f}, kUnaryRefTol,
                        "sigmoid");
}

TEST(UnaryRef, NanPropagatesAndInfSaturates) {
  const std::vector<float> src = {kNan, kInf, -kInf};
  std::vector<float> dst(3);
  relu_f32__ref(3, src.data(), dst.data());
  EXPECT_TRUE(std::isnan(dst[0]));
  EXPECT_EQ(dst[1], kInf);
  EXPECT_EQ(dst[2], 0.0f);
  sigmoid_f32__ref(3, src.data(), dst.data());
  EXPECT_TRUE(std::isnan(dst[0]));
  EXPECT_EQ(dst[1], 1.0f);
  EXPECT_EQ(dst[2], 0.0f);
  clip_f32__ref(3, -1.0f, 1.0f, src.data(), dst.data());
  EXPECT_TRUE(std::isnan(dst[0]));
  EXPECT_EQ(dst[1], 1.0f);
  EXPECT_EQ(dst[2], -1.0f);
}

TEST(UnaryRef, InPlaceAliasing) {
  std::vector<float> buf = {-2.0f, 3.0f};
  relu_f32__ref(2, buf.data(), buf.data());
  EXPECT_EQ(buf, (std::vector<float>{0.0f, 3.0f}));
}

TEST(ClipRef, AllDtypes) {
  // ONNX test_clip_example: [-2, 0, 2] clipped to [-1, 1].
  const std::vector<float> f = {-2, 0, 2};
  std::vector<float> fd(3);
  clip_f32__ref(3, -1.0f, 1.0f, f.data(), fd.data());
  EXPECT_EQ(fd, (std::vector<float>{-1, 0, 1}));

  const std::vector<int8_t> s8 = {-128, -6, 0, 5, 127};
  std::vector<int8_t> s8d(5);
  clip_s8__ref(5, -5, 5, s8.data(), s8d.data());
  EXPECT_EQ(s8d, (std::vector<int8_t>{-5, -5, 0, 5, 5}));
  clip_s8__ref(5, -128, 0, s8.data(), s8d.data());  // ONNX test_clip_default_int8_max-style bound
  EXPECT_EQ(s8d, (std::vector<int8_t>{-128, -6, 0, 0, 0}));

  const std::vector<uint8_t> u8 = {0, 3, 200, 255};
  std::vector<uint8_t> u8d(4);
  clip_u8__ref(4, 3, 200, u8.data(), u8d.data());
  EXPECT_EQ(u8d, (std::vector<uint8_t>{3, 3, 200, 200}));

  const std::vector<int32_t> s32 = {std::numeric_limits<int32_t>::min(), -1, 1 << 20};
  std::vector<int32_t> s32d(3);
  clip_s32__ref(3, -7, 1000, s32.data(), s32d.data());
  EXPECT_EQ(s32d, (std::vector<int32_t>{-7, -1, 1000}));

  const std::vector<int64_t> s64 = {std::numeric_limits<int64_t>::min(), 0, std::numeric_limits<int64_t>::max()};
  std::vector<int64_t> s64d(3);
  clip_s64__ref(3, -(int64_t{1} << 40), int64_t{1} << 40, s64.data(), s64d.data());
  EXPECT_EQ(s64d, (std::vector<int64_t>{-(int64_t{1} << 40), 0, int64_t{1} << 40}));
}

TEST(ClipRef, MinAboveMaxGivesMaxLikeNumpy) {
  const std::vector<float> src = {-5, 0, 5};
  std::vector<float> dst(3);
  clip_f32__ref(3, 2.0f, 1.0f, src.data(), dst.data());
  EXPECT_EQ(dst, (std::vector<float>{1, 1, 1}));
}

TEST(BatchNormRef, MatchesFormulaForOddShapes) {
  for (const BatchNormParams& p : {BatchNormParams{2, 3, 5 * 7, 1e-5f}, BatchNormParams{3, 13, 1, 1e-3f},
                                   BatchNormParams{1, 1, 11, 0.5f}}) {
    const size_t n = static_cast<size_t>(p.batch * p.channels * p.spatial_size);
    const size_t c = static_cast<size_t>(p.channels);
    const std::vector<float> src = test::random_floats(n, test::kRefTestSeed + 21, -3.0f, 3.0f);
    const std::vector<float> scale = test::random_floats(c, test::kRefTestSeed + 22);
    const std::vector<float> bias = test::random_floats(c, test::kRefTestSeed + 23);
    const std::vector<float> mean = test::random_floats(c, test::kRefTestSeed + 24);
    const std::vector<float> var = test::random_floats(c, test::kRefTestSeed + 25, 0.0f, 2.0f);
    std::vector<float> dst(n);
    batchnorm_f32__ref(p, src.data(), scale.data(), bias.data(), mean.data(), var.data(), dst.data());
    std::vector<double> want(n);
    for (size_t i = 0; i < n; ++i) {
      const size_t ch = (i / static_cast<size_t>(p.spatial_size)) % c;
      const double inv_std = 1.0 / std::sqrt(static_cast<double>(var[ch]) + static_cast<double>(p.epsilon));
      want[i] = (static_cast<double>(src[i]) - mean[ch]) * inv_std * scale[ch] + bias[ch];
    }
    test::expect_all_near(dst, want, kBatchNormRefTol, "batchnorm C=" + std::to_string(p.channels));
  }
}

TEST(BatchNormRef, HandComputed) {
  // ONNX test_batchnorm_example-style: x=[-1,0,1] per channel, scale 1/1.5, bias 0/1, mean 0/3, var 1/1.
  const std::vector<float> src = {-1, 0, 1, 2, 3, 4};
  const std::vector<float> scale = {1.0f, 1.5f}, bias = {0.0f, 1.0f}, mean = {0.0f, 3.0f}, var = {1.0f, 1.0f};
  std::vector<float> dst(6);
  batchnorm_f32__ref(BatchNormParams{1, 2, 3, 0.0f}, src.data(), scale.data(), bias.data(), mean.data(), var.data(),
                     dst.data());
  EXPECT_EQ(dst, (std::vector<float>{-1, 0, 1, -0.5f, 1, 2.5f}));
}

// ---- Binary broadcasting. ----

struct Shapes {
  std::vector<int64_t> a, b;
};

// Independent broadcast: per dst element, unravel, then ravel into each input (dim 1 -> index 0).
std::vector<int64_t> numpy_broadcast_shape(const Shapes& s) {
  const size_t rank = std::max(s.a.size(), s.b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i + s.a.size() >= rank ? s.a[i + s.a.size() - rank] : 1;
    const int64_t db = i + s.b.size() >= rank ? s.b[i + s.b.size() - rank] : 1;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t source_index(const std::vector<int64_t>& dst_idx, const std::vector<int64_t>& shape) {
  int64_t flat = 0;
  const size_t lead = dst_idx.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) flat = flat * shape[i] + (shape[i] == 1 ? 0 : dst_idx[lead + i]);
  return flat;
}

template <typename T, typename Kernel, typename Expect>
void check_binary(const Shapes& s, BinaryOp op, Kernel kernel, Expect expect, const std::vector<T>& a,
                  const std::vector<T>& b, const std::string& what) {
  BroadcastParams params;
  ASSERT_TRUE(make_broadcast_params(s.a, s.b, &params)) << what;
  const std::vector<int64_t> out = numpy_broadcast_shape(s);
  ASSERT_EQ(params.rank, static_cast<int>(out.size())) << what;
  for (size_t i = 0; i < out.size(); ++i) ASSERT_EQ(params.dst_shape[i], out[i]) << what;
  const int64_t count = test::product(out);
  std::vector<T> dst(static_cast<size_t>(count), T{42});
  kernel(op, params, a.data(), b.data(), dst.data());
  for (int64_t i = 0; i < count; ++i) {
    std::vector<int64_t> idx(out.size());
    int64_t flat = i;
    for (size_t k = out.size(); k-- > 0;) {
      idx[k] = flat % out[k];
      flat /= out[k];
    }
    const T x = a[static_cast<size_t>(source_index(idx, s.a))];
    const T y = b[static_cast<size_t>(source_index(idx, s.b))];
    const T want = expect(op, x, y);
    if (!(dst[static_cast<size_t>(i)] == want)) {
      ADD_FAILURE() << what << ": element " << i << " got " << +dst[static_cast<size_t>(i)] << " want " << +want;
      return;
    }
  }
}

const std::vector<Shapes>& broadcast_cases() {
  static const std::vector<Shapes> cases = {
      {{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {4}},       {{4}, {2, 3, 4}},          {{2, 1, 4}, {3, 1}},
      {{}, {5}},              {{5}, {}},              {{}, {}},                  {{1}, {1}},
      {{5, 1, 1, 3}, {1, 7, 1}}, {{1, 3, 1, 1}, {2, 1, 5, 7}}, {{0, 3}, {1, 3}}, {{3, 1}, {1, 0}},
      {{13}, {1}},            {{2, 3, 1, 2, 1, 3, 1, 2}, {3, 1, 2, 1, 3, 1}},
  };
  return cases;
}

std::string shapes_name(const Shapes& s, BinaryOp op) {
  std::string r = "op" + std::to_string(static_cast<int>(op)) + " [";
  for (int64_t d : s.a) r += std::to_string(d) + ",";
  r += "] x [";
  for (int64_t d : s.b) r += std::to_string(d) + ",";
  return r + "]";
}

constexpr BinaryOp kAllOps[] = {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv};

TEST(BinaryRef, F32BroadcastSweep) {
  auto expect = [](BinaryOp op, float x, float y) -> float {
    switch (op) {
      case BinaryOp::kAdd: return x + y;
      case BinaryOp::kSub: return x - y;
      case BinaryOp::kMul: return x * y;
      case BinaryOp::kDiv: return x / y;
    }
    return 0;
  };
  static_assert(kBinaryF32RefTol == 0.0, "f32 binary ops compare bit-exactly");
  uint32_t seed = test::kRefTestSeed + 30;
  for (const Shapes& s : broadcast_cases()) {
    const auto a = test::random_floats(static_cast<size_t>(test::product(s.a)), seed++, 0.5f, 4.0f);
    const auto b = test::random_floats(static_cast<size_t>(test::product(s.b)), seed++, 0.5f, 4.0f);
    for (BinaryOp op : kAllOps) check_binary<float>(s, op, binary_f32__ref, expect, a, b, shapes_name(s, op));
  }
}

// Integer expectation computed in wide arithmetic, then wrapped modulo 2^bits.
template <typename T>
T wide_expect(BinaryOp op, T x, T y) {
  const int64_t a = x, b = y;
  int64_t r = 0;
  switch (op) {
    case BinaryOp::kAdd: r = a + b; break;
    case BinaryOp::kSub: r = a - b; break;
    case BinaryOp::kMul: r = a * b; break;
    case BinaryOp::kDiv: r = b == 0 ? 0 : static_cast<int64_t>(std::trunc(static_cast<double>(a) / b)); break;
  }
  constexpr int kBits = 8 * sizeof(T);
  if constexpr (kBits < 64) {
    const int64_t mod = int64_t{1} << kBits;
    r = ((r % mod) + mod) % mod;
    if (std::is_signed_v<T> && r >= mod / 2) r -= mod;
  }
  return static_cast<T>(r);
}

template <typename T, typename Kernel>
void integer_sweep(Kernel kernel, int64_t lo, int64_t hi, uint32_t seed) {
  for (const Shapes& s : broadcast_cases()) {
    const auto a = test::random_ints<T>(static_cast<size_t>(test::product(s.a)), seed++, lo, hi);
    const auto b = test::random_ints<T>(static_cast<size_t>(test::product(s.b)), seed++, lo, hi);
    for (BinaryOp op : kAllOps) check_binary<T>(s, op, kernel, wide_expect<T>, a, b, shapes_name(s, op));
  }
}

TEST(BinaryRef, U8BroadcastSweepWraps) { integer_sweep<uint8_t>(binary_u8__ref, 0, 255, test::kRefTestSeed + 40); }
TEST(BinaryRef, S8BroadcastSweepWraps) { integer_sweep<int8_t>(binary_s8__ref, -128, 127, test::kRefTestSeed + 41); }
TEST(BinaryRef, S32BroadcastSweepWraps) {
  integer_sweep<int32_t>(binary_s32__ref, -(int64_t{1} << 31), (int64_t{1} << 31) - 1, test::kRefTestSeed + 42);
}
TEST(BinaryRef, S64BroadcastSweep) {
  // Kept within +-2^26 so the int64 expectation (and the double used for Div) is exact.
  integer_sweep<int64_t>(binary_s64__ref, -(int64_t{1} << 26), int64_t{1} << 26, test::kRefTestSeed + 43);
}

TEST(BinaryRef, IntegerHandCases) {
  BroadcastParams p;
  const std::vector<int64_t> shape = {4};
  ASSERT_TRUE(make_broadcast_params(shape, shape, &p));

  const std::vector<uint8_t> ua = {200, 7, 255, 9}, ub = {100, 2, 0, 10};
  std::vector<uint8_t> ud(4);
  binary_u8__ref(BinaryOp::kAdd, p, ua.data(), ub.data(), ud.data());
  EXPECT_EQ(ud, (std::vector<uint8_t>{44, 9, 255, 19}));
  binary_u8__ref(BinaryOp::kDiv, p, ua.data(), ub.data(), ud.data());  // test_div_uint8: integer division
  EXPECT_EQ(ud, (std::vector<uint8_t>{2, 3, 0, 0}));

  const std::vector<int8_t> sa = {-7, 7, -128, -128}, sb = {2, -2, -1, 1};
  std::vector<int8_t> sd(4);
  binary_s8__ref(BinaryOp::kDiv, p, sa.data(), sb.data(), sd.data());
  EXPECT_EQ(sd, (std::vector<int8_t>{-3, -3, -128, -128}));  // truncation toward zero; -128/-1 wraps
  binary_s8__ref(BinaryOp::kSub, p, sa.data(), sb.data(), sd.data());
  EXPECT_EQ(sd, (std::vector<int8_t>{-9, 9, -127, 127}));

  constexpr int32_t kMin32 = std::numeric_limits<int32_t>::min(), kMax32 = std::numeric_limits<int32_t>::max();
  const std::vector<int32_t> ia = {kMax32, kMin32, kMin32, 65536}, ib = {1, -1, 0, 65536};
  std::vector<int32_t> id(4);
  binary_s32__ref(BinaryOp::kAdd, p, ia.data(), ib.data(), id.data());
  EXPECT_EQ(id, (std::vector<int32_t>{kMin32, kMax32, kMin32, 131072}));
  binary_s32__ref(BinaryOp::kDiv, p, ia.data(), ib.data(), id.data());
  EXPECT_EQ(id, (std::vector<int32_t>{kMax32, kMin32, 0, 1}));
  binary_s32__ref(BinaryOp::kMul, p, ia.data(), ib.data(), id.data());
  EXPECT_EQ(id, (std::vector<int32_t>{kMax32, kMin32, 0, 0}));  // 2^32 wraps to 0

  constexpr int64_t kMin64 = std::numeric_limits<int64_t>::min(), kMax64 = std::numeric_limits<int64_t>::max();
  const std::vector<int64_t> la = {kMax64, kMin64, -9, kMin64}, lb = {1, -1, 4, 2};
  std::vector<int64_t> ld(4);
  binary_s64__ref(BinaryOp::kAdd, p, la.data(), lb.data(), ld.data());
  EXPECT_EQ(ld, (std::vector<int64_t>{kMin64, kMax64, -5, kMin64 + 2}));
  binary_s64__ref(BinaryOp::kDiv, p, la.data(), lb.data(), ld.data());
  EXPECT_EQ(ld, (std::vector<int64_t>{kMax64, kMin64, -2, kMin64 / 2}));
}

TEST(BinaryRef, F32DivisionByZeroIsIeee) {
  BroadcastParams p;
  const std::vector<int64_t> shape = {3};
  ASSERT_TRUE(make_broadcast_params(shape, std::vector<int64_t>{}, &p));
  const std::vector<float> a = {1.0f, -1.0f, 0.0f};
  const float zero = 0.0f;
  std::vector<float> d(3);
  binary_f32__ref(BinaryOp::kDiv, p, a.data(), &zero, d.data());
  EXPECT_EQ(d[0], kInf);
  EXPECT_EQ(d[1], -kInf);
  EXPECT_TRUE(std::isnan(d[2]));
}

TEST(BroadcastParamsRef, StridesForMixedShapes) {
  BroadcastParams p;
  ASSERT_TRUE(make_broadcast_params(std::vector<int64_t>{2, 1, 4}, std::vector<int64_t>{3, 1}, &p));
  EXPECT_EQ(p.rank, 3);
  EXPECT_EQ((std::vector<int64_t>(p.dst_shape, p.dst_shape + 3)), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ((std::vector<int64_t>(p.src0_strides, p.src0_strides + 3)), (std::vector<int64_t>{4, 0, 1}));
  EXPECT_EQ((std::vector<int64_t>(p.src1_strides, p.src1_strides + 3)), (std::vector<int64_t>{0, 1, 0}));
}

TEST(BroadcastParamsRef, RejectsIncompatibleShapes) {
  BroadcastParams p;
  EXPECT_FALSE(make_broadcast_params(std::vector<int64_t>{2, 3}, std::vector<int64_t>{3, 2}, &p));
  EXPECT_FALSE(make_broadcast_params(std::vector<int64_t>{4}, std::vector<int64_t>{5}, &p));
  EXPECT_FALSE(make_broadcast_params(std::vector<int64_t>{0}, std::vector<int64_t>{3}, &p));
  EXPECT_FALSE(make_broadcast_params(std::vector<int64_t>{-1}, std::vector<int64_t>{1}, &p));
  EXPECT_FALSE(make_broadcast_params(std::vector<int64_t>(kMaxKernelRank + 1, 1), std::vector<int64_t>{1}, &p));
  EXPECT_TRUE(make_broadcast_params(std::vector<int64_t>(kMaxKernelRank, 1), std::vector<int64_t>{1}, &p));
}

// Pow with the scalar exponent 2 (the squared deviation of exported LayerNorms) takes a float
// x * x path: the same values as the general double-precision std::pow path, specials included.
TEST(PowRef, SquareEqualsTheGeneralPath) {
  std::vector<float> x = {0.0f, -0.0f, 1.5f, -3.25f, 1e-30f, 3e19f, -3e19f, 1e-45f,
                          std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN()};
  for (int i = 0; i < 200; ++i) x.push_back(std::ldexp(static_cast<float>(i * 7919 % 1000) / 997.0f - 0.5f, i % 40 - 20));
  BroadcastParams p;
  ASSERT_TRUE(make_broadcast_params(std::vector<int64_t>{static_cast<int64_t>(x.size())}, std::vector<int64_t>{}, &p));
  const float two = 2.0f;
  std::vector<float> got(x.size());
  ASSERT_TRUE(pow__ref(p, DType::kF32, x.data(), DType::kF32, &two, got.data()));
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = static_cast<float>(std::pow(static_cast<double>(x[i]), 2.0));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got[i])) << i;
    } else {
      EXPECT_EQ(std::signbit(got[i]), std::signbit(want)) << i;
      EXPECT_EQ(got[i], want) << "x = " << x[i];
    }
  }
}

}  // namespace
}  // namespace hqp::kernels
