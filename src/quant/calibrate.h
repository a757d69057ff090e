// Calibration of activation ranges: runs a float graph on calibration batches through the
// reference executor and reduces every f32 tensor to its min / max as it is produced (no
// activation is copied). Min-max only; percentile / entropy / MSE calibrators come later.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "quant/quant_params.h"
#include "reference/executor.h"

namespace hqp::quant {

// Calibration input: each batch holds one tensor per graph input, in graph-input order (dtypes
// and shapes as the graph declares; the batch dimension may differ between batches).
struct CalibrationData {
  std::vector<std::vector<Tensor>> batches;
};

// Ranges keyed by value name: they stay valid for a clone of the calibrated graph and for any
// graph that keeps those value names (e.g. after a pass that rewrites other parts of it).
using RangeMap = std::unordered_map<std::string, ValueRange>;

// Observer that merges the finite min / max of every f32 node output into `ranges`.
class MinMaxObserver final : public ir::Observer {
 public:
  explicit MinMaxObserver(RangeMap& ranges) : ranges_(ranges) {}
  void on_output(const ir::Node& node, const ir::Value& value, const Tensor& tensor) override;

 private:
  RangeMap& ranges_;
};

// Min / max of every f32 graph input and node output over all batches. Errors: no batches
// (kInvalidArgument), and whatever the reference executor reports for a batch (named by index).
Result<RangeMap> calibrate_min_max(const ir::Graph& graph, const CalibrationData& data);

}  // namespace hqp::quant
