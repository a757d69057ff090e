// Convolution kernels on oneDNN (FP32 and INT8): descriptor building, weight prepacking and the
// INT8 epilogue as oneDNN attributes. The semantics are those of kernels/ref/conv.h / conv_int8.h.
#include "kernels/onednn/conv_onednn.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <new>
#include <vector>

#include "kernels/onednn/onednn_context.h"

namespace hqp::kernels::onednn {

namespace {

using dnnl::memory;
using detail::CacheKey;
using detail::Context;

// oneDNN shapes of a convolution; `rank` is the spatial rank.
struct ConvGeometry {
  int rank = 2;
  memory::dims src, wei, dst, strides, dilates, pad_l, pad_r;
  bool reads_padding = false;  // some tap of some output lands outside the input
  int64_t dst_numel = 0;
};

ConvGeometry conv_geometry(const ConvParams& p) {
  ConvGeometry g;
  g.rank = p.spatial_rank;
  g.src = {p.batch, p.in_channels};
  g.dst = {p.batch, p.out_channels};
  if (p.groups > 1) {
    g.wei = {p.groups, p.out_channels / p.groups, p.in_channels / p.groups};
  } else {
    g.wei = {p.out_channels, p.in_channels};
  }
  g.dst_numel = p.batch * p.out_channels;
  for (int i = 0; i < p.spatial_rank; ++i) {
    g.src.push_back(p.in_size[i]);
    g.dst.push_back(p.out_size[i]);
    g.wei.push_back(p.kernel[i]);
    g.strides.push_back(p.stride[i]);
    g.dilates.push_back(p.dilation[i] - 1);  // oneDNN counts dilation from 0
    g.pad_l.push_back(p.pad_begin[i]);
    const int64_t pad_r =
        detail::implied_pad_end(p.in_size[i], p.out_size[i], p.kernel[i], p.stride[i], p.dilation[i], p.pad_begin[i]);
    g.pad_r.push_back(pad_r);
    g.reads_padding = g.reads_padding || p.pad_begin[i] > 0 || pad_r > 0;
    g.dst_numel *= p.out_size[i];
  }
  return g;
}

Status validate_conv(std::string_view name, const ConvParams& p) {
  if (p.spatial_rank < 1 || p.spatial_rank > 3) {
    return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': spatial rank not supported (spatial_rank={}, "
                      "expected 1..3)", name, p.spatial_rank);
  }
  if (p.batch < 1 || p.in_channels < 1 || p.out_channels < 1 || p.groups < 1) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': empty conv (batch={}, in_channels={}, "
                      "out_channels={}, groups={}, expected all >= 1)", name, p.batch, p.in_channels, p.out_channels,
                      p.groups);
  }
  if (p.in_channels % p.groups != 0 || p.out_channels % p.groups != 0) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': channels not divisible by groups "
                      "(in_channels={}, out_channels={}, groups={}, expected multiples of groups)", name, p.in_channels,
                      p.out_channels, p.groups);
  }
  for (int i = 0; i < p.spatial_rank; ++i) {
    if (p.in_size[i] < 1 || p.out_size[i] < 1 || p.kernel[i] < 1 || p.stride[i] < 1 || p.dilation[i] < 1 ||
        p.pad_begin[i] < 0) {
      return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': bad spatial dim {} (in={}, out={}, "
                        "kernel={}, stride={}, dilation={}, pad_begin={}, expected sizes >= 1 and pad_begin >= 0)",
                        name, i, p.in_size[i], p.out_size[i], p.kernel[i], p.stride[i], p.dilation[i], p.pad_begin[i]);
    }
  }
  return Status::ok_status();
}

void add_conv_key(CacheKey& key, const ConvParams& p, Layout layout) {
  key.add(p.batch).add(p.in_channels).add(p.out_channels).add(p.groups).add(int64_t{p.spatial_rank});
  for (int i = 0; i < p.spatial_rank; ++i) {
    key.add(p.in_size[i]).add(p.out_size[i]).add(p.kernel[i]).add(p.stride[i]).add(p.dilation[i]).add(p.pad_begin[i]);
  }
  key.add(static_cast<int64_t>(layout)).add(int64_t{Context::get().num_threads()});
}

Status validate_impl_rank(std::string_view name, int impl_rank) {
  if (impl_rank < 0) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': bad implementation rank "
                      "(impl_rank={}, expected >= 0)", name, impl_rank);
  }
  return Status::ok_status();
}

