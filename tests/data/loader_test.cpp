// Loader: batching, drop_last, deterministic shuffling and augmentation across thread counts and
// epochs, bounded prefetch, and errors from samples that fail to decode or to batch.
#include "data/loader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "data/image_folder.h"
#include "data_test_util.h"

namespace hqp::data {
namespace {

using test::error_of;
using test::TempDir;

// n samples of [1, 5, 4] with pattern pixels, labels i % 7.
DatasetPtr pattern_dataset(int64_t n) {
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t y = 0; y < 5; ++y)
      for (int64_t x = 0; x < 4; ++x) pixels.push_back(test::pattern_pixel(i, 0, y, x));
    labels.push_back(i % 7);
  }
  auto ds = U8Dataset::create("pattern", {1, 5, 4}, std::move(pixels), std::move(labels), 7);
  HQP_CHECK(ds.ok());
  return *ds;
}

// Wraps a dataset: counts get() calls and fails on one index.
class ProbeDataset final : public Dataset {
 public:
  ProbeDataset(DatasetPtr base, int64_t fail_index) : base_(std::move(base)), fail_index_(fail_index) {}
  const std::string& name() const override { return base_->name(); }
  int64_t size() const override { return base_->size(); }
  int64_t num_classes() const override { return base_->num_classes(); }
  Shape sample_shape() const override { return base_->sample_shape(); }
  const std::vector<std::string>& class_names() const override { return base_->class_names(); }
  int64_t label(int64_t i) const override { return base_->label(i); }
  Result<Sample> get(int64_t i) const override {
    ++calls;
    if (i == fail_index_) return make_error(StatusCode::kParseError, "cannot decode image 'sample{}.png': broken", i);
    return base_->get(i);
  }
  mutable std::atomic<int64_t> calls{0};

 private:
  DatasetPtr base_;
  int64_t fail_index_;
};

struct EpochResult {
  std::vector<std::vector<float>> images;
  std::vector<std::vector<int64_t>> labels;
  std::vector<int64_t> indices;
  std::vector<std::vector<int64_t>> batch_indices;  // per batch
};

EpochResult run_epoch(Loader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  EpochResult r;
  int64_t expected_index = 0;
  while (true) {
    auto b = loader.next();
    EXPECT_TRUE(b.ok()) << error_of(b);
    if (!b.ok() || !b->has_value()) break;
    const Batch& batch = **b;
    EXPECT_EQ(batch.index, expected_index++);
    EXPECT_EQ(batch.images.dim(0), batch.labels.dim(0));
    r.images.emplace_back(batch.images.span<float>().begin(), batch.images.span<float>().end());
    r.labels.emplace_back(batch.labels.span<int64_t>().begin(), batch.labels.span<int64_t>().end());
    r.indices.insert(r.indices.end(), batch.indices.begin(), batch.indices.end());
    r.batch_indices.push_back(batch.indices);
  }
  EXPECT_EQ(expected_index, loader.num_batches());
  return r;
}

std::unique_ptr<Loader> make_loader(DatasetPtr ds, LoaderOptions opts, const std::string& pipeline) {
  auto p = Pipeline::parse(pipeline);
  HQP_CHECK(p.ok());
  auto l = Loader::create(std::move(ds), *p, opts);
  EXPECT_TRUE(l.ok()) << error_of(l);
  return l.ok() ? std::move(l).value() : nullptr;
}

TEST(Loader, BatchesInOrderWithoutShuffle) {
  LoaderOptions opts;
  opts.batch_size = 10;
  auto loader = make_loader(pattern_dataset(23), opts, "");
  EXPECT_EQ(loader->num_batches(), 3);
  EXPECT_EQ(loader->sample_shape(), (Shape{1, 5, 4}));
  const EpochResult r = run_epoch(*loader, 0);
  ASSERT_EQ(r.images.size(), 3u);
  EXPECT_EQ(r.images[2].size(), 3u * 20);  // last batch: 3 samples of 1x5x4
  for (int64_t i = 0; i < 23; ++i) EXPECT_EQ(r.indices[i], i);
  EXPECT_EQ(r.labels[1][4], 14 % 7);
  EXPECT_FLOAT_EQ(r.images[1][4 * 20 + 7], test::pattern_pixel(14, 0, 1, 3) / 255.0f);  // sample 14, y=1, x=3
}

TEST(Loader, DropLast) {
  LoaderOptions opts;
  opts.batch_size = 10;
  opts.drop_last = true;
  opts.shuffle = true;
  auto loader = make_loader(pattern_dataset(23), opts, "");
  EXPECT_EQ(loader->num_batches(), 2);
  EXPECT_EQ(loader->num_samples(), 20);
  const EpochResult r = run_epoch(*loader, 0);
  EXPECT_EQ(r.indices.size(), 20u);
}

