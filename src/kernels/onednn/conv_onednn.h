// Convolution kernels on oneDNN: FP32 with fused bias / residual sum / activation, and INT8
// (u8 or s8 src, s8 per-channel weights) with requantization equal to kernels/ref/conv_int8.h.
// Not the reference (kernels/ref/conv*.h is the spec); oneDNN types never appear here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/onednn/onednn_common.h"
#include "kernels/ref/conv.h"
#include "kernels/ref/int8_output.h"

namespace hqp::kernels::onednn {

// Implementation choice (INT8). oneDNN lists several optimized implementations for one convolution;
// `impl_rank` 0 is its own first choice, k the k-th after it (kUnsupported when the list is
// shorter or that one is oneDNN's reference code). The first choice suits large convolutions; on
// small ones the per-call cost dominates and a later one is often faster (1x1, 24 -> 48 channels,
// 7x7, u8: brgconv_1x1 1.28 us, jit_int8 0.78 us on AVX-512 VNNI). Every rank computes the same
// result (INT8: the reference's, bit for bit; tests/kernels check each rank).
// create_fastest(): creates the first kTuneCandidates ranks that run on rank 0's ISA, times them
// on scratch activations (alternating rounds, medians; only when rank 0 runs in under
// kTuneBelowMs, else rank 0) and returns the fastest; a later rank must beat rank 0 by 5 % (a
// stable choice under timing noise). Lower ISAs are never candidates: oneDNN's non-VNNI INT8 code
// (jit_uni_int8:avx2 / sse41) saturates u8*s8 pair sums to s16 and differs from the reference.
// FP32 convolutions are not tuned: their implementations sum in different orders, so the choice
// (which depends on timing) would make float outputs differ from run to run.
inline constexpr int kTuneCandidates = 3;
// The ISA part of an implementation name: "jit_int8:avx512_core_vnni" -> "avx512_core_vnni".
std::string_view implementation_isa(std::string_view implementation);
inline constexpr double kTuneBelowMs = 0.05;

// dst = activation(conv_f32__ref(conv, src, wei, bias) + sum)   (sum only when post_ops.has_sum)
struct ConvF32OnednnParams {
  ConvParams conv;                // geometry (kernels/ref/conv.h), spatial_rank 1..3
  Layout layout = Layout::kNchw;  // of src, sum and dst
  // Of src when it differs from `layout`: the first conv of a blocked chain reads the 1..7-channel
  // model input as kNchw and writes kNchw8c (oneDNN's AVX2 kernels run that pair; others fall to
  // its reference implementation, which applies() rejects).
  std::optional<Layout> src_layout;
  bool has_bias = false;
  PostOps post_ops;
  // Grouped convolutions whose groups are narrower than the ISA's vector (4 channels per group on
  // AVX2: ResNeXt-50's first stage) have no direct kernel in oneDNN and run as im2col + GEMM, at a
  // tenth of a direct kernel's speed. Such a convolution equals one with k times fewer, k times
  // wider groups whose weights are block-diagonal (zero between the merged groups): k times the
  // MACs, on a direct kernel. 0: automatic (only when oneDNN's first choice is its GEMM-based
  // convolution: the smallest k in 2, 4 whose wider grouping has a direct one); 1: never; k > 1:
  // that k (tests; groups % k == 0, not for depthwise convolutions). The same outputs for finite
  // inputs; an Inf / NaN input also reaches the merged groups' outputs (0 * Inf = NaN), where
  // the grouped conv keeps it in its own group. The packed weights are k times larger.
  int group_widening = 0;
};

// Largest automatic group widening (group_widening = 0): at most 4x the MACs.
inline constexpr int kMaxGroupWidening = 4;

// Lifecycle: applies() says whether oneDNN can run these params (and why not); create() validates,
// builds the primitive (through the primitive cache) and prepacks the weights once into the
// layout oneDNN picks; run() binds the activation pointers and executes. One object must not run
// on two threads at once; distinct objects may.
class ConvF32Onednn {
 public:
  static constexpr std::string_view kName = "conv_f32__onednn";

  // kInvalidArgument for inconsistent geometry, kUnsupported when oneDNN has no optimized
  // implementation; the message says which parameter and why.
  static Status applies(const ConvF32OnednnParams& params);
  // wei:  [OC, IC/G, kernel...] f32, ONNX layout (copied into the prepacked buffer)
  // bias: [OC] f32 when params.has_bias, else ignored
  static Result<ConvF32Onednn> create(const ConvF32OnednnParams& params, const float* wei, const float* bias);

