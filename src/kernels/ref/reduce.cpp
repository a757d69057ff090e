// Reference reductions: one pass over src in index order, each element accumulated into its dst slot.
#include "kernels/ref/reduce.h"

#include <cmath>
#include <limits>
#include <vector>

namespace hqp::kernels {

void reduce_f32__ref(const ReduceParams& p, ReduceOp op, const float* src, float* dst) {
  // dst strides with reduced axes at stride 0: src index -> dst index.
  int64_t dst_stride[kMaxKernelRank] = {};
  int64_t dst_numel = 1, src_numel = 1;
  for (int i = p.rank - 1; i >= 0; --i) {
    dst_stride[i] = p.reduce[i] ? 0 : dst_numel;
    if (!p.reduce[i]) dst_numel *= p.shape[i];
    src_numel *= p.shape[i];
  }
  const int64_t count = dst_numel == 0 ? 0 : src_numel / dst_numel;  // elements per dst slot
  std::vector<double> acc(static_cast<size_t>(dst_numel),
                          op == ReduceOp::kMax ? -std::numeric_limits<double>::infinity() : 0.0);
  int64_t index[kMaxKernelRank] = {};
  int64_t d = 0;
  for (int64_t s = 0; s < src_numel; ++s) {
    const double v = src[s];
    double& a = acc[static_cast<size_t>(d)];
    if (op == ReduceOp::kMax) {
      if (v > a || std::isnan(v)) a = std::isnan(a) ? a : v;
    } else {
      a += v;
    }
    // Advance the multi-index (last axis fastest) and the dst offset with it.
    for (int i = p.rank - 1; i >= 0; --i) {
      d += dst_stride[i];
      if (++index[i] < p.shape[i]) break;
      d -= dst_stride[i] * p.shape[i];
      index[i] = 0;
    }
  }
  for (int64_t i = 0; i < dst_numel; ++i) {
    const double a = acc[static_cast<size_t>(i)];
    dst[i] = static_cast<float>(op == ReduceOp::kMean ? (count == 0 ? std::nan("") : a / static_cast<double>(count)) : a);
  }
}

}  // namespace hqp::kernels
