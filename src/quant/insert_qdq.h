// Post-training quantization of a float graph into the QDQ convention (ONNX Runtime / TensorRT):
// min-max calibrated QuantizeLinear -> DequantizeLinear pairs on activations, s8 per-channel
// weights and s32 biases behind DequantizeLinear — exactly the patterns passes::lower_qdq lowers
// to QConv / QGemm. A minimal quantizer: no equalization, bias correction or sensitivity search.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"
#include "quant/calibrate.h"
#include "quant/quant_params.h"

namespace hqp::quant {

// Where Q -> DQ pairs go.
//   kOrt  ONNX Runtime's convention (its quantize_static QDQ output): every input and output of a
//         quantized op -- Conv, Gemm, Add, Mul, GlobalAveragePool, Concat -- is quantized (a Relu /
//         Clip right after the op is absorbed: the pair follows it), so ONNX Runtime fuses
//         QLinearConv, QLinearAdd, QLinearMul, QLinearGlobalAveragePool, QLinearConcat; data
//         movement (MaxPool, reshapes) runs on INT8 with its output's parameters. hqp's runtime
//         follows these semantics exactly by default (as ONNX Runtime does); with
//         SessionOptions::fuse_requantize, passes::skip_output_requantize drops the pair between a
//         conv and a residual Add or float activation, so kTrt's QConv output stages form.
//   kTrt  TensorRT's convention (hqp's first placement, described on insert_qdq below): quantized
//         inputs of Conv / Gemm, residual Adds fused, conv outputs left unquantized otherwise.
enum class QdqStyle : uint8_t { kOrt, kTrt };
std::optional<QdqStyle> qdq_style_from_name(std::string_view name);  // "ort", "trt"
std::string_view qdq_style_name(QdqStyle style);

struct QdqOptions {
  ActivationScheme activations = ActivationScheme::kU8Asymmetric;
  QdqStyle style = QdqStyle::kTrt;
  // false: one weight scale per tensor (every channel gets the largest one; still written as a
  // per-axis DequantizeLinear with equal scales).
  bool per_channel_weights = true;
  // Conv / Gemm node names (as after BatchNorm folding, which keeps the Conv's name) left in float.
  std::vector<std::string> keep_float;
};

struct QdqStats {
  int identities_removed = 0;     // by passes::remove_identity
  int batchnorms_folded = 0;      // by passes::fold_batchnorm
  int quantized_convs = 0;
  int quantized_gemms = 0;        // Gemm and MatMul by a constant matrix
  int float_compute = 0;          // Conv / Gemm / MatMul kept float (keep_float, or a form lower_qdq cannot lower)
  int quantized_activations = 0;  // activation tensors given a QuantizeLinear -> DequantizeLinear pair
  int residual_adds = 0;          // Adds set up for residual fusion (kTrt, see below)
  int quantized_other_ops = 0;    // Add / Mul / GlobalAveragePool / Concat with quantized inputs and output (kOrt)
  int calibration_batches = 0;
};

// Rewrites `g` in place (opset >= 13: per-axis DequantizeLinear; no Q/DQ or internal ops yet):
//  1. passes::remove_identity, then passes::fold_batchnorm (the folded graph is what is
//     calibrated and quantized).
//  2. Calibration: min-max of every f32 tensor over `calib` through the reference executor.
//  3. Quantized ops: Conv (any group) and Gemm (transA=0, alpha=1, beta=1 with a bias, 2-D input)
//     with constant f32 weights and bias (bias [C], or [1, N] for a Gemm):
//       weights  s8 symmetric per output channel (axis 0; axis 1 for a Gemm with transB=0)
//                -> DequantizeLinear(axis) with an s8 zero point of 0;
//       bias     s32, scale s_x * s_w[oc], zero point 0 -> DequantizeLinear(axis=0) (a channel
//                whose bias would not fit gets a larger weight scale, see quant_params.h);
//       input    the activation gets Q -> DQ (u8 asymmetric per tensor, or s8 symmetric).
//  4. Residual Adds, TensorRT style (what passes::fuse_residual_add + lower_qdq turn into a QConv
//     with an INT8 sum): for Add(conv(x), other) whose conv is quantized and feeds only the Add,
//     the conv output stays unquantized, `other` gets Q -> DQ, and so does the Add's output (after
//     its activation, when one follows). When both operands qualify, the conv later in
//     topological order takes the sum, as fuse_residual_add chooses.
//  5. Data movement (MaxPool for u8, Flatten, Reshape, Squeeze, Unsqueeze, Transpose) whose output
//     is quantized gets Q -> DQ on its input with the same parameters (the union of both ranges),
//     so lower_qdq runs it on the INT8 tensor.
// A quantized tensor is replaced by its DequantizeLinear output for every reader (graph outputs
// keep the float value). Everything else stays float: GlobalAveragePool, the SE block's Mul and
// HardSigmoid, HardSwish / HardSigmoid / Sigmoid after a conv (lower_qdq runs them as float ops
// after an f32-output QConv, then the QuantizeLinear of the next conv's input), Adds that are not
// residuals of a quantized conv, Softmax, MatMul. Only tensors read by a quantized op are
// quantized: a conv whose readers are all float (e.g. the depthwise conv feeding an SE block)
// keeps an f32 output, which costs no extra QuantizeLinear / DequantizeLinear at run time.
// Errors: kUnsupported (opset < 13, a graph already quantized or fused), kInvalidArgument (no
// calibration batches, a quantized tensor without any finite calibration value), and whatever the
// passes or the reference executor report. After an error from step 2 on, `g` holds the folded
// float graph (or a partial rewrite); callers that need the original keep a clone.
Result<QdqStats> insert_qdq(ir::Graph& g, const CalibrationData& calib, const QdqOptions& options = {});

// Step 1 of insert_qdq alone: checks that `g` is a float graph at opset >= 13, then removes
// identities and folds BatchNorm. The result is what callers calibrate (keeping value names) before
// insert_qdq_with_ranges.
struct PrepareStats {
  int identities_removed = 0;
  int batchnorms_folded = 0;
};
Result<PrepareStats> prepare_for_quantization(ir::Graph& g);

// Steps 3-5 of insert_qdq on a prepared graph with activation ranges chosen elsewhere (any
// calibrator), keyed by value name. Errors as insert_qdq's (a quantized tensor without a finite
// range: kInvalidArgument).
Result<QdqStats> insert_qdq_with_ranges(ir::Graph& g, const RangeMap& ranges, const QdqOptions& options = {});

// Conv / Gemm nodes insert_qdq_with_ranges would quantize (not kept float, a form it can lower),
// in topological order: the candidates of an accuracy search.
Result<std::vector<std::string>> quantizable_nodes(const ir::Graph& g);

}  // namespace hqp::quant
