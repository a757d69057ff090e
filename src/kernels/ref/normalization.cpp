// Reference layer normalization: two passes per row over contiguous memory (normalization.h).
#include "kernels/ref/normalization.h"

#include <cmath>
#include <limits>

namespace hqp::kernels {

void layer_norm_f32__ref(int64_t rows, int64_t inner, float epsilon, const float* x, const float* scale,
                         int64_t scale_count, const float* bias, int64_t bias_count, float* y, float* mean,
                         float* inv_std_dev) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * inner;
    float* yr = y + r * inner;
    if (inner == 0) {
      if (mean != nullptr) mean[r] = std::numeric_limits<float>::quiet_NaN();
      if (inv_std_dev != nullptr) inv_std_dev[r] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    double sum = 0.0;
    for (int64_t k = 0; k < inner; ++k) sum += xr[k];
    const float m = static_cast<float>(sum / static_cast<double>(inner));
    double sq = 0.0;
    for (int64_t k = 0; k < inner; ++k) {
      const float d = xr[k] - m;
      sq += static_cast<double>(d * d);
    }
    const float var = static_cast<float>(sq / static_cast<double>(inner));
    const float inv = 1.0f / std::sqrt(var + epsilon);
    for (int64_t k = 0; k < inner; ++k) {
      const float s = scale[scale_count == 1 ? 0 : k];
      float v = (xr[k] - m) * inv * s;
      if (bias != nullptr) v += bias[bias_count == 1 ? 0 : k];
      yr[k] = v;
    }
    if (mean != nullptr) mean[r] = m;
    if (inv_std_dev != nullptr) inv_std_dev[r] = inv;
  }
}

}  // namespace hqp::kernels
