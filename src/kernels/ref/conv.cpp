// Reference FP32 convolution: plain scalar loops ordered so the innermost loop runs along the
// contiguous output row. Not vectorized by hand, not threaded, no INT8.
#include "kernels/ref/conv.h"

#include <cassert>

#include "kernels/ref/window.h"

namespace hqp::kernels {

void conv_f32__ref(const ConvParams& params, const float* src, const float* wei, const float* bias, float* dst) {
  const detail::Window3 w = detail::normalize_window(params.spatial_rank, params.in_size, params.out_size,
                                                     params.kernel, params.stride, params.dilation,
                                                     params.pad_begin, nullptr);
  const int64_t groups = params.groups;
  assert(groups >= 1 && params.in_channels % groups == 0 && params.out_channels % groups == 0);
  const int64_t ic_per_group = params.in_channels / groups;
  const int64_t oc_per_group = params.out_channels / groups;
  const int64_t in_plane = w.in[0] * w.in[1] * w.in[2];
  const int64_t out_plane = w.out[0] * w.out[1] * w.out[2];
  const int64_t wei_taps = w.kernel[0] * w.kernel[1] * w.kernel[2];

  for (int64_t n = 0; n < params.batch; ++n) {
    for (int64_t g = 0; g < groups; ++g) {
      for (int64_t ocg = 0; ocg < oc_per_group; ++ocg) {
        const int64_t oc = g * oc_per_group + ocg;
        float* dst_plane = dst + (n * params.out_channels + oc) * out_plane;
        const float init = bias != nullptr ? bias[oc] : 0.0f;
        for (int64_t i = 0; i < out_plane; ++i) dst_plane[i] = init;

        for (int64_t icg = 0; icg < ic_per_group; ++icg) {
          const int64_t ic = g * ic_per_group + icg;
          const float* src_plane = src + (n * params.in_channels + ic) * in_plane;
          const float* wei_taps_ptr = wei + (oc * ic_per_group + icg) * wei_taps;
          for (int64_t kd = 0; kd < w.kernel[0]; ++kd) {
            const int64_t off_d = kd * w.dilation[0] - w.pad_begin[0];
            int64_t od_lo, od_hi;
            detail::valid_output_range(off_d, w.stride[0], w.in[0], w.out[0], &od_lo, &od_hi);
            for (int64_t kh = 0; kh < w.kernel[1]; ++kh) {
              const int64_t off_h = kh * w.dilation[1] - w.pad_begin[1];
              int64_t oh_lo, oh_hi;
              detail::valid_output_range(off_h, w.stride[1], w.in[1], w.out[1], &oh_lo, &oh_hi);
              for (int64_t kw = 0; kw < w.kernel[2]; ++kw) {
                const int64_t off_w = kw * w.dilation[2] - w.pad_begin[2];
                int64_t ow_lo, ow_hi;
                detail::valid_output_range(off_w, w.stride[2], w.in[2], w.out[2], &ow_lo, &ow_hi);
                const float wv = wei_taps_ptr[(kd * w.kernel[1] + kh) * w.kernel[2] + kw];

                for (int64_t od = od_lo; od < od_hi; ++od) {
                  const int64_t id = od * w.stride[0] + off_d;
                  for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
                    const int64_t ih = oh * w.stride[1] + off_h;
                    float* dst_row = dst_plane + (od * w.out[1] + oh) * w.out[2];
                    const float* src_row = src_plane + (id * w.in[1] + ih) * w.in[2];
                    const int64_t sw = w.stride[2];
                    if (sw == 1) {
                      for (int64_t ow = ow_lo; ow < ow_hi; ++ow) dst_row[ow] += wv * src_row[ow + off_w];
                    } else {
                      for (int64_t ow = ow_lo; ow < ow_hi; ++ow) dst_row[ow] += wv * src_row[ow * sw + off_w];
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace hqp::kernels
