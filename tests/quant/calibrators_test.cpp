// Calibrators on hand-made value distributions: each method's range against what its definition
// gives (percentile tails by count, entropy and MSE clipping outliers and keeping uniform data),
// the two-pass contract, and the errors.
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "quant/calibrators.h"

namespace hqp::test {
namespace {

using quant::Calibrator;
using quant::CalibratorOptions;
using quant::TensorStatistics;

// Both passes over the same values.
TensorStatistics stats_of(const std::vector<float>& v) {
  TensorStatistics s;
  s.add_to_range(v);
  s.add_to_histogram(v);
  return s;
}

quant::ValueRange range_of(const TensorStatistics& s, Calibrator c, double percentile = 99.99) {
  CalibratorOptions o;
  o.method = c;
  o.percentile = percentile;
  Result<quant::ValueRange> r = quant::choose_range(s, o);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : quant::ValueRange{};
}

// 0, 1/n, ..., (n-1)/n, then `outliers` copies of `outlier`.
std::vector<float> uniform_with_outliers(int n, int outliers, float outlier) {
  std::vector<float> v;
  for (int i = 0; i < n; ++i) v.push_back(static_cast<float>(i) / static_cast<float>(n));
  for (int i = 0; i < outliers; ++i) v.push_back(outlier);
  return v;
}

TEST(Calibrators, NamesRoundTrip) {
  for (Calibrator c : {Calibrator::kMinMax, Calibrator::kPercentile, Calibrator::kEntropy, Calibrator::kMse}) {
    EXPECT_EQ(quant::calibrator_from_name(quant::calibrator_name(c)), c);
  }
  EXPECT_FALSE(quant::calibrator_from_name("kl").has_value());
  EXPECT_FALSE(quant::needs_histogram(Calibrator::kMinMax));
  EXPECT_TRUE(quant::needs_histogram(Calibrator::kEntropy));
}

TEST(Calibrators, MinMaxIsTheObservedFiniteRange) {
  TensorStatistics s;
  const std::vector<float> v = {-2.5f, 0.5f, NAN, 7.0f, INFINITY, -INFINITY};
  s.add_to_range(v);
  EXPECT_EQ(s.nonfinite, 3);
  const quant::ValueRange r = range_of(s, Calibrator::kMinMax);
  EXPECT_EQ(r.min, -2.5f);
  EXPECT_EQ(r.max, 7.0f);
}

TEST(Calibrators, PercentileDropsTheTailByCount) {
  // 10000 values in [0, 1) and 5 at 100: 99.9 % keeps all but 10 values from the top, so the 5
  // outliers go and the cut lands within one bin (100 / 2048) of 1.
  const TensorStatistics s = stats_of(uniform_with_outliers(10000, 5, 100.0f));
  const quant::ValueRange r = range_of(s, Calibrator::kPercentile, 99.9);
  EXPECT_EQ(r.min, 0.0f);
  EXPECT_GT(r.max, 0.95f);
  EXPECT_LT(r.max, 1.0f + 2 * 100.0f / quant::kHistogramBins);
  // 99.99 % keeps all but 1 value: 4 outliers stay, so the range still reaches 100.
  EXPECT_NEAR(range_of(s, Calibrator::kPercentile, 99.99).max, 100.0f, 1e-3f);
  // 100 is min-max.
  EXPECT_EQ(range_of(s, Calibrator::kPercentile, 100.0).max, 100.0f);
}

TEST(Calibrators, PercentileCutsBothSidesOfATwoSidedTensor) {
  std::vector<float> v;
  for (int i = -5000; i < 5000; ++i) v.push_back(static_cast<float>(i) / 5000.0f);
  v.push_back(-40.0f);
  v.push_back(40.0f);
  const quant::ValueRange r = range_of(stats_of(v), Calibrator::kPercentile, 99.9);
  EXPECT_LT(r.max, 1.1f);
  EXPECT_GT(r.max, 0.9f);
  EXPECT_GT(r.min, -1.1f);
  EXPECT_LT(r.min, -0.9f);
}

TEST(Calibrators, EntropyClipsARareOutlierAndKeepsUniformData) {
  // Exponential-like body with one far outlier: KL prefers a threshold far below the outlier.
  std::mt19937 rng(5);
  std::exponential_distribution<float> d(1.0f);
  std::vector<float> v;
  for (int i = 0; i < 20000; ++i) v.push_back(d(rng));
  v.push_back(200.0f);
  const quant::ValueRange r = range_of(stats_of(v), Calibrator::kEntropy);
  EXPECT_GE(r.min, 0.0f);
  EXPECT_LT(r.min, 0.01f);
  EXPECT_LT(r.max, 40.0f);
  EXPECT_GT(r.max, 3.0f);
  // Uniform data: clipping only loses information, the threshold stays near the maximum.
  const quant::ValueRange u = range_of(stats_of(uniform_with_outliers(20000, 0, 0.0f)), Calibrator::kEntropy);
  EXPECT_GT(u.max, 0.85f);
  EXPECT_LE(u.max, 1.0f);
}

TEST(Calibrators, EntropyIgnoresTheSpikeOfExactZeros) {
  // A ReLU output: 90 % exact zeros and an exponential tail. The zeros are exact on every grid;
  // left in the bins, their spike would make the narrowest threshold look best (amax / 8).
  std::mt19937 rng(6);
  std::exponential_distribution<float> d(1.0f);
  std::vector<float> v(90000, 0.0f), tail;
  for (int i = 0; i < 10000; ++i) tail.push_back(d(rng));
  v.insert(v.end(), tail.begin(), tail.end());
  const quant::ValueRange with_zeros = range_of(stats_of(v), Calibrator::kEntropy);
  const quant::ValueRange tail_only = range_of(stats_of(tail), Calibrator::kEntropy);
  EXPECT_NEAR(with_zeros.max, tail_only.max, 0.05f * tail_only.max);
  EXPECT_GT(with_zeros.max, stats_of(v).range.max / 4.0f);
}

TEST(Calibrators, EntropyKeepsTheDenseFloorOfAnAsymmetricTensor) {
  // A normalized image: 70 % background at -0.81, the rest spread up to 2.02. Folded onto |x|, the
  // background spike would put the threshold at 0.81 and clip every bright pixel; on a u8 grid
  // only the upper tail is searched, the floor stays.
  std::vector<float> v(70000, -0.81f);
  for (int i = 0; i < 30000; ++i) v.push_back(-0.81f + 2.83f * static_cast<float>(i) / 30000.0f);
  const quant::ValueRange r = range_of(stats_of(v), Calibrator::kEntropy);
  EXPECT_EQ(r.min, -0.81f);
  EXPECT_GT(r.max, 1.8f);
}

TEST(Calibrators, MseTradesClippingAgainstStepSize) {
  // n = 200000 values in [0, 1) and one at 20. With range [0, r] (r >= 1) the expected error is
  // n * (r / 255)^2 / 12 + (20 - r)^2, least at r = 20 / (1 + n / (255^2 * 12)) = 15.92.
  const quant::ValueRange r = range_of(stats_of(uniform_with_outliers(200000, 1, 20.0f)), Calibrator::kMse);
  EXPECT_NEAR(r.max, 15.92f, 0.3f);
  EXPECT_EQ(r.min, 0.0f);
  // Uniform data: the full range has the least error (any clip costs more than it saves).
  const quant::ValueRange u = range_of(stats_of(uniform_with_outliers(10000, 0, 0.0f)), Calibrator::kMse);
  EXPECT_GT(u.max, 0.95f);
}

TEST(Calibrators, ExpectedMseOfTheChosenRangeIsMinimalAmongShrinks) {
  // Brute force: the chosen range's empirical quantization MSE is no worse than min-max's.
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v;
  for (int i = 0; i < 20000; ++i) v.push_back(d(rng));
  v.push_back(30.0f);
  const TensorStatistics s = stats_of(v);
  const auto mse = [&](const quant::ValueRange& r) {
    const ir::QuantParams p = quant::activation_params(r, quant::ActivationScheme::kU8Asymmetric);
    const double sc = p.scale[0];
    const double zp = p.zero_point[0];
    double e = 0.0;
    for (float x : v) {
      const double q = std::clamp(std::nearbyint(x / sc) + zp, 0.0, 255.0);
      const double y = (q - zp) * sc;
      e += (x - y) * (x - y);
    }
    return e / static_cast<double>(v.size());
  };
  EXPECT_LT(mse(range_of(s, Calibrator::kMse)), mse(range_of(s, Calibrator::kMinMax)));
}

TEST(Calibrators, HistogramMethodsNeedThePass2Histogram) {
  TensorStatistics s;
  s.add_to_range(std::vector<float>{0.0f, 1.0f});
  CalibratorOptions o;
  o.method = Calibrator::kEntropy;
  Result<quant::ValueRange> r = quant::choose_range(s, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("histogram"), std::string::npos) << r.status().message();
  s.add_to_histogram(std::vector<float>{0.0f, 1.0f});
  o.method = Calibrator::kPercentile;
  o.percentile = 40.0;
  r = quant::choose_range(s, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("percentile 40"), std::string::npos) << r.status().message();
}

TEST(Calibrators, ConstantAndEmptyTensorsKeepTheirRange) {
  const TensorStatistics c = stats_of(std::vector<float>(100, 3.0f));
  for (Calibrator m : {Calibrator::kPercentile, Calibrator::kEntropy, Calibrator::kMse}) {
    const quant::ValueRange r = range_of(c, m);
    EXPECT_EQ(r.min, 3.0f);
    EXPECT_EQ(r.max, 3.0f);
  }
  TensorStatistics empty;
  empty.add_to_range(std::vector<float>{NAN});
  empty.add_to_histogram(std::vector<float>{NAN});
  EXPECT_TRUE(range_of(empty, Calibrator::kMse).empty());
}

TEST(Calibrators, ActivationStatisticsFillPassByPass) {
  quant::ActivationStatistics a;
  a.observe("x", std::vector<float>{-1.0f, 1.0f});
  EXPECT_TRUE(a.find("x")->histogram.empty());
  a.start_histogram_pass();
  a.observe("x", std::vector<float>{-1.0f, 1.0f, 0.0f});
  const TensorStatistics* s = a.find("x");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->range.min, -1.0f);
  double total = 0.0;
  for (double c : s->histogram) total += c;
  EXPECT_EQ(total, 2.0);
  EXPECT_EQ(s->zeros, 1.0);  // exact zeros are counted apart from the bins
  EXPECT_EQ(s->histogram.front(), 1.0);
  EXPECT_EQ(s->histogram.back(), 1.0);
  EXPECT_EQ(a.find("y"), nullptr);
  CalibratorOptions o;
  o.method = Calibrator::kPercentile;
  auto m = quant::choose_ranges(a, o);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->size(), 1u);
}

}  // namespace
}  // namespace hqp::test