// impl_rank k: oneDNN's k-th implementation after its first choice (primitive_desc::next_impl);
// throws dnnl::error (-> kUnsupported) when the list is shorter.
dnnl::primitive_desc make_conv_pd(const ConvGeometry& g, Layout src_layout, Layout layout, memory::data_type src_dt,
                                  memory::data_type wei_dt, memory::data_type bias_dt, memory::data_type dst_dt,
                                  const dnnl::primitive_attr& attr, int impl_rank) {
  const memory::desc src_md(g.src, src_dt, detail::activation_tag(g.rank + 2, src_layout));
  const memory::desc wei_md(g.wei, wei_dt, memory::format_tag::any);
  const memory::desc bias_md = bias_dt == memory::data_type::undef
                                   ? memory::desc()
                                   : memory::desc({g.dst[1]}, bias_dt, memory::format_tag::a);
  const memory::desc dst_md(g.dst, dst_dt, detail::activation_tag(g.rank + 2, layout));
  const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                             src_md, wei_md, bias_md, dst_md, g.strides, g.dilates, g.pad_l, g.pad_r);
  dnnl::convolution_forward::primitive_desc pd(desc, attr, Context::get().engine());
  for (int i = 0; i < impl_rank; ++i) {
    if (!pd.next_impl()) {
      throw dnnl::error(dnnl_unimplemented, "no implementation of that rank");
    }
  }
  return pd;
}

memory::desc user_weights_md(const ConvGeometry& g, memory::data_type dt) {
  return memory::desc(g.wei, dt, detail::plain_tag(static_cast<int>(g.wei.size())));
}

// ---- FP32 ----

std::shared_ptr<const detail::CachedPrimitive> conv_f32_primitive(const ConvF32OnednnParams& params) {
  CacheKey key(ConvF32Onednn::kName);
  add_conv_key(key, params.conv, params.layout);
  key.add(static_cast<int64_t>(params.src_layout.value_or(params.layout)));
  key.add(int64_t{params.has_bias}).add(int64_t{params.post_ops.has_sum});
  key.add(static_cast<int64_t>(params.post_ops.activation)).add(params.post_ops.alpha).add(params.post_ops.beta);
  return Context::get().get_or_create(key, ConvF32Onednn::kName, [&] {
    const ConvGeometry g = conv_geometry(params.conv);
    dnnl::post_ops ops;
    if (params.post_ops.has_sum) ops.append_sum(1.0f);
    detail::append_activation(ops, params.post_ops.activation, params.post_ops.alpha, params.post_ops.beta);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    using dt = memory::data_type;
    return make_conv_pd(g, params.src_layout.value_or(params.layout), params.layout, dt::f32, dt::f32,
                        params.has_bias ? dt::f32 : dt::undef, dt::f32, attr,
                        /*impl_rank=*/0);
  });
}

bool is_depthwise_conv(const ConvParams& p) {
  return p.groups > 1 && p.in_channels == p.groups && p.out_channels == p.groups;
}

// Weights per output channel: IC/G x the kernel's taps.
int64_t weights_per_oc(const ConvParams& p) {
  int64_t n = p.in_channels / p.groups;
  for (int i = 0; i < p.spatial_rank; ++i) n *= p.kernel[i];
  return n;
}

// params with k times fewer, k times wider groups (the weights of widen_group_weights()).
ConvF32OnednnParams widened_params(const ConvF32OnednnParams& params, int k) {
  ConvF32OnednnParams wide = params;
  wide.conv.groups = params.conv.groups / k;
  wide.group_widening = 1;
  return wide;
}

// Weights [OC, IC/G, taps] <-> widened [OC, k * IC/G, taps]: output channel oc of group g keeps
// its weights in slot g % k of its wider group's input channels (zeros in the others). Where
// row oc starts in the widened weights:
int64_t widened_row_offset(const ConvParams& p, int k, int64_t oc) {
  const int64_t row = weights_per_oc(p), ocg = p.out_channels / p.groups;
  return (oc * k + (oc / ocg) % k) * row;
}

std::vector<float> widen_group_weights(const ConvParams& p, int k, const float* wei) {
  const int64_t row = weights_per_oc(p);
  std::vector<float> wide(static_cast<size_t>(p.out_channels * k * row), 0.0f);
  for (int64_t oc = 0; oc < p.out_channels; ++oc) {
    std::memcpy(wide.data() + widened_row_offset(p, k, oc), wei + oc * row, static_cast<size_t>(row) * sizeof(float));
  }
  return wide;
}

// oneDNN's GEMM-based convolution (im2col + sgemm), e.g. "x64:gemm:jit" / "gemm:jit".
bool is_gemm_convolution(const std::string& impl) {
  return impl.rfind("gemm:", 0) == 0 || impl.find(":gemm:") != std::string::npos;
}

// ConvF32OnednnParams::group_widening = 0: 1 unless oneDNN would run the grouped convolution as
// im2col + GEMM and a 2x or 4x wider grouping has a direct kernel.
int automatic_group_widening(const ConvF32OnednnParams& params) {
  const ConvParams& p = params.conv;
  if (p.groups == 1 || is_depthwise_conv(p)) return 1;
  const std::shared_ptr<const detail::CachedPrimitive> first = conv_f32_primitive(params);
  if (!first->status.ok() || !is_gemm_convolution(first->impl)) return 1;
  for (int k = 2; k <= kMaxGroupWidening && p.groups % k == 0; k *= 2) {
    const std::shared_ptr<const detail::CachedPrimitive> wide = conv_f32_primitive(widened_params(params, k));
    if (wide->status.ok() && !is_gemm_convolution(wide->impl) && wide->impl.rfind("ref", 0) != 0) return k;
  }
  return 1;
}

