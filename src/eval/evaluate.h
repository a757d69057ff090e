// evaluate_classifier: top-1 / top-5 / loss / per-class accuracy and throughput of a classifier
// over a data::BatchSource on an InferenceEngine -- what `hqp eval` prints and what prune /
// quantize / compress report after each stage. Metrics are metrics::ClassificationMetrics.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/status.h"
#include "data/batch_source.h"
#include "eval/engine.h"
#include "metrics/classification_metrics.h"

namespace hqp::eval {

struct EvalProgress {
  int64_t step = 0;   // batches done
  int64_t steps = 0;  // batches in the epoch
  double loss = 0.0;  // running mean cross-entropy
  double top1 = 0.0;  // running accuracy
  double samples_per_s = 0.0;
  double eta_s = 0.0;
};
using EvalProgressCallback = std::function<void(const EvalProgress&)>;

struct ClassificationReport {
  metrics::ClassificationMetrics metrics;  // samples, top1/top5/loss, per-class tables
  double seconds = 0.0;
  double samples_per_s = 0.0;
};

struct EvaluateOptions {
  int64_t num_classes = 0;  // per-class tables' size up front (the dataset's classes; 0: from the labels)
  std::string model_name;   // names the model in engine errors ("cannot evaluate model '<name>'")
};

// One pass (epoch 0) over `data`: each batch's images f32 [N, C, H, W] -> engine -> first output
// logits f32 [rows, K] -> metrics. A model whose input has a static batch dim B gets batches
// smaller than B zero-padded to B rows (the padding rows are not counted). `progress` (optional)
// is called after every batch.
Result<ClassificationReport> evaluate_classifier(const ir::Graph& graph, data::BatchSource& data,
                                                 InferenceEngine& engine, const EvaluateOptions& options = {},
                                                 const EvalProgressCallback& progress = {});

}  // namespace hqp::eval
