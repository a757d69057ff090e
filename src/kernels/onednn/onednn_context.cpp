// oneDNN adapter: engine/stream singleton, OpenMP thread binding, the primitive cache and the
// descriptor helpers shared by the oneDNN kernels. The only file that knows oneDNN's threading.
#include "kernels/onednn/onednn_context.h"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

namespace hqp::kernels::onednn {

std::string_view layout_name(Layout layout) {
  switch (layout) {
    case Layout::kNchw: return "nchw";
    case Layout::kNhwc: return "nhwc";
    case Layout::kNchw8c: return "nchw8c";
  }
  return "?";
}

std::string_view activation_name(Activation activation) {
  switch (activation) {
    case Activation::kNone: return "none";
    case Activation::kRelu: return "relu";
    case Activation::kClip: return "clip";
    case Activation::kHardSwish: return "hardswish";
    case Activation::kHardSigmoid: return "hardsigmoid";
    case Activation::kSigmoid: return "sigmoid";
    case Activation::kLeakyRelu: return "leaky_relu";
    case Activation::kTanh: return "tanh";
    case Activation::kExp: return "exp";
    case Activation::kSqrt: return "sqrt";
    case Activation::kGeluErf: return "gelu_erf";
    case Activation::kSwish: return "swish";
  }
  return "?";
}

Status set_num_threads(int threads) { return detail::Context::get().set_num_threads(threads); }
int num_threads() { return detail::Context::get().num_threads(); }

std::string_view threading_runtime() {
#if DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP
  return "OpenMP";
#elif DNNL_CPU_RUNTIME == DNNL_RUNTIME_TBB
  return "TBB";
#elif DNNL_CPU_RUNTIME == DNNL_RUNTIME_THREADPOOL
  return "threadpool";
#else
  return "sequential";
#endif
}

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  return fmt::format("{}.{}.{}", v->major, v->minor, v->patch);
}

size_t primitive_cache_size() { return detail::Context::get().cache_size(); }
void clear_primitive_cache() { detail::Context::get().clear_cache(); }

namespace detail {

using dnnl::memory;

static_assert(DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP,
              "thread control below assumes oneDNN's OpenMP runtime (Debian's libdnnl); adapt bind_calling_thread");

// ---- CacheKey ----

CacheKey::CacheKey(std::string_view kind) { add(kind); }

CacheKey& CacheKey::add(int64_t value) {
  char raw[sizeof(value)];
  std::memcpy(raw, &value, sizeof(value));
  bytes_.append(raw, sizeof(raw));
  return *this;
}

CacheKey& CacheKey::add(float value) { return add(static_cast<int64_t>(std::bit_cast<uint32_t>(value))); }

CacheKey& CacheKey::add(std::string_view value) {
  add(static_cast<int64_t>(value.size()));
  bytes_.append(value);
  return *this;
}

// ---- Context ----

Context& Context::get() {
  static Context context;
  return context;
}

Context::Context() : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_), threads_(omp_get_max_threads()) {
  dnnl::set_primitive_cache_capacity(0);  // ours is the one cache
}

Status Context::set_num_threads(int threads) {
  if (threads <= 0) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot set thread count of 'onednn': not a positive count (threads={}, expected >= 1)", threads);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  threads_ = threads;
  omp_set_num_threads(threads);
  return Status::ok_status();
}

int Context::num_threads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return threads_;
}

void Context::bind_calling_thread() const {
  const int threads = num_threads();
  if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
}

std::shared_ptr<const CachedPrimitive> Context::get_or_create(const CacheKey& key, std::string_view kernel_name,
                                                              const std::function<dnnl::primitive_desc()>& make_pd,
                                                              bool create_primitive) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = cache_.find(key.str());
    if (it != cache_.end()) return it->second;
  }
  bind_calling_thread();
  auto entry = std::make_shared<CachedPrimitive>();
  try {
    entry->pd = make_pd();
    entry->impl = entry->pd.impl_info_str();
    if (create_primitive) entry->primitive = dnnl::primitive(entry->pd);
  } catch (const dnnl::error& e) {
    entry->status = make_error(StatusCode::kUnsupported, "cannot create kernel '{}': oneDNN has no implementation ({})",
                               kernel_name, e.what());
  }
  std::lock_guard<std::mutex> lock(mutex_);
  // Another thread may have inserted the same key meanwhile; both entries are equivalent.
  return cache_.emplace(key.str(), std::move(entry)).first->second;
}