// ---- INT8 ----

// The src zero point goes to oneDNN only when padding is read; otherwise it is folded into the bias.
bool int8_uses_src_zero_point_attr(const ConvInt8OnednnParams& params) {
  return params.out.src_zero_point != 0 && conv_geometry(params.conv).reads_padding;
}

// Whether the kernel reads its input twice (ConvInt8OnednnParams::exact_without_vnni).
bool int8_doubles_input(const ConvInt8OnednnParams& params) {
  return params.exact_without_vnni && !int8_kernels_exact_on_this_cpu() && !is_depthwise_conv(params.conv);
}

// The convolution oneDNN runs: twice the input channels when the input is doubled.
ConvParams int8_effective_conv(const ConvInt8OnednnParams& params) {
  ConvParams p = params.conv;
  if (int8_doubles_input(params)) p.in_channels *= 2;
  return p;
}

// multipliers: the real per-channel multipliers, or nullopt for an applies() probe (unit
// multipliers: oneDNN dispatches on the scale mask, not the values; no primitive is created).
std::shared_ptr<const detail::CachedPrimitive> conv_int8_primitive(const ConvInt8OnednnParams& params,
                                                                   const std::vector<float>* multipliers) {
  const bool bias_present = params.has_bias || params.out.src_zero_point != 0;
  const std::vector<float> probe(static_cast<size_t>(params.conv.out_channels), 1.0f);
  const std::vector<float>& scales = multipliers != nullptr ? *multipliers : probe;
  const std::string_view name = ConvInt8Onednn::name(params);
  const bool zp_attr = int8_uses_src_zero_point_attr(params);
  const ConvParams conv = int8_effective_conv(params);
  CacheKey key(name);
  key.add(int64_t{multipliers == nullptr});
  add_conv_key(key, conv, params.layout);
  detail::add_int8_key(key, params.src_dtype, params.out, scales, zp_attr);
  key.add(int64_t{bias_present}).add(int64_t{params.impl_rank});
  return Context::get().get_or_create(key, name, [&] {
    const ConvGeometry g = conv_geometry(conv);
    const dnnl::primitive_attr attr = detail::int8_attr(params.out, scales, zp_attr, /*scale_mask=*/1 << 1);
    using dt = memory::data_type;
    return make_conv_pd(g, params.layout, params.layout, detail::to_dnnl(params.src_dtype), dt::s8, bias_present ? dt::s32 : dt::undef,
                        detail::to_dnnl(params.out.dst_dtype), attr, params.impl_rank);
  }, /*create_primitive=*/multipliers != nullptr);
}

// ---- Implementation tuning (see "Implementation choice" in the header) ----

