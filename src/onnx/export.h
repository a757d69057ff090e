// ONNX export: ir::Graph -> ModelProto bytes/files in the form of the graph's opset, checked with
// the full ONNX checker; Tensor -> onnx.TensorProto files. Exports what the graph holds; it does
// not rewrite the graph to fit another opset.
#pragma once

#include <string>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace hqp::onnx_io {

// Builds the ModelProto (initializers as raw_data, nodes in topological order, graph inputs and
// outputs with elem_type and dims: dim_value / dim_param / empty dim for unknown; initializers
// listed among the inputs where Value::initializer_listed_as_input is set, or all of them when
// ir_version < 4), serializes it and runs onnx::checker::check_model plus
// onnx::shape_inference::InferShapes(check_type=true, error_mode=1) — the equivalent of
// onnx.checker.check_model(full_check=True). A failing check is kInternal naming the problem;
// IR content the opset cannot express (e.g. Clip min/max attributes at opset >= 11) is kUnsupported.
Result<std::string> export_model_bytes(const ir::Graph& graph);
// Writes atomically: a temporary file in the same directory, then rename; never a partial file.
Status export_model_file(const ir::Graph& graph, const std::string& path);
// Serialized onnx.TensorProto named `name` with raw_data; atomic like export_model_file.
Status write_tensor_file(const Tensor& t, const std::string& name, const std::string& path);

}  // namespace hqp::onnx_io
