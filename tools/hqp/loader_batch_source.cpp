// LoaderBatchSource: data::Batch -> train::TrainBatch.
#include "loader_batch_source.h"

namespace hqp::cli {

Result<std::optional<train::TrainBatch>> LoaderBatchSource::next() {
  HQP_ASSIGN_OR_RETURN(std::optional<data::Batch> batch, loader_->next());
  if (!batch) return std::optional<train::TrainBatch>();
  train::TrainBatch out;
  out.images = std::move(batch->images);
  out.labels = std::move(batch->labels);
  return std::optional<train::TrainBatch>(std::move(out));
}

}  // namespace hqp::cli
