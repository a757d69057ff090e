// Inner-product kernels on oneDNN (FP32 and INT8): descriptors, weight prepacking, INT8 epilogue
// via the shared attributes of onednn_context.h. Semantics: kernels/ref/gemm.h and gemm_int8.h.
#include "kernels/onednn/gemm_onednn.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/onednn/onednn_context.h"

namespace hqp::kernels::onednn {

namespace {

using dnnl::memory;
using detail::CacheKey;
using detail::Context;

Status validate_gemm(std::string_view name, int64_t m, int64_t n, int64_t k) {
  if (m < 1 || n < 1 || k < 1) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot create kernel '{}': empty gemm (m={}, n={}, k={}, expected all >= 1)", name, m, n, k);
  }
  return Status::ok_status();
}

// plain_weights: the weights stay row-major [N, K] instead of oneDNN's choice (format any: blocked).
dnnl::primitive_desc make_ip_pd(int64_t m, int64_t n, int64_t k, memory::data_type src_dt, memory::data_type wei_dt,
                                memory::data_type bias_dt, memory::data_type dst_dt, const dnnl::primitive_attr& attr,
                                bool plain_weights = false) {
  using tag = memory::format_tag;
  const memory::desc src_md({m, k}, src_dt, tag::ab);
  const memory::desc wei_md({n, k}, wei_dt, plain_weights ? tag::ab : tag::any);
  const memory::desc bias_md = bias_dt == memory::data_type::undef ? memory::desc() : memory::desc({n}, bias_dt, tag::a);
  const memory::desc dst_md({m, n}, dst_dt, tag::ab);
  const dnnl::inner_product_forward::desc desc(dnnl::prop_kind::forward_inference, src_md, wei_md, bias_md, dst_md);
  return dnnl::inner_product_forward::primitive_desc(desc, attr, Context::get().engine());
}

// The user's weights as oneDNN's [N, K] ("oi"): row-major [N, K] when trans_b, else [K, N] ("io").
memory::desc user_weights_md(int64_t n, int64_t k, bool trans_b, memory::data_type dt) {
  return memory::desc({n, k}, dt, trans_b ? memory::format_tag::ab : memory::format_tag::ba);
}

std::shared_ptr<const detail::CachedPrimitive> gemm_f32_primitive(const GemmF32OnednnParams& p) {
  CacheKey key(GemmF32Onednn::kName);
  key.add(p.m).add(p.n).add(p.k).add(int64_t{p.has_bias}).add(int64_t{p.post_ops.has_sum});
  key.add(static_cast<int64_t>(p.post_ops.activation)).add(p.post_ops.alpha).add(p.post_ops.beta);
  key.add(int64_t{Context::get().num_threads()});
  return Context::get().get_or_create(key, GemmF32Onednn::kName, [&] {
    dnnl::post_ops ops;
    if (p.post_ops.has_sum) ops.append_sum(1.0f);
    detail::append_activation(ops, p.post_ops.activation, p.post_ops.alpha, p.post_ops.beta);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    using dt = memory::data_type;
    return make_ip_pd(p.m, p.n, p.k, dt::f32, dt::f32, p.has_bias ? dt::f32 : dt::undef, dt::f32, attr,
                      GemmF32Onednn::plain_weights(p));
  });
}

// multipliers == nullptr: an applies() probe (unit multipliers, descriptor only).
// Whether the kernel reads its input twice (GemmInt8OnednnParams::exact_without_vnni).
bool gemm_doubles_input(const GemmInt8OnednnParams& p) {
  return p.exact_without_vnni && !int8_kernels_exact_on_this_cpu();
}

std::shared_ptr<const detail::CachedPrimitive> gemm_int8_primitive(const GemmInt8OnednnParams& params,
                                                                   const std::vector<float>* multipliers) {
  GemmInt8OnednnParams p = params;  // the inner product oneDNN runs: K doubled with the input
  if (gemm_doubles_input(params)) p.k *= 2;
  const std::string_view name = GemmInt8Onednn::name(p);
  const bool bias_present = p.has_bias || p.out.src_zero_point != 0;
  const std::vector<float> probe(static_cast<size_t>(p.n), 1.0f);
  const std::vector<float>& scales = multipliers != nullptr ? *multipliers : probe;
  CacheKey key(name);
  key.add(int64_t{multipliers == nullptr}).add(p.m).add(p.n).add(p.k).add(int64_t{bias_present});
  detail::add_int8_key(key, p.src_dtype, p.out, scales, /*src_zero_point_attr=*/false);
  key.add(int64_t{Context::get().num_threads()});
  return Context::get().get_or_create(key, name, [&] {
    const dnnl::primitive_attr attr = detail::int8_attr(p.out, scales, false, /*scale_mask=*/1 << 1);
    using dt = memory::data_type;
    return make_ip_pd(p.m, p.n, p.k, detail::to_dnnl(p.src_dtype), dt::s8, bias_present ? dt::s32 : dt::undef,
                      detail::to_dnnl(p.out.dst_dtype), attr);
  }, /*create_primitive=*/multipliers != nullptr);
}

int64_t dst_bytes(int64_t m, int64_t n, DType dtype) { return m * n * static_cast<int64_t>(dtype_size(dtype)); }

}  // namespace

