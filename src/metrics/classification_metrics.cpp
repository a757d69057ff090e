// ClassificationMetrics: rank of the label's logit, logsumexp loss, per-class counts.
#include "metrics/classification_metrics.h"

#include <algorithm>
#include <cmath>

namespace hqp::metrics {

ClassificationMetrics::ClassificationMetrics(int64_t num_classes)
    : class_samples_(static_cast<size_t>(std::max<int64_t>(num_classes, 0)), 0),
      class_correct_(static_cast<size_t>(std::max<int64_t>(num_classes, 0)), 0) {}

Status ClassificationMetrics::accumulate(const Tensor& logits, const Tensor& labels) {
  if (labels.dtype() != DType::kS64 || labels.rank() != 1) {
    return make_error(StatusCode::kInvalidArgument, "cannot evaluate model: labels are {}[{}] (expected s64 [N])",
                      dtype_name(labels.dtype()), shape_to_string(labels.shape()));
  }
  const int64_t n = labels.numel();
  if (logits.dtype() != DType::kF32 || logits.rank() != 2 || logits.dim(0) < n) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot evaluate model: its first output is {}[{}] (expected f32 [{}, classes] logits)",
                      dtype_name(logits.dtype()), shape_to_string(logits.shape()), n);
  }
  const int64_t k = logits.dim(1);
  const float* z = logits.data<float>();
  const int64_t* y = labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    if (y[i] < 0 || y[i] >= k) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot evaluate model: label {} has no logit (classes={}, expected more than {})", y[i], k,
                        y[i]);
    }
  }
  int64_t max_label = -1;
  for (int64_t i = 0; i < n; ++i) max_label = std::max(max_label, y[i]);
  if (max_label >= num_classes()) {
    class_samples_.resize(static_cast<size_t>(max_label + 1), 0);
    class_correct_.resize(static_cast<size_t>(max_label + 1), 0);
  }
  for (int64_t i = 0; i < n; ++i) {
    const float* row = z + i * k;
    const int64_t label = y[i];
    const float max = *std::max_element(row, row + k);
    double sum = 0.0;
    int64_t rank = 0;  // logits strictly above the label's
    for (int64_t j = 0; j < k; ++j) {
      sum += std::exp(static_cast<double>(row[j]) - max);
      if (row[j] > row[label]) ++rank;
    }
    loss_sum_ += std::log(sum) + max - static_cast<double>(row[label]);
    const bool finite = std::isfinite(row[label]);
    const bool hit1 = rank < 1 && finite;
    top1_ += hit1 ? 1 : 0;
    top5_ += rank < kTopK && finite ? 1 : 0;
    class_samples_[static_cast<size_t>(label)] += 1;
    class_correct_[static_cast<size_t>(label)] += hit1 ? 1 : 0;
    ++samples_;
  }
  return Status();
}

double ClassificationMetrics::top1() const {
  return samples_ > 0 ? static_cast<double>(top1_) / static_cast<double>(samples_) : 0.0;
}
double ClassificationMetrics::top5() const {
  return samples_ > 0 ? static_cast<double>(top5_) / static_cast<double>(samples_) : 0.0;
}
double ClassificationMetrics::loss() const { return samples_ > 0 ? loss_sum_ / static_cast<double>(samples_) : 0.0; }

double ClassificationMetrics::class_top1(int64_t c) const {
  const int64_t s = class_samples_.at(static_cast<size_t>(c));
  return s > 0 ? static_cast<double>(class_correct_.at(static_cast<size_t>(c))) / static_cast<double>(s) : 0.0;
}

}  // namespace hqp::metrics
