// ClassificationMetrics against hand-computed values: top-1/top-5 with ties (ties favour the
// label), mean cross-entropy, per-class counts, padding rows, non-finite logits, bad labels and
// shapes; LatencyStats percentiles with interpolation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "metrics/classification_metrics.h"
#include "metrics/latency_stats.h"

namespace hqp::metrics {
namespace {

Tensor logits_of(int64_t rows, int64_t k, const std::vector<float>& v) {
  Tensor t = *Tensor::zeros(DType::kF32, {rows, k});
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}
Tensor labels_of(const std::vector<int64_t>& v) {
  Tensor t = *Tensor::zeros(DType::kS64, {static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}
double ce(const std::vector<double>& row, int64_t label) {
  double sum = 0.0;
  for (double z : row) sum += std::exp(z);
  return std::log(sum) - row[static_cast<size_t>(label)];
}

TEST(ClassificationMetrics, HandComputedTopKLossAndPerClass) {
  ClassificationMetrics m(3);
  // 3 samples, K = 3: hit, miss (label 2nd), miss (label last).
  ASSERT_TRUE(m.accumulate(logits_of(3, 3, {2, 1, 0, 0, 1, 3, 5, 1, 0}), labels_of({0, 1, 2})).ok());
  EXPECT_EQ(m.samples(), 3);
  EXPECT_EQ(m.top1_count(), 1);
  EXPECT_EQ(m.top5_count(), 3);  // K = 3 < 5: everything is in the top 5
  const double want = (ce({2, 1, 0}, 0) + ce({0, 1, 3}, 1) + ce({5, 1, 0}, 2)) / 3.0;
  EXPECT_NEAR(m.loss(), want, 1e-12);
  EXPECT_DOUBLE_EQ(m.top1(), 1.0 / 3.0);
  EXPECT_EQ(m.class_samples(), (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(m.class_correct(), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_DOUBLE_EQ(m.class_top1(0), 1.0);
  EXPECT_DOUBLE_EQ(m.class_top1(1), 0.0);
}

TEST(ClassificationMetrics, TiesFavourTheLabelAndTop5CountsStrictlyGreater) {
  ClassificationMetrics m;
  // 7 classes. Row 0: all equal -> top-1 hit. Row 1: 5 logits above the label -> not top-5.
  // Row 2: 4 above the label, one tie -> top-5 hit, top-1 miss.
  ASSERT_TRUE(m.accumulate(logits_of(3, 7, {1, 1, 1, 1, 1, 1, 1,  //
                                            9, 9, 9, 9, 9, 0, 0,  //
                                            9, 9, 9, 9, 1, 1, 0}),
                           labels_of({3, 6, 5}))
                  .ok());
  EXPECT_EQ(m.top1_count(), 1);
  EXPECT_EQ(m.top5_count(), 2);
  EXPECT_EQ(m.num_classes(), 7);  // grown to the largest label + 1
  EXPECT_EQ(m.class_samples()[3], 1);
  EXPECT_EQ(m.class_samples()[0], 0);
}

TEST(ClassificationMetrics, PaddingRowsAreIgnored) {
  ClassificationMetrics m;
  // 4 rows of logits, 2 labels: rows 2..3 (padding of a static batch) do not count.
  ASSERT_TRUE(m.accumulate(logits_of(4, 2, {1, 0, 0, 1, 100, -100, 100, -100}), labels_of({0, 1})).ok());
  EXPECT_EQ(m.samples(), 2);
  EXPECT_EQ(m.top1_count(), 2);
  EXPECT_NEAR(m.loss(), ce({1, 0}, 0), 1e-12);
}

TEST(ClassificationMetrics, NonFiniteLogits) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  ClassificationMetrics m;
  // NaN label logit: never a hit, loss NaN. +inf elsewhere: the label is not top-1 and the loss is NaN.
  ASSERT_TRUE(m.accumulate(logits_of(2, 3, {nan, 0, 0, inf, 0, 1}), labels_of({0, 2})).ok());
  EXPECT_EQ(m.samples(), 2);
  EXPECT_EQ(m.top1_count(), 0);
  EXPECT_EQ(m.top5_count(), 1);  // row 1: one logit above the label
  EXPECT_FALSE(std::isfinite(m.loss()));
  // +inf at the label: rank 0 but not finite -> no hit.
  ClassificationMetrics m2;
  ASSERT_TRUE(m2.accumulate(logits_of(1, 2, {inf, 0}), labels_of({0})).ok());
  EXPECT_EQ(m2.top1_count(), 0);
}

TEST(ClassificationMetrics, BadLabelsAndShapesAccumulateNothing) {
  ClassificationMetrics m;
  const Status bad_label = m.accumulate(logits_of(2, 3, {0, 0, 1, 1, 0, 0}), labels_of({0, 3}));
  EXPECT_EQ(bad_label.message(), "cannot evaluate model: label 3 has no logit (classes=3, expected more than 3)");
  EXPECT_EQ(m.samples(), 0);
  EXPECT_FALSE(m.accumulate(logits_of(2, 3, {}), labels_of({-1, 0})).ok());
  const Status few_rows = m.accumulate(logits_of(1, 3, {}), labels_of({0, 1}));
  EXPECT_EQ(few_rows.message(),
            "cannot evaluate model: its first output is f32[1x3] (expected f32 [2, classes] logits)")
      << few_rows.message();
  const Status wrong_dtype = m.accumulate(*Tensor::zeros(DType::kS64, {2, 3}), labels_of({0, 1}));
  EXPECT_NE(wrong_dtype.message().find("expected f32 [2, classes] logits"), std::string::npos);
  const Status float_labels = m.accumulate(logits_of(1, 3, {}), *Tensor::zeros(DType::kF32, {1}));
  EXPECT_NE(float_labels.message().find("expected s64 [N]"), std::string::npos);
  EXPECT_EQ(m.samples(), 0);
  EXPECT_EQ(m.top1(), 0.0);
  EXPECT_EQ(m.loss(), 0.0);
}

TEST(LatencyStats, PercentilesInterpolate) {
  const std::vector<double> ms = {5, 1, 4, 2, 3};  // sorted: 1 2 3 4 5
  const LatencyStats s = latency_stats(ms);
  EXPECT_EQ(s.runs, 5);
  EXPECT_DOUBLE_EQ(s.median_ms, 3.0);
  EXPECT_DOUBLE_EQ(s.min_ms, 1.0);
  EXPECT_DOUBLE_EQ(s.p90_ms, 4.6);  // position 0.9 * 4 = 3.6 -> 4 + 0.6 * (5 - 4)
  EXPECT_DOUBLE_EQ(s.mean_ms, 3.0);
  const std::vector<double> even = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(percentile(even, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(percentile(even, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(percentile(even, 1.0), 4.0);
  const std::vector<double> one = {7};
  EXPECT_DOUBLE_EQ(latency_stats(one).p90_ms, 7.0);
  EXPECT_EQ(latency_stats({}).runs, 0);
}

}  // namespace
}  // namespace hqp::metrics
