// InferenceEngine: dispatch to Session, the reference executor or TorchExecutor.
#include "eval/engine.h"

#include "reference/executor.h"
#include "train/torch_executor.h"

namespace hqp::eval {

std::optional<EngineKind> engine_from_name(std::string_view name) {
  if (name == "fast") return EngineKind::kFast;
  if (name == "ref") return EngineKind::kReference;
  if (name == "torch") return EngineKind::kTorch;
  return std::nullopt;
}

std::string_view engine_name(EngineKind kind) {
  switch (kind) {
    case EngineKind::kFast:
      return "fast";
    case EngineKind::kReference:
      return "ref";
    case EngineKind::kTorch:
      return "torch";
  }
  return "?";
}

InferenceEngine::~InferenceEngine() = default;

Result<std::unique_ptr<InferenceEngine>> InferenceEngine::create(const ir::Graph& graph, const EngineOptions& options) {
  std::unique_ptr<InferenceEngine> e(new InferenceEngine());
  e->options_ = options;
  switch (options.kind) {
    case EngineKind::kFast: {
      SessionOptions so;
      so.threads = options.threads;
      so.profile = options.profile;
      so.fuse_requantize = options.fuse_requantize;
      so.tune_threads = options.tune_threads;
      so.tune_kernels = options.tune_kernels;
      so.f32_layout = options.f32_layout;
      so.adapt_threads = options.adapt_threads;
      HQP_ASSIGN_OR_RETURN(Session s, Session::create(graph, so));
      e->session_ = std::make_unique<Session>(std::move(s));
      break;
    }
    case EngineKind::kReference:
      e->graph_ = graph.clone();
      break;
    case EngineKind::kTorch:
      if (options.threads >= 1) train::set_torch_threads(options.threads);
      HQP_ASSIGN_OR_RETURN(e->torch_, train::TorchExecutor::create(graph));
      for (const ir::Value* v : graph.inputs()) e->input_names_.push_back(v->name);
      e->torch_->set_mode(train::ExecMode::kEval);
      break;
  }
  return e;
}

Result<std::vector<Tensor>> InferenceEngine::run(std::span<const Tensor> inputs) {
  if (session_) return session_->run(inputs);
  if (torch_) {
    // The libtorch engine refuses NaN / Inf inputs like the fast and reference engines.
    HQP_RETURN_IF_ERROR(reference::check_finite_inputs(input_names_, inputs));
    return torch_->run(inputs);
  }
  return reference::run_reference(graph_, inputs);
}

}  // namespace hqp::eval
