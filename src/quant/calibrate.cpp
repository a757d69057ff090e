// Min-max calibration through the reference executor's Observer hook.
#include "quant/calibrate.h"

#include <cmath>

namespace hqp::quant {

namespace {

void merge_tensor(ValueRange& range, const Tensor& t) {
  for (float v : t.span<float>()) {
    if (std::isfinite(v)) range.add(v);
  }
}

}  // namespace

void MinMaxObserver::on_output(const ir::Node& /*node*/, const ir::Value& value, const Tensor& tensor) {
  if (tensor.dtype() != DType::kF32) return;
  merge_tensor(ranges_[value.name], tensor);
}

Result<RangeMap> calibrate_min_max(const ir::Graph& graph, const CalibrationData& data) {
  if (data.batches.empty()) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot calibrate model '{}': no calibration batches (batches=0, expected >= 1)",
                      graph.info.graph_name);
  }
  RangeMap ranges;
  MinMaxObserver observer(ranges);
  reference::RunOptions options;
  options.observer = &observer;
  for (size_t b = 0; b < data.batches.size(); ++b) {
    const std::vector<Tensor>& batch = data.batches[b];
    Result<std::vector<Tensor>> out = reference::run_reference(graph, batch, options);
    if (!out.ok()) return out.status().with_context(fmt::format("cannot calibrate on batch {}", b));
    // Inputs are not produced by a node, so the observer never sees them.
    for (size_t i = 0; i < batch.size() && i < graph.inputs().size(); ++i) {
      if (batch[i].dtype() == DType::kF32) merge_tensor(ranges[graph.inputs()[i]->name], batch[i]);
    }
  }
  return ranges;
}

}  // namespace hqp::quant
