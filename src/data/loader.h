// Batching loader: deterministic (seed, epoch) shuffling, per-sample decoding and augmentation on
// worker threads with a bounded prefetch queue, batches in order. The output depends only on the
// dataset, pipeline, options and epoch, never on the thread count or scheduling: sample i of
// epoch e draws its augmentation from Rng::for_stream(seed, kAugment, e, i) (i = dataset index).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "data/batch_source.h"
#include "data/dataset.h"
#include "data/transform.h"

namespace hqp::data {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = false;    // a new permutation each epoch, from (seed, epoch)
  bool drop_last = false;  // drop a final batch smaller than batch_size
  uint64_t seed = 0;
  TransformMode mode = TransformMode::kEval;  // kTrain enables random crops and flips
  int num_threads = 1;                        // decode workers; 0 decodes on the caller's thread inside next()
  int prefetch_batches = 0;                   // batches decoded ahead of the consumer; 0 = 2 * max(1, num_threads)
  // Data-parallel sharding: batch_size is per shard; global batch b is rows [b·G, (b+1)·G) of the
  // epoch's order (G = batch_size · num_shards, drop_last on G), and shard s takes its s-th
  // share (rows [s·m/S, (s+1)·m/S) of a global batch of m rows). Every shard sees the same number
  // of batches (lockstep collectives), no sample twice, and the union over shards is exactly the
  // unsharded epoch of batch size G. A shard's share of a short last batch may be empty (0 rows).
  int num_shards = 1;
  int shard = 0;
};

// A BatchSource: trainers and evaluators consume a Loader directly. Batches: images f32
// [N <= batch_size, C, H, W], labels s64 [N], indices = dataset index of each row.
class Loader final : public BatchSource {
 public:
  // Validates the options and that the pipeline applies to dataset->sample_shape().
  static Result<std::unique_ptr<Loader>> create(DatasetPtr dataset, Pipeline pipeline, LoaderOptions options);
  ~Loader() override;
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  const Dataset& dataset() const { return *dataset_; }
  const Pipeline& pipeline() const { return pipeline_; }
  const LoaderOptions& options() const { return options_; }
  // [C, H, W] of every batch row (the pipeline applied to the dataset's sample shape).
  const Shape& sample_shape() const { return sample_shape_; }
  int64_t num_batches() const override;  // global batches per epoch (the same on every shard)
  int64_t num_samples() const override;  // per epoch, after drop_last, this shard's rows
  int64_t global_samples() const;         // per epoch, after drop_last, every shard's rows
  // This shard's rows among the first `prefix` rows of the epoch's order (a shard's share of
  // "the first N samples", e.g. for calibration).
  int64_t shard_rows_in_prefix(int64_t prefix) const;

  // Starts epoch `epoch` (>= 0); stops and discards an epoch in flight.
  void start_epoch(int64_t epoch) override;
  // The next batch of the current epoch, or nullopt after the last. An error (undecodable sample,
  // shape mismatch) ends the epoch: later calls return nullopt until start_epoch().
  Result<std::optional<Batch>> next() override;

 private:
  Loader() = default;
  Result<Batch> build_batch(int64_t batch_index) const;
  int64_t global_batch() const { return options_.batch_size * options_.num_shards; }
  // This shard's rows [begin, end) of global batch b, in the epoch's order; global rows in *m.
  void shard_rows(int64_t b, int64_t* begin, int64_t* end, int64_t* m) const;
  void stop_workers();
  void worker_loop();

  DatasetPtr dataset_;
  Pipeline pipeline_;
  LoaderOptions options_;
  Shape sample_shape_;
  int prefetch_ = 1;

  // Current epoch. order_ and epoch_ are written only while no worker runs.
  int64_t epoch_ = -1;
  std::vector<int64_t> order_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_;  // workers: room to claim a batch, or stop
  std::condition_variable done_cv_;  // consumer: a batch became ready
  bool stop_ = false;
  int64_t next_claim_ = 0;    // next batch a worker will build
  int64_t next_consume_ = 0;  // next batch next() returns
  std::map<int64_t, Result<Batch>> ready_;
};

}  // namespace hqp::data
