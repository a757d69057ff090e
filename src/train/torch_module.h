// The torch-facing core of TorchExecutor: IR nodes mapped onto ATen ops with autograd, holding
// parameters, buffers and constants as torch tensors. Internal to hqp_train and torch-aware tests;
// includes ATen (heavy): keep it out of headers that other libraries see.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "core/status.h"
#include "core/tensor.h"
#include "distributed/process_group.h"
#include "ir/graph.h"
#include "ir/observer.h"
#include "train/torch_executor.h"

namespace hqp::train {

// Per-forward options.
struct ForwardHooks {
  ir::Observer* observer = nullptr;          // node outputs, as host f32/s64 views
  ir::GradientObserver* gradient_observer = nullptr;  // Σ_hw a·g per sample and channel, during backward
};

// hqp dtype <-> torch scalar type; kUnsupported for dtypes torch lacks.
Result<at::ScalarType> torch_dtype(DType dtype);
// Copies `t` into a new torch tensor of its dtype (f32 becomes `float_type`).
Result<at::Tensor> to_torch(const Tensor& t, at::ScalarType float_type = at::kFloat);
// Copies a CPU torch tensor into a new hqp Tensor; floating types become f32.
Result<Tensor> from_torch(const at::Tensor& t);

// Mean cross-entropy of logits [N, K] against labels s64 [N] with label smoothing in [0, 1).
at::Tensor classification_loss(const at::Tensor& logits, const at::Tensor& labels, double label_smoothing);
// Knowledge distillation: (1 - alpha)·CE(student, labels; smoothing) + alpha·T²·KL(softmax(t/T) || softmax(s/T)),
// the KL summed over classes and averaged over the batch. teacher: [N, K] without gradient.
at::Tensor distillation_loss(const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& labels,
                             double alpha, double temperature, double label_smoothing);

class TorchModule {
 public:
  static Result<std::unique_ptr<TorchModule>> create(const ir::Graph& graph, const ExecutorOptions& options);

  // inputs: one per graph input (float inputs are converted to the module's float type). Gradients
  // are recorded when grad mode is enabled by the caller. torch errors become kInternal naming the node.
  Result<std::vector<at::Tensor>> forward(const std::vector<at::Tensor>& inputs, const ForwardHooks& hooks = {});
  // Checks hqp inputs against the graph inputs (dtype, rank, static dims) and converts them.
  Result<std::vector<at::Tensor>> convert_inputs(std::span<const Tensor> inputs) const;

  void set_mode(ExecMode mode) { mode_ = mode; }
  // Random source of Dropout in train mode; undefined: torch's default CPU generator.
  void set_generator(at::Generator generator) { generator_ = std::move(generator); }
  ExecMode mode() const { return mode_; }
  // Training-mode BatchNorm with statistics over every rank of `group` (nullptr: this batch only).
  void set_sync_bn(distributed::GroupPtr group) { sync_bn_ = std::move(group); }
  at::ScalarType float_type() const { return float_type_; }

  std::vector<at::Tensor>& parameters() { return params_; }
  const std::vector<at::Tensor>& parameters() const { return params_; }
  const std::vector<ParamInfo>& parameter_info() const { return param_info_; }
  std::vector<at::Tensor>& buffers() { return buffers_; }
  const std::vector<std::string>& buffer_names() const { return buffer_names_; }

  Status write_back(ir::Graph& graph) const;
  const ir::Graph& graph() const { return graph_; }

 private:
  TorchModule() = default;
  struct Step;
  Status run_node(const Step& step, std::vector<at::Tensor>& env) const;

  ir::Graph graph_;  // structure (initializer data shared with the source graph, never written)
  ExecMode mode_ = ExecMode::kEval;
  at::Generator generator_;
  distributed::GroupPtr sync_bn_;
  at::ScalarType float_type_ = at::kFloat;
  bool channels_last_ = true;
  int64_t opset_ = 17;

  std::vector<at::Tensor> params_;
  std::vector<ParamInfo> param_info_;
  std::vector<at::Tensor> buffers_;
  std::vector<std::string> buffer_names_;

  // Execution plan: every value has a slot; initializers' slots are filled once.
  struct Step {
    const ir::Node* node;
    std::vector<int> in;              // slot per input, -1 for absent
    std::vector<int> out;             // slot per output, -1 for absent
    std::vector<int> free_after;      // slots whose last reader is this step
  };
  std::vector<Step> steps_;
  std::vector<at::Tensor> fixed_slots_;  // params, buffers, constants at their slots; undefined elsewhere
  std::vector<int> input_slots_;
  std::vector<int> output_slots_;
  size_t num_slots_ = 0;
};

}  // namespace hqp::train
