// TensorBatchSource: in-memory batches with a per-epoch Fisher-Yates shuffle on mt19937_64.
#include "data/batch_source.h"

#include <cstring>
#include <numeric>
#include <random>

namespace hqp::data {

Result<std::unique_ptr<TensorBatchSource>> TensorBatchSource::create(Tensor images, Tensor labels, int64_t batch_size,
                                                                     bool shuffle, uint64_t seed) {
  if (images.dtype() != DType::kF32 || images.rank() < 2) {
    return make_error(StatusCode::kInvalidArgument, "cannot create batch source: images are {}[{}] (expected f32 [N, ...])",
                      dtype_name(images.dtype()), shape_to_string(images.shape()));
  }
  if (labels.dtype() != DType::kS64 || labels.rank() != 1 || labels.dim(0) != images.dim(0)) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot create batch source: labels are {}[{}] (expected s64 [{}], one per image)",
                      dtype_name(labels.dtype()), shape_to_string(labels.shape()), images.dim(0));
  }
  if (batch_size < 1) {
    return make_error(StatusCode::kInvalidArgument, "cannot create batch source: batch_size={} (expected >= 1)",
                      batch_size);
  }
  std::unique_ptr<TensorBatchSource> s(new TensorBatchSource());
  s->images_ = std::move(images);
  s->labels_ = std::move(labels);
  s->batch_size_ = batch_size;
  s->shuffle_ = shuffle;
  s->seed_ = seed;
  s->start_epoch(0);
  return s;
}

int64_t TensorBatchSource::num_batches() const { return (images_.dim(0) + batch_size_ - 1) / batch_size_; }

void TensorBatchSource::start_epoch(int64_t epoch) {
  order_.resize(static_cast<size_t>(images_.dim(0)));
  std::iota(order_.begin(), order_.end(), int64_t{0});
  if (shuffle_) {
    std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
    for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng() % i]);
  }
  cursor_ = 0;
}

Result<std::optional<Batch>> TensorBatchSource::next() {
  const int64_t n = images_.dim(0);
  if (cursor_ >= n) return std::optional<Batch>();
  const int64_t count = std::min(batch_size_, n - cursor_);
  Shape shape = images_.shape();
  shape[0] = count;
  const int64_t row = images_.numel() / n;
  HQP_ASSIGN_OR_RETURN(Tensor images, Tensor::zeros(DType::kF32, shape));
  HQP_ASSIGN_OR_RETURN(Tensor labels, Tensor::zeros(DType::kS64, {count}));
  for (int64_t i = 0; i < count; ++i) {
    const int64_t src = order_[static_cast<size_t>(cursor_ + i)];
    std::memcpy(images.data<float>() + i * row, images_.data<float>() + src * row, static_cast<size_t>(row) * sizeof(float));
    labels.data<int64_t>()[i] = labels_.data<int64_t>()[src];
  }
  Batch batch;
  batch.images = std::move(images);
  batch.labels = std::move(labels);
  batch.indices.assign(order_.begin() + cursor_, order_.begin() + cursor_ + count);
  batch.index = cursor_ / batch_size_;
  batch.global_rows = count;
  cursor_ += count;
  return std::optional<Batch>(std::move(batch));
}

}  // namespace hqp::data
