// TorchExecutor: runs an IR graph on libtorch tensors with autograd, in eval mode (BN running
// stats, no dropout) or train mode (BN batch stats with running-stat updates, dropout active).
// The IR stays the source of truth: parameters start as copies of the initializers and
// write_back() stores the trained values as new initializer tensors. This header does not
// include libtorch (torch-aware code uses train/torch_module.h).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "ir/observer.h"

namespace hqp::train {

class TorchModule;

// Intra-op threads of libtorch for this process (torch::set_num_threads); n >= 1.
void set_torch_threads(int n);
int torch_threads();

enum class ExecMode : uint8_t {
  kEval,   // BatchNormalization uses running stats; Dropout is the identity
  kTrain,  // BatchNormalization uses batch stats and updates running stats; Dropout drops
};

// What a trainable parameter is, for weight decay (applied to kWeight only) and for pruning.
enum class ParamRole : uint8_t {
  kWeight,     // Conv W, Gemm B, MatMul weight operand
  kBias,       // Conv B, Gemm C
  kNormScale,  // BatchNormalization scale
  kNormBias,   // BatchNormalization B
};

struct ParamInfo {
  std::string name;  // the initializer's value name, e.g. "layer1.0.conv1.weight"
  ParamRole role;
  Shape shape;
};

struct ExecutorOptions {
  // f64 parameters, buffers and arithmetic (gradient checks); run() still returns f32.
  bool double_precision = false;
  // 4-D weights and 4-D float inputs in channels-last memory format (NHWC strides, same logical
  // NCHW shape). libtorch's oneDNN convolutions then skip their layout reorders: MobileNetV3-Small
  // trains 2.5x faster (depthwise convolutions), ResNet-18 ~7 % (docs/TRAINING.md). Values are
  // unaffected up to float summation order; weights written back to the IR are plain NCHW.
  bool channels_last = true;
};

class TorchExecutor {
 public:
  // Validates that every node is supported (kUnsupported naming the node otherwise) and copies the
  // float initializers into torch tensors: trainable parameters (see ParamRole) require grad;
  // BatchNormalization running mean/var are buffers; everything else is a constant. The graph must
  // have passed ir::verify_and_infer; the executor keeps its own copy of the structure.
  static Result<std::unique_ptr<TorchExecutor>> create(const ir::Graph& graph, const ExecutorOptions& options = {});
  ~TorchExecutor();
  TorchExecutor(const TorchExecutor&) = delete;
  TorchExecutor& operator=(const TorchExecutor&) = delete;

  void set_mode(ExecMode mode);
  ExecMode mode() const;

  // Forward without gradients in the current mode (train mode still updates BN running stats).
  // inputs: one per graph input in order; dtypes and static dims must match. Returns the graph
  // outputs (f32 outputs as f32 even in double precision). `observer` sees every node output as a
  // contiguous host tensor valid during the call (as with the reference executor).
  Result<std::vector<Tensor>> run(std::span<const Tensor> inputs, ir::Observer* observer = nullptr);

  // One forward + backward pass of a classifier without a weight update (no optimizer; parameter
  // gradients are cleared afterwards): the loss is the *sum* of the per-sample cross-entropies of
  // logits (first output, [N, K]) against `labels` (s64 [N]), so an observed value's gradient is
  // per sample, dLoss_n/da. `observer` receives Σ_spatial a·g of every value it observes (see
  // ir::GradientObserver), after the call returns all of them have been reported. Runs in the
  // current mode (kEval for importance estimates). Returns the summed loss and the top-1 hits.
  struct GradientPass {
    double loss_sum = 0.0;
    int64_t correct = 0;
    int64_t samples = 0;
  };
  Result<GradientPass> gradient_pass(const Tensor& images, const Tensor& labels, ir::GradientObserver& observer);

  // Trainable parameters in graph order (first use), and BN running stats (buffers).
  const std::vector<ParamInfo>& parameters() const;
  int64_t num_parameter_elements() const;
  std::vector<std::string> buffer_names() const;

  // Stores the current parameters and buffers into `graph` (which must contain initializers of the
  // same names, dtypes and shapes, e.g. the graph this executor was created from) as freshly
  // allocated Tensors; tensors shared with other graphs are never written. kInvalidArgument on a
  // missing or mismatching initializer (nothing is written then).
  Status write_back(ir::Graph& graph) const;

  // The torch-facing core (train/torch_module.h), for the trainer and for torch-aware tests.
  TorchModule& module() { return *module_; }
  const TorchModule& module() const { return *module_; }

 private:
  explicit TorchExecutor(std::unique_ptr<TorchModule> module);
  std::unique_ptr<TorchModule> module_;
};

}  // namespace hqp::train