// ---------------- GemmF32Onednn ----------------

GemmF32Onednn::GemmF32Onednn(GemmF32Onednn&&) noexcept = default;
GemmF32Onednn& GemmF32Onednn::operator=(GemmF32Onednn&&) noexcept = default;
GemmF32Onednn::~GemmF32Onednn() = default;

bool GemmF32Onednn::plain_weights(const GemmF32OnednnParams& params) {
  return params.m <= kStreamingMaxRows && params.n * params.k * static_cast<int64_t>(sizeof(float)) >= kStreamingMinWeightBytes;
}

Status GemmF32Onednn::applies(const GemmF32OnednnParams& params) {
  HQP_RETURN_IF_ERROR(validate_gemm(kName, params.m, params.n, params.k));
  return detail::require_optimized(*gemm_f32_primitive(params), kName);
}

Result<GemmF32Onednn> GemmF32Onednn::create(const GemmF32OnednnParams& params, const float* wei, const float* bias) {
  HQP_RETURN_IF_ERROR(applies(params));
  GemmF32Onednn kernel;
  kernel.params_ = params;
  kernel.exec_ = detail::bind_weighted(gemm_f32_primitive(params),
                                      user_weights_md(params.n, params.k, params.trans_b, memory::data_type::f32), wei,
                                      params.has_bias ? bias : nullptr);
  return kernel;
}

Status GemmF32Onednn::run(const float* src, const float* sum, float* dst) {
  if (params_.post_ops.has_sum && sum != dst) {
    std::memcpy(dst, sum, static_cast<size_t>(dst_bytes(params_.m, params_.n, DType::kF32)));
  }
  exec_->bind(DNNL_ARG_SRC, src);
  exec_->bind(DNNL_ARG_DST, dst);
  return exec_->execute(kName);
}

const std::string& GemmF32Onednn::implementation() const { return exec_->cached->impl; }

int64_t GemmF32Onednn::packed_weight_bytes() const { return exec_->owned_bytes(); }

Status GemmF32Onednn::unpack_weights(float* wei) const {
  return detail::unpack(exec_->args.at(DNNL_ARG_WEIGHTS),
                        user_weights_md(params_.n, params_.k, params_.trans_b, memory::data_type::f32), wei);
}

Status GemmF32Onednn::unpack_bias(float* bias) const {
  const dnnl::memory& b = exec_->args.at(DNNL_ARG_BIAS);
  return detail::unpack(b, b.get_desc(), bias);
}

// ---------------- GemmInt8Onednn ----------------

