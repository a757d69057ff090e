// Graph pass: lowers QDQ (QuantizeLinear / DequantizeLinear, ONNX Runtime / TensorRT convention)
// patterns around convolutions and Gemms to the internal INT8 ops QConv / QGemm, so INT8 tensors
// flow from layer to layer without dequantize -> quantize round trips. Unmatched patterns stay as
// they are (correct, just float). Runs after the float fusions: a FusedConv's activation and
// residual Sum carry over into the QConv.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::passes {

struct LowerQdqStats {
  int qconv = 0;            // convolutions lowered to QConv
  int qgemm = 0;            // Gemms lowered to QGemm
  int float_outputs = 0;    // of those, producing f32 (no QuantizeLinear after them)
  int quantized_moves = 0;  // DQ -> MaxPool/Flatten/Reshape/... -> Q run on the INT8 tensor
  int qadd = 0;             // DQ + DQ -> Add [-> Relu] -> Q lowered to QAdd
  int qmul = 0;             // DQ * DQ -> Mul -> Q (equal shapes or a per-channel gate) lowered to QMul
  int qconcat = 0;          // Q(Concat(DQ(a_i))) run on INT8 (inputs requantized by QLuts where needed)
  int qlut = 0;             // DQ -> pointwise op(s) -> Q, or Q(DQ(a) * DQ(QLut(a))), lowered to a 256-entry QLut
  int qglobal_average_pool = 0;  // DQ -> GlobalAveragePool -> Q lowered to QGlobalAveragePool
  int round_trips = 0;      // Q(DQ(a)) with identical parameters replaced by a
};

// Pattern (conv shown; Gemm with transA=0, alpha=1, beta=1 alike, its weight as [N, K]; also a
// FusedGemm with an A of rank > 2, rows [..., K] -- a MatMul by a constant after fuse_matmul_bias):
//   X  = DQ(xq)   xq: u8/s8, per-tensor scale and zero point (constants); for a depthwise conv
//                 (one input channel per group) also per channel (axis 1, one zero point: NNCF)
//   W  = DQ(wq)   wq: s8 constant (or Q of a float constant), zero point 0, per-tensor or per
//                 output channel (axis 0; axis 1 for a Gemm with transB=0)
//   B  = DQ(bq)   bq: s32 constant, zero point 0 — or a float constant, or absent
//   Y  -> Q -> yq (Y's only reader, per-tensor; a conv without Sum also per channel, axis 1, one
//                 zero point, when its clamp quantizes alike in every channel) — or Y stays f32
//                 when no Q follows
//   Sum (FusedConv with has_sum): DQ(sq) with sq of yq's dtype (own scale / zero point) when Y is
//                 quantized; the f32 value itself when Y stays f32 (kernels/ref/int8_output.h)
// becomes QConv(xq, wq', bq', sq) -> yq (or Y). The bias is re-expressed in the accumulator scale
// s_x * s_w[oc] (round half to even; exact when the model's bias scale is that product).
// Activations: Relu and Clip are clamps of the INT8 output stage and stay in the QConv; any other
// (HardSwish, HardSigmoid, Sigmoid, SiLU as one internal Silu node) follows as a float node after an
// f32-output QConv, and the QuantizeLinear after it stays. Value::quant is set on every QConv/QGemm input and quantized
// output. Also rewrites DQ -> MaxPool(u8)/Flatten/Reshape/Squeeze/Unsqueeze/Transpose -> Q with
// equal parameters to run on the INT8 tensor (DQ -> such an op with no Q after it becomes op -> DQ,
// so its readers' patterns match), lowers DQ(a) + DQ(b) [-> Relu] -> Q (equal shapes; a Relu only
// when Q's zero point is the type's minimum; an operand of the other INT8 type than Q re-expressed
// in Q's type where it is written, codes and zero point shifted by 128) to QAdd, DQ(a) * DQ(b) -> Q
// (equal shapes, or b one value per channel: an SE gate) to QMul -- or, when b is a QLut of a
// (x * HardSigmoid(x), HardSwish as opset-13 exports write it), to one QLut of a -- DQ -> GlobalAveragePool -> Q to
// QGlobalAveragePool, Q(Concat(DQ(a_i))) to a Concat of the INT8 inputs (each requantized by a
// QLut where its parameters are not the output's), DQ -> Relu / Clip / HardSwish / HardSigmoid / Sigmoid / LeakyRelu / Tanh / Erf /
// Gelu / Silu chain -> Q to a
// 256-entry table lookup QLut (computed by the reference kernels of those nodes), all bit-equal
// to the unfused ops; and drops Q(DQ(a)) round trips with equal parameters. Re-infers shapes at the end.
Result<LowerQdqStats> lower_qdq(ir::Graph& graph);

}  // namespace hqp::passes
