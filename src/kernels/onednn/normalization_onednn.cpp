// Layer normalization on oneDNN: descriptor and the scale / shift vectors.
#include "kernels/onednn/normalization_onednn.h"

#include <tuple>

#include "kernels/onednn/onednn_context.h"

namespace hqp::kernels::onednn {

namespace {

using dnnl::memory;
using detail::CacheKey;
using detail::Context;

std::shared_ptr<const detail::CachedPrimitive> layer_norm_primitive(const LayerNormF32OnednnParams& p) {
  CacheKey key(LayerNormF32Onednn::kName);
  key.add(p.rows).add(p.inner).add(p.epsilon).add(int64_t{Context::get().num_threads()});
  return Context::get().get_or_create(key, LayerNormF32Onednn::kName, [&] {
    const memory::desc md({p.rows, p.inner}, memory::data_type::f32, memory::format_tag::ab);
    const dnnl::layer_normalization_forward::desc desc(
        dnnl::prop_kind::forward_inference, md, p.epsilon,
        dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift);
    return dnnl::layer_normalization_forward::primitive_desc(desc, Context::get().engine());
  });
}

std::shared_ptr<const detail::CachedPrimitive> batch_norm_primitive(const BatchNormF32OnednnParams& p) {
  CacheKey key(BatchNormF32Onednn::kName);
  key.add_range(p.dims, p.dims + p.rank).add(p.epsilon).add(static_cast<int64_t>(p.layout));
  key.add(int64_t{Context::get().num_threads()});
  return Context::get().get_or_create(key, BatchNormF32Onednn::kName, [&] {
    const memory::desc md(memory::dims(p.dims, p.dims + p.rank), memory::data_type::f32,
                          detail::activation_tag(p.rank, p.layout));
    const dnnl::batch_normalization_forward::desc desc(
        dnnl::prop_kind::forward_inference, md, p.epsilon,
        dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
            dnnl::normalization_flags::use_shift);
    return dnnl::batch_normalization_forward::primitive_desc(desc, Context::get().engine());
  });
}

// `count` values (1 or inner) expanded to `inner`.
std::vector<float> expand(const float* v, int64_t count, int64_t inner) {
  std::vector<float> out(static_cast<size_t>(inner));
  for (int64_t i = 0; i < inner; ++i) out[static_cast<size_t>(i)] = v[count == 1 ? 0 : i];
  return out;
}

}  // namespace

LayerNormF32Onednn::LayerNormF32Onednn(LayerNormF32Onednn&&) noexcept = default;
LayerNormF32Onednn& LayerNormF32Onednn::operator=(LayerNormF32Onednn&&) noexcept = default;
LayerNormF32Onednn::~LayerNormF32Onednn() = default;

Status LayerNormF32Onednn::applies(const LayerNormF32OnednnParams& params) {
  if (params.rows < 1 || params.inner < 1) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': empty tensor (rows={}, inner={}, "
                      "expected >= 1)", kName, params.rows, params.inner);
  }
  if (!(params.epsilon >= 0.0f)) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': negative epsilon ({})", kName,
                      params.epsilon);
  }
  std::shared_ptr<const detail::CachedPrimitive> cached = layer_norm_primitive(params);
  HQP_RETURN_IF_ERROR(cached->status);
  return detail::require_optimized(*cached, kName);
}

Result<LayerNormF32Onednn> LayerNormF32Onednn::create(const LayerNormF32OnednnParams& params, const float* scale,
                                                      int64_t scale_count, const float* bias, int64_t bias_count) {
  HQP_RETURN_IF_ERROR(applies(params));
  for (const auto& [what, ptr, count] : {std::tuple{"scale", scale, scale_count}, std::tuple{"bias", bias, bias_count}}) {
    if (std::string_view(what) == "bias" && !params.has_bias) continue;
    if (ptr == nullptr || (count != 1 && count != params.inner)) {
      return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': {} has {} values for {} normalized "
                        "ones (expected {} or 1)", kName, what, ptr == nullptr ? 0 : count, params.inner, params.inner);
    }
  }
  LayerNormF32Onednn k;
  k.scale_ = expand(scale, scale_count, params.inner);
  k.shift_ = params.has_bias ? expand(bias, bias_count, params.inner) : std::vector<float>(params.inner, 0.0f);
  std::shared_ptr<const detail::CachedPrimitive> cached = layer_norm_primitive(params);
  const dnnl::engine& engine = Context::get().engine();
  auto exec = std::make_unique<detail::Executable>();
  exec->args[DNNL_ARG_SRC] = memory(cached->pd.src_desc(0), engine, nullptr);
  exec->args[DNNL_ARG_DST] = memory(cached->pd.dst_desc(0), engine, nullptr);
  const memory::desc vec({params.inner}, memory::data_type::f32, memory::format_tag::a);
  exec->args[DNNL_ARG_SCALE] = memory(vec, engine, k.scale_.data());
  exec->args[DNNL_ARG_SHIFT] = memory(vec, engine, k.shift_.data());
  exec->cached = std::move(cached);
  k.exec_ = std::move(exec);
  return k;
}

