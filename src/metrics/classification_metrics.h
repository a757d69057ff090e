// ClassificationMetrics: top-1, top-5, mean cross-entropy and per-class accuracy of a classifier,
// accumulated batch by batch from f32 logits and s64 labels. The one definition that `hqp eval`,
// `hqp train` (Trainer::evaluate) and every later command share. Torch-free; no IR, no runtime.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace hqp::metrics {

// A sample counts for top-k when fewer than k logits are strictly greater than its label's logit
// (ties favour the label) and the label's logit is finite.
inline constexpr int64_t kTopK = 5;

class ClassificationMetrics {
 public:
  // num_classes: size of the per-class tables up front (classes without samples are listed too);
  // they grow to max(label) + 1 when a larger label arrives.
  explicit ClassificationMetrics(int64_t num_classes = 0);

  // logits: f32 [rows, K] with rows >= n; labels: s64 [n], each in [0, K). Rows past the labels
  // (padding of a static batch) are ignored. Loss per sample: logsumexp(row) - row[label] in double;
  // a non-finite logit makes that sample's loss non-finite (and so the mean) and a non-finite label
  // logit is never a hit. Fails with kInvalidArgument (and accumulates nothing of this batch) on a
  // wrong logits dtype/shape, a wrong labels dtype/rank or a label without a logit.
  Status accumulate(const Tensor& logits, const Tensor& labels);

  int64_t samples() const { return samples_; }
  int64_t top1_count() const { return top1_; }
  int64_t top5_count() const { return top5_; }
  double loss_sum() const { return loss_sum_; }
  // Fractions in [0, 1] and the mean cross-entropy; 0 before any sample.
  double top1() const;
  double top5() const;
  double loss() const;

  int64_t num_classes() const { return static_cast<int64_t>(class_samples_.size()); }
  const std::vector<int64_t>& class_samples() const { return class_samples_; }  // [num_classes]
  const std::vector<int64_t>& class_correct() const { return class_correct_; }  // [num_classes], top-1 hits
  double class_top1(int64_t c) const;  // 0 for a class without samples

 private:
  double loss_sum_ = 0.0;
  int64_t top1_ = 0;
  int64_t top5_ = 0;
  int64_t samples_ = 0;
  std::vector<int64_t> class_samples_;
  std::vector<int64_t> class_correct_;
};

}  // namespace hqp::metrics