// Data-parallel shards: the same number of batches on every shard, shard s's rows are the s-th
// share of each global batch (batch_size rows per shard), no sample twice, and the shards together
// are exactly the unsharded epoch of batch_size × shards (also for a short last batch).
TEST(Loader, ShardsSplitEveryGlobalBatch) {
  for (const bool drop_last : {false, true}) {
    LoaderOptions whole;
    whole.batch_size = 9;
    whole.shuffle = true;
    whole.seed = 5;
    whole.drop_last = drop_last;
    auto unsharded = make_loader(pattern_dataset(23), whole, "");
    const EpochResult all = run_epoch(*unsharded, 1);
    std::vector<EpochResult> parts;
    int64_t total = 0;
    for (int s = 0; s < 3; ++s) {
      LoaderOptions opts = whole;
      opts.batch_size = 3;
      opts.num_shards = 3;
      opts.shard = s;
      auto loader = make_loader(pattern_dataset(23), opts, "");
      EXPECT_EQ(loader->num_batches(), unsharded->num_batches());
      EXPECT_EQ(loader->global_samples(), unsharded->num_samples());
      loader->start_epoch(1);
      EpochResult r;
      int64_t b = 0;
      while (true) {
        auto next = loader->next();
        ASSERT_TRUE(next.ok()) << error_of(next);
        if (!*next) break;
        const Batch& batch = **next;
        const int64_t global = b + 1 < unsharded->num_batches() ? 9 : unsharded->num_samples() - 9 * b;
        EXPECT_EQ(batch.global_rows, global);
        EXPECT_EQ(batch.images.dim(0), global * (s + 1) / 3 - global * s / 3);
        r.indices.insert(r.indices.end(), batch.indices.begin(), batch.indices.end());
        r.batch_indices.push_back(batch.indices);
        ++b;
      }
      EXPECT_EQ(b, unsharded->num_batches());
      EXPECT_EQ(static_cast<int64_t>(r.indices.size()), loader->num_samples());
      total += loader->num_samples();
      parts.push_back(std::move(r));
    }
    EXPECT_EQ(total, unsharded->num_samples());
    // Global batch b of the unsharded loader = shard 0's batch b, then shard 1's, then shard 2's.
    for (size_t b = 0; b < all.batch_indices.size(); ++b) {
      std::vector<int64_t> joined;
      for (const EpochResult& p : parts) joined.insert(joined.end(), p.batch_indices[b].begin(), p.batch_indices[b].end());
      EXPECT_EQ(joined, all.batch_indices[b]) << "global batch " << b << (drop_last ? " (drop_last)" : "");
    }
  }
  LoaderOptions bad;
  bad.num_shards = 2;
  bad.shard = 2;
  auto p = Pipeline::parse("");
  ASSERT_TRUE(p.ok());
  auto l = Loader::create(pattern_dataset(4), *p, bad);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(error_of(l).find("bad shard 2 of 2"), std::string::npos) << error_of(l);
}

TEST(Loader, DeterministicAcrossThreadCountsAndPrefetch) {
  const DatasetPtr ds = pattern_dataset(103);  // prime: a ragged last batch
  const std::string pipeline = "random_crop(size=5x4,pad=1)|hflip(p=0.5)|normalize(mean=0.5,std=0.25)";
  std::vector<EpochResult> reference;
  for (auto [threads, prefetch] : {std::pair{0, 0}, {1, 0}, {2, 0}, {4, 1}, {3, 7}}) {
    LoaderOptions opts;
    opts.batch_size = 8;
    opts.shuffle = true;
    opts.seed = 42;
    opts.mode = TransformMode::kTrain;
    opts.num_threads = threads;
    opts.prefetch_batches = prefetch;
    auto loader = make_loader(ds, opts, pipeline);
    for (int64_t epoch : {0, 1}) {
      const EpochResult r = run_epoch(*loader, epoch);
      if (reference.size() < 2) {
        reference.push_back(r);
        continue;
      }
      EXPECT_EQ(r.indices, reference[epoch].indices) << threads << " threads, epoch " << epoch;
      EXPECT_EQ(r.labels, reference[epoch].labels) << threads << " threads, epoch " << epoch;
      EXPECT_EQ(r.images, reference[epoch].images) << threads << " threads, epoch " << epoch;
    }
  }
  // Epochs differ in order and augmentation; each epoch is a permutation of all samples.
  EXPECT_NE(reference[0].indices, reference[1].indices);
  for (const EpochResult& r : reference) {
    std::set<int64_t> unique(r.indices.begin(), r.indices.end());
    EXPECT_EQ(unique.size(), 103u);
    EXPECT_EQ(*unique.begin(), 0);
    EXPECT_EQ(*unique.rbegin(), 102);
  }
  // Repeating an epoch repeats it exactly; another seed shuffles differently.
  LoaderOptions opts;
  opts.batch_size = 8;
  opts.shuffle = true;
  opts.seed = 42;
  opts.mode = TransformMode::kTrain;
  auto loader = make_loader(ds, opts, pipeline);
  EXPECT_EQ(run_epoch(*loader, 1).images, reference[1].images);
  opts.seed = 43;
  auto other = make_loader(ds, opts, pipeline);
  EXPECT_NE(run_epoch(*other, 0).indices, reference[0].indices);
}

