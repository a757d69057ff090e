// Reference INT8 convolution: int32 accumulation with the same loop structure as conv.cpp (innermost
// loop along the contiguous output row), then the int8_output.h epilogue. Not vectorized, not threaded.
#include "kernels/ref/conv_int8.h"

#include <algorithm>
#include <cassert>
#include <type_traits>
#include <vector>

#include "kernels/ref/int8_output_impl.h"
#include "kernels/ref/window.h"

namespace hqp::kernels {

void int8_output_row__ref(const Int8OutputParams& out, float multiplier, int64_t count, const int32_t* acc,
                          const void* sum, void* dst, int64_t offset, int64_t stride) {
  const float sum_multiplier = int8_sum_multiplier(out);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t at = offset + i * stride;
    float residual = 0.0f;
    if (out.has_sum) {
      switch (out.dst_dtype) {
        case DType::kU8: residual = static_cast<float>(static_cast<const uint8_t*>(sum)[at] - out.sum_zero_point); break;
        case DType::kS8: residual = static_cast<float>(static_cast<const int8_t*>(sum)[at] - out.sum_zero_point); break;
        default: residual = static_cast<const float*>(sum)[at]; break;
      }
    }
    const float v = int8_output_real(acc[i], multiplier, out.has_sum, sum_multiplier, residual);
    if (out.dst_dtype == DType::kF32) {
      static_cast<float*>(dst)[at] = std::min(std::max(v, out.act_min), out.act_max);
    } else {
      const Int8Clamp c = int8_output_clamp(out);
      const int32_t q = round_and_saturate(v, out.dst_zero_point, c.lo, c.hi);
      if (out.dst_dtype == DType::kU8) {
        static_cast<uint8_t*>(dst)[at] = static_cast<uint8_t>(q);
      } else {
        static_cast<int8_t*>(dst)[at] = static_cast<int8_t>(q);
      }
    }
  }
}

namespace {

// Calls emit(n, oc, acc_plane, out_plane) with the int32 accumulators of each output plane (bias included).
template <typename Src, typename Emit>
void conv_int8_accumulate(const ConvParams& params, int32_t src_zp, const Src* src, const int8_t* wei,
                          const int32_t* bias, const Emit& emit) {
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
  std::vector<int32_t> acc(static_cast<size_t>(out_plane));

  for (int64_t n = 0; n < params.batch; ++n) {
    for (int64_t g = 0; g < groups; ++g) {
      for (int64_t ocg = 0; ocg < oc_per_group; ++ocg) {
        const int64_t oc = g * oc_per_group + ocg;
        std::fill(acc.begin(), acc.end(), bias != nullptr ? bias[oc] : 0);
        int32_t* acc_plane = acc.data();

        for (int64_t icg = 0; icg < ic_per_group; ++icg) {
          const int64_t ic = g * ic_per_group + icg;
          const Src* src_plane = src + (n * params.in_channels + ic) * in_plane;
          const int8_t* wei_taps_ptr = wei + (oc * ic_per_group + icg) * wei_taps;
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
                const int32_t wv = wei_taps_ptr[(kd * w.kernel[1] + kh) * w.kernel[2] + kw];
                for (int64_t od = od_lo; od < od_hi; ++od) {
                  const int64_t id = od * w.stride[0] + off_d;
                  for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
                    const int64_t ih = oh * w.stride[1] + off_h;
                    int32_t* acc_row = acc_plane + (od * w.out[1] + oh) * w.out[2];
                    const Src* src_row = src_plane + (id * w.in[1] + ih) * w.in[2];
                    for (int64_t ow = ow_lo; ow < ow_hi; ++ow) {
                      acc_row[ow] += wv * (static_cast<int32_t>(src_row[ow * w.stride[2] + off_w]) - src_zp);
                    }
                  }
                }
              }
            }
          }
        }
        emit(n, oc, acc.data(), out_plane);
      }
    }
  }
}

template <typename Src>
void conv_int8_impl(const ConvParams& params, const Int8OutputParams& out, const Src* src, const int8_t* wei,
                    const float* wei_scales, const int32_t* bias, const void* sum, void* dst) {
  assert(out.dst_dtype == DType::kU8 || out.dst_dtype == DType::kS8 || out.dst_dtype == DType::kF32);
  conv_int8_accumulate(params, out.src_zero_point, src, wei, bias,
                       [&](int64_t n, int64_t oc, const int32_t* acc, int64_t out_plane) {
                         const float multiplier = int8_output_multiplier(out, wei_scales[oc]);
                         int8_output_row__ref(out, multiplier, out_plane, acc, sum, dst,
                                              (n * params.out_channels + oc) * out_plane, 1);
                       });
}

}  // namespace

void conv_u8s8__ref(const ConvParams& params, const Int8OutputParams& out, const uint8_t* src, const int8_t* wei,
                    const float* wei_scales, const int32_t* bias, const void* sum, void* dst) {
  conv_int8_impl(params, out, src, wei, wei_scales, bias, sum, dst);
}

void conv_s8s8__ref(const ConvParams& params, const Int8OutputParams& out, const int8_t* src, const int8_t* wei,
                    const float* wei_scales, const int32_t* bias, const void* sum, void* dst) {
  conv_int8_impl(params, out, src, wei, wei_scales, bias, sum, dst);
}

void int8_output_nhwc__ref(const Int8OutputParams& out, const float* multipliers, const int32_t* bias, int64_t rows,
                           int64_t channels, const int32_t* acc, const void* sum, void* dst, int pieces) {
  assert(pieces == 1 || pieces == 2);
  std::vector<int32_t> zeros;
  if (bias == nullptr) {
    zeros.assign(static_cast<size_t>(channels), 0);
    bias = zeros.data();
  }
  auto run = [&](auto* d, auto has_sum, auto n_pieces) {
    using Dst = std::remove_pointer_t<decltype(d)>;
    detail::int8_output_nhwc_impl<Dst, decltype(has_sum)::value, decltype(n_pieces)::value>(
        out, multipliers, bias, rows, channels, acc, static_cast<const Dst*>(sum), d);
  };
  auto by_sum = [&](auto* d, auto n_pieces) {
    if (out.has_sum) {
      run(d, std::true_type{}, n_pieces);
    } else {
      run(d, std::false_type{}, n_pieces);
    }
  };
  auto by_dtype = [&](auto n_pieces) {
    switch (out.dst_dtype) {
      case DType::kU8: return by_sum(static_cast<uint8_t*>(dst), n_pieces);
      case DType::kS8: return by_sum(static_cast<int8_t*>(dst), n_pieces);
      default: return by_sum(static_cast<float*>(dst), n_pieces);
    }
  };
  if (pieces == 2) {
    by_dtype(std::integral_constant<int, 2>{});
  } else {
    by_dtype(std::integral_constant<int, 1>{});
  }
}

void conv_u8s8_acc__ref(const ConvParams& params, int32_t src_zero_point, const uint8_t* src, const int8_t* wei,
                        int32_t* acc) {
  conv_int8_accumulate(params, src_zero_point, src, wei, nullptr,
                       [&](int64_t n, int64_t oc, const int32_t* plane, int64_t out_plane) {
                         std::copy(plane, plane + out_plane, acc + (n * params.out_channels + oc) * out_plane);
                       });
}

}  // namespace hqp::kernels
