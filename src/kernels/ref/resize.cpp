// Reference Resize (resize.h).
#include "kernels/ref/resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace hqp::kernels {

double resize_source_coordinate(ResizeCoordinates coordinates, int64_t x, double scale, int64_t src_len) {
  const double xd = static_cast<double>(x);
  const double resized_len = static_cast<double>(src_len) * scale;
  switch (coordinates) {
    case ResizeCoordinates::kHalfPixel: return (xd + 0.5) / scale - 0.5;
    case ResizeCoordinates::kPytorchHalfPixel: return resized_len > 1.0 ? (xd + 0.5) / scale - 0.5 : 0.0;
    case ResizeCoordinates::kAlignCorners:
      return resized_len > 1.0 ? xd * static_cast<double>(src_len - 1) / (resized_len - 1.0) : 0.0;
    case ResizeCoordinates::kAsymmetric: return xd / scale;
    case ResizeCoordinates::kTfHalfPixelForNn: return (xd + 0.5) / scale;
  }
  return 0.0;
}

ResizeTaps resize_taps(const ResizeParams& p, int axis) {
  const int64_t src_len = p.src_shape[axis];
  const int64_t dst_len = p.dst_shape[axis];
  ResizeTaps t;
  t.lo.resize(static_cast<size_t>(dst_len));
  t.hi.resize(static_cast<size_t>(dst_len));
  t.w.assign(static_cast<size_t>(dst_len), 0.0f);
  for (int64_t i = 0; i < dst_len; ++i) {
    const double c = resize_source_coordinate(p.coordinates, i, p.scale[axis], src_len);
    const auto k = static_cast<size_t>(i);
    if (p.mode == ResizeMode::kNearest) {
      double r = 0.0;
      switch (p.nearest) {
        case ResizeNearest::kRoundPreferFloor: r = std::ceil(c - 0.5); break;
        case ResizeNearest::kRoundPreferCeil: r = std::floor(c + 0.5); break;
        case ResizeNearest::kFloor: r = std::floor(c); break;
        case ResizeNearest::kCeil: r = std::ceil(c); break;
      }
      const int64_t idx = static_cast<int64_t>(std::clamp(r, 0.0, static_cast<double>(src_len - 1)));
      t.lo[k] = t.hi[k] = idx;
      continue;
    }
    const double x = std::clamp(c, 0.0, static_cast<double>(src_len - 1));
    const int64_t lo = static_cast<int64_t>(std::floor(x));
    t.lo[k] = lo;
    t.hi[k] = std::min(lo + 1, src_len - 1);
    t.w[k] = static_cast<float>(x - static_cast<double>(lo));
  }
  return t;
}

namespace {

std::vector<ResizeTaps> all_taps(const ResizeParams& p) {
  std::vector<ResizeTaps> taps;
  for (int a = 0; a < p.rank; ++a) taps.push_back(resize_taps(p, a));
  return taps;
}

int64_t dst_count(const ResizeParams& p) {
  int64_t count = 1;
  for (int a = 0; a < p.rank; ++a) count *= p.dst_shape[a];
  return count;
}

void row_major_strides(int rank, const int64_t* shape, int64_t* strides) {
  int64_t s = 1;
  for (int a = rank - 1; a >= 0; --a) {
    strides[a] = s;
    s *= shape[a];
  }
}

}  // namespace

void resize_nearest_any__ref(const ResizeParams& p, size_t elem_size, const void* src, void* dst) {
  const std::vector<ResizeTaps> taps = all_taps(p);
  const int64_t count = dst_count(p);
  int64_t src_strides[kMaxKernelRank];
  row_major_strides(p.rank, p.src_shape, src_strides);
  const auto* s = static_cast<const unsigned char*>(src);
  auto* d = static_cast<unsigned char*>(dst);
  int64_t idx[kMaxKernelRank] = {};
  for (int64_t o = 0; o < count; ++o) {
    int64_t off = 0;
    for (int a = 0; a < p.rank; ++a) off += taps[static_cast<size_t>(a)].lo[static_cast<size_t>(idx[a])] * src_strides[a];
    std::memcpy(d + static_cast<size_t>(o) * elem_size, s + static_cast<size_t>(off) * elem_size, elem_size);
    for (int a = p.rank - 1; a >= 0; --a) {
      if (++idx[a] < p.dst_shape[a]) break;
      idx[a] = 0;
    }
  }
}

namespace {

// The value at output multi-index `idx`, interpolating axes [axis, rank) of the source block at
// `base` (the offset of the axes before `axis`, already chosen).
float interpolate(const ResizeParams& p, const std::vector<ResizeTaps>& taps, const int64_t* strides,
                  const int64_t* idx, int axis, int64_t base, const float* src) {
  if (axis == p.rank) return src[base];
  const ResizeTaps& t = taps[static_cast<size_t>(axis)];
  const auto i = static_cast<size_t>(idx[axis]);
  const float lo = interpolate(p, taps, strides, idx, axis + 1, base + t.lo[i] * strides[axis], src);
  if (t.w[i] == 0.0f) return lo;
  const float hi = interpolate(p, taps, strides, idx, axis + 1, base + t.hi[i] * strides[axis], src);
  return lo * (1.0f - t.w[i]) + hi * t.w[i];
}

}  // namespace

void resize_linear_f32__ref(const ResizeParams& p, const float* src, float* dst) {
  const std::vector<ResizeTaps> taps = all_taps(p);
  const int64_t count = dst_count(p);
  int64_t src_strides[kMaxKernelRank];
  row_major_strides(p.rank, p.src_shape, src_strides);
  int64_t idx[kMaxKernelRank] = {};
  for (int64_t o = 0; o < count; ++o) {
    dst[o] = interpolate(p, taps, src_strides, idx, 0, 0, src);
    for (int a = p.rank - 1; a >= 0; --a) {
      if (++idx[a] < p.dst_shape[a]) break;
      idx[a] = 0;
    }
  }
}

}  // namespace hqp::kernels
