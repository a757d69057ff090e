// The hardware-aware pruning cost's measurement: profile the model as the target engine runs it
// (float, or its QDQ INT8 form) on the fast runtime at batch 1, and turn every step's time into
// milliseconds per unit of work of the float graph's node it belongs to (prune::LatencyTable).
#pragma once

#include "core/status.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "prune/selection.h"

namespace hqp::pruner {

// float_graph: the verified float model pruning works on. deployed: what is timed -- float_graph
// itself, or a QDQ graph made from it (node names kept, BatchNorm possibly folded). Each profiled
// step is attributed by name: a step named like a node of float_graph is that node's; a QDQ step
// "<node>_QuantizeLinear" / "<node>_DequantizeLinear" is <node>'s; steps the float graph has no
// node for (layout reorders, the input's quantization) are not attributed. A node's entry is its
// time per run divided by prune::node_work. `sample`: the input shape at batch 1. runs >= 1.
Result<prune::LatencyTable> measure_latency_table(const ir::Graph& float_graph, const ir::Graph& deployed,
                                                  const Shape& sample, int threads, int runs);

}  // namespace hqp::pruner
