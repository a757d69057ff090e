// The adapter between hqp's oneDNN kernels and the oneDNN 2.x C++ API: engine + stream singleton,
// thread binding, the one primitive cache, and helpers that build memory descriptors and post-ops.
// Only src/kernels/onednn/*.cpp include this (a oneDNN 3.x upgrade stays in this directory).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/dtype.h"
#include "core/status.h"
#include "kernels/onednn/onednn_common.h"
#include "kernels/ref/int8_output.h"

namespace hqp::kernels::onednn::detail {

// Key of the primitive cache: every parameter that changes the primitive (kind, shapes, dtypes,
// layouts, attributes, thread count) appended as raw bytes.
class CacheKey {
 public:
  explicit CacheKey(std::string_view kind);
  CacheKey& add(int64_t value);
  CacheKey& add(float value);
  CacheKey& add(std::string_view value);
  template <typename It>
  CacheKey& add_range(It first, It last) {
    for (; first != last; ++first) add(static_cast<int64_t>(*first));
    return *this;
  }
  const std::string& str() const { return bytes_; }

 private:
  std::string bytes_;
};

// A created primitive with its descriptor, or the reason oneDNN could not create one.
struct CachedPrimitive {
  Status status;                 // not ok: pd creation failed (message from oneDNN)
  dnnl::primitive_desc pd;       // valid when status is ok
  dnnl::primitive primitive;     // valid when status is ok, unless cached as a probe
  std::string impl;              // oneDNN's implementation name, e.g. "jit:avx512_core"
};

// Process-wide oneDNN state. The primitive cache replaces oneDNN's own (whose capacity is set to 0
// so there is one cache): ours also skips primitive-descriptor creation (the implementation search)
// on a hit. Unbounded; clear() drops entries (kernels keep their primitives alive). Thread-safe.
class Context {
 public:
  static Context& get();

  const dnnl::engine& engine() const { return engine_; }
  dnnl::stream& stream() { return stream_; }

  Status set_num_threads(int threads);
  int num_threads() const;
  // Applies the thread count to the calling thread's OpenMP ICV (cheap when already applied).
  void bind_calling_thread() const;

  // Returns the cached entry for `key`, calling make_pd on a miss; make_pd may throw dnnl::error,
  // which is cached as a kUnsupported entry. `kernel_name` prefixes failure messages.
  // create_primitive=false caches the descriptor only (no JIT code): a probe for applies().
  std::shared_ptr<const CachedPrimitive> get_or_create(const CacheKey& key, std::string_view kernel_name,
                                                       const std::function<dnnl::primitive_desc()>& make_pd,
                                                       bool create_primitive = true);
  size_t cache_size() const;
  void clear_cache();

