// FisherAccumulator: Σ_n (Σ_hw a·g)² per channel of the observed activations (no libtorch here).
#include <algorithm>

#include "train/fisher_accumulator.h"

namespace hqp::train {

FisherAccumulator::FisherAccumulator(std::vector<std::string> value_names) : names_(std::move(value_names)) {}

bool FisherAccumulator::observes(const ir::Node& node, const ir::Value& value) {
  if (!names_.empty()) return std::find(names_.begin(), names_.end(), value.name) != names_.end();
  return node.output(0) == &value &&
         (node.kind == ir::OpKind::Conv || node.kind == ir::OpKind::FusedConv ||
          node.kind == ir::OpKind::BatchNormalization);
}

void FisherAccumulator::on_channel_fisher(const ir::Node& node, const ir::Value& value, const Tensor& a_dot_g) {
  HQP_CHECK(a_dot_g.dtype() == DType::kF32 && a_dot_g.rank() == 2);
  const int64_t n = a_dot_g.dim(0);
  const int64_t c = a_dot_g.dim(1);
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const auto& e) { return e.first == value.name; });
  if (it == entries_.end()) {
    entries_.emplace_back(value.name, Entry{std::vector<double>(static_cast<size_t>(c), 0.0), 0});
    it = entries_.end() - 1;
  }
  Entry& e = it->second;
  HQP_CHECK_MSG(static_cast<int64_t>(e.fisher.size()) == c, "channel count of '" + value.name + "' changed");
  const float* src = a_dot_g.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = 0; k < c; ++k) {
      const double v = src[i * c + k];
      e.fisher[static_cast<size_t>(k)] += v * v;
    }
  }
  e.samples += n;
}

const FisherAccumulator::Entry* FisherAccumulator::find(const std::string& value_name) const {
  for (const auto& [name, e] : entries_) {
    if (name == value_name) return &e;
  }
  return nullptr;
}

}  // namespace hqp::train