Status LayerNormF32Onednn::run(const float* src, float* dst) {
  exec_->bind(DNNL_ARG_SRC, src);
  exec_->bind(DNNL_ARG_DST, dst);
  return exec_->execute(kName);
}

const std::string& LayerNormF32Onednn::implementation() const { return exec_->cached->impl; }

// ---------------- BatchNormF32Onednn ----------------

BatchNormF32Onednn::BatchNormF32Onednn(BatchNormF32Onednn&&) noexcept = default;
BatchNormF32Onednn& BatchNormF32Onednn::operator=(BatchNormF32Onednn&&) noexcept = default;
BatchNormF32Onednn::~BatchNormF32Onednn() = default;

Status BatchNormF32Onednn::applies(const BatchNormF32OnednnParams& params) {
  if (params.rank < 3 || params.rank > 5) {
    return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': rank not supported (rank={}, expected "
                      "3..5)", kName, params.rank);
  }
  for (int i = 0; i < params.rank; ++i) {
    if (params.dims[i] < 1) {
      return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': empty dim {} (dim={}, expected "
                        ">= 1)", kName, i, params.dims[i]);
    }
  }
  if (!(params.epsilon >= 0.0f)) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': negative epsilon ({})", kName,
                      params.epsilon);
  }
  std::shared_ptr<const detail::CachedPrimitive> cached = batch_norm_primitive(params);
  HQP_RETURN_IF_ERROR(cached->status);
  return detail::require_optimized(*cached, kName);
}

Result<BatchNormF32Onednn> BatchNormF32Onednn::create(const BatchNormF32OnednnParams& params, const float* scale,
                                                      const float* bias, const float* mean, const float* var) {
  HQP_RETURN_IF_ERROR(applies(params));
  const int64_t c = params.dims[1];
  BatchNormF32Onednn k;
  k.scale_.assign(scale, scale + c);
  k.shift_.assign(bias, bias + c);
  k.mean_.assign(mean, mean + c);
  k.var_.assign(var, var + c);
  std::shared_ptr<const detail::CachedPrimitive> cached = batch_norm_primitive(params);
  const dnnl::engine& engine = Context::get().engine();
  auto exec = std::make_unique<detail::Executable>();
  exec->args[DNNL_ARG_SRC] = memory(cached->pd.src_desc(0), engine, nullptr);
  exec->args[DNNL_ARG_DST] = memory(cached->pd.dst_desc(0), engine, nullptr);
  const memory::desc vec({c}, memory::data_type::f32, memory::format_tag::a);
  exec->args[DNNL_ARG_SCALE] = memory(vec, engine, k.scale_.data());
  exec->args[DNNL_ARG_SHIFT] = memory(vec, engine, k.shift_.data());
  exec->args[DNNL_ARG_MEAN] = memory(vec, engine, k.mean_.data());
  exec->args[DNNL_ARG_VARIANCE] = memory(vec, engine, k.var_.data());
  exec->cached = std::move(cached);
  k.exec_ = std::move(exec);
  return k;
}

Status BatchNormF32Onednn::run(const float* src, float* dst) {
  exec_->bind(DNNL_ARG_SRC, src);
  exec_->bind(DNNL_ARG_DST, dst);
  return exec_->execute(kName);
}

const std::string& BatchNormF32Onednn::implementation() const { return exec_->cached->impl; }

}  // namespace hqp::kernels::onednn