// A zero-filled, 64-byte aligned scratch buffer for timing runs.
struct Scratch {
  explicit Scratch(size_t bytes)
      : data(static_cast<std::byte*>(::operator new[](std::max<size_t>(bytes, 64), std::align_val_t(64)))) {
    std::memset(data, 0, std::max<size_t>(bytes, 64));
  }
  ~Scratch() { ::operator delete[](data, std::align_val_t(64)); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  std::byte* data;
};

// create(rank) -> Result<Kernel>; run(kernel, src, dst) -> Status (dst doubles as the sum input).
template <typename Kernel, typename Create, typename Run>
Result<Kernel> create_fastest_rank(const Create& create, const Run& run, size_t src_bytes, size_t dst_bytes) {
  using Clock = std::chrono::steady_clock;
  std::vector<Kernel> kernels;
  {
    HQP_ASSIGN_OR_RETURN(Kernel first, create(0));
    kernels.push_back(std::move(first));
  }
  Scratch src(src_bytes), dst(dst_bytes);
  auto time_runs = [&](Kernel& k, int runs) -> Result<double> {
    const auto t0 = Clock::now();
    for (int r = 0; r < runs; ++r) HQP_RETURN_IF_ERROR(run(k, src.data, dst.data));
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / runs;
  };
  HQP_RETURN_IF_ERROR(time_runs(kernels[0], 2).status());  // warm-up (first touch, caches)
  HQP_ASSIGN_OR_RETURN(double first_ms, time_runs(kernels[0], 1));
  if (first_ms > kTuneBelowMs) return std::move(kernels[0]);
  // oneDNN lists implementations by ISA, best first: stop at the first one on another ISA.
  const std::string isa(implementation_isa(kernels[0].implementation()));
  for (int rank = 1; static_cast<int>(kernels.size()) < kTuneCandidates; ++rank) {
    Result<Kernel> k = create(rank);
    if (!k.ok()) break;  // the list ended (or reached oneDNN's reference code)
    if (implementation_isa(k->implementation()) != isa) break;
    if (!time_runs(*k, 2).ok()) break;
    kernels.push_back(std::move(*k));
  }
  if (kernels.size() == 1) return std::move(kernels[0]);
  const int runs = std::clamp(static_cast<int>(0.02 / std::max(first_ms, 1e-4)), 2, 50);  // ~20 us per round
  std::vector<std::vector<double>> times(kernels.size());
  for (int round = 0; round < 5; ++round) {
    for (size_t i = 0; i < kernels.size(); ++i) {
      HQP_ASSIGN_OR_RETURN(double ms, time_runs(kernels[i], runs));
      times[i].push_back(ms);
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  size_t best = 0;
  double best_ms = median(times[0]) * 0.95;  // a later rank must beat the first choice by 5 %
  for (size_t i = 1; i < kernels.size(); ++i) {
    const double ms = median(times[i]);
    if (ms < best_ms) {
      best = i;
      best_ms = ms;
    }
  }
  return std::move(kernels[best]);
}

}  // namespace

std::string_view implementation_isa(std::string_view implementation) {
  const size_t colon = implementation.rfind(':');
  return colon == std::string_view::npos ? std::string_view() : implementation.substr(colon + 1);
}

// ---------------- ConvF32Onednn ----------------

ConvF32Onednn::ConvF32Onednn(ConvF32Onednn&&) noexcept = default;
ConvF32Onednn& ConvF32Onednn::operator=(ConvF32Onednn&&) noexcept = default;
ConvF32Onednn::~ConvF32Onednn() = default;

Status ConvF32Onednn::applies(const ConvF32OnednnParams& params) {
  HQP_RETURN_IF_ERROR(validate_conv(kName, params.conv));
  return detail::require_optimized(*conv_f32_primitive(params), kName);
}

Result<ConvF32Onednn> ConvF32Onednn::create(const ConvF32OnednnParams& params, const float* wei, const float* bias) {
  HQP_RETURN_IF_ERROR(applies(params));
  const ConvParams& p = params.conv;
  const int k = params.group_widening == 0 ? automatic_group_widening(params) : params.group_widening;
  if (k < 1 || (k > 1 && (p.groups % k != 0 || is_depthwise_conv(p)))) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': bad group widening (group_widening={}, "
                      "groups={}, in_channels={}, out_channels={}, expected 0, 1 or a divisor of a non-depthwise "
                      "conv's groups)", kName, params.group_widening, p.groups, p.in_channels, p.out_channels);
  }
  ConvF32Onednn kernel;
  kernel.params_ = params;
  kernel.widening_ = k;
  kernel.dst_bytes_ = conv_geometry(p).dst_numel * static_cast<int64_t>(sizeof(float));
  const ConvF32OnednnParams run_params = k > 1 ? widened_params(params, k) : params;
  std::shared_ptr<const detail::CachedPrimitive> primitive = conv_f32_primitive(run_params);
  HQP_RETURN_IF_ERROR(detail::require_optimized(*primitive, kName));
  kernel.implementation_ = k > 1 ? fmt::format("{}, groups x{}", primitive->impl, k) : primitive->impl;
  const std::vector<float> wide = k > 1 ? widen_group_weights(p, k, wei) : std::vector<float>();
  kernel.exec_ = detail::bind_weighted(std::move(primitive), user_weights_md(conv_geometry(run_params.conv),
                                                                             memory::data_type::f32),
                                      k > 1 ? wide.data() : wei, params.has_bias ? bias : nullptr);
  return kernel;
}

Status ConvF32Onednn::run(const float* src, const float* sum, float* dst) {
  if (params_.post_ops.has_sum && sum != dst) std::memcpy(dst, sum, static_cast<size_t>(dst_bytes_));
  exec_->bind(DNNL_ARG_SRC, src);
  exec_->bind(DNNL_ARG_DST, dst);
  return exec_->execute(kName);
}

int64_t ConvF32Onednn::packed_weight_bytes() const { return exec_->owned_bytes(); }

Status ConvF32Onednn::unpack_weights(float* wei) const {
  if (widening_ == 1) {
    return detail::unpack(exec_->args.at(DNNL_ARG_WEIGHTS),
                          user_weights_md(conv_geometry(params_.conv), memory::data_type::f32), wei);
  }
  // The widened weights, then each output channel's own group's slice of its row.
  const ConvParams& p = params_.conv;
  const ConvParams wide_conv = widened_params(params_, widening_).conv;
  const int64_t row = weights_per_oc(p);
  std::vector<float> wide(static_cast<size_t>(p.out_channels * widening_ * row));
  HQP_RETURN_IF_ERROR(detail::unpack(exec_->args.at(DNNL_ARG_WEIGHTS),
                                     user_weights_md(conv_geometry(wide_conv), memory::data_type::f32), wide.data()));
  for (int64_t oc = 0; oc < p.out_channels; ++oc) {
    std::memcpy(wei + oc * row, wide.data() + widened_row_offset(p, widening_, oc),
                static_cast<size_t>(row) * sizeof(float));
  }
  return Status::ok_status();
}

