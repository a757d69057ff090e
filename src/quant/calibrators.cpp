// Calibrators: two-pass statistics (min / max, then a histogram over that range) and the range
// each calibration method derives from them.
#include "quant/calibrators.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hqp::quant {

namespace {

constexpr int kMseCandidates = 128;  // shrink factors i / 128 of the observed range

double bin_width(const TensorStatistics& s) {
  return (static_cast<double>(s.range.max) - static_cast<double>(s.range.min)) / kHistogramBins;
}

double bin_center(const TensorStatistics& s, int j) {
  return static_cast<double>(s.range.min) + (j + 0.5) * bin_width(s);
}

ValueRange percentile_range(const TensorStatistics& s, double percentile) {
  double total = s.zeros;
  for (double c : s.histogram) total += c;
  if (total <= 0.0 || percentile >= 100.0) return s.range;
  const double tail = total * (100.0 - percentile) / 100.0;
  const double w = bin_width(s);
  ValueRange r = s.range;
  if (s.range.max > 0.0f) {  // upper tail: drop at most `tail` values from the top
    double acc = 0.0;
    int j = kHistogramBins - 1;
    while (j > 0 && acc + s.histogram[static_cast<size_t>(j)] <= tail) acc += s.histogram[static_cast<size_t>(j--)];
    r.max = static_cast<float>(static_cast<double>(s.range.min) + (j + 1) * w);
  }
  if (s.range.min < 0.0f) {  // lower tail
    double acc = 0.0;
    int j = 0;
    while (j < kHistogramBins - 1 && acc + s.histogram[static_cast<size_t>(j)] <= tail) acc += s.histogram[static_cast<size_t>(j++)];
    r.min = static_cast<float>(static_cast<double>(s.range.min) + j * w);
  }
  r.min = std::min(r.min, s.range.max);
  r.max = std::max(r.max, r.min);
  return r;
}

// The grid activation_params builds for [lo, hi]: its step and the interval it represents.
struct Grid {
  double step = 1.0, lo = 0.0, hi = 0.0;
};
Grid grid_of(double lo, double hi, ActivationScheme scheme) {
  ValueRange r;
  r.add(static_cast<float>(lo));
  r.add(static_cast<float>(hi));
  const ir::QuantParams p = activation_params(r, scheme);
  const double s = p.scale[0];
  const double zp = p.zero_point[0];
  if (scheme == ActivationScheme::kU8Asymmetric) return {s, (0.0 - zp) * s, (255.0 - zp) * s};
  return {s, -127.0 * s, 127.0 * s};
}

ValueRange mse_range(const TensorStatistics& s, ActivationScheme scheme) {
  const double lo0 = std::min(0.0, static_cast<double>(s.range.min));
  const double hi0 = std::max(0.0, static_cast<double>(s.range.max));
  double best = std::numeric_limits<double>::infinity();
  double best_f = 1.0;
  for (int i = 1; i <= kMseCandidates; ++i) {
    const double f = static_cast<double>(i) / kMseCandidates;
    const Grid g = grid_of(lo0 * f, hi0 * f, scheme);
    const double rounding = g.step * g.step / 12.0;
    double err = 0.0;
    for (int j = 0; j < kHistogramBins; ++j) {
      const double n = s.histogram[static_cast<size_t>(j)];
      if (n == 0.0) continue;
      const double c = bin_center(s, j);
      const double d = c < g.lo ? c - g.lo : (c > g.hi ? c - g.hi : 0.0);
      err += n * (d != 0.0 ? d * d : rounding);
    }
    if (err < best) {  // strict: ties keep the smaller range
      best = err;
      best_f = f;
    }
  }
  ValueRange r;
  r.min = static_cast<float>(std::max(static_cast<double>(s.range.min), lo0 * best_f));
  r.max = static_cast<float>(std::min(static_cast<double>(s.range.max), hi0 * best_f));
  if (r.min > r.max) r = s.range;
  return r;
}

// KL(P || Q) of TensorRT's entropy calibration for a threshold at bin `i` of the |x| histogram `h`
// with `levels` quantization levels.
double kl_at(const std::vector<double>& h, int i, int levels, std::vector<double>& p, std::vector<double>& q) {
  p.assign(h.begin(), h.begin() + i);
  double outliers = 0.0;
  for (size_t j = static_cast<size_t>(i); j < h.size(); ++j) outliers += h[j];
  p[static_cast<size_t>(i - 1)] += outliers;
  q.assign(static_cast<size_t>(i), 0.0);
  for (int k = 0; k < levels; ++k) {
    const int b = static_cast<int>(static_cast<int64_t>(k) * i / levels);
    const int e = static_cast<int>(static_cast<int64_t>(k + 1) * i / levels);
    double sum = 0.0;
    int nonzero = 0;
    for (int j = b; j < e; ++j) {
      sum += h[static_cast<size_t>(j)];
      nonzero += h[static_cast<size_t>(j)] != 0.0 ? 1 : 0;
    }
    if (nonzero == 0) continue;
    for (int j = b; j < e; ++j) {
      if (h[static_cast<size_t>(j)] != 0.0) q[static_cast<size_t>(j)] = sum / nonzero;
    }
  }
  double ps = 0.0, qs = 0.0;
  for (int j = 0; j < i; ++j) {
    ps += p[static_cast<size_t>(j)];
    qs += q[static_cast<size_t>(j)];
  }
  if (ps <= 0.0 || qs <= 0.0) return std::numeric_limits<double>::infinity();
  constexpr double kEps = 1e-12;  // Q is 0 only where the observed bin is (the outlier bin aside)
  double kl = 0.0;
  for (int j = 0; j < i; ++j) {
    const double pj = p[static_cast<size_t>(j)] / ps;
    if (pj <= 0.0) continue;
    const double qj = std::max(q[static_cast<size_t>(j)] / qs, kEps);
    kl += pj * std::log(pj / qj);
  }
  return kl;
}

// The threshold bin (exclusive end) with the least KL divergence over histogram `h`.
int best_threshold_bin(const std::vector<double>& h, int levels) {
  double best = std::numeric_limits<double>::infinity();
  int best_i = kHistogramBins;
  std::vector<double> p, q;
  for (int i = levels; i <= kHistogramBins; ++i) {
    const double kl = kl_at(h, i, levels, p, q);
    if (kl < best) {
      best = kl;
      best_i = i;
    }
  }
  return best_i;
}

ValueRange entropy_range(const TensorStatistics& s, ActivationScheme scheme) {
  if (scheme == ActivationScheme::kU8Asymmetric) {
    // An asymmetric grid spends its 256 levels on [min, max]: the lower end stays (ReLU / HardSwish
    // floors and normalized image backgrounds are dense there, and folding them onto |x| would
    // set the threshold at the floor), only the upper tail is clipped.
    const int i = best_threshold_bin(s.histogram, 256);
    ValueRange r = s.range;
    r.max = static_cast<float>(static_cast<double>(s.range.min) + i * bin_width(s));
    r.max = std::min(std::max(r.max, std::max(r.min, 0.0f)), s.range.max);
    return r;
  }
  const double amax = std::max(std::fabs(static_cast<double>(s.range.min)), std::fabs(static_cast<double>(s.range.max)));
  if (amax <= 0.0) return s.range;
  // Symmetric grid: TensorRT's method on the |x| histogram over [0, amax] (bin centers re-binned).
  std::vector<double> h(kHistogramBins, 0.0);
  for (int j = 0; j < kHistogramBins; ++j) {
    const double n = s.histogram[static_cast<size_t>(j)];
    if (n == 0.0) continue;
    const int k = std::min(kHistogramBins - 1, static_cast<int>(std::fabs(bin_center(s, j)) / amax * kHistogramBins));
    h[static_cast<size_t>(k)] += n;
  }
  const double t = amax * best_threshold_bin(h, 128) / kHistogramBins;
  ValueRange r;
  r.min = static_cast<float>(std::max(static_cast<double>(s.range.min), -t));
  r.max = static_cast<float>(std::min(static_cast<double>(s.range.max), t));
  if (r.min > r.max) r = s.range;
  return r;
}

}  // namespace

