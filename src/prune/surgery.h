// Physical channel removal (structured pruning surgery) and its masking counterpart. Both take a
// ChannelGroup of the same graph (channel_groups) and the channels to remove; neither writes into a
// tensor another graph may share: every changed initializer gets a new Tensor. In a QDQ graph the
// weights behind DequantizeLinear are sliced with their per-axis scales and zero points, and
// masking writes the zero point (which dequantizes to 0).
#pragma once

#include <cstdint>
#include <span>

#include "core/status.h"
#include "ir/graph.h"
#include "prune/channel_groups.h"

namespace hqp::prune {

// What one member of a group does to one initializer: input `input` of `node` holds `block`
// consecutive entries per group channel along `axis` (conv weights axis 0 or 1, Gemm columns,
// BatchNorm parameters, biases, per-channel constants), starting at channel `offset` (behind a
// Concat; entries [(offset + c)·block, (offset + c + 1)·block) belong to group channel c).
// consumer_side: the member reads the group's channels (masking zeroes exactly these).
struct Slice {
  ir::Node* node;
  size_t input;
  int64_t axis;
  int64_t block;
  bool consumer_side;
  int64_t offset = 0;
};
// The slices of every member of `group` in `graph` (kInvalidArgument when a member node is missing
// or an operand is not a constant).
Result<std::vector<Slice>> slices_of(const ir::Graph& graph, const ChannelGroup& group);

// Removes channels `remove` (sorted ascending, unique, each in [0, group.channels), fewer than
// group.channels) of `group` from `graph`: slices every member's tensors (conv weights on either
// axis, biases, BatchNorm parameters, Gemm columns / rows, per-channel constants), updates depthwise
// convs' group, then re-infers every intermediate shape and verifies the graph. kInvalidArgument for a
// blocked group or bad channel lists (graph unchanged); later errors may leave the graph partly
// changed (prune a clone).
Status remove_channels(ir::Graph& graph, const ChannelGroup& group, std::span<const int64_t> remove);

// Several groups of one channel_groups() result at once, each with its channel list (same rules as
// above). Groups behind one Concat share tensors whose offsets shift as channels go, so a step that
// prunes several groups must remove them in one call; the groups are those of `graph` as it is now.
struct ChannelRemoval {
  const ChannelGroup* group;
  std::span<const int64_t> channels;
};
Status remove_channels(ir::Graph& graph, std::span<const ChannelRemoval> removals);

// The Fisher mask of the same removal: channels `remove` are multiplied by 0 where the group's
// consumers read them (conv weights' input channels, Gemm columns, and the group's outputs through
// per-channel constants of element-wise ops are left alone), so `graph` computes what the graph
// after remove_channels computes, with every tensor keeping its shape.
Status mask_channels(ir::Graph& graph, const ChannelGroup& group, std::span<const int64_t> remove);

}  // namespace hqp::prune
