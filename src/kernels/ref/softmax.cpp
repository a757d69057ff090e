// Reference Softmax: three passes (max, exp and sum, normalize) per (outer, inner) column.
// Not vectorized; the strided column walk is acceptable for a reference.
#include "kernels/ref/softmax.h"

#include <cmath>

namespace hqp::kernels {

void softmax_f32__ref(int64_t outer, int64_t axis_len, int64_t inner, const float* src, float* dst) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * axis_len * inner + i;
      if (axis_len == 0) continue;
      float max_v = src[base];
      for (int64_t a = 1; a < axis_len; ++a) {
        const float v = src[base + a * inner];
        max_v = v > max_v ? v : max_v;
      }
      float sum = 0.0f;
      for (int64_t a = 0; a < axis_len; ++a) {
        const float e = std::exp(src[base + a * inner] - max_v);
        dst[base + a * inner] = e;
        sum += e;
      }
      for (int64_t a = 0; a < axis_len; ++a) dst[base + a * inner] /= sum;
    }
  }
}

}  // namespace hqp::kernels
