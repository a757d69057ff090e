// Op names, default attributes and the schema table, all generated from ops.def.
#include "ir/op.h"

#include <array>

namespace hqp::ir {

namespace {
constexpr std::array<std::string_view, kOpCount> kOpNames = {
#define HQP_OP(kind, onnx_name, ...) onnx_name,
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
#define HQP_OP(kind, onnx_name, attrs, ...) \
  case OpKind::kind: return attrs{};
#include "ir/ops.def"
#undef HQP_OP
  }
  return NoAttrs{};
}

bool attrs_match_kind(OpKind kind, const Attrs& a) {
  switch (kind) {
#define HQP_OP(kind, onnx_name, attrs, ...) \
  case OpKind::kind: return std::holds_alternative<attrs>(a);
#include "ir/ops.def"
#undef HQP_OP
  }
  return false;
}

const OpSchema& op_schema(OpKind kind) {
  static const std::array<OpSchema, kOpCount> kSchemas = {{
#define HQP_OP(kind, onnx_name, attrs, min_in, max_in, min_out, max_out, role, macs) \
  {min_in, max_in, min_out, max_out, ChannelRole::role, MacRule::macs},
#include "ir/ops.def"
#undef HQP_OP
  }};
  return kSchemas[static_cast<size_t>(kind)];
}

}  // namespace hqp::ir
