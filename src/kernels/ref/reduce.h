// Reference reductions over a set of axes (ONNX ReduceMean / ReduceSum / ReduceMax), FP32.
#pragma once

#include <cstdint>

#include "kernels/ref/kernel_limits.h"

namespace hqp::kernels {

enum class ReduceOp { kMean, kSum, kMax };

// src: contiguous row-major tensor of `shape` (rank 0..kMaxKernelRank); dst: the same tensor with every
// axis where reduce[axis] is true collapsed to size 1 (keepdims or not is only a different shape of
// the same bytes). Mean divides the sum (accumulated in double, in index order) by the number of
// reduced elements; Max propagates NaN. A reduction over zero elements gives 0 (sum), NaN (mean) or
// -inf (max), as numpy.
struct ReduceParams {
  int rank = 0;
  int64_t shape[kMaxKernelRank] = {};
  bool reduce[kMaxKernelRank] = {};
};

void reduce_f32__ref(const ReduceParams& params, ReduceOp op, const float* src, float* dst);

}  // namespace hqp::kernels
