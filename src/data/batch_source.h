// The batch interface that training, evaluation, calibration and Fisher estimation consume:
// batches of (images f32 [N, C, H, W], labels s64 [N]) per epoch, in an order that depends only on
// the source's seed and the epoch number (resume reproduces it). data::Loader implements it;
// TensorBatchSource serves tensors held in memory (tests, small synthetic sets). No IR, no libtorch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace hqp::data {

// One batch (images f32 [N, C, H, W], labels s64 [N] each in [0, num_classes), the dataset index
// of each row when known, the batch number within the epoch).
struct Batch {
  Tensor images;                 // f32 [N, C, H, W]
  Tensor labels;                 // s64 [N]
  std::vector<int64_t> indices;  // dataset index of each row (empty when the source has none)
  int64_t index = 0;             // batch number within the epoch
  // Rows of this batch summed over every data-parallel shard (== rows unsharded); a shard's loss
  // weight is rows / global_rows.
  int64_t global_rows = 0;
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual int64_t num_batches() const = 0;  // per epoch
  virtual int64_t num_samples() const = 0;  // per epoch
  // Starts epoch `epoch` (>= 0); the batches that follow depend only on the source and `epoch`.
  virtual void start_epoch(int64_t epoch) = 0;
  // The next batch of the current epoch, or nullopt after the last.
  virtual Result<std::optional<Batch>> next() = 0;
};

// Batches over tensors in memory; shuffled per epoch from (seed, epoch) when `shuffle`.
class TensorBatchSource final : public BatchSource {
 public:
  // images: f32 [N, ...]; labels: s64 [N]; batch_size >= 1. The last batch may be smaller.
  static Result<std::unique_ptr<TensorBatchSource>> create(Tensor images, Tensor labels, int64_t batch_size,
                                                           bool shuffle, uint64_t seed);
  int64_t num_batches() const override;
  int64_t num_samples() const override { return images_.dim(0); }
  void start_epoch(int64_t epoch) override;
  Result<std::optional<Batch>> next() override;

 private:
  TensorBatchSource() = default;
  Tensor images_;
  Tensor labels_;
  int64_t batch_size_ = 1;
  bool shuffle_ = false;
  uint64_t seed_ = 0;
  std::vector<int64_t> order_;
  int64_t cursor_ = 0;
};

}  // namespace hqp::data
