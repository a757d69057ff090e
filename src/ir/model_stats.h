// Model statistics for `hqp info`: parameter count, multiply-accumulates at batch 1, per-layer
// table. Derived from the IR's inferred shapes; no tensor computation.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace hqp::ir {

struct LayerStats {
  std::string name;
  std::string op;
  std::string output_shape;  // dims_to_string of output 0, symbolic dims kept
  int64_t params = 0;        // elements of the float initializers this node reads
  int64_t macs = 0;          // at batch 1 (symbolic dims taken as 1)
};

struct ModelStats {
  int64_t nodes = 0;
  int64_t params = 0;  // total elements of all float initializers (+ s8 weights of INT8 models)
  // At batch 1: the leading dim of every output is the batch and counts as 1.
  // Conv: OC*OH*OW*(IC/G)*KH*KW; Gemm: N*K (M is the batch); MatMul: (output dims after the first)*K.
  int64_t macs = 0;
  std::map<std::string, int64_t> op_counts;
  std::vector<LayerStats> layers;  // in topological order
};

// The graph must have passed verify_and_infer.
ModelStats compute_stats(const Graph& graph);

}  // namespace hqp::ir