 private:
  Context();
  dnnl::engine engine_;
  dnnl::stream stream_;
  int threads_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const CachedPrimitive>> cache_;
};

// A primitive bound to its arguments. External buffers (src, dst, sum) are memory objects whose
// data handle is replaced on every run; kernel-owned buffers (prepacked weights, bias) stay fixed.
// Not safe for concurrent execute() on the same object.
struct Executable {
  std::shared_ptr<const CachedPrimitive> cached;
  std::unordered_map<int, dnnl::memory> args;
  void bind(int arg, const void* data);  // the pointer is only read by oneDNN when `arg` is an input
  Status execute(std::string_view kernel_name);
  // Bytes of the kernel-owned memories (prepacked weights, bias, runtime attribute arguments).
  int64_t owned_bytes() const;
};

// The one binding of a weighted primitive (convolution, inner product): src and dst become external
// buffers bound on every run; the weights, given in the user's descriptor `user_wei_md` at `wei`,
// are prepacked into the primitive's chosen format; the bias (when `bias` is not null, in the
// primitive's bias descriptor) is copied into kernel-owned memory. `wei` and `bias` are not
// referenced after the call.
std::unique_ptr<Executable> bind_weighted(std::shared_ptr<const CachedPrimitive> cached,
                                          const dnnl::memory::desc& user_wei_md, const void* wei, const void* bias);

// Fails with kUnsupported when oneDNN could only offer its reference implementation ("ref:...",
// slow and equivalent to hqp's own reference), so the caller falls back to hqp's reference kernel.
Status require_optimized(const CachedPrimitive& entry, std::string_view kernel_name);

// INT8 kernels on oneDNN are exact (equal to the integer reference) only on CPUs with VNNI
// (vpdpbusd: u8*s8 products summed into int32). Without it (AVX2, AVX-512 without VNNI) oneDNN
// sums u8*s8 pairs with vpmaddubsw, which saturates to int16, and halves the weights of s8
// sources: its results differ from the reference, by far more than one step where pairs saturate.
// kUnsupported naming this CPU's ISA when it has no VNNI.
Status require_exact_int8(std::string_view kernel_name);

// The two halves of an s8 weight that oneDNN's INT8 code without VNNI can take without saturating
// a u8*s8 pair sum: half 0 = w - w / 2, half 1 = w / 2 (toward zero); |half| <= 64, and they add
// up to w.
inline int8_t weight_half(int8_t w, int half) {
  const int8_t low = static_cast<int8_t>(w / 2);
  return half == 0 ? static_cast<int8_t>(w - low) : low;
}
// Without VNNI oneDNN converts the int32 accumulator to FP32 before adding the bias: exact while
// 255 * sum|w| + |bias| <= 2^24 for u8 sources. kUnsupported naming output `index` otherwise.
Status require_float_exact_sums(std::string_view kernel_name, int64_t index, int64_t abs_weight_sum, int64_t bias);

dnnl::memory::data_type to_dnnl(DType dtype);
// Plain tag of an activation tensor of `rank` dims (3..5) in `layout`.
dnnl::memory::format_tag activation_tag(int rank, Layout layout);
// Plain row-major tag of a tensor of `rank` dims (1..6).
dnnl::memory::format_tag plain_tag(int rank);
// Appends the oneDNN post-ops of an FP32 activation (hard sigmoid is linear + clip).
void append_activation(dnnl::post_ops& ops, Activation activation, float alpha, float beta);
// oneDNN's padding_r for one dim: the end padding implied by out_size with floor semantics,
// raised to 0 when that keeps the output size (never touched by any window), else negative.
int64_t implied_pad_end(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin);
// Copies `src` into a new kernel-owned memory of descriptor `dst_md` (a reorder when layouts differ).
dnnl::memory prepack(const dnnl::memory::desc& src_md, const void* src, const dnnl::memory::desc& dst_md);

// True when `packed` holds only the (reordered) values: no compensation or other extra terms, so
// unpack() gives back exactly what was prepacked.
bool plain_packing(const dnnl::memory& packed);

// Copies the kernel-owned memory `packed` back into the caller's buffer `dst` of descriptor
// `user_md` (a reorder when the formats differ): the inverse of prepack.
Status unpack(const dnnl::memory& packed, const dnnl::memory::desc& user_md, void* dst);

// ---- INT8 (the quantization scheme of kernels/ref/int8_output.h mapped onto oneDNN 2.x attributes) ----

// multiplier[i] = int8_output_multiplier(out, wei_scales[i]).
std::vector<float> int8_multipliers(const Int8OutputParams& out, const float* wei_scales, int64_t count);
// Dtypes, scales, zero points and activation range of an INT8 conv / gemm; kernel_name prefixes messages.
Status validate_int8_output(std::string_view kernel_name, DType src_dtype, const Int8OutputParams& out);
Status validate_wei_scales(std::string_view kernel_name, const float* wei_scales, int64_t count);
// The INT8 epilogue as attributes: static per-channel output scales = multipliers (mask
// `scale_mask`), optional runtime src zero point, sum post-op with zero point, and for a u8/s8 dst
// clip + round-half-to-even + linear(+dst zero point). Runtime argument when src_zero_point_attr:
// DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC (s32 [1]).
dnnl::primitive_attr int8_attr(const Int8OutputParams& out, const std::vector<float>& multipliers,
                               bool src_zero_point_attr, int scale_mask);
// Everything of int8_attr that changes the primitive (not the runtime zero-point values).
void add_int8_key(CacheKey& key, DType src_dtype, const Int8OutputParams& out, const std::vector<float>& multipliers,
                  bool src_zero_point_attr);
// Kernel-owned memories for runtime arguments.
dnnl::memory f32_vector_memory(const std::vector<float>& values);
dnnl::memory zero_point_memory(int32_t value);

}  // namespace hqp::kernels::onednn::detail