Status ConvF32Onednn::unpack_bias(float* bias) const {
  const dnnl::memory& b = exec_->args.at(DNNL_ARG_BIAS);
  return detail::unpack(b, b.get_desc(), bias);
}

// ---------------- ConvInt8Onednn ----------------

ConvInt8Onednn::ConvInt8Onednn(ConvInt8Onednn&&) noexcept = default;
ConvInt8Onednn& ConvInt8Onednn::operator=(ConvInt8Onednn&&) noexcept = default;
ConvInt8Onednn::~ConvInt8Onednn() = default;

std::string_view ConvInt8Onednn::name(const ConvInt8OnednnParams& params) {
  return params.src_dtype == DType::kS8 ? "conv_s8s8__onednn" : "conv_u8s8__onednn";
}

Status ConvInt8Onednn::applies(const ConvInt8OnednnParams& params) {
  const std::string_view kernel_name = name(params);
  HQP_RETURN_IF_ERROR(validate_conv(kernel_name, params.conv));
  HQP_RETURN_IF_ERROR(validate_impl_rank(kernel_name, params.impl_rank));
  HQP_RETURN_IF_ERROR(detail::validate_int8_output(kernel_name, params.src_dtype, params.out));
  if (!int8_kernels_exact_on_this_cpu()) {
    if (!params.exact_without_vnni) HQP_RETURN_IF_ERROR(detail::require_exact_int8(kernel_name));
    if (params.src_dtype != DType::kU8) {
      return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': s8 input on a CPU without VNNI "
                        "(oneDNN halves its weights there; expected u8)", kernel_name);
    }
  }
  return detail::require_optimized(*conv_int8_primitive(params, nullptr), kernel_name);
}

std::string ConvInt8Onednn::probe_implementation(const ConvInt8OnednnParams& params) {
  return conv_int8_primitive(params, nullptr)->impl;
}

Result<ConvInt8Onednn> ConvInt8Onednn::create(const ConvInt8OnednnParams& params, const int8_t* wei,
                                              const float* wei_scales, const int32_t* bias) {
  const std::string_view kernel_name = name(params);
  const ConvParams& p = params.conv;
  // Argument errors before applies(), which also refuses CPUs without VNNI.
  HQP_RETURN_IF_ERROR(validate_conv(kernel_name, p));
  HQP_RETURN_IF_ERROR(detail::validate_wei_scales(kernel_name, wei_scales, p.out_channels));
  HQP_RETURN_IF_ERROR(applies(params));
  const ConvGeometry g = conv_geometry(p);
  const bool zp_attr = int8_uses_src_zero_point_attr(params);
  // bias' = bias - src_zp * sum(wei[oc]) when the zero point is folded (no tap reads padding).
  std::vector<int32_t> folded_bias;
  const bool fold = params.out.src_zero_point != 0 && !zp_attr;
  if (fold) {
    const int64_t per_oc = weights_per_oc(p);
    folded_bias.resize(static_cast<size_t>(p.out_channels));
    for (int64_t oc = 0; oc < p.out_channels; ++oc) {
      int32_t wsum = 0;
      for (int64_t i = 0; i < per_oc; ++i) wsum += wei[oc * per_oc + i];
      folded_bias[static_cast<size_t>(oc)] = (params.has_bias ? bias[oc] : 0) - params.out.src_zero_point * wsum;
    }
  }
  const bool bias_present = params.has_bias || params.out.src_zero_point != 0;
  const std::vector<float> multipliers = detail::int8_multipliers(params.out, wei_scales, p.out_channels);
  const int64_t per_oc_taps = weights_per_oc(p);
  if (!int8_kernels_exact_on_this_cpu()) {
    for (int64_t oc = 0; oc < p.out_channels; ++oc) {
      int64_t abs_sum = 0;
      for (int64_t i = 0; i < per_oc_taps; ++i) abs_sum += std::abs(static_cast<int32_t>(wei[oc * per_oc_taps + i]));
      const int64_t b = fold ? folded_bias[static_cast<size_t>(oc)] : (params.has_bias ? bias[oc] : 0);
      HQP_RETURN_IF_ERROR(detail::require_float_exact_sums(kernel_name, oc, abs_sum, b));
    }
  }
  // The weights oneDNN gets: as given, or halved along K against the doubled input.
  const bool doubled = int8_doubles_input(params);
  std::vector<int8_t> halved;
  if (doubled) {
    const int64_t icg = p.in_channels / p.groups, taps = per_oc_taps / icg;
    halved.resize(static_cast<size_t>(2 * p.out_channels * per_oc_taps));
    for (int64_t oc = 0; oc < p.out_channels; ++oc) {
      for (int64_t i = 0; i < icg; ++i) {
        for (int64_t t = 0; t < taps; ++t) {
          const int8_t w = wei[(oc * icg + i) * taps + t];
          halved[static_cast<size_t>((oc * 2 * icg + i) * taps + t)] = detail::weight_half(w, 0);
          halved[static_cast<size_t>((oc * 2 * icg + icg + i) * taps + t)] = detail::weight_half(w, 1);
        }
      }
    }
  }

  ConvInt8Onednn kernel;
  kernel.params_ = params;
  kernel.dst_bytes_ = g.dst_numel * static_cast<int64_t>(dtype_size(params.out.dst_dtype));
  std::shared_ptr<const detail::CachedPrimitive> primitive = conv_int8_primitive(params, &multipliers);
  HQP_RETURN_IF_ERROR(detail::require_optimized(*primitive, kernel_name));
  std::vector<int32_t> zeros;
  const int32_t* bias_data = nullptr;
  if (bias_present) {
    bias_data = fold ? folded_bias.data() : bias;
    if (bias_data == nullptr) {
      zeros.assign(static_cast<size_t>(p.out_channels), 0);
      bias_data = zeros.data();
    }
  }
  if (doubled) {
    const ConvGeometry g2 = conv_geometry(int8_effective_conv(params));
    kernel.exec_ = detail::bind_weighted(std::move(primitive), user_weights_md(g2, memory::data_type::s8),
                                         halved.data(), bias_data);
    int64_t src_numel = 1;
    for (int64_t d : g2.src) src_numel *= d;
    kernel.doubled_src_.resize(static_cast<size_t>(src_numel));
    kernel.unpackable_ = false;
  } else {
    kernel.exec_ = detail::bind_weighted(std::move(primitive), user_weights_md(g, memory::data_type::s8), wei, bias_data);
    kernel.unpackable_ = detail::plain_packing(kernel.exec_->args.at(DNNL_ARG_WEIGHTS));
  }
  if (zp_attr) kernel.exec_->args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = detail::zero_point_memory(params.out.src_zero_point);
  return kernel;
}

