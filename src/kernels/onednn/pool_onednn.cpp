// Pooling on oneDNN (pooling_v2: dilation support): descriptor building and ONNX-semantics checks.
#include "kernels/onednn/pool_onednn.h"

#include "kernels/onednn/onednn_context.h"

namespace hqp::kernels::onednn {

namespace {

using dnnl::memory;
using detail::CacheKey;
using detail::Context;

Status validate_pool(std::string_view name, const PoolOnednnParams& params) {
  const PoolParams& p = params.pool;
  if (p.spatial_rank < 1 || p.spatial_rank > 3) {
    return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': spatial rank not supported (spatial_rank={}, "
                      "expected 1..3)", name, p.spatial_rank);
  }
  if (p.batch < 1 || p.channels < 1) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': empty pool (batch={}, channels={}, "
                      "expected >= 1)", name, p.batch, p.channels);
  }
  const bool max = params.algorithm == PoolAlgorithm::kMax;
  if (params.dtype != DType::kF32 && !(max && (params.dtype == DType::kU8 || params.dtype == DType::kS8))) {
    return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': dtype not supported (dtype={}, expected "
                      "f32, or u8/s8 for max pooling)", name, dtype_name(params.dtype));
  }
  for (int i = 0; i < p.spatial_rank; ++i) {
    if (p.in_size[i] < 1 || p.out_size[i] < 1 || p.kernel[i] < 1 || p.stride[i] < 1 || p.dilation[i] < 1 ||
        p.pad_begin[i] < 0 || p.pad_end[i] < 0) {
      return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': bad spatial dim {} (in={}, out={}, "
                        "kernel={}, stride={}, dilation={}, pads={}/{}, expected sizes >= 1 and pads >= 0)", name, i,
                        p.in_size[i], p.out_size[i], p.kernel[i], p.stride[i], p.dilation[i], p.pad_begin[i],
                        p.pad_end[i]);
    }
    const int64_t pad_r =
        detail::implied_pad_end(p.in_size[i], p.out_size[i], p.kernel[i], p.stride[i], p.dilation[i], p.pad_begin[i]);
    // Positions in [in + pad_end, in + pad_r) are ceil_mode overhang: oneDNN counts them, ONNX does not.
    if (!max && p.count_include_pad && pad_r > p.pad_end[i]) {
      return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': count_include_pad with a window "
                        "overhang (ceil_mode) that oneDNN would count in the divisor (dim {}: implied pad_end={}, "
                        "expected pad_end={})", name, i, pad_r, p.pad_end[i]);
    }
  }
  return Status::ok_status();
}

std::shared_ptr<const detail::CachedPrimitive> pool_primitive(const PoolOnednnParams& params) {
  const std::string_view name = PoolOnednn::name(params);
  const PoolParams& p = params.pool;
  CacheKey key(name);
  key.add(p.batch).add(p.channels).add(int64_t{p.spatial_rank}).add(int64_t{p.count_include_pad});
  for (int i = 0; i < p.spatial_rank; ++i) {
    key.add(p.in_size[i]).add(p.out_size[i]).add(p.kernel[i]).add(p.stride[i]).add(p.dilation[i]).add(p.pad_begin[i]);
  }
  key.add(static_cast<int64_t>(params.layout)).add(int64_t{Context::get().num_threads()});
  return Context::get().get_or_create(key, name, [&] {
    memory::dims src{p.batch, p.channels}, dst{p.batch, p.channels}, kernel, strides, dilation, pad_l, pad_r;
    for (int i = 0; i < p.spatial_rank; ++i) {
      src.push_back(p.in_size[i]);
      dst.push_back(p.out_size[i]);
      kernel.push_back(p.kernel[i]);
      strides.push_back(p.stride[i]);
      dilation.push_back(p.dilation[i] - 1);  // oneDNN counts dilation from 0
      pad_l.push_back(p.pad_begin[i]);
      pad_r.push_back(
          detail::implied_pad_end(p.in_size[i], p.out_size[i], p.kernel[i], p.stride[i], p.dilation[i], p.pad_begin[i]));
    }
    const memory::format_tag tag = detail::activation_tag(p.spatial_rank + 2, params.layout);
    const memory::data_type dt = detail::to_dnnl(params.dtype);
    const dnnl::algorithm alg = params.algorithm == PoolAlgorithm::kMax ? dnnl::algorithm::pooling_max
                                : p.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                                      : dnnl::algorithm::pooling_avg_exclude_padding;
    const dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, alg, memory::desc(src, dt, tag),
                                              memory::desc(dst, dt, tag), strides, kernel, dilation, pad_l, pad_r);
    return dnnl::pooling_v2_forward::primitive_desc(desc, Context::get().engine());
  });
}

}  // namespace

PoolOnednnParams global_average_pool_params(int64_t batch, int64_t channels, int spatial_rank, const int64_t* in_size,
                                            Layout layout) {
  PoolOnednnParams params;
  params.algorithm = PoolAlgorithm::kAverage;
  params.layout = layout;
  params.pool.batch = batch;
  params.pool.channels = channels;
  params.pool.spatial_rank = spatial_rank;
  for (int i = 0; i < spatial_rank; ++i) {
    params.pool.in_size[i] = in_size[i];
    params.pool.kernel[i] = in_size[i];
    params.pool.out_size[i] = 1;
  }
  return params;
}

PoolOnednn::PoolOnednn(PoolOnednn&&) noexcept = default;
PoolOnednn& PoolOnednn::operator=(PoolOnednn&&) noexcept = default;
PoolOnednn::~PoolOnednn() = default;

std::string_view PoolOnednn::name(const PoolOnednnParams& params) {
  if (params.algorithm == PoolAlgorithm::kAverage) return "averagepool_f32__onednn";
  switch (params.dtype) {
    case DType::kU8: return "maxpool_u8__onednn";
    case DType::kS8: return "maxpool_s8__onednn";
    default: return "maxpool_f32__onednn";
  }
}

Status PoolOnednn::applies(const PoolOnednnParams& params) {
  HQP_RETURN_IF_ERROR(validate_pool(name(params), params));
  return detail::require_optimized(*pool_primitive(params), name(params));
}

Result<PoolOnednn> PoolOnednn::create(const PoolOnednnParams& params) {
  HQP_RETURN_IF_ERROR(applies(params));
  PoolOnednn kernel;
  kernel.params_ = params;
  kernel.exec_ = std::make_unique<detail::Executable>();
  kernel.exec_->cached = pool_primitive(params);
  const dnnl::engine& engine = Context::get().engine();
  kernel.exec_->args[DNNL_ARG_SRC] = memory(kernel.exec_->cached->pd.src_desc(0), engine, nullptr);
  kernel.exec_->args[DNNL_ARG_DST] = memory(kernel.exec_->cached->pd.dst_desc(0), engine, nullptr);
  return kernel;
}

Status PoolOnednn::run(const void* src, void* dst) {
  exec_->bind(DNNL_ARG_SRC, src);
  exec_->bind(DNNL_ARG_DST, dst);
  return exec_->execute(name(params_));
}

const std::string& PoolOnednn::implementation() const { return exec_->cached->impl; }

}  // namespace hqp::kernels::onednn
