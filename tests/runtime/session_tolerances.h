// Float tolerances of the hqp::Session tests, one named constant per comparison, each with the
// reason for its value. Measured figures are from tests/runtime on the development VM (AMD EPYC
// Zen 4, oneDNN 2.6 jit:avx512_core). Test-only.
#pragma once

namespace hqp::test {

// Session kFast (graph passes + oneDNN) vs the reference executor on the unoptimized graph, as
// max|fast - ref| / max|ref| over the logits. Differences: BatchNorm folding (opset-17 models),
// oneDNN's blocked FMA summation order and its polynomial exp in Sigmoid/HardSwish post-ops, over
// 20-60 layers. Measured max 8.1e-6 (mobilenet_v3_small_op17: HardSwish/Sigmoid SE blocks), 1.4e-6
// on ResNet-18, 5.5e-8 on the demo model; ~6x margin for other ISAs and thread counts.
inline constexpr double kSessionFastMaxRelErr = 5e-5;

// Session kReference with the graph passes on vs the reference executor without them: only the
// pass rewrites (BatchNorm folding, fused post-ops) change the rounding: 0 on the opset-13 exports
// (BatchNorm already folded by PyTorch), measured max 6.1e-6 on the opset-17 ones
// (mobilenet_v3_small_op17); ~8x margin.
inline constexpr double kSessionRefOptimizedMaxRelErr = 5e-5;

// Session kReference with options.optimize = false runs the same reference kernels on the same
// graph in the same order as the reference executor: bit-identical.
inline constexpr double kSessionRefUnoptimizedMaxRelErr = 0.0;

// Dynamic batch: row b of a batch-3 run vs a batch-1 run of that row, fast engine. oneDNN may pick
// other blocking (and so summation order) for another minibatch; measured 0 (bit-identical) on the
// demo model, MobileNetV3-Small and ResNet-18 with oneDNN 2.6. Same bound as fast vs reference.
inline constexpr double kSessionBatchRowMaxRelErr = kSessionFastMaxRelErr;

// `hqp run --engine fast` vs `--engine ref` on the demo model (output files compared); measured
// 5.5e-8.
inline constexpr double kRunFastVsRefMaxRelErr = kSessionFastMaxRelErr;

}  // namespace hqp::test
