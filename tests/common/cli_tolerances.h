// Float tolerances of the end-to-end CLI tests (whole models against PyTorch), one named constant
// per comparison. Kernel-level tolerances live with the kernel tests.
#pragma once

namespace hqp::test {

// Demo model (models/demo) logits of `hqp run` vs PyTorch's output_0.pb, as max|got - want| /
// max|want| (test::max_relative_error, the golden models' measure). FP32 everywhere; only the
// summation order differs (PyTorch's oneDNN convs vs the reference loops) over 26 layers.
inline constexpr double kDemoVsPyTorchMaxRelErr = 1e-4;

}  // namespace hqp::test
