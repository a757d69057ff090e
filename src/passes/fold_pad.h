// Graph pass: folds a zero Pad into the window of the op that reads it, as exporters write
// PyTorch's padded average pooling (Pad -> AveragePool with count_include_pad) and TensorFlow's
// explicit padding (Pad -> Conv VALID); a Pad that adds nothing is removed outright.
//
// A Pad folds when: mode constant, value 0 (absent, or a constant 0), pads a constant with no
// negative entry and none on axes 0 and 1, its output read only by
//   Conv (auto_pad NOTSET)                     -> conv pads += the Pad's;
//   AveragePool (auto_pad NOTSET, ceil_mode 0,
//     count_include_pad 1 or no pads of its own) -> pool pads += the Pad's, count_include_pad 1
//                                                  (the padded zeros were counted as elements).
// Both are exact: the window reads the same zeros it read from the padded tensor.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::passes {

struct FoldPadStats {
  int removed = 0;         // Pads that add nothing (every entry 0)
  int into_conv = 0;
  int into_avg_pool = 0;
};

// The consumer is rebuilt with the widened pads and reads the Pad's input; the Pad goes. Re-infers
// shapes at the end.
Result<FoldPadStats> fold_pad(ir::Graph& graph);

}  // namespace hqp::passes
