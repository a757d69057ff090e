// Element-wise kernels on oneDNN: FP32 activations (eltwise) and FP32 Add/Mul with broadcasting of
// one operand (binary), e.g. the SE block's [N, C, H, W] * [N, C, 1, 1]. Semantics are those of
// kernels/ref/elementwise.h; no integer arithmetic here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/onednn/onednn_common.h"
#include "kernels/ref/kernel_limits.h"

namespace hqp::kernels::onednn {

// dst[i] = activation(src[i]) over `count` contiguous elements (see Activation for alpha/beta).
struct EltwiseF32OnednnParams {
  int64_t count = 1;
  Activation activation = Activation::kRelu;  // not kNone
  float alpha = 0.0f;
  float beta = 0.0f;
};

class EltwiseF32Onednn {
 public:
  // "relu_f32__onednn", "clip_f32__onednn", "hardswish_f32__onednn", "hardsigmoid_f32__onednn",
  // "sigmoid_f32__onednn".
  static std::string_view name(const EltwiseF32OnednnParams& params);
  static Status applies(const EltwiseF32OnednnParams& params);
  static Result<EltwiseF32Onednn> create(const EltwiseF32OnednnParams& params);
  // src, dst: [count]; dst may alias src.
  Status run(const float* src, float* dst);

  const EltwiseF32OnednnParams& params() const { return params_; }
  const std::string& implementation() const;

  EltwiseF32Onednn(EltwiseF32Onednn&&) noexcept;
  EltwiseF32Onednn& operator=(EltwiseF32Onednn&&) noexcept;
  ~EltwiseF32Onednn();

 private:
  EltwiseF32Onednn() = default;
  EltwiseF32OnednnParams params_;
  // Hard sigmoid runs two primitives (linear, then clip in place on dst); others one.
  std::vector<std::unique_ptr<detail::Executable>> steps_;
};

enum class BinaryAlgorithm { kAdd, kMul };

// dst = activation(src0 op src1) with numpy broadcasting where one operand has the full dst shape
// and the other has, per dim, the same size or 1. Both operands have the same rank (the caller
// prepends 1s as numpy does). When src0 is the broadcast one the kernel swaps the operands (Add
// and Mul commute). Both needing broadcast (e.g. [N, 1] + [1, M]) is rejected.
struct BinaryF32OnednnParams {
  BinaryAlgorithm algorithm = BinaryAlgorithm::kAdd;
  int rank = 4;                                // 1..6
  int64_t src0_dims[kMaxKernelRank] = {};
  int64_t src1_dims[kMaxKernelRank] = {};
  Layout layout = Layout::kNchw;               // rank 3..5 tensors: all three in this layout
  Activation activation = Activation::kNone;   // fused after the op (e.g. Add + Relu)
  float alpha = 0.0f;
  float beta = 0.0f;
};

class BinaryF32Onednn {
 public:
  // "add_f32__onednn" or "mul_f32__onednn".
  static std::string_view name(const BinaryF32OnednnParams& params);
  static Status applies(const BinaryF32OnednnParams& params);
  static Result<BinaryF32Onednn> create(const BinaryF32OnednnParams& params);
  // dst has the broadcast shape; it may alias the full-shape operand.
  Status run(const float* src0, const float* src1, float* dst);

  const BinaryF32OnednnParams& params() const { return params_; }
  const std::string& implementation() const;

  BinaryF32Onednn(BinaryF32Onednn&&) noexcept;
  BinaryF32Onednn& operator=(BinaryF32Onednn&&) noexcept;
  ~BinaryF32Onednn();

 private:
  BinaryF32Onednn() = default;
  BinaryF32OnednnParams params_;
  bool swapped_ = false;  // src0 was the broadcast operand
  std::unique_ptr<detail::Executable> exec_;
};

// Copies an activation tensor [N, C, spatial...] (rank 3..5) between NCHW and NHWC layouts.
struct LayoutReorderOnednnParams {
  DType dtype = DType::kF32;  // f32, u8 or s8
  int rank = 4;
  int64_t dims[kMaxKernelRank] = {};  // logical [N, C, spatial...]
  Layout src_layout = Layout::kNchw;
  Layout dst_layout = Layout::kNhwc;
};

class LayoutReorderOnednn {
 public:
  static constexpr std::string_view kName = "reorder__onednn";
  static Status applies(const LayoutReorderOnednnParams& params);
  static Result<LayoutReorderOnednn> create(const LayoutReorderOnednnParams& params);
  // src and dst must not alias.
  Status run(const void* src, void* dst);
  const std::string& implementation() const;

  LayoutReorderOnednn(LayoutReorderOnednn&&) noexcept;
  LayoutReorderOnednn& operator=(LayoutReorderOnednn&&) noexcept;
  ~LayoutReorderOnednn();

 private:
  LayoutReorderOnednn() = default;
  std::unique_ptr<detail::Executable> exec_;
};

// Copies every element of a `dims`-shaped index space from `src` to `dst`, each side addressed by
// its own strides (in elements): dst[sum i_k * dst_strides[k]] = src[sum i_k * src_strides[k]].
// An ONNX Transpose is this copy with the source's strides permuted; so is a Transpose whose input
// or output lies in another memory order (e.g. NHWC -> [N, H, W, C] row-major). Where both sides
// have the same dense strides the copy is one memcpy (implementation "memcpy"); otherwise a oneDNN
// reorder. f32, s32, u8, s8, bool; rank 1..8.
struct StridedCopyOnednnParams {
  DType dtype = DType::kF32;
  int rank = 4;
  int64_t dims[kMaxKernelRank] = {};
  int64_t src_strides[kMaxKernelRank] = {};
  int64_t dst_strides[kMaxKernelRank] = {};
};

class StridedCopyOnednn {
 public:
  static constexpr std::string_view kName = "strided_copy__onednn";
  // kUnsupported for s64 (no oneDNN type) or strides that are not a dense permutation on either
  // side; kInvalidArgument for empty dims or a rank outside 1..8.
  static Status applies(const StridedCopyOnednnParams& params);
  static Result<StridedCopyOnednn> create(const StridedCopyOnednnParams& params);
  // src and dst must not alias.
  Status run(const void* src, void* dst);
  const std::string& implementation() const;

  StridedCopyOnednn(StridedCopyOnednn&&) noexcept;
  StridedCopyOnednn& operator=(StridedCopyOnednn&&) noexcept;
  ~StridedCopyOnednn();

 private:
  StridedCopyOnednn() = default;
  int64_t bytes_ = 0;                          // > 0: the copy is one memcpy of this many bytes
  std::string impl_;                           // "memcpy" or oneDNN's implementation name
  std::unique_ptr<detail::Executable> exec_;   // the reorder, when not a memcpy
};

}  // namespace hqp::kernels::onednn