GemmInt8Onednn::GemmInt8Onednn(GemmInt8Onednn&&) noexcept = default;
GemmInt8Onednn& GemmInt8Onednn::operator=(GemmInt8Onednn&&) noexcept = default;
GemmInt8Onednn::~GemmInt8Onednn() = default;

std::string_view GemmInt8Onednn::name(const GemmInt8OnednnParams& params) {
  return params.src_dtype == DType::kS8 ? "gemm_s8s8__onednn" : "gemm_u8s8__onednn";
}

Status GemmInt8Onednn::applies(const GemmInt8OnednnParams& params) {
  const std::string_view kernel_name = name(params);
  HQP_RETURN_IF_ERROR(validate_gemm(kernel_name, params.m, params.n, params.k));
  HQP_RETURN_IF_ERROR(detail::validate_int8_output(kernel_name, params.src_dtype, params.out));
  if (!int8_kernels_exact_on_this_cpu()) {
    if (!params.exact_without_vnni) HQP_RETURN_IF_ERROR(detail::require_exact_int8(kernel_name));
    if (params.src_dtype != DType::kU8) {
      return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': s8 input on a CPU without VNNI "
                        "(oneDNN halves its weights there; expected u8)", kernel_name);
    }
  }
  return detail::require_optimized(*gemm_int8_primitive(params, nullptr), kernel_name);
}

Result<GemmInt8Onednn> GemmInt8Onednn::create(const GemmInt8OnednnParams& params, const int8_t* wei,
                                              const float* wei_scales, const int32_t* bias) {
  const std::string_view kernel_name = name(params);
  const int64_t n = params.n, k = params.k;
  // Argument errors before applies(), which also refuses CPUs without VNNI.
  HQP_RETURN_IF_ERROR(validate_gemm(kernel_name, params.m, n, k));
  HQP_RETURN_IF_ERROR(detail::validate_wei_scales(kernel_name, wei_scales, n));
  HQP_RETURN_IF_ERROR(applies(params));
  const std::vector<float> multipliers = detail::int8_multipliers(params.out, wei_scales, n);
  const bool bias_present = params.has_bias || params.out.src_zero_point != 0;
  // bias'[j] = bias[j] - src_zero_point * sum_k wei[j, k]   (exact in int32)
  std::vector<int32_t> folded(static_cast<size_t>(n), 0);
  for (int64_t j = 0; j < n; ++j) {
    int32_t wsum = 0;
    for (int64_t kk = 0; kk < k; ++kk) wsum += params.trans_b ? wei[j * k + kk] : wei[kk * n + j];
    folded[static_cast<size_t>(j)] = (params.has_bias ? bias[j] : 0) - params.out.src_zero_point * wsum;
  }

  auto w_at = [&](int64_t j, int64_t kk) { return params.trans_b ? wei[j * k + kk] : wei[kk * n + j]; };
  if (!int8_kernels_exact_on_this_cpu()) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t abs_sum = 0;
      for (int64_t kk = 0; kk < k; ++kk) abs_sum += std::abs(static_cast<int32_t>(w_at(j, kk)));
      HQP_RETURN_IF_ERROR(detail::require_float_exact_sums(kernel_name, j, abs_sum, folded[static_cast<size_t>(j)]));
    }
  }
  const bool doubled = gemm_doubles_input(params);
  std::vector<int8_t> halved;
  if (doubled) {  // [N, 2K] = [w - w/2 | w/2] (or its transpose [2K, N])
    halved.resize(static_cast<size_t>(2 * n * k));
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t kk = 0; kk < k; ++kk) {
        const size_t lo = static_cast<size_t>(params.trans_b ? j * 2 * k + kk : kk * n + j);
        const size_t hi = static_cast<size_t>(params.trans_b ? j * 2 * k + k + kk : (k + kk) * n + j);
        halved[lo] = detail::weight_half(w_at(j, kk), 0);
        halved[hi] = detail::weight_half(w_at(j, kk), 1);
      }
    }
  }

  GemmInt8Onednn kernel;
  kernel.params_ = params;
  std::shared_ptr<const detail::CachedPrimitive> primitive = gemm_int8_primitive(params, &multipliers);
  HQP_RETURN_IF_ERROR(detail::require_optimized(*primitive, kernel_name));
  const int64_t k_run = doubled ? 2 * k : k;
  kernel.exec_ = detail::bind_weighted(std::move(primitive),
                                       user_weights_md(n, k_run, params.trans_b, memory::data_type::s8),
                                       doubled ? halved.data() : wei, bias_present ? folded.data() : nullptr);
  kernel.unpackable_ = !doubled && detail::plain_packing(kernel.exec_->args.at(DNNL_ARG_WEIGHTS));
  if (doubled) kernel.doubled_src_.resize(static_cast<size_t>(params.m * 2 * k));
  return kernel;
}