  // src: [N, IC, in...], sum/dst: [N, OC, out...], all in params.layout.
  // sum: read when post_ops.has_sum (else ignored); it may equal dst (then no copy is made).
  Status run(const float* src, const float* sum, float* dst);

  const ConvF32OnednnParams& params() const { return params_; }
  // oneDNN's implementation, e.g. "jit:avx512_core" (for --verbose); with widened groups, e.g.
  // "jit:avx2, groups x2".
  const std::string& implementation() const { return implementation_; }
  // The group widening create() chose (1: none).
  int group_widening() const { return widening_; }
  // Bytes of kernel-owned memory: the prepacked weights and bias.
  int64_t packed_weight_bytes() const;
  // The weights (in the layout create() took them) and the bias, copied back out of the packed
  // memory: create() needs no other copy of them. bias: [N] / [OC]; only when params.has_bias.
  Status unpack_weights(float* wei) const;
  Status unpack_bias(float* bias) const;

  ConvF32Onednn(ConvF32Onednn&&) noexcept;
  ConvF32Onednn& operator=(ConvF32Onednn&&) noexcept;
  ~ConvF32Onednn();

 private:
  ConvF32Onednn() = default;
  ConvF32OnednnParams params_;
  int64_t dst_bytes_ = 0;
  int widening_ = 1;
  std::string implementation_;
  std::unique_ptr<detail::Executable> exec_;
};

// dst = conv_u8s8__ref / conv_s8s8__ref(conv, out, src, wei, wei_scales, bias, sum), bit for bit
// (see int8_output.h for the quantization scheme and the epilogue; the oneDNN epilogue appends an
// explicit round-half-to-even before adding the dst zero point, which makes it exact).
struct ConvInt8OnednnParams {
  ConvParams conv;                // geometry, spatial_rank 1..3
  Layout layout = Layout::kNhwc;  // of src, sum and dst; oneDNN's INT8 convolutions need kNhwc
  DType src_dtype = DType::kU8;   // kU8 or kS8
  bool has_bias = false;          // s32 bias
  Int8OutputParams out;           // scales, zero points, dst dtype (u8/s8/f32), sum, activation clamp
  int impl_rank = 0;              // see "Implementation choice" below
  // On CPUs without VNNI, where oneDNN sums pairs of u8*s8 products into int16 with saturation
  // (detail::require_exact_int8), false refuses the kernel; true keeps it exact there: depthwise
  // convolutions run as they are (oneDNN widens those to 32 bits), others read the input twice
  // along channels, [x, x] per group, against the weights halved along K, [w - w/2 | w/2]
  // (|half| <= 64: no pair can saturate; same sums, twice the MACs). u8 src only, and create()
  // checks 255 * sum|w[oc]| + |bias[oc]| <= 2^24 (the int32 -> FP32 step of oneDNN's epilogue is
  // then exact; else kUnsupported). No effect on CPUs with VNNI.
  bool exact_without_vnni = false;
};

class ConvInt8Onednn {
 public:
  // "conv_u8s8__onednn" or "conv_s8s8__onednn" by src dtype.
  static std::string_view name(const ConvInt8OnednnParams& params);

  static Status applies(const ConvInt8OnednnParams& params);
  // The implementation create() would use for these params (applies() must hold).
  static std::string probe_implementation(const ConvInt8OnednnParams& params);
  // wei: [OC, IC/G, kernel...] s8; wei_scales: [OC] (> 0); bias: [OC] s32 when has_bias.
  // Weights are prepacked (with oneDNN's s8-src compensation where needed); a nonzero src zero
  // point is folded into the bias when no tap reads padding, else handled by oneDNN.
  static Result<ConvInt8Onednn> create(const ConvInt8OnednnParams& params, const int8_t* wei,
                                       const float* wei_scales, const int32_t* bias);
  // create() with the fastest implementation rank (params.impl_rank is ignored).
  static Result<ConvInt8Onednn> create_fastest(const ConvInt8OnednnParams& params, const int8_t* wei,
                                               const float* wei_scales, const int32_t* bias);

  // src: [N, IC, in...] of src_dtype; sum/dst: [N, OC, out...] of out.dst_dtype; all in params.layout.
  // sum: read when out.has_sum; it may equal dst (then no copy is made).
  Status run(const void* src, const void* sum, void* dst);

