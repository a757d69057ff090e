// Reference pooling: one output at a time, scanning its window with explicit bounds checks.
// Simple rather than fast; fast pooling paths are tested against these loops.
#include "kernels/ref/pool.h"

#include <cassert>

#include "kernels/ref/window.h"

namespace hqp::kernels {

namespace {

detail::Window3 pool_window(const PoolParams& p) {
  return detail::normalize_window(p.spatial_rank, p.in_size, p.out_size, p.kernel, p.stride, p.dilation,
                                  p.pad_begin, p.pad_end);
}

template <typename T>
void maxpool_impl(const PoolParams& params, const T* src, T* dst, int64_t* indices) {
  const detail::Window3 w = pool_window(params);
  const int64_t in_plane = w.in[0] * w.in[1] * w.in[2];
  const int64_t out_plane = w.out[0] * w.out[1] * w.out[2];
  for (int64_t nc = 0; nc < params.batch * params.channels; ++nc) {
    const T* src_plane = src + nc * in_plane;
    int64_t out_i = nc * out_plane;
    for (int64_t od = 0; od < w.out[0]; ++od) {
      for (int64_t oh = 0; oh < w.out[1]; ++oh) {
        for (int64_t ow = 0; ow < w.out[2]; ++ow, ++out_i) {
          bool found = false;
          T best{};
          int64_t best_pos = 0;
          for (int64_t kd = 0; kd < w.kernel[0]; ++kd) {
            const int64_t id = od * w.stride[0] + kd * w.dilation[0] - w.pad_begin[0];
            if (id < 0 || id >= w.in[0]) continue;
            for (int64_t kh = 0; kh < w.kernel[1]; ++kh) {
              const int64_t ih = oh * w.stride[1] + kh * w.dilation[1] - w.pad_begin[1];
              if (ih < 0 || ih >= w.in[1]) continue;
              for (int64_t kw = 0; kw < w.kernel[2]; ++kw) {
                const int64_t iw = ow * w.stride[2] + kw * w.dilation[2] - w.pad_begin[2];
                if (iw < 0 || iw >= w.in[2]) continue;
                const int64_t pos = (id * w.in[1] + ih) * w.in[2] + iw;
                const T v = src_plane[pos];
                if (!found || v > best) {
                  best = v;
                  best_pos = pos;
                  found = true;
                }
              }
            }
          }
          assert(found && "pooling window lies entirely in padding");
          dst[out_i] = best;
          if (indices != nullptr) indices[out_i] = nc * in_plane + best_pos;
        }
      }
    }
  }
}

// Number of positions k in [0, kernel) with lo <= o*stride + k*dilation - pad_begin < hi.
int64_t count_taps(int64_t o, int64_t stride, int64_t kernel, int64_t dilation, int64_t pad_begin, int64_t lo,
                   int64_t hi) {
  int64_t count = 0;
  for (int64_t k = 0; k < kernel; ++k) {
    const int64_t i = o * stride + k * dilation - pad_begin;
    if (i >= lo && i < hi) ++count;
  }
  return count;
}

}  // namespace

void maxpool_f32__ref(const PoolParams& params, const float* src, float* dst, int64_t* indices) {
  maxpool_impl(params, src, dst, indices);
}

void maxpool_u8__ref(const PoolParams& params, const uint8_t* src, uint8_t* dst, int64_t* indices) {
  maxpool_impl(params, src, dst, indices);
}

void maxpool_s8__ref(const PoolParams& params, const int8_t* src, int8_t* dst, int64_t* indices) {
  maxpool_impl(params, src, dst, indices);
}

void averagepool_f32__ref(const PoolParams& params, const float* src, float* dst) {
  const detail::Window3 w = pool_window(params);
  const int64_t in_plane = w.in[0] * w.in[1] * w.in[2];
  const int64_t out_plane = w.out[0] * w.out[1] * w.out[2];
  for (int64_t nc = 0; nc < params.batch * params.channels; ++nc) {
    const float* src_plane = src + nc * in_plane;
    int64_t out_i = nc * out_plane;
    for (int64_t od = 0; od < w.out[0]; ++od) {
      for (int64_t oh = 0; oh < w.out[1]; ++oh) {
        for (int64_t ow = 0; ow < w.out[2]; ++ow, ++out_i) {
          float sum = 0.0f;
          int64_t inside = 0;
          for (int64_t kd = 0; kd < w.kernel[0]; ++kd) {
            const int64_t id = od * w.stride[0] + kd * w.dilation[0] - w.pad_begin[0];
            if (id < 0 || id >= w.in[0]) continue;
            for (int64_t kh = 0; kh < w.kernel[1]; ++kh) {
              const int64_t ih = oh * w.stride[1] + kh * w.dilation[1] - w.pad_begin[1];
              if (ih < 0 || ih >= w.in[1]) continue;
              for (int64_t kw = 0; kw < w.kernel[2]; ++kw) {
                const int64_t iw = ow * w.stride[2] + kw * w.dilation[2] - w.pad_begin[2];
                if (iw < 0 || iw >= w.in[2]) continue;
                sum += src_plane[(id * w.in[1] + ih) * w.in[2] + iw];
                ++inside;
              }
            }
          }
          int64_t divisor = inside;
          if (params.count_include_pad) {
            const int64_t o[kMaxSpatialRank] = {od, oh, ow};
            divisor = 1;
            for (int i = 0; i < kMaxSpatialRank; ++i) {
              divisor *= count_taps(o[i], w.stride[i], w.kernel[i], w.dilation[i], w.pad_begin[i], -w.pad_begin[i],
                                    w.in[i] + w.pad_end[i]);
            }
          }
          assert(divisor > 0 && "pooling window lies entirely in padding");
          dst[out_i] = sum / static_cast<float>(divisor);
        }
      }
    }
  }
}

void global_average_pool_f32__ref(int64_t batch, int64_t channels, int64_t spatial_size, const float* src,
                                  float* dst) {
  assert(spatial_size > 0);
  for (int64_t nc = 0; nc < batch * channels; ++nc) {
    const float* src_plane = src + nc * spatial_size;
    float sum = 0.0f;
    for (int64_t i = 0; i < spatial_size; ++i) sum += src_plane[i];
    dst[nc] = sum / static_cast<float>(spatial_size);
  }
}

}  // namespace hqp::kernels