Status GemmInt8Onednn::run(const void* src, const void* sum, void* dst) {
  if (params_.out.has_sum && sum != dst) {
    std::memcpy(dst, sum, static_cast<size_t>(dst_bytes(params_.m, params_.n, params_.out.dst_dtype)));
  }
  if (!doubled_src_.empty()) {  // [M, K] -> [M, 2K] = [x | x]
    const auto* x = static_cast<const uint8_t*>(src);
    const size_t k = static_cast<size_t>(params_.k);
    for (int64_t i = 0; i < params_.m; ++i) {
      std::memcpy(&doubled_src_[static_cast<size_t>(i) * 2 * k], x + static_cast<size_t>(i) * k, k);
      std::memcpy(&doubled_src_[static_cast<size_t>(i) * 2 * k + k], x + static_cast<size_t>(i) * k, k);
    }
    src = doubled_src_.data();
  }
  exec_->bind(DNNL_ARG_SRC, src);
  exec_->bind(DNNL_ARG_DST, dst);
  return exec_->execute(name(params_));
}

const std::string& GemmInt8Onednn::implementation() const { return exec_->cached->impl; }

int64_t GemmInt8Onednn::packed_weight_bytes() const {
  return exec_->owned_bytes() + static_cast<int64_t>(doubled_src_.size());
}

Status GemmInt8Onednn::unpack_weights(int8_t* wei) const {
  if (!unpackable_) {
    return make_error(StatusCode::kInternal, "cannot unpack weights of kernel '{}': compensated", name(params_));
  }
  return detail::unpack(exec_->args.at(DNNL_ARG_WEIGHTS),
                        user_weights_md(params_.n, params_.k, params_.trans_b, memory::data_type::s8), wei);
}

Status GemmInt8Onednn::unpack_bias(int32_t* bias) const {
  if (!params_.has_bias) {
    return make_error(StatusCode::kInternal, "cannot unpack bias of kernel '{}': it has none", name(params_));
  }
  const dnnl::memory& b = exec_->args.at(DNNL_ARG_BIAS);
  HQP_RETURN_IF_ERROR(detail::unpack(b, b.get_desc(), bias));
  if (params_.out.src_zero_point == 0) return Status::ok_status();
  // create() stored bias - src_zp * sum_k wei[j, k]: add the product back.
  const int64_t n = params_.n, k = params_.k;
  std::vector<int8_t> wei(static_cast<size_t>(n * k));
  HQP_RETURN_IF_ERROR(unpack_weights(wei.data()));
  for (int64_t j = 0; j < n; ++j) {
    int32_t wsum = 0;
    for (int64_t kk = 0; kk < k; ++kk) {
      wsum += params_.trans_b ? wei[static_cast<size_t>(j * k + kk)] : wei[static_cast<size_t>(kk * n + j)];
    }
    bias[j] += params_.out.src_zero_point * wsum;
  }
  return Status::ok_status();
}

}  // namespace hqp::kernels::onednn