  const ConvInt8OnednnParams& params() const { return params_; }
  const std::string& implementation() const;
  // Whether run() doubles the input (exact_without_vnni on a CPU without VNNI).
  bool doubles_input() const { return !doubled_src_.empty(); }
  // Bytes of kernel-owned memory: the prepacked weights and bias (and the doubled input).
  int64_t packed_weight_bytes() const;
  // Whether unpack_* give back exactly what create() took: the packed weights carry no
  // compensation terms (oneDNN adds them for s8 sources on some ISAs) and are not halved.
  bool unpackable() const { return unpackable_; }
  // wei: [OC, IC/G, kernel...] s8 as create() took it; bias: [OC] s32 (only with params.has_bias),
  // the zero-point folding of create() undone.
  Status unpack_weights(int8_t* wei) const;
  Status unpack_bias(int32_t* bias) const;

  ConvInt8Onednn(ConvInt8Onednn&&) noexcept;
  ConvInt8Onednn& operator=(ConvInt8Onednn&&) noexcept;
  ~ConvInt8Onednn();

 private:
  ConvInt8Onednn() = default;
  ConvInt8OnednnParams params_;
  int64_t dst_bytes_ = 0;
  bool unpackable_ = false;
  std::vector<uint8_t> doubled_src_;  // [rows, 2 * IC] when the input is doubled
  std::unique_ptr<detail::Executable> exec_;
};

// acc = conv_u8s8_acc__ref(conv, src_zero_point, src, wei), exactly, on any CPU: the int32
// accumulators of an INT8 convolution without epilogue, for CPUs where ConvInt8Onednn does not
// apply (no VNNI). oneDNN's u8*s8 convolutions there lose bits in two places, and the weights are
// cut into pieces for which neither can happen:
//  - pairs of u8*s8 products are summed into int16 with saturation (vpmaddubsw): each weight is
//    split in two halves w = a + b, a = w / 2 (toward zero), |a|, |b| <= 64, so a pair sums to at
//    most 2 * 255 * 64 = 32640 < 2^15. Not for depthwise convolutions (one input channel per
//    output channel): oneDNN widens those to 32 bits before multiplying (tests check it with
//    saturating data), and a halved depthwise conv would have no fast implementation;
//  - the int32 accumulator passes through FP32 on its way out (bias, scales): exact only below
//    2^24, so the input channels of each group are cut into `ic_splits` equal slices, the fewest
//    for which 255 * sum |w piece| <= 2^24 for every output channel of every piece (most layers of
//    real nets need 1).
// Each piece is one group of a single oneDNN grouped convolution (groups x ic_splits x halves
// groups, same MACs as the halved convolution). run() leaves the two halves of a plain convolution
// (groups 1, ic_splits 1) side by side for the epilogue to add (output_pieces() == 2: one pass
// less over the accumulators); otherwise it adds the pieces per output channel in int32.
// The src zero point is folded into the pieces' bias when no tap reads padding, else passed as
// oneDNN's src zero point.
struct ConvInt8AccOnednnParams {
  ConvParams conv;             // geometry, spatial_rank 1..3; src u8, layout NHWC
  int32_t src_zero_point = 0;  // 0..255
};

class ConvInt8AccOnednn {
 public:
  static constexpr std::string_view kName = "conv_u8s8_acc__onednn";

  // Geometry and zero point; whether oneDNN has an optimized u8 convolution for the halved shape.
  static Status applies(const ConvInt8AccOnednnParams& params);
  // wei: [OC, IC/G, kernel...] s8 (ONNX layout). kUnsupported when no split keeps the sums exact.
  static Result<ConvInt8AccOnednn> create(const ConvInt8AccOnednnParams& params, const int8_t* wei);

  // src: [N, IC, in...] u8 NHWC; acc: [rows = N * out..., output_pieces(), OC] int32, fully
  // overwritten; the accumulator of (row, oc) is the sum of its pieces.
  Status run(const uint8_t* src, int32_t* acc);
  int output_pieces() const { return pieces_.empty() && halves_ * ic_splits_ == 2 ? 2 : 1; }

  const ConvInt8AccOnednnParams& params() const { return params_; }
  const std::string& implementation() const;
  // Prepacked pieces of the weights and their bias, plus the pieces' output buffer.
  int64_t packed_weight_bytes() const;
  int halves() const { return halves_; }
  int ic_splits() const { return ic_splits_; }

  ConvInt8AccOnednn(ConvInt8AccOnednn&&) noexcept;
  ConvInt8AccOnednn& operator=(ConvInt8AccOnednn&&) noexcept;
  ~ConvInt8AccOnednn();

 private:
  ConvInt8AccOnednn() = default;
  ConvInt8AccOnednnParams params_;
  int halves_ = 1, ic_splits_ = 1;
  int64_t rows_ = 0;                 // N * output positions
  std::vector<int32_t> pieces_;      // [rows, groups * ic_splits * halves * OC/G] when > 1 piece
  std::unique_ptr<detail::Executable> exec_;
};

}  // namespace hqp::kernels::onednn
