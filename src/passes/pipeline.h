// The graph-pass pipeline that prepares a model for the runtime: identity removal, zero-Pad
// folding, LayerNorm and GELU fusion, BatchNorm folding, MatMul + bias fusion, activation and residual
// fusion, QDQ lowering to INT8 ops, constant folding.
// Decides the order of the passes; adds no rewrite of its own.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::passes {

struct OptimizeOptions {
  bool remove_identity = true;
  bool fold_pad = true;
  bool fuse_layer_norm = true;
  bool fuse_gelu = true;
  bool fold_batchnorm = true;
  bool fuse_matmul_bias = true;
  // Off by default: it changes results (one rounding fewer than the file's QDQ semantics, which
  // ONNX Runtime follows); SessionOptions::fuse_requantize turns it on.
  bool skip_output_requantize = false;
  bool fuse_activations = true;  // fuse_conv_activation
  bool fuse_residual = true;     // fuse_residual_add
  bool lower_qdq = true;
  bool fold_constants = true;
};

// What one pass did: its name, how many rewrites it made, and the node count after it.
struct PassReport {
  std::string pass;
  int rewrites = 0;
  size_t nodes_after = 0;
};

struct OptimizeReport {
  size_t nodes_before = 0;
  size_t nodes_after = 0;
  std::vector<PassReport> passes;  // in the order they ran (skipped passes are absent)
  // One line per pass: "fold_batchnorm: 20 rewrites, 49 nodes".
  std::string to_string() const;
};

// Runs the enabled passes in this order:
//   remove_identity      Identity/Dropout first, so the patterns below see direct edges;
//   fold_pad             zero Pads into the next Conv / AveragePool window (before BatchNorm
//                        folding and fusion, which match Conv nodes);
//   fuse_layer_norm      decomposed LayerNorms (ReduceMean, Sub, Pow, Sqrt, Div, ...) into one op;
//   fuse_gelu            decomposed GELUs (Div, Erf, Add, Mul, Mul) into one internal Gelu;
//   fold_batchnorm       before fusion: the fused Conv is what takes the activation;
//   fuse_matmul_bias     MatMul by a constant [+ bias Add] into a FusedGemm, which then takes the
//                        activation like a Gemm;
//   skip_output_requantize  (opt-in) QDQ graphs in ONNX Runtime's placement: drops the conv-output Q -> DQ
//                        pairs before residual Adds and float activations, so the fusions below
//                        see the same patterns as in TensorRT's placement;
//   fuse_conv_activation and fuse_residual_add, the float fusions (QDQ graphs too: the Q/DQ
//                        nodes sit outside conv+act+add, which become one FusedConv);
//   lower_qdq            FusedConv / FusedGemm between DQ and Q become QConv / QGemm;
//   fold_constants       last, because it would fold DequantizeLinear of constant INT8 weights
//                        into float weights and hide the QDQ weight pattern.
// The graph stays verified with shapes inferred after every pass; on error the graph is in the
// state the failing pass left it (every pass re-infers shapes last, so only that step can fail).
Result<OptimizeReport> optimize_for_runtime(ir::Graph& graph, const OptimizeOptions& options = {});

}  // namespace hqp::passes
