// evaluate_classifier: the batch loop with static-batch padding.
#include "eval/evaluate.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "modeldata/metadata.h"

namespace hqp::eval {

namespace {

// Copies `images` [n, ...] into the first n rows of a zero tensor [rows, ...].
Result<Tensor> pad_rows(const Tensor& images, int64_t rows) {
  Shape shape = images.shape();
  shape[0] = rows;
  HQP_ASSIGN_OR_RETURN(Tensor padded, Tensor::zeros(DType::kF32, shape));
  std::copy_n(images.data<float>(), images.numel(), padded.data<float>());
  return padded;
}

}  // namespace

Result<ClassificationReport> evaluate_classifier(const ir::Graph& graph, data::BatchSource& data,
                                                 InferenceEngine& engine, const EvaluateOptions& options,
                                                 const EvalProgressCallback& progress) {
  if (graph.inputs().empty()) {
    return make_error(StatusCode::kInvalidArgument, "cannot evaluate model '{}': it has no inputs (expected 1)",
                      options.model_name);
  }
  const Shape input_shape = modeldata::value_shape(*graph.inputs()[0]);
  const int64_t static_batch = input_shape.empty() ? -1 : input_shape[0];
  ClassificationReport report{metrics::ClassificationMetrics(options.num_classes)};
  metrics::ClassificationMetrics& m = report.metrics;
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  data.start_epoch(0);
  const int64_t steps = data.num_batches();
  int64_t step = 0;
  while (true) {
    HQP_ASSIGN_OR_RETURN(std::optional<data::Batch> batch, data.next());
    if (!batch) break;
    if (batch->images.dim(0) == 0) {  // a data-parallel rank's empty share of a short last batch
      ++step;
      continue;
    }
    Tensor images = std::move(batch->images);
    if (static_batch > 0 && images.dim(0) < static_batch) {
      HQP_ASSIGN_OR_RETURN(images, pad_rows(images, static_batch));
    }
    const Tensor inputs[] = {images};
    Result<std::vector<Tensor>> outputs = engine.run(inputs);
    if (!outputs.ok()) {
      return outputs.status().with_context(fmt::format("cannot evaluate model '{}'", options.model_name));
    }
    if (outputs->empty()) {
      return make_error(StatusCode::kInvalidArgument, "cannot evaluate model '{}': it has no outputs (expected logits)",
                        options.model_name);
    }
    HQP_RETURN_IF_ERROR(m.accumulate(outputs->front(), batch->labels));
    ++step;
    if (progress) {
      const double t = elapsed();
      EvalProgress p;
      p.step = step;
      p.steps = steps;
      p.loss = m.loss();
      p.top1 = m.top1();
      p.samples_per_s = t > 0.0 ? static_cast<double>(m.samples()) / t : 0.0;
      p.eta_s = t / static_cast<double>(step) * static_cast<double>(std::max<int64_t>(steps - step, 0));
      progress(p);
    }
  }
  report.seconds = elapsed();
  report.samples_per_s = report.seconds > 0.0 ? static_cast<double>(m.samples()) / report.seconds : 0.0;
  return report;
}

}  // namespace hqp::eval
