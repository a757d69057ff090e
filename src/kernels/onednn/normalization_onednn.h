// Normalizations on oneDNN, FP32, inference:
// - layer normalization (layer_normalization_forward): ONNX LayerNormalization over the trailing
//   `inner` elements of each row, semantics of kernels/ref/normalization.h (Y only; the Mean /
//   InvStdDev outputs stay on the reference kernel); oneDNN sums in its own order, so results
//   agree within float rounding, not bit for bit.
// - batch normalization with given statistics (batch_normalization_forward, use_global_stats):
//   ONNX BatchNormalization in inference mode, y = (x - mean) / sqrt(var + epsilon) * scale + B
//   per channel, for the BatchNorms no conv absorbs (DenseNet's pre-activation norms).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "kernels/onednn/onednn_common.h"

namespace hqp::kernels::onednn {

struct LayerNormF32OnednnParams {
  int64_t rows = 1;
  int64_t inner = 1;
  float epsilon = 1e-5f;
  bool has_bias = false;
};

// Lifecycle: applies() / create() (copies scale and bias) / run(). Not thread-safe per object.
class LayerNormF32Onednn {
 public:
  static constexpr std::string_view kName = "layer_norm_f32__onednn";
  // kInvalidArgument for empty rows / inner or epsilon < 0.
  static Status applies(const LayerNormF32OnednnParams& params);
  // scale: `inner` values, or one (broadcast); bias likewise when params.has_bias (else unused).
  static Result<LayerNormF32Onednn> create(const LayerNormF32OnednnParams& params, const float* scale,
                                           int64_t scale_count, const float* bias, int64_t bias_count);
  // src, dst: [rows, inner] row-major; may not alias.
  Status run(const float* src, float* dst);
  const std::string& implementation() const;

  LayerNormF32Onednn(LayerNormF32Onednn&&) noexcept;
  LayerNormF32Onednn& operator=(LayerNormF32Onednn&&) noexcept;
  ~LayerNormF32Onednn();

 private:
  LayerNormF32Onednn() = default;
  std::vector<float> scale_;  // [inner]
  std::vector<float> shift_;  // [inner] (zeros without a bias)
  std::unique_ptr<detail::Executable> exec_;
};

// x, y: [N, C, spatial...] (rank 3..5) in `layout`.
struct BatchNormF32OnednnParams {
  int rank = 4;
  int64_t dims[5] = {};  // logical [N, C, spatial...]
  float epsilon = 1e-5f;
  Layout layout = Layout::kNchw;
};

class BatchNormF32Onednn {
 public:
  static constexpr std::string_view kName = "batch_norm_f32__onednn";
  // kUnsupported for ranks outside 3..5; kInvalidArgument for empty dims or epsilon < 0.
  static Status applies(const BatchNormF32OnednnParams& params);
  // scale, bias, mean, var: C values each (copied).
  static Result<BatchNormF32Onednn> create(const BatchNormF32OnednnParams& params, const float* scale,
                                           const float* bias, const float* mean, const float* var);
  Status run(const float* src, float* dst);
  const std::string& implementation() const;

  BatchNormF32Onednn(BatchNormF32Onednn&&) noexcept;
  BatchNormF32Onednn& operator=(BatchNormF32Onednn&&) noexcept;
  ~BatchNormF32Onednn();

 private:
  BatchNormF32Onednn() = default;
  std::vector<float> scale_, shift_, mean_, var_;  // [C] each
  std::unique_ptr<detail::Executable> exec_;
};

}  // namespace hqp::kernels::onednn
