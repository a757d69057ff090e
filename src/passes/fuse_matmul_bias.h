// Graph pass: a MatMul by a constant matrix, with the Add of a constant bias that may follow it,
//   y = MatMul(A, W) [+ b]    A: f32 [..., K] (rank >= 2); W: constant f32 [K, N], or the
//                             DequantizeLinear of constants (a QDQ weight; lower_qdq makes the
//                             FusedGemm a QGemm); b: constant f32 (or a DequantizeLinear of a
//                             constant s32 [N], a QDQ file's bias)
//                             holding N values along the last axis ([N], [1, N], [1, ..., 1, N]),
//                             either operand of the Add
// becomes one FusedGemm (transB = 0, C = b as [N]) over the rows of A, Y [..., N] (the internal
// FusedGemm takes an A of rank > 2: ir/shape_inference). fuse_conv_activation then fuses the
// activation after it (ConvNeXt's Linear -> GELU), and the fast runtime runs the whole as one
// oneDNN inner product with bias and activation. The MatMul's output must feed only the Add;
// without a matching Add the MatMul alone becomes the FusedGemm.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::passes {

struct FuseMatMulBiasStats {
  int fused = 0;      // MatMuls rewritten
  int with_bias = 0;  // of which absorbed a bias Add
};

// Re-infers shapes at the end.
Result<FuseMatMulBiasStats> fuse_matmul_bias(ir::Graph& graph);

}  // namespace hqp::passes
