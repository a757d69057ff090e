// Op kinds of the IR and their static schema, all generated from ops.def: names, attribute structs,
// arity, how each op treats the channel axis (what pruning needs to trace coupled channels) and how
// its MACs are counted. No computation here.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "ir/attrs.h"

namespace hqp::ir {

enum class OpKind : uint8_t {
#define HQP_OP(kind, ...) kind,
#include "ir/ops.def"
#undef HQP_OP
};

inline constexpr int kOpCount = 0
#define HQP_OP(kind, ...) +1
#include "ir/ops.def"
#undef HQP_OP
    ;

// Ops of the default ONNX domain (the HQP_OP rows of ops.def, which precede the internal ones).
inline constexpr int kOnnxOpCount = 0
#define HQP_OP(kind, ...) +1
#define HQP_INTERNAL_OP(kind, ...)
#include "ir/ops.def"
#undef HQP_INTERNAL_OP
#undef HQP_OP
    ;

// First internal (domain "ai.hqp") op; every kind from here on is internal.
inline constexpr OpKind kFirstInternalOp = static_cast<OpKind>(kOnnxOpCount);

namespace detail {
// Per kind, in ops.def order: whether its row is HQP_INTERNAL_OP.
inline constexpr bool kIsInternalRow[] = {
#define HQP_OP(kind, ...) false,
#define HQP_INTERNAL_OP(kind, ...) true,
#include "ir/ops.def"
#undef HQP_INTERNAL_OP
#undef HQP_OP
};
constexpr bool internal_rows_come_last() {
  for (int i = 0; i < kOpCount; ++i) {
    if (kIsInternalRow[i] != (i >= kOnnxOpCount)) return false;
  }
  return true;
}
}  // namespace detail
static_assert(detail::internal_rows_come_last(), "ops.def: HQP_INTERNAL_OP rows must follow every HQP_OP row");
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

// How ir::compute_stats counts multiply-accumulates of a node (per sample: batch dims count as 1).
enum class MacRule : uint8_t {
  kNone,    // no MACs counted (element-wise, pooling, data movement)
  kConv,    // Conv-like, W = input 1 [OC, IC/G, K...]: numel(Y without batch) * numel(W without dim 0)
  kGemm,    // Gemm-like, A = input 0 [M, K] (or [K, M] with transA): N * K
  kMatMul,  // numel(Y without its leading dim) * K (the last dim of A)
};

// Upper bound on the inputs of a variadic op (Concat).
inline constexpr int kMaxVariadicInputs = 1 << 16;

struct OpSchema {
  int min_inputs;
  int max_inputs;
  int min_outputs;
  int max_outputs;
  ChannelRole channel_role;
  MacRule mac_rule;
};

const OpSchema& op_schema(OpKind kind);

}  // namespace hqp::ir
