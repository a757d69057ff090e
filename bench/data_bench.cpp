// Loader throughput (Google Benchmark): samples/s of hqp::data::Loader over the real Fashion-MNIST
// training split (Debian dataset-fashion-mnist), eval and train-mode augmentation, 1 and 2 worker
// threads. Not a test and not run in CI; build target hqp_data_bench.
//
// Usage: hqp_data_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdio>

#include "data/loader.h"
#include "data/open_dataset.h"

namespace {

hqp::data::DatasetPtr fashion_train() {
  static hqp::data::DatasetPtr ds = [] {
    hqp::data::DatasetSpec spec;
    spec.source = "fashion-mnist";
    auto r = hqp::data::open_dataset(spec);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().message().c_str());
      return hqp::data::DatasetPtr();
    }
    return *r;
  }();
  return ds;
}

// range(0): worker threads; range(1): 1 = train-mode augmentation (random crop + flip), 0 = eval.
void BM_LoaderEpoch(benchmark::State& state) {
  hqp::data::DatasetPtr ds = fashion_train();
  if (ds == nullptr) {
    state.SkipWithError("fashion-mnist not installed (apt-get install dataset-fashion-mnist)");
    return;
  }
  const bool train = state.range(1) != 0;
  hqp::data::Pipeline pipeline;
  if (train) pipeline.random_crop(28, 28, 2).hflip(0.5);
  pipeline.normalize({0.2860f}, {0.3530f});
  hqp::data::LoaderOptions opts;
  opts.batch_size = 256;
  opts.shuffle = true;
  opts.num_threads = static_cast<int>(state.range(0));
  opts.mode = train ? hqp::data::TransformMode::kTrain : hqp::data::TransformMode::kEval;
  auto loader = hqp::data::Loader::create(ds, pipeline, opts);
  if (!loader.ok()) {
    state.SkipWithError(loader.status().message().c_str());
    return;
  }
  int64_t epoch = 0, samples = 0;
  for (auto _ : state) {
    (*loader)->start_epoch(epoch++);
    while (true) {
      auto b = (*loader)->next();
      if (!b.ok() || !b->has_value()) break;
      samples += (*b)->labels.numel();
      benchmark::DoNotOptimize((*b)->images.raw_data());
    }
  }
  state.counters["samples_per_s"] = benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LoaderEpoch)
    ->ArgNames({"threads", "augment"})
    ->ArgsProduct({{1, 2}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
