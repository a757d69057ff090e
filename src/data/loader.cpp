// Loader: a per-epoch pool of workers that claim whole batches in order, at most prefetch_ ahead
// of the consumer; the consumer takes them in batch order.
#include "data/loader.h"

#include <algorithm>
#include <cstring>

#include "data/rng.h"

namespace hqp::data {

Result<std::unique_ptr<Loader>> Loader::create(DatasetPtr dataset, Pipeline pipeline, LoaderOptions options) {
  HQP_CHECK(dataset != nullptr);
  constexpr int kMaxThreads = 256;
  if (options.batch_size <= 0) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot create loader for dataset '{}': bad batch size "
                      "(batch_size={}, expected >= 1)",
                      dataset->name(), options.batch_size);
  }
  if (options.num_threads < 0 || options.num_threads > kMaxThreads || options.prefetch_batches < 0) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot create loader for dataset '{}': bad threading (num_threads={}, prefetch_batches={}, "
                      "expected 0..{} threads and prefetch >= 0)",
                      dataset->name(), options.num_threads, options.prefetch_batches, kMaxThreads);
  }
  if (options.num_shards < 1 || options.shard < 0 || options.shard >= options.num_shards) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot create loader for dataset '{}': bad shard {} of {} (expected 0 <= shard < shards)",
                      dataset->name(), options.shard, options.num_shards);
  }
  if (dataset->size() == 0) {
    return make_error(StatusCode::kInvalidArgument, "cannot create loader for dataset '{}': the dataset is empty",
                      dataset->name());
  }
  auto shape = pipeline.output_shape(dataset->sample_shape());
  if (!shape.ok()) return shape.status().with_context(fmt::format("cannot load dataset '{}'", dataset->name()));
  std::unique_ptr<Loader> loader(new Loader());
  loader->dataset_ = std::move(dataset);
  loader->pipeline_ = std::move(pipeline);
  loader->options_ = options;
  loader->sample_shape_ = std::move(shape).value();
  loader->prefetch_ = options.prefetch_batches > 0 ? options.prefetch_batches : 2 * std::max(1, options.num_threads);
  return loader;
}

Loader::~Loader() { stop_workers(); }

int64_t Loader::global_samples() const {
  const int64_t n = dataset_->size();
  return options_.drop_last ? n / global_batch() * global_batch() : n;
}

int64_t Loader::num_batches() const { return (global_samples() + global_batch() - 1) / global_batch(); }

void Loader::shard_rows(int64_t b, int64_t* begin, int64_t* end, int64_t* m) const {
  const int64_t g0 = b * global_batch();
  *m = std::min(global_batch(), global_samples() - g0);
  const int64_t s = options_.shard, shards = options_.num_shards;
  *begin = g0 + *m * s / shards;
  *end = g0 + *m * (s + 1) / shards;
}

int64_t Loader::shard_rows_in_prefix(int64_t prefix) const {
  int64_t total = 0;
  const int64_t batches = num_batches();
  for (int64_t b = 0; b < batches && b * global_batch() < prefix; ++b) {
    int64_t begin = 0, end = 0, m = 0;
    shard_rows(b, &begin, &end, &m);
    total += std::max<int64_t>(0, std::min(end, prefix) - begin);
  }
  return total;
}

int64_t Loader::num_samples() const {
  if (options_.num_shards == 1) return global_samples();
  int64_t total = 0;
  const int64_t batches = num_batches();
  for (int64_t b = 0; b < batches; ++b) {
    int64_t begin = 0, end = 0, m = 0;
    shard_rows(b, &begin, &end, &m);
    total += end - begin;
  }
  return total;
}

void Loader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
  ready_.clear();
}

void Loader::start_epoch(int64_t epoch) {
  HQP_CHECK(epoch >= 0);
  stop_workers();
  epoch_ = epoch;
  const int64_t n = dataset_->size();
  order_.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order_[static_cast<size_t>(i)] = i;
  if (options_.shuffle) {
    Rng rng = Rng::for_stream(options_.seed, RngStream::kShuffle, epoch);
    for (int64_t i = n - 1; i > 0; --i) std::swap(order_[static_cast<size_t>(i)], order_[rng.uniform_int(i + 1)]);
  }
  stop_ = false;
  next_claim_ = 0;
  next_consume_ = 0;
  for (int t = 0; t < options_.num_threads; ++t) workers_.emplace_back([this] { worker_loop(); });
}

void Loader::worker_loop() {
  const int64_t batches = num_batches();
  while (true) {
    int64_t b = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || next_claim_ >= batches || next_claim_ < next_consume_ + prefetch_; });
      if (stop_ || next_claim_ >= batches) return;
      b = next_claim_++;
    }
    Result<Batch> batch = build_batch(b);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_.emplace(b, std::move(batch));
    }
    done_cv_.notify_all();
  }
}

Result<std::optional<Batch>> Loader::next() {
  HQP_CHECK_MSG(epoch_ >= 0, "Loader::next() before start_epoch()");
  if (next_consume_ >= num_batches()) return std::optional<Batch>();
  if (options_.num_threads == 0) {
    Result<Batch> batch = build_batch(next_consume_);
    if (!batch.ok()) {
      next_consume_ = num_batches();
      return batch.status();
    }
    ++next_consume_;
    return std::optional<Batch>(std::move(batch).value());
  }
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return ready_.count(next_consume_) != 0; });
  auto node = ready_.extract(next_consume_);
  ++next_consume_;
  lock.unlock();
  work_cv_.notify_all();
  if (!node.mapped().ok()) {
    const Status status = node.mapped().status();
    stop_workers();
    next_consume_ = num_batches();
    return status;
  }
  return std::optional<Batch>(std::move(node.mapped()).value());
}

Result<Batch> Loader::build_batch(int64_t batch_index) const {
  int64_t begin = 0, end = 0, global_rows = 0;
  shard_rows(batch_index, &begin, &end, &global_rows);
  const int64_t rows = end - begin;
  Shape images_shape = {rows};
  images_shape.insert(images_shape.end(), sample_shape_.begin(), sample_shape_.end());
  HQP_ASSIGN_OR_RETURN(Tensor images, Tensor::zeros(DType::kF32, images_shape));
  HQP_ASSIGN_OR_RETURN(Tensor labels, Tensor::zeros(DType::kS64, {rows}));
  int64_t row_numel = 1;
  for (int64_t d : sample_shape_) row_numel *= d;
  Batch batch;
  batch.index = batch_index;
  batch.global_rows = global_rows;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t idx = order_[static_cast<size_t>(begin + r)];
    HQP_ASSIGN_OR_RETURN(Sample sample, dataset_->get(idx));
    Rng rng = Rng::for_stream(options_.seed, RngStream::kAugment, epoch_, idx);
    auto out = pipeline_.apply(sample.image, options_.mode, rng);
    if (!out.ok()) return out.status().with_context(fmt::format("sample {} of dataset '{}'", idx, dataset_->name()));
    if (out->shape() != sample_shape_) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot batch sample {} of dataset '{}': shape {} after preprocessing differs from the batch "
                        "shape {} (images differ in size; add resize(size=HxW) or center_crop(size=HxW))",
                        idx, dataset_->name(), shape_to_string(out->shape()), shape_to_string(sample_shape_));
    }
    std::memcpy(images.data<float>() + r * row_numel, out->data<float>(),
                static_cast<size_t>(row_numel) * sizeof(float));
    labels.data<int64_t>()[r] = sample.label;
    batch.indices.push_back(idx);
  }
  batch.images = std::move(images);
  batch.labels = std::move(labels);
  return batch;
}

}  // namespace hqp::data
