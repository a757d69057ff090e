// Type and shape inference per op, shared by graph-level inference (symbolic dims) and by the
// executors (concrete dims): one definition of every op's output shape and of its shape errors.
// Also resolves conv/pool geometry (auto_pad, ceil_mode) for the kernels' params.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"

namespace hqp::ir {

// What inference knows about one node input. `value` is set when the input is a constant (or,
// in an executor, always); `shape_value` when it is a shape tensor with symbolically known content.
struct InferInput {
  bool present = false;  // false for an absent optional input
  DType dtype = DType::kUndefined;
  std::optional<Dims> shape;
  const Tensor* value = nullptr;
  const Dims* shape_value = nullptr;
};

struct InferOutput {
  DType dtype = DType::kUndefined;
  std::optional<Dims> shape;
  std::optional<Dims> shape_value;
};

// Output types/shapes of `node` given its inputs; kInvalidArgument/kUnsupported on inconsistent
// inputs (message names the node). `opset` is the model's default-domain opset.
Result<std::vector<InferOutput>> infer_node(const Node& node, std::span<const InferInput> inputs, int64_t opset);

// Runs infer_node over the graph in topological order and stores dtypes, shapes and shape values
// on every value; declared shapes (graph inputs/outputs) must agree with the inferred ones.
Status infer_shapes(Graph& graph);

// Resolved geometry of a conv or pool window over static spatial dims.
struct WindowGeometry {
  std::vector<int64_t> kernel, stride, dilation, pad_begin, pad_end, out;
};

// in_spatial: input spatial dims; kernel: Conv's from the weight (PoolAttrs carry their own).
Result<WindowGeometry> conv_geometry(const ConvAttrs& attrs, std::span<const int64_t> in_spatial,
                                     std::span<const int64_t> kernel);
Result<WindowGeometry> pool_geometry(const PoolAttrs& attrs, std::span<const int64_t> in_spatial, bool is_max_pool);

// Normalizes a possibly negative axis against `rank`; error when out of [-rank, rank).
Result<int64_t> normalize_axis(int64_t axis, int64_t rank, const char* what);

// PRelu before opset 7 applies a 1-D slope along axis 1 (legacy channel broadcasting); from opset
// 7 the slope broadcasts numpy-style. The slope's shape for numpy broadcasting against a rank-x_rank
// input: [C] -> [C, 1, ..., 1] (rank x_rank - 1) in the legacy case, else unchanged.
std::vector<int64_t> prelu_slope_shape(std::vector<int64_t> slope, size_t x_rank, int64_t opset);

// Reduce*: which axes of a rank-`rank` input are reduced. axes_input: the values of ReduceSum's
// axes input when present (else the attribute counts). kInvalidArgument for an axis out of range or
// repeated.
Result<std::vector<bool>> reduced_axes(const ReduceAttrs& attrs, const std::optional<std::vector<int64_t>>& axes_input,
                                       int64_t rank);

}  // namespace hqp::ir
