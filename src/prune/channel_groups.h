// Channel-dependency groups of an IR graph: the sets of channels that structured pruning must remove
// together. One group is one "channel space": the output channels of the convolutions (or Gemms)
// that produce it, carried through per-channel ops (BatchNorm, activations, pooling, depthwise convs),
// joined by element-wise ops (residual Add trunks, SE gates' Mul), and read by every consumer's
// input channels (conv weights' axis 1, Gemm columns behind GlobalAveragePool/Flatten). A Concat
// along the channel axis places its inputs' groups side by side: what reads the concatenation is a
// member of each of those groups, at that group's channel offset. Groups that
// reach a graph input or output, or an op that scrambles the channel axis, are listed but blocked,
// with the reason. Torch-free; reads the graph, changes nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::prune {

// How one node takes part in a group, i.e. which of its tensors surgery slices.
enum class MemberRole : uint8_t {
  kProducer,      // Conv / Gemm output channels: weights axis 0 (Gemm: the output axis of B) + bias
  kPassThrough,   // depthwise or grouped Conv (in == out channels, w = in / group per group): weights
                  // axis 0 + bias; whole groups go (ChannelGroup::block = w), group = kept / w
  kNorm,          // BatchNormalization: scale, B, mean, var
  kConsumer,      // Conv (group 1) input channels: weights axis 1
  kGemmColumns,   // Gemm input columns: `columns_per_channel` consecutive columns per channel
  kConstOperand,  // a per-channel constant operand of an element-wise op (input `input`, channel axis 1)
};
std::string_view member_role_name(MemberRole role);

struct Member {
  MemberRole role;
  std::string node;  // node name (stable across Graph::clone)
  int input = 1;     // kConstOperand: which input is the constant
  int64_t columns_per_channel = 1;  // kGemmColumns
  // Where the group's channels start in the tensor this member reads or writes (0 unless the member
  // sits behind a Concat, whose output holds several groups' channels one after another). Offsets are
  // those of the graph the groups were computed on: groups sharing a tensor are removed in one call.
  int64_t offset = 0;
  // The channels lie on the last axis of that tensor, not on axis 1: a MatMul by a constant [K, N]
  // matrix (producer: B's columns; consumer: B's rows) and what runs between two of them, as in
  // ConvNeXt's channels-last MLP (Transpose -> LayerNorm -> MatMul -> GELU -> MatMul -> Transpose).
  bool last_axis = false;
};

struct ChannelGroup {
  int id = 0;
  int64_t channels = 0;              // channels in the group (all its activations have this many)
  std::vector<Member> members;       // what surgery touches, in graph order
  std::vector<std::string> values;   // activations carrying these channels
  bool prunable = true;
  std::string reason;                // why not, when !prunable
  int64_t max_removable = 0;         // channels that may go (respecting min_channels and round_to)
  // Every channel may go (GroupOptions::remove_blocks and collapse_blocker() empty): the block that
  // computes these channels is removed with the last of them (prune/collapse.h); max_removable ==
  // channels then.
  bool collapsible = false;
  // Channels go in aligned blocks of this many ([k·block, (k+1)·block) together): the per-group
  // width of the grouped convs the channels pass through (1 without one). A multiple of it is kept.
  int64_t block = 1;
};

struct GroupOptions {
  std::vector<std::string> ignore;  // node names: groups they produce or touch are not pruned
  int64_t min_channels = 1;         // channels every group keeps at least
  int64_t round_to = 1;             // kept channel counts stay multiples of this (when the group allows)
  // Groups whose last channel may go, taking their block with it (residual inverted-residual blocks,
  // SE blocks: prune/collapse.h); min_channels does not apply to them.
  bool remove_blocks = false;
};

// The DequantizeLinear that produces weight operand `v` of a QDQ file from constants (quantized
// tensor, scale, zero point), read by one node only; nullptr for anything else. Surgery slices its
// inputs (the per-axis scales and zero points with the weights when they run along the cut axis).
const ir::Node* dequantized_constant(const ir::Value* v);
// An initializer (through Identity) or a dequantized constant: a weight, not an activation.
bool is_weight(const ir::Value* v);

// Activations applied to each element alone (Relu, Clip, HardSwish, Sigmoid, Erf, GELU, SiLU, ...):
// channels pass through them on any axis. The one list both the group analysis and block removal
// (collapse.cpp) read.
bool is_elementwise_unary(ir::OpKind kind);

// Groups of a verified graph whose activations are [N, C, ...] with static C: float, or QDQ
// (per-tensor QuantizeLinear / DequantizeLinear pairs on activations carry the channels; weights
// behind DequantizeLinear are sliced with their per-channel scales). Errors: an unverified graph
// (missing shapes), kInvalidArgument for bad options.
Result<std::vector<ChannelGroup>> channel_groups(const ir::Graph& graph, const GroupOptions& options = {});

}  // namespace hqp::prune
