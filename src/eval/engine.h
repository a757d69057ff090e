// InferenceEngine: one way to run a graph for every command that infers -- fast (hqp::Session:
// passes + oneDNN with reference fallback), ref (the reference executor on the un-optimized graph,
// the ground truth) or torch (TorchExecutor in eval mode). Only the reference engine keeps a copy of
// the graph; the others hold what their executor built (the fast runtime its prepacked weights), so
// dropping the caller's graph frees its weights. Not a runtime: it opens no files and only dispatches.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "runtime/session.h"

namespace hqp::train {
class TorchExecutor;
}

namespace hqp::eval {

enum class EngineKind : uint8_t { kFast, kReference, kTorch };
std::optional<EngineKind> engine_from_name(std::string_view name);  // "fast", "ref", "torch"
std::string_view engine_name(EngineKind kind);

struct EngineOptions {
  EngineKind kind = EngineKind::kFast;
  int threads = 1;       // fast: Session threads (>= 1); torch: libtorch threads (<= 0: libtorch's default); ref: unused
  bool profile = false;  // fast: per-node timing (Session::profile)
  bool fuse_requantize = false;  // fast: SessionOptions::fuse_requantize
  bool tune_threads = true;      // fast: SessionOptions::tune_threads
  bool tune_kernels = true;      // fast: SessionOptions::tune_kernels
  F32Layout f32_layout = F32Layout::kAuto;  // fast: SessionOptions::f32_layout
  // fast: SessionOptions::adapt_threads. Off here: accuracy figures (every gate of prune / quantize
  // / compress) must not depend on which plan a noisy moment picked; latency tools turn it on.
  bool adapt_threads = false;
};

class InferenceEngine {
 public:
  // graph: verified. The engine's executors share tensor storage with it (graphs copy shallowly);
  // drop the caller's graph to free weights the fast runtime has packed.
  static Result<std::unique_ptr<InferenceEngine>> create(const ir::Graph& graph, const EngineOptions& options);
  ~InferenceEngine();
  InferenceEngine(const InferenceEngine&) = delete;
  InferenceEngine& operator=(const InferenceEngine&) = delete;

  // inputs: one per graph input, in order; returns the graph outputs in order.
  Result<std::vector<Tensor>> run(std::span<const Tensor> inputs);

  EngineKind kind() const { return options_.kind; }
  const EngineOptions& options() const { return options_; }
  // The fast engine's Session (plan info, profile, memory); nullptr for ref and torch.
  Session* session() { return session_.get(); }

 private:
  InferenceEngine() = default;
  EngineOptions options_;
  ir::Graph graph_;  // the reference engine's graph only: the others keep no IR copy of the weights
  std::unique_ptr<Session> session_;
  std::unique_ptr<train::TorchExecutor> torch_;
  std::vector<std::string> input_names_;  // the torch engine's finite-input check names them
};

}  // namespace hqp::eval