size_t Context::cache_size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cache_.size();
}

void Context::clear_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  cache_.clear();
}

// ---- Executable ----

void Executable::bind(int arg, const void* data) {
  args.at(arg).set_data_handle(const_cast<void*>(data));
}

Status Executable::execute(std::string_view kernel_name) {
  Context& context = Context::get();
  context.bind_calling_thread();
  try {
    cached->primitive.execute(context.stream(), args);
    context.stream().wait();
  } catch (const dnnl::error& e) {
    return make_error(StatusCode::kInternal, "cannot run kernel '{}': oneDNN failed ({})", kernel_name, e.what());
  }
  return Status::ok_status();
}

int64_t Executable::owned_bytes() const {
  int64_t bytes = 0;
  for (const auto& [arg, mem] : args) {
    if (arg == DNNL_ARG_SRC || arg == DNNL_ARG_DST) continue;
    bytes += static_cast<int64_t>(mem.get_desc().get_size());
  }
  return bytes;
}

std::unique_ptr<Executable> bind_weighted(std::shared_ptr<const CachedPrimitive> cached,
                                          const dnnl::memory::desc& user_wei_md, const void* wei, const void* bias) {
  auto exec = std::make_unique<Executable>();
  const dnnl::engine& engine = Context::get().engine();
  const dnnl::primitive_desc& pd = cached->pd;
  exec->args[DNNL_ARG_SRC] = dnnl::memory(pd.src_desc(0), engine, nullptr);
  exec->args[DNNL_ARG_DST] = dnnl::memory(pd.dst_desc(0), engine, nullptr);
  exec->args[DNNL_ARG_WEIGHTS] = prepack(user_wei_md, wei, pd.weights_desc(0));
  if (bias != nullptr) exec->args[DNNL_ARG_BIAS] = prepack(pd.weights_desc(1), bias, pd.weights_desc(1));
  exec->cached = std::move(cached);
  return exec;
}

Status require_optimized(const CachedPrimitive& entry, std::string_view kernel_name) {
  HQP_RETURN_IF_ERROR(entry.status);
  if (entry.impl.rfind("ref", 0) == 0) {
    return make_error(StatusCode::kUnsupported,
                      "cannot create kernel '{}': oneDNN offers only its reference implementation (impl={}, "
                      "expected an optimized one)",
                      kernel_name, entry.impl);
  }
  return Status::ok_status();
}

}  // namespace detail

bool blocked_f32_layout_preferred() {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx2 || isa == dnnl::cpu_isa::avx2_vnni;
}

bool int8_kernels_exact_on_this_cpu() { return detail::require_exact_int8("probe").ok(); }

