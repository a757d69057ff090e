// Adapter from hqp::data::Loader (hqp_data) to hqp::train::BatchSource (hqp_train), so that the
// trainer reads datasets without hqp_train depending on hqp_data. Lives in the CLI, which sees both.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "core/status.h"
#include "data/loader.h"
#include "train/batch_source.h"

namespace hqp::cli {

// Owns the loader. Batches are passed through unchanged: images f32 [N, C, H, W], labels s64 [N];
// the order depends only on the loader's options (seed) and the epoch, as BatchSource requires.
class LoaderBatchSource final : public train::BatchSource {
 public:
  explicit LoaderBatchSource(std::unique_ptr<data::Loader> loader) : loader_(std::move(loader)) {}

  int64_t num_batches() const override { return loader_->num_batches(); }
  int64_t num_samples() const override { return loader_->num_samples(); }
  void start_epoch(int64_t epoch) override { loader_->start_epoch(epoch); }
  Result<std::optional<train::TrainBatch>> next() override;

  data::Loader& loader() { return *loader_; }

 private:
  std::unique_ptr<data::Loader> loader_;
};

}  // namespace hqp::cli
