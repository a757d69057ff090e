// Op names, default attributes and schema table, all keyed by ops.def.
#include "ir/op.h"

#include <array>

namespace hqp::ir {

namespace {
constexpr std::array<std::string_view, kOpCount> kOpNames = {
#define HQP_OP(kind, onnx_name, attrs) onnx_name,
#include "ir/ops.def"
#undef HQP_OP
};
}  // namespace

std::string_view op_name(OpKind kind) { return kOpNames[static_cast<size_t>(kind)]; }

std::optional<OpKind> op_from_name(std::string_view onnx_name) {
  for (size_t i = 0; i < static_cast<size_t>(kFirstInternalOp); ++i) {
    if (kOpNames[i] == onnx_name) return static_cast<OpKind>(i);
  }
  return std::nullopt;
}

Attrs default_attrs(OpKind kind) {
  switch (kind) {
#define HQP_OP(kind, onnx_name, attrs) \
  case OpKind::kind: return attrs{};
#include "ir/ops.def"
#undef HQP_OP
  }
  return NoAttrs{};
}

bool attrs_match_kind(OpKind kind, const Attrs& a) {
  switch (kind) {
#define HQP_OP(kind, onnx_name, attrs) \
  case OpKind::kind: return std::holds_alternative<attrs>(a);
#include "ir/ops.def"
#undef HQP_OP
  }
  return false;
}

const OpSchema& op_schema(OpKind kind) {
  using R = ChannelRole;
  // Order follows ops.def; the static_assert in op.h forces an update here when it changes.
  static const std::array<OpSchema, kOpCount> kSchemas = {{
      {2, 3, 1, 1, R::kProduces},       // Conv (depthwise convs are treated as kPerChannel by pruning)
      {5, 5, 1, 3, R::kPerChannel},     // BatchNormalization
      {1, 1, 1, 1, R::kPerChannel},     // Relu
      {1, 3, 1, 1, R::kPerChannel},     // Clip
      {1, 1, 1, 1, R::kPerChannel},     // HardSigmoid
      {1, 1, 1, 1, R::kPerChannel},     // HardSwish
      {1, 1, 1, 1, R::kPerChannel},     // Sigmoid
      {2, 2, 1, 1, R::kCouples},        // Add
      {2, 2, 1, 1, R::kCouples},        // Sub
      {2, 2, 1, 1, R::kCouples},        // Mul
      {2, 2, 1, 1, R::kCouples},        // Div
      {1, 1, 1, 1, R::kPerChannel},     // GlobalAveragePool
      {1, 1, 1, 1, R::kPerChannel},     // AveragePool
      {1, 1, 1, 2, R::kPerChannel},     // MaxPool
      {1, 1, 1, 1, R::kRestructures},   // Flatten
      {2, 2, 1, 1, R::kRestructures},   // Reshape
      {1, 1, 1, 1, R::kRestructures},   // Transpose
      {1, 2, 1, 1, R::kRestructures},   // Squeeze
      {1, 2, 1, 1, R::kRestructures},   // Unsqueeze
      {1, 1, 1, 1, R::kNone},           // Shape
      {2, 2, 1, 1, R::kRestructures},   // Gather
      {1, 1 << 16, 1, 1, R::kRestructures},  // Concat
      {2, 3, 1, 1, R::kProduces},       // Gemm
      {2, 2, 1, 1, R::kProduces},       // MatMul
      {1, 1, 1, 1, R::kPerChannel},     // Identity
      {1, 3, 1, 2, R::kPerChannel},     // Dropout
      {0, 0, 1, 1, R::kNone},           // Constant
      {1, 1, 1, 1, R::kRestructures},   // Softmax
      {2, 3, 1, 1, R::kPerChannel},     // QuantizeLinear
      {2, 3, 1, 1, R::kPerChannel},     // DequantizeLinear
      {2, 4, 1, 1, R::kProduces},       // FusedConv
      {2, 3, 1, 1, R::kProduces},       // FusedGemm
      {2, 4, 1, 1, R::kProduces},       // QConv
      {2, 3, 1, 1, R::kProduces},       // QGemm
  }};
  return kSchemas[static_cast<size_t>(kind)];
}

}  // namespace hqp::ir
