// Graph pass: drops the QuantizeLinear -> DequantizeLinear pair on a convolution's output when what
// reads it can run inside the convolution's output stage -- a residual Add or a float activation
// (HardSwish, HardSigmoid, Sigmoid). ONNX Runtime's QDQ placement (quant::QdqStyle::kOrt) quantizes
// every conv output, which its QLinearConv / QLinearAdd kernels need; hqp instead fuses
//   Conv -> Q -> DQ -> Add(., DQ(s)) [-> Relu] -> Q      into  QConv(sum = s) -> Q
//   Conv -> Q -> DQ -> HardSwish -> Q                     into  QConv(f32 out) -> HardSwish -> Q
// (fuse_residual_add / fuse_conv_activation / lower_qdq do the fusing), as TensorRT does. The
// result skips one rounding of the conv output to its INT8 grid: it is closer to the float model,
// but not the file's QDQ semantics (ONNX Runtime's result), so the pipeline runs it only on request
// (OptimizeOptions::skip_output_requantize, SessionOptions::fuse_requantize).
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::passes {

struct SkipRequantizeStats {
  int residual = 0;    // pairs dropped before a residual Add
  int activation = 0;  // pairs dropped before a float activation
};

// Pattern: Y = Conv(...) read only by Q (per-tensor, constant parameters), whose output is read only
// by a DQ with the same parameters, whose output is read only by
//   - an Add whose other operand is a DequantizeLinear output of Y's shape -- when both operands
//     match, only the conv later in topological order (the one fuse_residual_add makes take the
//     sum) loses its pair;
//   - or a HardSwish / HardSigmoid / Sigmoid.
// The reader then reads Y. Runs before the float fusions; re-infers shapes at the end.
Result<SkipRequantizeStats> skip_output_requantize(ir::Graph& graph);

}  // namespace hqp::passes