namespace detail {

Status require_exact_int8(std::string_view kernel_name) {
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  switch (isa) {
    case dnnl::cpu_isa::avx512_core_vnni:
    case dnnl::cpu_isa::avx512_core_bf16:
    case dnnl::cpu_isa::avx512_core_amx:
    case dnnl::cpu_isa::avx2_vnni: return Status::ok_status();
    default: break;
  }
  const char* name = isa == dnnl::cpu_isa::avx2                ? "avx2"
                     : isa == dnnl::cpu_isa::avx512_core        ? "avx512_core"
                     : isa == dnnl::cpu_isa::avx512_mic         ? "avx512_mic"
                     : isa == dnnl::cpu_isa::avx512_mic_4ops    ? "avx512_mic_4ops"
                     : isa == dnnl::cpu_isa::avx                ? "avx"
                     : isa == dnnl::cpu_isa::sse41              ? "sse41"
                                                                : "other";
  return make_error(StatusCode::kUnsupported,
                    "cannot create kernel '{}': this CPU has no VNNI (oneDNN ISA {}), where oneDNN's INT8 "
                    "kernels saturate u8*s8 pair sums to 16 bits and differ from the integer reference",
                    kernel_name, name);
}

Status require_float_exact_sums(std::string_view kernel_name, int64_t index, int64_t abs_weight_sum, int64_t bias) {
  const int64_t bound = 255 * abs_weight_sum + (bias < 0 ? -bias : bias);
  if (bound <= (int64_t{1} << 24)) return Status::ok_status();
  return make_error(StatusCode::kUnsupported, "cannot create kernel '{}' without VNNI: sums of output {} could pass "
                    "2^24 (255 * sum|w| + |bias| = {})", kernel_name, index, bound);
}

// ---- descriptor helpers ----

dnnl::memory::data_type to_dnnl(DType dtype) {
  using dt = dnnl::memory::data_type;
  switch (dtype) {
    case DType::kF32: return dt::f32;
    case DType::kU8: return dt::u8;
    case DType::kS8: return dt::s8;
    case DType::kS32: return dt::s32;
    default: break;
  }
  HQP_CHECK_MSG(false, fmt::format("dtype {} has no oneDNN equivalent", dtype_name(dtype)));
  return dt::undef;
}

dnnl::memory::format_tag activation_tag(int rank, Layout layout) {
  using tag = dnnl::memory::format_tag;
  if (layout == Layout::kNchw8c) {
    switch (rank) {
      case 3: return tag::nCw8c;
      case 4: return tag::nChw8c;
      case 5: return tag::nCdhw8c;
      default: break;
    }
  }
  const bool last = layout == Layout::kNhwc;
  switch (rank) {
    case 3: return last ? tag::acb : tag::abc;
    case 4: return last ? tag::acdb : tag::abcd;
    case 5: return last ? tag::acdeb : tag::abcde;
    default: break;
  }
  HQP_CHECK_MSG(false, fmt::format("activation rank {} outside 3..5", rank));
  return tag::undef;
}

dnnl::memory::format_tag plain_tag(int rank) {
  using tag = dnnl::memory::format_tag;
  switch (rank) {
    case 1: return tag::a;
    case 2: return tag::ab;
    case 3: return tag::abc;
    case 4: return tag::abcd;
    case 5: return tag::abcde;
    case 6: return tag::abcdef;
    default: break;
  }
  HQP_CHECK_MSG(false, fmt::format("rank {} outside 1..6", rank));
  return tag::undef;
}

void append_activation(dnnl::post_ops& ops, Activation activation, float alpha, float beta) {
  using alg = dnnl::algorithm;
  switch (activation) {
    case Activation::kNone: break;
    case Activation::kRelu: ops.append_eltwise(1.0f, alg::eltwise_relu, 0.0f, 0.0f); break;
    case Activation::kClip: ops.append_eltwise(1.0f, alg::eltwise_clip, alpha, beta); break;
    case Activation::kHardSwish: ops.append_eltwise(1.0f, alg::eltwise_hardswish, 0.0f, 0.0f); break;
    case Activation::kHardSigmoid:
      // oneDNN 2.6 has no eltwise_hardsigmoid (3.x adds one): alpha*x + beta, then clip to [0, 1].
      ops.append_eltwise(1.0f, alg::eltwise_linear, alpha, beta);
      ops.append_eltwise(1.0f, alg::eltwise_clip, 0.0f, 1.0f);
      break;
    case Activation::kSigmoid: ops.append_eltwise(1.0f, alg::eltwise_logistic, 0.0f, 0.0f); break;
    case Activation::kLeakyRelu: ops.append_eltwise(1.0f, alg::eltwise_relu, alpha, 0.0f); break;
    case Activation::kTanh: ops.append_eltwise(1.0f, alg::eltwise_tanh, 0.0f, 0.0f); break;
    case Activation::kExp: ops.append_eltwise(1.0f, alg::eltwise_exp, 0.0f, 0.0f); break;
    case Activation::kSqrt: ops.append_eltwise(1.0f, alg::eltwise_sqrt, 0.0f, 0.0f); break;
    case Activation::kGeluErf: ops.append_eltwise(1.0f, alg::eltwise_gelu_erf, 0.0f, 0.0f); break;
    case Activation::kSwish: ops.append_eltwise(1.0f, alg::eltwise_swish, 1.0f, 0.0f); break;
  }
}

int64_t implied_pad_end(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin) {
  const int64_t span = (kernel - 1) * dilation + 1;
  const int64_t needed = (out - 1) * stride + span - in - pad_begin;  // smallest pad_end giving `out`
  // Any pad_end in [needed, needed + stride - 1] gives the same floor; prefer a non-negative one.
  return needed < 0 && needed + stride - 1 >= 0 ? 0 : needed;
}

dnnl::memory prepack(const dnnl::memory::desc& src_md, const void* src, const dnnl::memory::desc& dst_md) {
  Context& context = Context::get();
  context.bind_calling_thread();
  dnnl::memory user(src_md, context.engine(), const_cast<void*>(src));
  dnnl::memory packed(dst_md, context.engine());
  dnnl::reorder(user, packed).execute(context.stream(), user, packed);
  context.stream().wait();
  return packed;
}

bool plain_packing(const dnnl::memory& packed) { return packed.get_desc().data.extra.flags == 0; }

Status unpack(const dnnl::memory& packed, const dnnl::memory::desc& user_md, void* dst) {
  Context& context = Context::get();
  context.bind_calling_thread();
  try {
    dnnl::memory user(user_md, context.engine(), dst);
    dnnl::memory src = packed;
    dnnl::reorder(src, user).execute(context.stream(), src, user);
    context.stream().wait();
  } catch (const dnnl::error& e) {
    return make_error(StatusCode::kInternal, "cannot unpack weights: oneDNN failed ({})", e.what());
  }
  return Status::ok_status();
}

// ---- INT8 helpers ----

std::vector<float> int8_multipliers(const Int8OutputParams& out, const float* wei_scales, int64_t count) {
  std::vector<float> m(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) m[static_cast<size_t>(i)] = int8_output_multiplier(out, wei_scales[i]);
  return m;
}

Status validate_int8_output(std::string_view name, DType src_dtype, const Int8OutputParams& out) {
  if (src_dtype != DType::kU8 && src_dtype != DType::kS8) {
    return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': src dtype not supported (src_dtype={}, "
                      "expected u8 or s8)", name, dtype_name(src_dtype));
  }
  if (out.dst_dtype != DType::kU8 && out.dst_dtype != DType::kS8 && out.dst_dtype != DType::kF32) {
    return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': dst dtype not supported (dst_dtype={}, "
                      "expected u8, s8 or f32)", name, dtype_name(out.dst_dtype));
  }
  const bool u8 = src_dtype == DType::kU8;
  if (out.src_zero_point < (u8 ? kU8Min : kS8Min) || out.src_zero_point > (u8 ? kU8Max : kS8Max)) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': src zero point outside the src dtype "
                      "(src_zero_point={}, expected within {})", name, out.src_zero_point, dtype_name(src_dtype));
  }
  if (!(out.src_scale > 0.0f) || !std::isfinite(out.src_scale)) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': bad src scale (src_scale={}, expected "
                      "finite > 0)", name, out.src_scale);
  }
  if (out.dst_dtype != DType::kF32) {
    const bool du8 = out.dst_dtype == DType::kU8;
    if (!(out.dst_scale > 0.0f) || !std::isfinite(out.dst_scale)) {
      return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': bad dst scale (dst_scale={}, "
                        "expected finite > 0)", name, out.dst_scale);
    }
    if (out.dst_zero_point < (du8 ? kU8Min : kS8Min) || out.dst_zero_point > (du8 ? kU8Max : kS8Max)) {
      return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': dst zero point outside the dst "
                        "dtype (dst_zero_point={}, expected within {})", name, out.dst_zero_point,
                        dtype_name(out.dst_dtype));
    }
    if (out.has_sum && (!(out.sum_scale > 0.0f) || !std::isfinite(out.sum_scale))) {
      return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': bad sum scale (sum_scale={}, "
                        "expected finite > 0)", name, out.sum_scale);
    }
  } else if (out.has_sum && out.sum_zero_point != 0) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': an f32 sum has no zero point "
                      "(sum_zero_point={}, expected 0)", name, out.sum_zero_point);
  }
  if (out.act_min > out.act_max || std::isnan(out.act_min) || std::isnan(out.act_max)) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': empty activation range (act_min={}, "
                      "act_max={}, expected act_min <= act_max)", name, out.act_min, out.act_max);
  }
  return Status::ok_status();
}