Result<ConvInt8Onednn> ConvInt8Onednn::create_fastest(const ConvInt8OnednnParams& params, const int8_t* wei,
                                                      const float* wei_scales, const int32_t* bias) {
  const ConvGeometry g = conv_geometry(params.conv);
  int64_t src_numel = 1;
  for (int64_t d : g.src) src_numel *= d;
  auto create_rank = [&](int rank) {
    ConvInt8OnednnParams p = params;
    p.impl_rank = rank;
    return create(p, wei, wei_scales, bias);
  };
  auto run_once = [](ConvInt8Onednn& k, std::byte* src, std::byte* dst) { return k.run(src, dst, dst); };
  return create_fastest_rank<ConvInt8Onednn>(
      create_rank, run_once, static_cast<size_t>(src_numel) * dtype_size(params.src_dtype),
      static_cast<size_t>(g.dst_numel) * dtype_size(params.out.dst_dtype));
}

Status ConvInt8Onednn::run(const void* src, const void* sum, void* dst) {
  if (params_.out.has_sum && sum != dst) std::memcpy(dst, sum, static_cast<size_t>(dst_bytes_));
  if (!doubled_src_.empty()) {
    // [rows, G, IC/G] -> [rows, G, 2, IC/G]: each group's channels twice (NHWC).
    const int64_t icg = params_.conv.in_channels / params_.conv.groups;
    const int64_t chunks = static_cast<int64_t>(doubled_src_.size()) / (2 * icg);
    const auto* x = static_cast<const uint8_t*>(src);
    uint8_t* y = doubled_src_.data();
    for (int64_t i = 0; i < chunks; ++i, x += icg, y += 2 * icg) {
      std::memcpy(y, x, static_cast<size_t>(icg));
      std::memcpy(y + icg, x, static_cast<size_t>(icg));
    }
    src = doubled_src_.data();
  }
  exec_->bind(DNNL_ARG_SRC, src);
  exec_->bind(DNNL_ARG_DST, dst);
  return exec_->execute(name(params_));
}

const std::string& ConvInt8Onednn::implementation() const { return exec_->cached->impl; }

int64_t ConvInt8Onednn::packed_weight_bytes() const {
  return exec_->owned_bytes() + static_cast<int64_t>(doubled_src_.size());
}

Status ConvInt8Onednn::unpack_weights(int8_t* wei) const {
  if (!unpackable_) {
    return make_error(StatusCode::kInternal, "cannot unpack weights of kernel '{}': compensated", name(params_));
  }
  return detail::unpack(exec_->args.at(DNNL_ARG_WEIGHTS),
                        user_weights_md(conv_geometry(params_.conv), memory::data_type::s8), wei);
}

