// Float tolerances of the hqp::Session tests, one named constant per comparison, each with the
// reason for its value. Measured figures are from tests/session on the development VM (AMD EPYC
// Zen 4, oneDNN 2.6 jit:avx512_core). Test-only.
#pragma once

namespace hqp::test {

// Session kFast (graph passes + oneDNN) vs the reference executor on the unoptimized graph, as
// max|fast - ref| / max|ref| over the logits. Differences: BatchNorm folding (opset-17 models),
// oneDNN's blocked FMA summation order and its polynomial exp in Sigmoid/HardSwish post-ops, over
// 20-60 layers. Measured max 1.1e-6 (mobilenet_v3_large_op17); 20x margin.
inline constexpr double kSessionFastMaxRelErr = 2e-5;

// Session kReference with the graph passes on vs the reference executor without them: only the
// pass rewrites (BatchNorm folding, fused post-ops) change the rounding. Measured max 6e-7.
inline constexpr double kSessionRefOptimizedMaxRelErr = 1e-5;

// Session kReference with options.optimize = false runs the same reference kernels on the same
// graph in the same order as the reference executor: bit-identical.
inline constexpr double kSessionRefUnoptimizedMaxRelErr = 0.0;

// Dynamic batch: row b of a batch-3 run vs a batch-1 run of that row, fast engine. oneDNN may pick
// other blocking (and so summation order) for another minibatch; measured max 0 on the demo model
// and MobileNetV3-Small. Same bound as the fast engine vs reference.
inline constexpr double kSessionBatchRowMaxRelErr = kSessionFastMaxRelErr;

// `hqp run --engine fast` vs `--engine ref` on the demo model (output files compared).
inline constexpr double kRunFastVsRefMaxRelErr = kSessionFastMaxRelErr;

}  // namespace hqp::test
