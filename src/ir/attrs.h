// Per-op attribute structs of the IR, with named fields (never integer keys). Defaults are ONNX's.
// These describe the model; they compute nothing. Opset-dependent forms are normalized on import
// and recorded so that export reproduces the original opset's form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/tensor.h"

namespace hqp::ir {

struct NoAttrs {
  bool operator==(const NoAttrs&) const = default;
};

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

// Conv: spatial vectors have one entry per spatial dim; empty means "not given" (defaults: strides
// and dilations 1, pads 0, kernel_shape from the weight). pads = [begin..., end...] as in ONNX.
struct ConvAttrs {
  std::vector<int64_t> kernel_shape;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads;
  int64_t group = 1;
  AutoPad auto_pad = AutoPad::kNotSet;
  bool operator==(const ConvAttrs&) const = default;
};

// AveragePool and MaxPool. kernel_shape is required by ONNX.
struct PoolAttrs {
  std::vector<int64_t> kernel_shape;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;  // MaxPool (opset >= 10) only
  std::vector<int64_t> pads;
  AutoPad auto_pad = AutoPad::kNotSet;
  int64_t ceil_mode = 0;
  int64_t count_include_pad = 0;  // AveragePool only
  int64_t storage_order = 0;      // MaxPool only; only 0 (row-major) is supported for Indices
  bool operator==(const PoolAttrs&) const = default;
};

// BatchNormalization in inference form. training_mode (opset >= 14) must be 0 to execute.
struct BatchNormAttrs {
  float epsilon = 1e-5f;
  float momentum = 0.9f;
  int64_t training_mode = 0;
  bool operator==(const BatchNormAttrs&) const = default;
};

// Clip: opset < 11 carries min/max as attributes; opset >= 11 as optional inputs (then unset here).
struct ClipAttrs {
  std::optional<float> min;
  std::optional<float> max;
  bool operator==(const ClipAttrs&) const = default;
};

struct HardSigmoidAttrs {
  float alpha = 0.2f;
  float beta = 0.5f;
  bool operator==(const HardSigmoidAttrs&) const = default;
};

struct LeakyReluAttrs {
  float alpha = 0.01f;
  bool operator==(const LeakyReluAttrs&) const = default;
};

// ReduceMean / ReduceMax / ReduceSum. axes: the attribute (ReduceSum at opset >= 13 takes them as
// its optional second input instead); none: every axis, or no axis with noop_with_empty_axes.
struct ReduceAttrs {
  std::optional<std::vector<int64_t>> axes;
  int64_t keepdims = 1;
  int64_t noop_with_empty_axes = 0;
  bool operator==(const ReduceAttrs&) const = default;
};

// Cast: the element type of the output.
struct CastAttrs {
  DType to = DType::kF32;
  bool operator==(const CastAttrs&) const = default;
};

// Pad: the mode; opset < 11 carries pads ([begin..., end...]) and the constant value as attributes
// (set here), opset >= 11 as inputs (pads, constant_value).
enum class PadMode { kConstant, kReflect, kEdge };

struct PadAttrs {
  PadMode mode = PadMode::kConstant;
  std::optional<std::vector<int64_t>> pads;
  std::optional<float> value;
  bool operator==(const PadAttrs&) const = default;
};

// Slice: opset < 10 carries starts / ends / axes as attributes (set here), opset >= 10 as inputs
// (with steps).
struct SliceAttrs {
  std::optional<std::vector<int64_t>> starts;
  std::optional<std::vector<int64_t>> ends;
  std::optional<std::vector<int64_t>> axes;
  bool operator==(const SliceAttrs&) const = default;
};

// Split: the axis; opset < 13 carries the part sizes as an attribute (set here), opset >= 13 as an
// optional input. Neither: equal parts, one per output.
struct SplitAttrs {
  int64_t axis = 0;
  std::optional<std::vector<int64_t>> split;
  bool operator==(const SplitAttrs&) const = default;
};

// LayerNormalization (opset 17): normalizes over the axes from `axis` on. stash_type: the
// precision of the statistics (1 = float, the only one supported).
struct LayerNormAttrs {
  int64_t axis = -1;
  float epsilon = 1e-5f;
  int64_t stash_type = 1;
  bool operator==(const LayerNormAttrs&) const = default;
};

// Resize (opset >= 11; inputs X, roi, scales, sizes). Cubic mode and tf_crop_and_resize are not
// supported (the importer rejects them), so roi is never read.
enum class ResizeMode : uint8_t { kNearest, kLinear };
enum class ResizeCoordinates : uint8_t { kHalfPixel, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNn };
enum class ResizeNearest : uint8_t { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };
struct ResizeAttrs {
  ResizeMode mode = ResizeMode::kNearest;
  ResizeCoordinates coordinates = ResizeCoordinates::kHalfPixel;
  ResizeNearest nearest = ResizeNearest::kRoundPreferFloor;
  bool operator==(const ResizeAttrs&) const = default;
};

struct FlattenAttrs {
  int64_t axis = 1;
  bool operator==(const FlattenAttrs&) const = default;
};

struct ReshapeAttrs {
  int64_t allowzero = 0;  // opset >= 14
  bool operator==(const ReshapeAttrs&) const = default;
};

struct TransposeAttrs {
  std::vector<int64_t> perm;  // empty: reverse the dims
  bool operator==(const TransposeAttrs&) const = default;
};

// Squeeze / Unsqueeze: opset < 13 carries axes as an attribute; opset >= 13 as an input.
struct AxesAttrs {
  std::optional<std::vector<int64_t>> axes;
  bool operator==(const AxesAttrs&) const = default;
};

// Shape (opset >= 15 start/end slicing of the shape).
struct ShapeAttrs {
  std::optional<int64_t> start;
  std::optional<int64_t> end;
  bool operator==(const ShapeAttrs&) const = default;
};

// Gather, Concat, QuantizeLinear, DequantizeLinear: one axis. `present` records whether the model
// spelled the attribute (Concat requires it; the others default: Gather 0, Q/DQ 1).
struct AxisAttrs {
  int64_t axis = 0;
  bool present = false;
  bool operator==(const AxisAttrs&) const = default;
};

struct GemmAttrs {
  float alpha = 1.0f;
  float beta = 1.0f;
  int64_t trans_a = 0;
  int64_t trans_b = 0;
  bool operator==(const GemmAttrs&) const = default;
};

// Dropout is the identity at inference. opset < 12 carries ratio as an attribute.
struct DropoutAttrs {
  std::optional<float> ratio;
  std::optional<int64_t> seed;
  bool operator==(const DropoutAttrs&) const = default;
};

// Constant: the value, whichever attribute spelled it (`value`, `value_float`, `value_ints`, ...).
struct ConstantAttrs {
  enum class Form { kValue, kValueFloat, kValueFloats, kValueInt, kValueInts };
  Tensor value;
  Form form = Form::kValue;
  bool operator==(const ConstantAttrs& o) const { return form == o.form && value.equals(o.value); }
};

// Softmax: opset >= 13 normalizes along `axis` only; opset < 13 coerces the input to 2-D at
// `axis` and normalizes each row (legacy_coerce_2d = true).
struct SoftmaxAttrs {
  int64_t axis = -1;
  bool legacy_coerce_2d = false;
  bool operator==(const SoftmaxAttrs&) const = default;
};

// Activation fused into the op that produces a value (internal ops only).
// kGelu: x * (1 + erf(x / sqrt(2))) / 2, the internal Gelu op (reference gelu_erf_f32__ref).
// kSilu: x * Sigmoid(x) (SiLU / Swish; exporters write Sigmoid + Mul; reference silu_f32__ref).
enum class Activation : uint8_t { kNone, kRelu, kClip, kHardSwish, kHardSigmoid, kSigmoid, kGelu, kSilu };

// What happens after the main computation of a fused op, in this order:
//   y = main(...); if (has_sum) y += Sum; y = act(y).
// Clip uses alpha = min, beta = max; HardSigmoid uses alpha, beta (ONNX meaning).
struct PostOps {
  Activation activation = Activation::kNone;
  float alpha = 0.0f;
  float beta = 0.0f;
  bool has_sum = false;
  bool operator==(const PostOps&) const = default;
};

struct FusedConvAttrs {
  ConvAttrs conv;
  PostOps post;
  bool operator==(const FusedConvAttrs&) const = default;
};

struct FusedGemmAttrs {
  GemmAttrs gemm;
  PostOps post;
  bool operator==(const FusedGemmAttrs&) const = default;
};

using Attrs = std::variant<NoAttrs, ConvAttrs, PoolAttrs, BatchNormAttrs, ClipAttrs, HardSigmoidAttrs,
                           LeakyReluAttrs, ReduceAttrs, CastAttrs, PadAttrs, SliceAttrs, SplitAttrs, LayerNormAttrs, ResizeAttrs, FlattenAttrs, ReshapeAttrs, TransposeAttrs, AxesAttrs, ShapeAttrs, AxisAttrs,
                           GemmAttrs, DropoutAttrs, ConstantAttrs, SoftmaxAttrs, FusedConvAttrs, FusedGemmAttrs>;

}  // namespace hqp::ir