Status ConvInt8Onednn::unpack_bias(int32_t* bias) const {
  const ConvParams& p = params_.conv;
  if (!params_.has_bias) {
    return make_error(StatusCode::kInternal, "cannot unpack bias of kernel '{}': it has none", name(params_));
  }
  const dnnl::memory& b = exec_->args.at(DNNL_ARG_BIAS);
  HQP_RETURN_IF_ERROR(detail::unpack(b, b.get_desc(), bias));
  const bool folded = params_.out.src_zero_point != 0 && !int8_uses_src_zero_point_attr(params_);
  if (!folded) return Status::ok_status();
  // create() stored bias - src_zp * sum(wei[oc]): add the product back.
  const int64_t per_oc = weights_per_oc(p);
  std::vector<int8_t> wei(static_cast<size_t>(p.out_channels * per_oc));
  HQP_RETURN_IF_ERROR(unpack_weights(wei.data()));
  for (int64_t oc = 0; oc < p.out_channels; ++oc) {
    int32_t wsum = 0;
    for (int64_t i = 0; i < per_oc; ++i) wsum += wei[static_cast<size_t>(oc * per_oc + i)];
    bias[oc] += params_.out.src_zero_point * wsum;
  }
  return Status::ok_status();
}

// ---------------- ConvInt8AccOnednn ----------------

namespace {

constexpr int64_t kExactFloatIntegers = int64_t{1} << 24;

// The convolution oneDNN runs: `splits` slices of each group's input channels, each a group of
// its own whose outputs are `halves` x OC/G channels.
ConvParams pieces_conv(const ConvParams& p, int halves, int64_t splits) {
  ConvParams q = p;
  q.groups = p.groups * splits;
  q.out_channels = p.out_channels * splits * halves;
  return q;
}

// Weight piece h of w: detail::weight_half, or w itself when halves == 1.
int32_t weight_piece(int8_t w, int halves, int h) { return halves == 1 ? w : detail::weight_half(w, h); }

bool acc_uses_zero_point_attr(const ConvInt8AccOnednnParams& params) {
  return params.src_zero_point != 0 && conv_geometry(params.conv).reads_padding;
}

std::shared_ptr<const detail::CachedPrimitive> conv_acc_primitive(const ConvInt8AccOnednnParams& params, int halves,
                                                                  int64_t splits, bool create_primitive) {
  const ConvParams q = pieces_conv(params.conv, halves, splits);
  const bool zp_attr = acc_uses_zero_point_attr(params);
  const bool bias_present = params.src_zero_point != 0 && !zp_attr;
  CacheKey key(ConvInt8AccOnednn::kName);
  key.add(int64_t{create_primitive});
  add_conv_key(key, q, Layout::kNhwc);
  key.add(int64_t{zp_attr}).add(int64_t{bias_present});
  return Context::get().get_or_create(key, ConvInt8AccOnednn::kName, [&] {
    dnnl::primitive_attr attr;
    if (zp_attr) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    using dt = memory::data_type;
    return make_conv_pd(conv_geometry(q), Layout::kNhwc, Layout::kNhwc, dt::u8, dt::s8, bias_present ? dt::s32 : dt::undef, dt::s32,
                        attr, /*impl_rank=*/0);
  }, create_primitive);
}

}  // namespace

ConvInt8AccOnednn::ConvInt8AccOnednn(ConvInt8AccOnednn&&) noexcept = default;
ConvInt8AccOnednn& ConvInt8AccOnednn::operator=(ConvInt8AccOnednn&&) noexcept = default;
ConvInt8AccOnednn::~ConvInt8AccOnednn() = default;

Status ConvInt8AccOnednn::applies(const ConvInt8AccOnednnParams& params) {
  HQP_RETURN_IF_ERROR(validate_conv(kName, params.conv));
  if (params.src_zero_point < 0 || params.src_zero_point > 255) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': bad src zero point ({}, expected "
                      "0..255 for u8)", kName, params.src_zero_point);
  }
  const int halves = is_depthwise_conv(params.conv) ? 1 : 2;
  return detail::require_optimized(*conv_acc_primitive(params, halves, 1, /*create_primitive=*/false), kName);
}

