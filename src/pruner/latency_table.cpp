// Profile -> per-node milliseconds per unit of work.
#include "pruner/latency_table.h"

#include <memory>
#include <string_view>

#include "eval/engine.h"
#include "eval/latency.h"

namespace hqp::pruner {

namespace {

// The float node a profiled step belongs to ("" when none).
std::string owner(std::string_view step, const std::map<std::string, double>& work) {
  if (work.count(std::string(step)) != 0) return std::string(step);
  for (std::string_view suffix : {"_QuantizeLinear", "_DequantizeLinear"}) {
    if (step.size() > suffix.size() && step.substr(step.size() - suffix.size()) == suffix) {
      const std::string base(step.substr(0, step.size() - suffix.size()));
      if (work.count(base) != 0) return base;
    }
  }
  return "";
}

}  // namespace

Result<prune::LatencyTable> measure_latency_table(const ir::Graph& float_graph, const ir::Graph& deployed,
                                                  const Shape& sample, int threads, int runs) {
  if (runs < 1) return make_error(StatusCode::kInvalidArgument, "latency table: runs must be >= 1");
  eval::EngineOptions eo;
  eo.kind = eval::EngineKind::kFast;
  eo.threads = threads;
  eo.profile = true;
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<eval::InferenceEngine> engine, eval::InferenceEngine::create(deployed, eo));
  HQP_ASSIGN_OR_RETURN(Tensor x, eval::latency_input(sample));
  const Tensor inputs[] = {x};
  HQP_RETURN_IF_ERROR(eval::measure_latency(*engine, inputs, 5, runs).status());
  const std::map<std::string, double> work = prune::node_work(float_graph);
  prune::LatencyTable ms;
  for (const StepProfile& s : engine->session()->profile()) {
    if (s.runs <= 0) continue;
    const std::string node = owner(s.node, work);
    if (node.empty()) continue;
    ms[node] += s.total_ms / static_cast<double>(s.runs);
  }
  prune::LatencyTable table;
  for (const auto& [node, t] : ms) {
    const double w = work.at(node);
    if (w > 0.0) table[node] = t / w;
  }
  if (table.empty()) {
    return make_error(StatusCode::kInvalidArgument, "latency table: no profiled step matches a node of the float model");
  }
  return table;
}

}  // namespace hqp::pruner
