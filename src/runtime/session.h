// hqp::Session — the public runtime API: take a verified IR graph (float or QDQ INT8; importing
// files is the caller's job, e.g. onnx_io::import_model_file), compile it once for the CPU (graph
// passes, kernel selection, weight prepacking, arena planning), run it many times. The batch size (any symbolic dim) is dynamic: each new input shape compiles one more
// plan, cached. Usable from C++ without the CLI. Not thread-safe: one run at a time per Session.
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

namespace hqp {

enum class Engine {
  kFast,       // oneDNN kernels where they apply, reference kernels elsewhere
  kReference,  // reference kernels only (the ground truth; slow)
};

// Most threads a session may use (OpenMP's own limits crash far below INT_MAX).
inline constexpr int kMaxSessionThreads = 256;

// Activation layout of FP32 convolution chains (runtime/layout.h): kAuto = kNchw8c on CPUs where
// oneDNN's FP32 convolutions run faster blocked (AVX2 without AVX-512) for graphs without grouped
// or depthwise convolutions whose spatial (k > 1) convs do at least half the conv MACs, kNhwc
// elsewhere.
enum class F32Layout : uint8_t { kAuto, kNhwc, kNchw8c };
std::optional<F32Layout> f32_layout_from_name(std::string_view name);  // "auto", "nhwc", "nchw8c"

struct SessionOptions {
  int threads = 1;            // oneDNN threads; 1..kMaxSessionThreads
  Engine engine = Engine::kFast;
  bool optimize = true;       // run the graph passes (passes/pipeline.h) before compiling
  bool profile = false;       // time every step (see Session::profile)
  // QDQ files in ONNX Runtime's placement: skip the conv-output requantization in front of residual
  // Adds and float activations (passes/skip_output_requantize.h), as TensorRT does. Faster, closer
  // to the float model, but no longer the file's exact QDQ semantics (ONNX Runtime's result).
  bool fuse_requantize = false;
  // threads > 1: for each new input shape whose plan runs in under ~2 ms, also compile a
  // one-thread plan, time both on the caller's inputs (alternating rounds) and keep the faster --
  // small models lose more to OpenMP's per-op fork/join than a second core gives them.
  // `threads` stays the maximum; plan_threads() says what the last plan uses.
  bool tune_threads = true;
  // threads > 1: hold latency when another process takes a core (runtime/thread_adapter.h). The
  // session times each run and reads the CPU time it used; when the plan's recent runs are clearly
  // slower than its quiet latency, or its threads got clearly less than their cores, it tries the plan's alternative on one thread fewer (on two cores: one thread; compiled on
  // first need, a second copy of the packed weights) and keeps whichever is faster, probing the
  // N-thread plan again now and then.
  // On a quiet machine nothing changes. INT8 outputs are bit-equal either way; FP32 outputs of the
  // two plans may differ by float reassociation, so a caller that needs run-to-run bit-identical
  // FP32 output (an accuracy gate) sets this to false.
  bool adapt_threads = true;
  // Small INT8 convolutions: pick the fastest of oneDNN's first implementations by timing them at
  // plan time (kernels/onednn/conv_onednn.h, "Implementation choice"); results are bit-equal.
  bool tune_kernels = true;
  // FP32 convolutions, and the pooling / element-wise ops between them, on blocked (kNchw8c)
  // activations where channel counts are multiples of 8. Outputs equal within float reassociation.
  F32Layout f32_layout = F32Layout::kAuto;
};

// Why a node runs where it runs: the chosen implementation and, for each candidate before it,
// why it did not apply (shown by --verbose).
struct NodePlanInfo {
  std::string node;
  std::string op;
  std::string implementation;          // e.g. "conv_f32__onednn (jit:avx512_core)" or "ref"
  std::vector<std::string> rejected;   // "conv_f32__onednn: <reason>"
};

struct StepProfile {
  std::string node;
  std::string op;
  std::string implementation;
  int64_t runs = 0;
  double total_ms = 0.0;
  int64_t macs = 0;  // per run, at the plan's batch size
};

class Session {
 public:
  // The kernel library behind the fast engine, e.g. "oneDNN 2.6.3 (OpenMP)" (for reports).
  static std::string backend_version();

  // Copies `graph` (the caller keeps theirs); the graph must be verified.
  static Result<Session> create(const ir::Graph& graph, const SessionOptions& options = {});

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // inputs: one per graph input, in order, NCHW, dtypes and static dims as declared.
  // Returns the graph outputs (NCHW) as new tensors.
  Result<std::vector<Tensor>> run(std::span<const Tensor> inputs);

  // The graph after the passes (what the plans execute). Weights that every reading kernel has
  // prepacked are released from it after compilation, so that one copy is in memory: their values
  // keep name, dtype and shape but hold no data and so are no initializers any more (the graph
  // does not verify, and compute_stats does not count them). The session writes them back from
  // the packed copies when it compiles a plan for another input shape. After releasing, the
  // session returns freed heap memory to the OS (release_free_memory: process-wide, once per plan).
  const ir::Graph& graph() const;
  // One line per pass (empty when options.optimize is false).
  const std::string& optimize_report() const;
  // Of the most recently used plan (empty before the first run).
  const std::vector<NodePlanInfo>& plan_info() const;
  int64_t peak_activation_bytes() const;  // arena size
  int64_t naive_activation_bytes() const; // without sharing (for comparison)
  int64_t weight_bytes() const;           // prepacked weights and biases + graph constants still read
  int64_t plan_count() const;             // compiled plans (one per distinct input-shape signature)
  int plan_threads() const;               // threads of the most recently used plan (see tune_threads)
  int64_t thread_switches() const;        // adapt_threads decisions so far, over all plans
  // Tests: the current plans behave as if contention had been measured (adapt_threads: their next
  // runs use the alternative on one thread fewer until a probe of the N-thread plan wins again).
  void force_narrow_for_testing();
  std::vector<StepProfile> profile() const;
  void reset_profile();

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hqp
