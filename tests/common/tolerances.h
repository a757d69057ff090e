// Float tolerances of the model-level tests (ONNX conformance, golden torchvision models), one
// named constant each. Reference-kernel tolerances live in tests/kernels/ref_tolerances.h.
#pragma once

namespace hqp::test {

// ONNX backend test suite (onnx/backend/test/runner: np.testing.assert_allclose): a float output
// element passes when |got - want| <= kOnnxBackendAtol + kOnnxBackendRtol * |want|.
inline constexpr double kOnnxBackendRtol = 1e-3;
inline constexpr double kOnnxBackendAtol = 1e-7;

// Golden torchvision models: max|hqp - torch| / max|torch| over the logits. FP32 accumulation order
// differs from PyTorch's (im2col/oneDNN); 20-50 layers of ~1e-7 relative error stay far below this.
inline constexpr double kGoldenMaxRelErr = 1e-4;

// ResNet-18 at 224x224, batch 1: 1.82 GMAC (torchvision's model card), checked within 1%.
inline constexpr double kResNet18Macs = 1.82e9;
inline constexpr double kResNet18MacsRelTol = 0.01;

}  // namespace hqp::test
