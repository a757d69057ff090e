// Block removal: a channel group that may lose *all* its channels. When every channel of a group
// goes, the convolutions that read it (its consumers) compute only their bias, a per-channel
// constant. That is sound when each such constant, through per-channel element-wise ops (BatchNorm,
// activations), ends in an element-wise Add / Sub / Mul / Div with a full-size activation -- the
// residual Add of an inverted-residual block, the gate Mul of a Squeeze-and-Excitation block -- so
// the whole branch (the group's producers, everything carrying its channels, the consumers) is
// replaced by that constant: the residual block becomes the identity plus a bias, the SE block a
// per-channel scale. The constant is then absorbed into a neighbouring convolution where one can
// take it (a scale into the next convolution's weights, a bias into the producer's bias or
// BatchNorm shift), so the graph loses every node of the block. Torch-free, IR only.
#pragma once

#include <string>

#include "core/status.h"
#include "ir/graph.h"
#include "prune/channel_groups.h"

namespace hqp::prune {

// Why removing every channel of `group` is not allowed in `graph` (empty when it is): a value of the
// group read by a node that neither carries the group's channels nor consumes them as a convolution
// input, a consumer whose constant output would reach anything but an element-wise op with a full
// activation (a pooling, a convolution, a graph output), a consumer without f32 constant weights.
std::string collapse_blocker(const ir::Graph& graph, const ChannelGroup& group);

// Removes every channel of `group` (collapse_blocker must be empty; kInvalidArgument otherwise):
// each consumer's output becomes its bias as a [1, C, 1, ...] constant, the nodes carrying the
// group's channels go, constants are folded and absorbed into neighbours. The caller re-infers shapes
// and verifies (remove_channels does). Errors may leave the graph partly changed (use a clone).
Status collapse_group(ir::Graph& graph, const ChannelGroup& group);

}  // namespace hqp::prune
