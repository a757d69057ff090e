// Calibrators: from what calibration data showed of an activation tensor to the range its INT8
// grid covers. Statistics are gathered in two passes over the same batches -- pass 1 the finite
// min / max, pass 2 a histogram of kHistogramBins bins over that range -- and a calibrator reduces
// them to a range:
//   minmax      the observed range (pass 1 only)
//   percentile  the range holding all but (100 - p) % of the values on each open side (p = 99.99)
//   entropy     TensorRT's method: the clipping threshold whose quantized histogram is closest to the
//               observed one in KL divergence (Migacz 2017) -- for u8 asymmetric grids the upper
//               end of [min, max] (256 levels, min kept), for s8 symmetric grids t on |x| (128 levels)
//   mse         the range (a shrink of the observed one toward 0) with the least expected squared
//               quantization error: clipping error plus step^2 / 12 for the values inside
// Every range is widened to include 0 later (activation_params). Pure arithmetic: no graph, no executor.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "quant/quant_params.h"

namespace hqp::quant {

enum class Calibrator : uint8_t { kMinMax, kPercentile, kEntropy, kMse };
std::optional<Calibrator> calibrator_from_name(std::string_view name);  // "minmax", "percentile", "entropy", "mse"
std::string_view calibrator_name(Calibrator c);
// Whether the calibrator needs pass 2 (the histogram).
inline bool needs_histogram(Calibrator c) { return c != Calibrator::kMinMax; }

inline constexpr int kHistogramBins = 2048;

// What calibration saw of one tensor.
struct TensorStatistics {
  ValueRange range;                 // pass 1: finite min / max
  std::vector<double> histogram;    // pass 2: kHistogramBins counts over [range.min, range.max], exact zeros excluded
  double zeros = 0.0;               // pass 2: values exactly 0 (ReLU outputs: often most of them). Every
                                    // grid represents 0 exactly, so they cost no error whatever the
                                    // range; kept out of the bins, where their spike would make the
                                    // entropy method prefer the narrowest threshold
  int64_t nonfinite = 0;            // NaN / inf values seen (pass 1), never part of a range

  void add_to_range(std::span<const float> values);
  // Pass 2; the first call sizes the histogram. Values outside `range` (none when pass 2 sees the
  // same data as pass 1) go to the end bins.
  void add_to_histogram(std::span<const float> values);
};

// Statistics of many tensors by value name, filled pass by pass.
class ActivationStatistics {
 public:
  // pass 1 then (optionally) pass 2: observe() adds to the current pass.
  void observe(const std::string& name, std::span<const float> values);
  void start_histogram_pass() { histogram_pass_ = true; }
  bool histogram_pass() const { return histogram_pass_; }
  const TensorStatistics* find(const std::string& name) const;
  const std::unordered_map<std::string, TensorStatistics>& tensors() const { return tensors_; }
  // For merging statistics gathered elsewhere (data-parallel ranks): ranges, then histograms.
  std::unordered_map<std::string, TensorStatistics>& mutable_tensors() { return tensors_; }

 private:
  std::unordered_map<std::string, TensorStatistics> tensors_;
  bool histogram_pass_ = false;
};

struct CalibratorOptions {
  Calibrator method = Calibrator::kMinMax;
  double percentile = 99.99;  // percentile: in (50, 100]
  ActivationScheme scheme = ActivationScheme::kU8Asymmetric;  // the grid the range is chosen for
};

// The range the INT8 grid of this tensor covers. Histogram methods need pass 2 (kInvalidArgument
// without it); an empty range (no finite value seen) stays empty.
Result<ValueRange> choose_range(const TensorStatistics& stats, const CalibratorOptions& options);

// Ranges of every observed tensor.
Result<std::unordered_map<std::string, ValueRange>> choose_ranges(const ActivationStatistics& stats,
                                                                  const CalibratorOptions& options);

}  // namespace hqp::quant
