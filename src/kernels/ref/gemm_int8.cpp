// Reference INT8 Gemm (transB): one int32 dot product per output, then the int8_output.h epilogue
// per output column. Plain loops; no blocking, packing or threading.
#include "kernels/ref/gemm_int8.h"

#include <vector>

#include "kernels/ref/conv_int8.h"

namespace hqp::kernels {

namespace {

template <typename Src>
void gemm_int8_impl(int64_t m, int64_t n, int64_t k, const Int8OutputParams& out, const Src* src, const int8_t* wei,
                    const float* wei_scales, const int32_t* bias, const void* sum, void* dst) {
  std::vector<int32_t> acc(static_cast<size_t>(m));
  for (int64_t j = 0; j < n; ++j) {
    const int8_t* wei_row = wei + j * k;
    for (int64_t i = 0; i < m; ++i) {
      const Src* src_row = src + i * k;
      int32_t a = bias != nullptr ? bias[j] : 0;
      for (int64_t kk = 0; kk < k; ++kk) {
        a += (static_cast<int32_t>(src_row[kk]) - out.src_zero_point) * static_cast<int32_t>(wei_row[kk]);
      }
      acc[static_cast<size_t>(i)] = a;
    }
    // Column j of dst: elements j, j + n, j + 2n, ...
    int8_output_row__ref(out, int8_output_multiplier(out, wei_scales[j]), m, acc.data(), sum, dst, j, n);
  }
}

}  // namespace

void gemm_u8s8__ref(int64_t m, int64_t n, int64_t k, const Int8OutputParams& out, const uint8_t* src,
                    const int8_t* wei, const float* wei_scales, const int32_t* bias, const void* sum, void* dst) {
  gemm_int8_impl(m, n, k, out, src, wei, wei_scales, bias, sum, dst);
}

void gemm_s8s8__ref(int64_t m, int64_t n, int64_t k, const Int8OutputParams& out, const int8_t* src,
                    const int8_t* wei, const float* wei_scales, const int32_t* bias, const void* sum, void* dst) {
  gemm_int8_impl(m, n, k, out, src, wei, wei_scales, bias, sum, dst);
}

}  // namespace hqp::kernels
