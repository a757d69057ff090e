// FisherAccumulator: the empirical-Fisher importance of channels, accumulated from the a·g terms a
// gradient-capable executor (train::TorchExecutor) reports through ir::GradientObserver. Plain
// arithmetic on host tensors; this header does not include libtorch.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "ir/observer.h"

namespace hqp::train {

// Accumulates, per observed value, Σ_n (a_dot_g[n, c])² over all samples seen (the empirical
// Fisher importance of channel c) and the sample count. Observes the outputs of Conv, FusedConv and
// BatchNormalization nodes, or exactly the named values when `value_names` is not empty.
class FisherAccumulator : public ir::GradientObserver {
 public:
  explicit FisherAccumulator(std::vector<std::string> value_names = {});
  bool observes(const ir::Node& node, const ir::Value& value) override;
  void on_channel_fisher(const ir::Node& node, const ir::Value& value, const Tensor& a_dot_g) override;

  struct Entry {
    std::vector<double> fisher;  // [C]: Σ_n (Σ_hw a·g)²
    int64_t samples = 0;
  };
  // Keyed by value name, in the order values were first seen.
  const std::vector<std::pair<std::string, Entry>>& entries() const { return entries_; }
  const Entry* find(const std::string& value_name) const;
  void clear() { entries_.clear(); }

 private:
  std::vector<std::string> names_;
  std::vector<std::pair<std::string, Entry>> entries_;
};

}  // namespace hqp::train
