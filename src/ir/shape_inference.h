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

// Slice along one axis with ONNX's clamping (negative start/end count from the end; clamped to
// [0, dim] for step > 0, to [-1, dim - 1] for step < 0): the first source index, the step and the
// output length (0 when the range is empty; start is then 0). step != 0 (slice_args checks).
struct SliceRange {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
};
SliceRange slice_range(int64_t dim, int64_t start, int64_t end, int64_t step);

// A Slice node's arguments, per axis of a rank-`rank` input (nullopt: the axis is not sliced).
struct SliceSpec {
  int64_t start = 0;
  int64_t end = 0;
  int64_t step = 1;
};
// starts/ends/axes/steps as the attributes (opset < 10) or the inputs 1..4 give them; axes default
// to 0..n-1 and steps to 1. kInvalidArgument on lengths that differ, an axis out of range or
// repeated, a zero step.
Result<std::vector<std::optional<SliceSpec>>> slice_specs(int64_t rank, std::span<const int64_t> starts,
                                                          std::span<const int64_t> ends,
                                                          const std::optional<std::vector<int64_t>>& axes,
                                                          const std::optional<std::vector<int64_t>>& steps);

// Pad's amounts for a rank-`rank` input: [begin..., end...] from the attribute (opset < 11) or the
// pads input. kInvalidArgument unless there are 2 * rank of them.
Result<std::vector<int64_t>> pad_amounts(const PadAttrs& attrs, const std::optional<std::vector<int64_t>>& pads_input,
                                         int64_t rank);

// Resize's output dims and per-axis scale factors (the `scale` of the coordinate transforms in
// kernels/ref/resize.h) for an input of dims `in`: from `scales` (one positive finite factor per
// axis; output = floor(in * scale)) or from `sizes` (one per axis; scale = size / in). Exactly one
// of them is given (an empty scales input counts as absent). kInvalidArgument otherwise, or for
// an empty input axis or an empty output.
struct ResizeGeometry {
  std::vector<int64_t> out;
  std::vector<double> scale;
};
Result<ResizeGeometry> resize_geometry(const std::vector<int64_t>& in, const std::optional<std::vector<float>>& scales,
                                       const std::optional<std::vector<int64_t>>& sizes);

// Split's part sizes along an axis of length `dim`: the given sizes (non-negative, one per output,
// summing to dim) or `parts` equal ones (dim divisible by parts).
Result<std::vector<int64_t>> split_sizes(int64_t dim, const std::optional<std::vector<int64_t>>& split, size_t parts);

}  // namespace hqp::ir