// The INT8 epilogue as oneDNN attributes: per-channel output scales (= the multipliers), sum with
// zero point, then for a quantized dst clip(lo - zp, hi - zp), an explicit round half to even, and
// + zp. Rounding before the zero point is what requantize.h specifies; oneDNN's own dst zero point
// is added in FP32 before its final conversion, i.e. round(v + zp), which differs by 1 LSB on exact
// .5 ties with an odd zero point (measured: 72..126 of 288 outputs when the multiplier is 0.5).
// After the clip the value is already inside the dtype range, so the final conversion is exact.
// Output scales are static: oneDNN 2.6 has no INT8 convolution at all with runtime output scales
// (DNNL_RUNTIME_F32_VAL); zero points are runtime arguments (static or runtime dispatch alike).
dnnl::primitive_attr int8_attr(const Int8OutputParams& out, const std::vector<float>& multipliers,
                               bool src_zero_point_attr, int scale_mask) {
  dnnl::primitive_attr attr;
  attr.set_output_scales(scale_mask, multipliers);
  if (src_zero_point_attr) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  dnnl::post_ops ops;
  if (out.has_sum) {
    if (out.dst_dtype == DType::kF32) {
      ops.append_sum(1.0f);
    } else {
      ops.append_sum(int8_sum_multiplier(out), out.sum_zero_point);
    }
  }
  using alg = dnnl::algorithm;
  if (out.dst_dtype == DType::kF32) {
    if (std::isfinite(out.act_min) || std::isfinite(out.act_max)) {
      ops.append_eltwise(1.0f, alg::eltwise_clip, out.act_min, out.act_max);
    }
  } else {
    const Int8Clamp c = int8_output_clamp(out);
    ops.append_eltwise(1.0f, alg::eltwise_clip, static_cast<float>(c.lo - out.dst_zero_point),
                       static_cast<float>(c.hi - out.dst_zero_point));
    ops.append_eltwise(1.0f, alg::eltwise_round, 0.0f, 0.0f);
    // The dst zero point as a post-op on an integer value (exact) rather than oneDNN's dst
    // zero-point attribute, which its 2.6 inner products do not support at all.
    if (out.dst_zero_point != 0) {
      ops.append_eltwise(1.0f, alg::eltwise_linear, 1.0f, static_cast<float>(out.dst_zero_point));
    }
  }
  attr.set_post_ops(ops);
  return attr;
}

