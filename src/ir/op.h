// Op kinds of the IR (generated from ops.def) and their static schema: arity and how each op
// treats the channel axis (what pruning needs to trace coupled channels). No computation here.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "ir/attrs.h"

namespace hqp::ir {

enum class OpKind : uint8_t {
#define HQP_OP(kind, onnx_name, attrs) kind,
#include "ir/ops.def"
#undef HQP_OP
};

inline constexpr int kOpCount = 0
#define HQP_OP(kind, onnx_name, attrs) +1
#include "ir/ops.def"
#undef HQP_OP
    ;
static_assert(kOpCount == 34, "ops.def changed: update op_schema() in op.cpp and this count");

// First internal (domain "ai.hqp") op; every kind from here on is internal.
inline constexpr OpKind kFirstInternalOp = OpKind::FusedConv;
inline constexpr bool is_internal_op(OpKind kind) { return kind >= kFirstInternalOp; }
inline constexpr const char* kInternalDomain = "ai.hqp";

// ONNX op_type of a kind ("Conv").
std::string_view op_name(OpKind kind);
// Kind for an ONNX op_type in the default domain, or nullopt when hqp does not know it
// (internal ops are never returned).
std::optional<OpKind> op_from_name(std::string_view onnx_name);
// Default-constructed attribute struct of the right type for `kind`.
Attrs default_attrs(OpKind kind);
// True when `attrs` holds the struct type that ops.def assigns to `kind`.
bool attrs_match_kind(OpKind kind, const Attrs& attrs);

// How an op relates input channels (axis 1 of NC... activations) to output channels.
enum class ChannelRole : uint8_t {
  kProduces,     // defines a new channel space from its weight (Conv groups=1, Gemm, MatMul by weight)
  kPerChannel,   // keeps channel c at channel c, possibly with per-channel params (BN, Relu, pools,
                 // depthwise Conv) — pruning slices its params alongside
  kCouples,      // element-wise of several activations: their channels must be pruned together (Add, Mul)
  kRestructures, // reshapes/permutes the channel axis (Flatten, Reshape, Transpose, Concat, Gather)
  kNone,         // shape computation or constants
};

struct OpSchema {
  int min_inputs;
  int max_inputs;
  int min_outputs;
  int max_outputs;
  ChannelRole channel_role;
};

const OpSchema& op_schema(OpKind kind);

}  // namespace hqp::ir
