// Fully connected layers on oneDNN's inner product: ONNX Gemm with transA=0, alpha=beta=1 and a
// [N] bias (the form CNN classifiers export), FP32 with fused post-ops and INT8 equal to
// kernels/ref/gemm_int8.h. Not a general GEMM (no transA, no scaling, no [M, N] C).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/onednn/onednn_common.h"
#include "kernels/ref/int8_output.h"

namespace hqp::kernels::onednn {

// dst[M, N] = activation(src[M, K] * B + bias[N] + sum[M, N]), B = wei^T when trans_b, else wei.
// The gemm_f32__ref equivalent is GemmParams{m, n, k, trans_a=false, trans_b, alpha=1, beta=1,
// c_stride_m=0, c_stride_n=1} with src_c = bias.
struct GemmF32OnednnParams {
  int64_t m = 1;
  int64_t n = 1;
  int64_t k = 1;
  bool trans_b = true;     // wei: [N, K] when true (ONNX transB=1), [K, N] when false
  bool has_bias = false;   // bias: [N]
  PostOps post_ops;        // sum: [M, N]
};

// Lifecycle as in conv_onednn.h: applies() / create() (prepacks weights) / run(). Not thread-safe
// per object.
class GemmF32Onednn {
 public:
  static constexpr std::string_view kName = "gemm_f32__onednn";
  // A few rows (batch-1 classifiers) against weights far past the caches: the run streams the
  // weights, and oneDNN's GEMV on plain row-major [N, K] weights ("gemm:jit") streams them faster
  // than its blocked inner product (AVX-512: 151 MB 6.55 -> 4.08 ms, 67 MB 1.85 -> 1.66 ms at 2
  // threads; for weights that fit the caches the blocked kernel is as fast or faster:
  // docs/PERFORMANCE.md, "Issue 10, part 7"). plain_weights(): the kernel keeps them plain.
  static constexpr int64_t kStreamingMaxRows = 4;
  static constexpr int64_t kStreamingMinWeightBytes = int64_t{32} << 20;
  static bool plain_weights(const GemmF32OnednnParams& params);
  static Status applies(const GemmF32OnednnParams& params);
  static Result<GemmF32Onednn> create(const GemmF32OnednnParams& params, const float* wei, const float* bias);
  // src: [M, K], sum/dst: [M, N], row-major; sum read when post_ops.has_sum, may equal dst.
  Status run(const float* src, const float* sum, float* dst);

  const GemmF32OnednnParams& params() const { return params_; }
  const std::string& implementation() const;
  // Bytes of kernel-owned memory: the prepacked weights and bias.
  int64_t packed_weight_bytes() const;
  // The weights (in the layout create() took them) and the bias, copied back out of the packed
  // memory: create() needs no other copy of them. bias: [N] / [OC]; only when params.has_bias.
  Status unpack_weights(float* wei) const;
  Status unpack_bias(float* bias) const;

  GemmF32Onednn(GemmF32Onednn&&) noexcept;
  GemmF32Onednn& operator=(GemmF32Onednn&&) noexcept;
  ~GemmF32Onednn();

 private:
  GemmF32Onednn() = default;
  GemmF32OnednnParams params_;
  std::unique_ptr<detail::Executable> exec_;
};

// dst = gemm_u8s8__ref / gemm_s8s8__ref(m, n, k, out, src, wei, wei_scales, bias, sum), bit for bit.
// The src zero point is always folded into the bias (a gemm reads no padding).
struct GemmInt8OnednnParams {
  int64_t m = 1;
  int64_t n = 1;
  int64_t k = 1;
  bool trans_b = true;           // wei: [N, K] s8 when true, [K, N] when false
  DType src_dtype = DType::kU8;  // kU8 or kS8
  bool has_bias = false;         // bias: [N] s32
  Int8OutputParams out;
  // As ConvInt8OnednnParams::exact_without_vnni: on CPUs without VNNI the src is read twice,
  // [x | x] along K, against halved weights, when 255 * sum|w[j]| + |bias'[j]| <= 2^24 (create()
  // checks it); u8 src only. No effect on CPUs with VNNI.
  bool exact_without_vnni = false;
};

class GemmInt8Onednn {
 public:
  // "gemm_u8s8__onednn" or "gemm_s8s8__onednn".
  static std::string_view name(const GemmInt8OnednnParams& params);
  static Status applies(const GemmInt8OnednnParams& params);
  // wei_scales: [N] (> 0), one per output column.
  static Result<GemmInt8Onednn> create(const GemmInt8OnednnParams& params, const int8_t* wei,
                                       const float* wei_scales, const int32_t* bias);
  // src: [M, K] of src_dtype; sum/dst: [M, N] of out.dst_dtype; sum read when out.has_sum, may equal dst.
  Status run(const void* src, const void* sum, void* dst);

  const GemmInt8OnednnParams& params() const { return params_; }
  const std::string& implementation() const;
  // Bytes of kernel-owned memory: the prepacked weights and bias (and the doubled input).
  int64_t packed_weight_bytes() const;
  // Whether run() doubles the input (exact_without_vnni on a CPU without VNNI).
  bool doubles_input() const { return !doubled_src_.empty(); }
  // Whether unpack_* give back exactly what create() took (no compensation in the packing, no
  // halved weights).
  bool unpackable() const { return unpackable_; }
  // wei: as create() took it ([N, K] when trans_b, else [K, N]) s8; bias: [N] s32 (only with
  // params.has_bias), the zero-point folding of create() undone.
  Status unpack_weights(int8_t* wei) const;
  Status unpack_bias(int32_t* bias) const;

  GemmInt8Onednn(GemmInt8Onednn&&) noexcept;
  GemmInt8Onednn& operator=(GemmInt8Onednn&&) noexcept;
  ~GemmInt8Onednn();

 private:
  GemmInt8Onednn() = default;
  GemmInt8OnednnParams params_;
  bool unpackable_ = false;
  std::vector<uint8_t> doubled_src_;  // [M, 2K] when the input is doubled
  std::unique_ptr<detail::Executable> exec_;
};

}  // namespace hqp::kernels::onednn
