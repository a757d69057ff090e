// LatencyStats: median / min / p90 / mean of timed runs in milliseconds, the numbers `hqp bench`
// reports. Statistics only; timing the runs is eval/latency.h's job. Torch-free, no runtime.
#pragma once

#include <cstdint>
#include <span>

namespace hqp::metrics {

struct LatencyStats {
  int64_t runs = 0;
  double median_ms = 0.0;
  double min_ms = 0.0;
  double p90_ms = 0.0;
  double mean_ms = 0.0;
};

// Percentile p in [0, 1] of `samples` with linear interpolation between the two nearest ranks of
// the sorted samples (position p * (n - 1)); 0 for no samples.
double percentile(std::span<const double> samples, double p);

// All zeros (runs 0) for no samples.
LatencyStats latency_stats(std::span<const double> samples_ms);

}  // namespace hqp::metrics