std::optional<Calibrator> calibrator_from_name(std::string_view name) {
  if (name == "minmax") return Calibrator::kMinMax;
  if (name == "percentile") return Calibrator::kPercentile;
  if (name == "entropy") return Calibrator::kEntropy;
  if (name == "mse") return Calibrator::kMse;
  return std::nullopt;
}

std::string_view calibrator_name(Calibrator c) {
  switch (c) {
    case Calibrator::kMinMax: return "minmax";
    case Calibrator::kPercentile: return "percentile";
    case Calibrator::kEntropy: return "entropy";
    case Calibrator::kMse: return "mse";
  }
  return "?";
}

void TensorStatistics::add_to_range(std::span<const float> values) {
  for (float v : values) {
    if (std::isfinite(v)) {
      range.add(v);
    } else {
      ++nonfinite;
    }
  }
}

void TensorStatistics::add_to_histogram(std::span<const float> values) {
  if (histogram.empty()) histogram.assign(kHistogramBins, 0.0);
  if (range.empty()) return;
  const double lo = range.min;
  const double width = static_cast<double>(range.max) - lo;
  const double inv = width > 0.0 ? kHistogramBins / width : 0.0;
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    if (v == 0.0f) {
      zeros += 1.0;
      continue;
    }
    int j = static_cast<int>((static_cast<double>(v) - lo) * inv);
    j = std::clamp(j, 0, kHistogramBins - 1);
    histogram[static_cast<size_t>(j)] += 1.0;
  }
}

void ActivationStatistics::observe(const std::string& name, std::span<const float> values) {
  TensorStatistics& s = tensors_[name];
  if (histogram_pass_) {
    s.add_to_histogram(values);
  } else {
    s.add_to_range(values);
  }
}

const TensorStatistics* ActivationStatistics::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Result<ValueRange> choose_range(const TensorStatistics& stats, const CalibratorOptions& options) {
  if (stats.range.empty() || options.method == Calibrator::kMinMax) return stats.range;
  if (stats.histogram.size() != static_cast<size_t>(kHistogramBins)) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot calibrate with '{}': the histogram pass did not run (bins={}, expected {})",
                      calibrator_name(options.method), stats.histogram.size(), kHistogramBins);
  }
  if (stats.range.min == stats.range.max) return stats.range;
  switch (options.method) {
    case Calibrator::kPercentile:
      if (!(options.percentile > 50.0 && options.percentile <= 100.0)) {
        return make_error(StatusCode::kInvalidArgument, "cannot calibrate: percentile {} (expected in (50, 100])",
                          options.percentile);
      }
      return percentile_range(stats, options.percentile);
    case Calibrator::kEntropy: return entropy_range(stats, options.scheme);
    case Calibrator::kMse: return mse_range(stats, options.scheme);
    case Calibrator::kMinMax: break;
  }
  return stats.range;
}

Result<std::unordered_map<std::string, ValueRange>> choose_ranges(const ActivationStatistics& stats,
                                                                  const CalibratorOptions& options) {
  std::unordered_map<std::string, ValueRange> out;
  for (const auto& [name, s] : stats.tensors()) {
    Result<ValueRange> r = choose_range(s, options);
    if (!r.ok()) return r.status().with_context(fmt::format("cannot calibrate value '{}'", name));
    out.emplace(name, *r);
  }
  return out;
}

}  // namespace hqp::quant