TEST(Loader, AugmentationDependsOnSampleNotPosition) {
  // The same (seed, epoch) gives sample i the same augmentation whether or not the order is shuffled.
  const DatasetPtr ds = pattern_dataset(30);
  LoaderOptions opts;
  opts.batch_size = 1;
  opts.seed = 5;
  opts.mode = TransformMode::kTrain;
  auto in_order = make_loader(ds, opts, "random_crop(size=5x4,pad=2)|hflip");
  opts.shuffle = true;
  auto shuffled = make_loader(ds, opts, "random_crop(size=5x4,pad=2)|hflip");
  const EpochResult a = run_epoch(*in_order, 3), b = run_epoch(*shuffled, 3);
  for (size_t k = 0; k < b.indices.size(); ++k) EXPECT_EQ(b.images[k], a.images[b.indices[k]]) << k;
}

TEST(Loader, PrefetchIsBounded) {
  auto probe = std::make_shared<ProbeDataset>(pattern_dataset(50), -1);
  LoaderOptions opts;
  opts.batch_size = 2;
  opts.num_threads = 2;
  opts.prefetch_batches = 3;
  auto loader = make_loader(probe, opts, "");
  loader->start_epoch(0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(probe->calls.load(), 6);  // 3 batches of 2 decoded ahead, no more
  auto b = loader->next();
  ASSERT_TRUE(b.ok() && b->has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(probe->calls.load(), 8);
  // Restarting mid-epoch discards the epoch in flight and starts over cleanly.
  loader->start_epoch(1);
  EXPECT_EQ(run_epoch(*loader, 1).indices.size(), 50u);
}

TEST(Loader, SampleErrorEndsEpochWithMessage) {
  for (int threads : {0, 2}) {
    auto probe = std::make_shared<ProbeDataset>(pattern_dataset(40), 25);
    LoaderOptions opts;
    opts.batch_size = 10;
    opts.num_threads = threads;
    auto loader = make_loader(probe, opts, "");
    loader->start_epoch(0);
    for (int b = 0; b < 2; ++b) {
      auto batch = loader->next();
      ASSERT_TRUE(batch.ok() && batch->has_value()) << error_of(batch);
    }
    auto bad = loader->next();
    EXPECT_EQ(bad.status().code(), StatusCode::kParseError);
    EXPECT_NE(error_of(bad).find("cannot decode image 'sample25.png'"), std::string::npos) << error_of(bad);
    auto after = loader->next();
    ASSERT_TRUE(after.ok());
    EXPECT_FALSE(after->has_value());
  }
}

TEST(Loader, MixedImageSizesNeedAFixedSizeTransform) {
  TempDir dir;
  test::write_png(dir.path() / "a/1.png", test::pattern_image(0, 8, 8, 3));
  test::write_png(dir.path() / "a/2.png", test::pattern_image(1, 6, 9, 3));
  auto ds = ImageFolderDataset::open(dir.path().string(), "mixed", 3);
  ASSERT_TRUE(ds.ok()) << error_of(ds);
  LoaderOptions opts;
  opts.batch_size = 2;
  auto loader = make_loader(*ds, opts, "");
  loader->start_epoch(0);
  auto b = loader->next();
  EXPECT_NE(error_of(b).find("cannot batch sample 1 of dataset 'mixed': shape 3x6x9 after preprocessing differs from "
                             "the batch shape 3x8x8"),
            std::string::npos)
      << error_of(b);
  auto fixed = make_loader(*ds, opts, "resize(size=7x7)");
  EXPECT_EQ(run_epoch(*fixed, 0).indices.size(), 2u);
}

TEST(Loader, BadOptionsAndPipelines) {
  const DatasetPtr ds = pattern_dataset(5);
  LoaderOptions opts;
  opts.batch_size = 0;
  auto l = Loader::create(ds, Pipeline(), opts);
  EXPECT_NE(error_of(l).find("bad batch size (batch_size=0, expected >= 1)"), std::string::npos) << error_of(l);
  opts.batch_size = 2;
  opts.num_threads = -1;
  l = Loader::create(ds, Pipeline(), opts);
  EXPECT_EQ(l.status().code(), StatusCode::kInvalidArgument);
  opts.num_threads = 1;
  Pipeline p;
  p.normalize({0.1f, 0.2f, 0.3f}, {1.0f, 1.0f, 1.0f});  // 3 channels on a 1-channel dataset
  l = Loader::create(ds, p, opts);
  EXPECT_NE(error_of(l).find("cannot load dataset 'pattern': cannot apply transform 'normalize'"), std::string::npos)
      << error_of(l);
}

}  // namespace
}  // namespace hqp::data