void add_int8_key(CacheKey& key, DType src_dtype, const Int8OutputParams& out, const std::vector<float>& multipliers,
                  bool src_zero_point_attr) {
  key.add(static_cast<int64_t>(src_dtype)).add(static_cast<int64_t>(out.dst_dtype));
  key.add(int64_t{src_zero_point_attr}).add(int64_t{out.dst_zero_point}).add(int64_t{out.has_sum});
  key.add(out.has_sum ? int8_sum_multiplier(out) : 0.0f).add(int64_t{out.sum_zero_point});
  if (out.dst_dtype == DType::kF32) {
    key.add(out.act_min).add(out.act_max);
  } else {
    const Int8Clamp c = int8_output_clamp(out);
    key.add(int64_t{c.lo}).add(int64_t{c.hi});
  }
  for (float m : multipliers) key.add(m);
}

// Kernel-owned f32 [count] memory holding runtime output scales.
memory f32_vector_memory(const std::vector<float>& values) {
  memory m(memory::desc({static_cast<int64_t>(values.size())}, memory::data_type::f32, memory::format_tag::a),
           Context::get().engine());
  std::memcpy(m.get_data_handle(), values.data(), values.size() * sizeof(float));
  return m;
}

// 1-element s32 memory holding a runtime zero point.
memory zero_point_memory(int32_t value) {
  memory m(memory::desc({1}, memory::data_type::s32, memory::format_tag::a), Context::get().engine());
  *static_cast<int32_t*>(m.get_data_handle()) = value;
  return m;
}

Status validate_wei_scales(std::string_view name, const float* wei_scales, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    if (!(wei_scales[i] > 0.0f) || !std::isfinite(wei_scales[i])) {
      return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': bad weight scale of output channel "
                        "{} (wei_scale={}, expected finite > 0)", name, i, wei_scales[i]);
    }
  }
  return Status::ok_status();
}

}  // namespace detail

}  // namespace hqp::kernels::onednn
