// Top-1 with a progress bar and batch-1 latency for prune / quantize.
#include "measure.h"

#include <memory>

#include "eval/engine.h"
#include "eval/evaluate.h"
#include "eval/latency.h"

namespace hqp::cli {

Result<double> top1_with_progress(const ir::Graph& graph, data::BatchSource& src, int threads, ProgressBar& bar,
                                  const std::string& label, distributed::ProcessGroup* group) {
  eval::EngineOptions eo;
  eo.threads = threads;
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<eval::InferenceEngine> engine, eval::InferenceEngine::create(graph, eo));
  HQP_ASSIGN_OR_RETURN(eval::ClassificationReport r,
                       eval::evaluate_classifier(graph, src, *engine, {}, [&](const eval::EvalProgress& p) {
                         bar.update(label, p.step, p.steps, p.loss, p.top1, p.samples_per_s, p.eta_s);
                       }));
  bar.clear();
  return distributed::global_fraction(group, r.metrics.top1_count(), r.metrics.samples());
}

Result<double> median_latency_ms(const ir::Graph& graph, const Shape& sample, int threads, int runs) {
  eval::EngineOptions eo;
  eo.threads = threads;
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<eval::InferenceEngine> engine, eval::InferenceEngine::create(graph, eo));
  Shape shape = sample;
  shape.insert(shape.begin(), 1);
  HQP_ASSIGN_OR_RETURN(Tensor x, eval::latency_input(shape));
  const Tensor inputs[] = {x};
  HQP_ASSIGN_OR_RETURN(metrics::LatencyStats s, eval::measure_latency(*engine, inputs, 5, runs));
  return s.median_ms;
}

}  // namespace hqp::cli