Result<ConvInt8AccOnednn> ConvInt8AccOnednn::create(const ConvInt8AccOnednnParams& params, const int8_t* wei) {
  HQP_RETURN_IF_ERROR(applies(params));
  const ConvParams& p = params.conv;
  const int halves = is_depthwise_conv(p) ? 1 : 2;
  const int64_t groups = p.groups, icg = p.in_channels / groups, ocg = p.out_channels / groups;
  const int64_t taps = weights_per_oc(p) / icg;
  // The fewest input-channel slices for which every piece's partial sums stay exact in FP32.
  auto fits = [&](int64_t splits) {
    const int64_t ics = icg / splits;
    for (int64_t oc = 0; oc < p.out_channels; ++oc) {
      for (int64_t s = 0; s < splits; ++s) {
        for (int h = 0; h < halves; ++h) {
          int64_t sum = 0;
          for (int64_t i = s * ics * taps; i < (s + 1) * ics * taps; ++i) {
            sum += std::abs(weight_piece(wei[oc * icg * taps + i], halves, h));
          }
          if (255 * sum > kExactFloatIntegers) return false;
        }
      }
    }
    return true;
  };
  int64_t splits = 0;
  for (int64_t s = 1; s <= icg; ++s) {
    if (icg % s == 0 && fits(s)) {
      splits = s;
      break;
    }
  }
  if (splits == 0) {
    return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': no split of the {} input channels "
                      "keeps 255 * sum|w| <= 2^24 (kernel of {} taps)", kName, icg, taps);
  }
  // Pieces in oneDNN's grouped layout [groups * splits, halves * OC/G, IC/G / splits, taps], with
  // their bias -src_zp * sum(piece) when the zero point is folded.
  const int64_t ics = icg / splits;
  const ConvParams q = pieces_conv(p, halves, splits);
  std::vector<int8_t> pieces(static_cast<size_t>(q.out_channels * ics * taps));
  const bool zp_attr = acc_uses_zero_point_attr(params);
  const bool fold = params.src_zero_point != 0 && !zp_attr;
  std::vector<int32_t> bias(fold ? static_cast<size_t>(q.out_channels) : 0);
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t s = 0; s < splits; ++s) {
      for (int h = 0; h < halves; ++h) {
        for (int64_t j = 0; j < ocg; ++j) {
          const int64_t piece_oc = ((g * splits + s) * halves + h) * ocg + j;
          const int8_t* w = wei + ((g * ocg + j) * icg + s * ics) * taps;
          int32_t wsum = 0;
          for (int64_t i = 0; i < ics * taps; ++i) {
            const int32_t v = weight_piece(w[i], halves, h);
            pieces[static_cast<size_t>(piece_oc * ics * taps + i)] = static_cast<int8_t>(v);
            wsum += v;
          }
          if (fold) bias[static_cast<size_t>(piece_oc)] = -params.src_zero_point * wsum;
        }
      }
    }
  }
  ConvInt8AccOnednn kernel;
  kernel.params_ = params;
  kernel.halves_ = halves;
  kernel.ic_splits_ = static_cast<int>(splits);
  kernel.rows_ = conv_geometry(p).dst_numel / p.out_channels;
  // Pieces left side by side (output_pieces() == 2) or added by run() from a scratch buffer.
  const bool side_by_side = groups == 1 && splits == 1;
  if (halves * splits > 1 && !side_by_side) kernel.pieces_.resize(static_cast<size_t>(kernel.rows_ * q.out_channels));
  std::shared_ptr<const detail::CachedPrimitive> primitive = conv_acc_primitive(params, halves, splits, true);
  HQP_RETURN_IF_ERROR(detail::require_optimized(*primitive, kName));
  kernel.exec_ = detail::bind_weighted(std::move(primitive), user_weights_md(conv_geometry(q), memory::data_type::s8),
                                       pieces.data(), fold ? bias.data() : nullptr);
  if (zp_attr) kernel.exec_->args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = detail::zero_point_memory(params.src_zero_point);
  return kernel;
}

Status ConvInt8AccOnednn::run(const uint8_t* src, int32_t* acc) {
  exec_->bind(DNNL_ARG_SRC, src);
  if (pieces_.empty()) {
    exec_->bind(DNNL_ARG_DST, acc);
    return exec_->execute(kName);
  }
  exec_->bind(DNNL_ARG_DST, pieces_.data());
  HQP_RETURN_IF_ERROR(exec_->execute(kName));
  // acc[r, g, j] = sum over the pieces (s, h) of pieces[r, g, s, h, j], in int32.
  const ConvParams& p = params_.conv;
  const int64_t ocg = p.out_channels / p.groups, per_group = int64_t{halves_} * ic_splits_;
  const int32_t* src_row = pieces_.data();
  for (int64_t r = 0; r < rows_; ++r) {
    for (int64_t g = 0; g < p.groups; ++g) {
      int32_t* out = acc + g * ocg;
      const int32_t* in = src_row + g * per_group * ocg;
      for (int64_t j = 0; j < ocg; ++j) out[j] = in[j];
      for (int64_t q = 1; q < per_group; ++q) {
        const int32_t* piece = in + q * ocg;
        for (int64_t j = 0; j < ocg; ++j) out[j] += piece[j];
      }
    }
    acc += p.out_channels;
    src_row += p.out_channels * per_group;
  }
  return Status::ok_status();
}

const std::string& ConvInt8AccOnednn::implementation() const { return exec_->cached->impl; }

int64_t ConvInt8AccOnednn::packed_weight_bytes() const {
  return exec_->owned_bytes() + static_cast<int64_t>(pieces_.size() * sizeof(int32_t));
}

}  // namespace hqp::kernels::onednn
