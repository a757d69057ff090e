// Types shared by the oneDNN kernels' public headers (activation layout, fused post-ops) and the
// process-wide thread control. Deliberately free of oneDNN headers: callers never see dnnl.hpp.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace hqp::kernels::onednn {

namespace detail {
struct Executable;  // a bound oneDNN primitive (onednn_context.h); kernels hold one per primitive
}  // namespace detail

// Memory layout of activation tensors ([N, C, spatial...] logically) at a kernel boundary.
//   kNchw: channels-first, contiguous row-major (ONNX's layout)
//   kNhwc: channels-last ([N, spatial..., C] in memory), what oneDNN's INT8 convolutions prefer
//   kNchw8c: channels in blocks of 8 ([N, C/8, spatial..., 8] in memory; oneDNN's nChw8c), what its
//            AVX2 FP32 convolutions run fastest on. Callers use it only for C % 8 == 0, where it has
//            no padding: the same number of elements as the other two.
// Weights are never described by a Layout: they are given in ONNX layout and prepacked.
enum class Layout { kNchw, kNhwc, kNchw8c };
std::string_view layout_name(Layout layout);

// True when oneDNN's FP32 convolutions on this CPU run faster on kNchw8c activations than on kNhwc
// (CPUs whose best ISA is AVX2: measured in docs/PERFORMANCE.md, "Issue 10, part 6"; AVX-512 CPUs
// block by 16 and run kNhwc as fast).
bool blocked_f32_layout_preferred();

// Activation fused after a kernel (or computed by the eltwise kernel). FP32 semantics, exactly as
// the reference kernels in kernels/ref/elementwise.h:
//   kRelu        max(x, 0)
//   kClip        min(max(x, alpha), beta)                      (alpha = min, beta = max)
//   kHardSwish   x * max(0, min(1, x/6 + 0.5))                 (ONNX HardSwish; alpha/beta unused)
//   kHardSigmoid max(0, min(1, alpha*x + beta))                (ONNX HardSigmoid)
//   kSigmoid     1 / (1 + exp(-x))
//   kLeakyRelu   x >= 0 ? x : alpha * x                         (ONNX LeakyRelu; beta unused)
//   kTanh, kExp, kSqrt                                          (alpha/beta unused)
//   kGeluErf     x * (1 + erf(x / sqrt(2))) / 2 (oneDNN's polynomial erf: within float rounding, not bit-equal)
//   kSwish       x * sigmoid(x) (SiLU; oneDNN's eltwise_swish with alpha 1: within float rounding)
enum class Activation { kNone, kRelu, kClip, kHardSwish, kHardSigmoid, kSigmoid, kLeakyRelu, kTanh, kExp, kSqrt, kGeluErf,
                        kSwish };
std::string_view activation_name(Activation activation);

// Post-ops of an FP32 conv / gemm, in this order: bias (owned by the kernel params), then
// dst += sum input (a residual Add, before the activation), then the activation.
struct PostOps {
  bool has_sum = false;
  Activation activation = Activation::kNone;
  float alpha = 0.0f;
  float beta = 0.0f;
};

// ---- Threads. ----
// The Debian build of oneDNN 2.6 uses OpenMP (DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP; libdnnl.so links
// GCC's libgomp). Its thread count is OpenMP's per-thread ICV nthreads-var: omp_set_num_threads()
// (or OMP_NUM_THREADS at startup). oneDNN 2.x has no setter of its own for OpenMP builds
// (dnnl_threadpool_interop_set_max_concurrency exists only for the threadpool runtime). The ICV
// belongs to the calling thread, so every kernel create() and run() re-applies the count chosen
// here on the thread that calls it. oneDNN's JIT primitives fix their work split at creation, so
// the count is part of every primitive-cache key: kernels created before a change keep the old
// count's partitioning (re-create them after changing it).

// Sets the thread count of all oneDNN kernels created and run afterwards.
// kInvalidArgument when threads <= 0.
Status set_num_threads(int threads);
// The current thread count (initially OMP_NUM_THREADS, or the number of online cores).
int num_threads();
// "OpenMP" (from DNNL_CPU_RUNTIME), for --verbose and benchmark reports.
std::string_view threading_runtime();
// oneDNN's version, "2.6.3".
std::string onednn_version();

// ---- The one primitive cache (see onednn_context.h). ----
size_t primitive_cache_size();
void clear_primitive_cache();

// Whether the INT8 kernels (ConvInt8Onednn, GemmInt8Onednn) run on this CPU: only with VNNI, where
// oneDNN's results equal the integer reference (see detail::require_exact_int8); elsewhere their
// applies() is kUnsupported and callers use the reference kernels.
bool int8_kernels_exact_on_this_cpu();

}  // namespace hqp::kernels::onednn
