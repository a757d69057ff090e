// The reference executor: runs any verified IR graph with the reference kernels, in topological
// order, freeing intermediates after their last use. Ground truth for the other executors.
// Not fast and not threaded.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "ir/observer.h"

namespace hqp::reference {

struct RunOptions {
  ir::Observer* observer = nullptr;
  bool allow_non_finite = false;  // see check_run_inputs
};

// Checks run inputs against the graph's declared inputs: count, dtypes, static dims, and symbolic
// dims consistent across inputs; and, unless `allow_non_finite`, that no f32 input holds a NaN or
// ±Inf (kInvalidArgument naming the input and the first such element). Engines do not agree on
// non-finite values (oneDNN's max / min / clamp and INT8 quantization drop a NaN that the reference
// kernels propagate), so every executor refuses them alike by default; the reference executor
// with allow_non_finite follows IEEE semantics (ONNX conformance cases). Shared by every executor
// so they reject bad inputs alike.
Status check_run_inputs(const ir::Graph& graph, std::span<const Tensor> inputs, bool allow_non_finite = false);
// The non-finite part of check_run_inputs alone, for executors that keep no IR (the libtorch
// engine): names[i] names inputs[i] in the message.
Status check_finite_inputs(std::span<const std::string> names, std::span<const Tensor> inputs);

// inputs: one tensor per graph input, in graph-input order; dtypes must match and static dims
// must agree (symbolic dims take the given sizes, consistently across inputs).
// Returns the graph outputs in order. Errors name the input or node at fault.
Result<std::vector<Tensor>> run_reference(const ir::Graph& graph, std::span<const Tensor> inputs,
                                          const RunOptions& options = {});

// Runs one node on concrete inputs (nullptr for absent optional inputs); used by the executor and
// by constant folding. Infers the output shapes (ir::infer_node) and allocates the outputs.
// `opset` is the model's default-domain opset.
Result<std::vector<Tensor>> run_node_reference(const ir::Node& node, std::span<const Tensor* const> inputs,
                                               int64_t opset);

// The same on caller-owned outputs (e.g. views into a runtime's arena): `outputs` has one tensor per
// node output, each with the dtype and shape ir::infer_node gives for these inputs (undefined for an
// absent output). Infers nothing and allocates no tensor memory; the caller guarantees the shapes.
Status run_node_reference_into(const ir::Node& node, std::span<const Tensor* const> inputs, std::span<Tensor> outputs,
                               int64_t opset);

}  // namespace hqp::reference
