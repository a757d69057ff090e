// LatencyStats: sorted-sample percentiles with linear interpolation.
#include "metrics/latency_stats.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace hqp::metrics {

double percentile(std::span<const double> samples, double p) {
  if (samples.empty()) return 0.0;
  std::vector<double> v(samples.begin(), samples.end());
  std::sort(v.begin(), v.end());
  const double pos = p * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

LatencyStats latency_stats(std::span<const double> samples_ms) {
  LatencyStats s;
  if (samples_ms.empty()) return s;
  s.runs = static_cast<int64_t>(samples_ms.size());
  s.median_ms = percentile(samples_ms, 0.5);
  s.p90_ms = percentile(samples_ms, 0.9);
  s.min_ms = *std::min_element(samples_ms.begin(), samples_ms.end());
  s.mean_ms = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0) / static_cast<double>(samples_ms.size());
  return s;
}

}  // namespace hqp::metrics
