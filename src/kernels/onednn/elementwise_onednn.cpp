// Eltwise, binary and layout-reorder kernels on oneDNN: descriptors and broadcasting checks.
#include "kernels/onednn/elementwise_onednn.h"

#include <algorithm>
#include <cstring>
#include <tuple>
#include <utility>

#include "kernels/onednn/onednn_context.h"

namespace hqp::kernels::onednn {

namespace {

using dnnl::memory;
using detail::CacheKey;
using detail::Context;

std::unique_ptr<detail::Executable> bind_src_dst(std::shared_ptr<const detail::CachedPrimitive> cached) {
  auto exec = std::make_unique<detail::Executable>();
  const dnnl::engine& engine = Context::get().engine();
  exec->args[DNNL_ARG_SRC] = memory(cached->pd.src_desc(0), engine, nullptr);
  exec->args[DNNL_ARG_DST] = memory(cached->pd.dst_desc(0), engine, nullptr);
  exec->cached = std::move(cached);
  return exec;
}

// One eltwise primitive over [count] f32.
std::shared_ptr<const detail::CachedPrimitive> eltwise_primitive(std::string_view name, int64_t count,
                                                                 dnnl::algorithm alg, float alpha, float beta) {
  CacheKey key("eltwise_f32");
  key.add(count).add(static_cast<int64_t>(alg)).add(alpha).add(beta).add(int64_t{Context::get().num_threads()});
  return Context::get().get_or_create(key, name, [&] {
    const memory::desc md({count}, memory::data_type::f32, memory::format_tag::a);
    const dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, alg, md, alpha, beta);
    return dnnl::eltwise_forward::primitive_desc(desc, Context::get().engine());
  });
}

// The oneDNN steps of an activation: (algorithm, alpha, beta) applied in sequence.
std::vector<std::tuple<dnnl::algorithm, float, float>> eltwise_steps(const EltwiseF32OnednnParams& p) {
  using alg = dnnl::algorithm;
  switch (p.activation) {
    case Activation::kRelu: return {{alg::eltwise_relu, 0.0f, 0.0f}};
    case Activation::kClip: return {{alg::eltwise_clip, p.alpha, p.beta}};
    case Activation::kHardSwish: return {{alg::eltwise_hardswish, 0.0f, 0.0f}};
    // oneDNN 2.6 has no eltwise_hardsigmoid: alpha*x + beta, then clip to [0, 1].
    case Activation::kHardSigmoid: return {{alg::eltwise_linear, p.alpha, p.beta}, {alg::eltwise_clip, 0.0f, 1.0f}};
    case Activation::kSigmoid: return {{alg::eltwise_logistic, 0.0f, 0.0f}};
    case Activation::kLeakyRelu: return {{alg::eltwise_relu, p.alpha, 0.0f}};
    case Activation::kTanh: return {{alg::eltwise_tanh, 0.0f, 0.0f}};
    case Activation::kExp: return {{alg::eltwise_exp, 0.0f, 0.0f}};
    case Activation::kSqrt: return {{alg::eltwise_sqrt, 0.0f, 0.0f}};
    case Activation::kGeluErf: return {{alg::eltwise_gelu_erf, 0.0f, 0.0f}};
    case Activation::kSwish: return {{alg::eltwise_swish, 1.0f, 0.0f}};
    case Activation::kNone: break;
  }
  return {};
}

// Which operand is full-shape: 0 (src0), 1 (src1, so swap), or -1 (neither: both broadcast).
int full_operand(const BinaryF32OnednnParams& p) {
  bool src0_full = true, src1_full = true;
  for (int i = 0; i < p.rank; ++i) {
    const int64_t d = std::max(p.src0_dims[i], p.src1_dims[i]);
    src0_full = src0_full && p.src0_dims[i] == d;
    src1_full = src1_full && p.src1_dims[i] == d;
  }
  return src0_full ? 0 : (src1_full ? 1 : -1);
}

memory::format_tag binary_tag(const BinaryF32OnednnParams& p) {
  return p.rank >= 3 && p.rank <= 5 ? detail::activation_tag(p.rank, p.layout) : detail::plain_tag(p.rank);
}

std::shared_ptr<const detail::CachedPrimitive> binary_primitive(const BinaryF32OnednnParams& p, bool swap) {
  const std::string_view name = BinaryF32Onednn::name(p);
  memory::dims full, bcast;
  for (int i = 0; i < p.rank; ++i) {
    full.push_back(swap ? p.src1_dims[i] : p.src0_dims[i]);
    bcast.push_back(swap ? p.src0_dims[i] : p.src1_dims[i]);
  }
  CacheKey key(name);
  key.add_range(full.begin(), full.end()).add_range(bcast.begin(), bcast.end());
  key.add(static_cast<int64_t>(binary_tag(p))).add(static_cast<int64_t>(p.activation)).add(p.alpha).add(p.beta);
  key.add(int64_t{Context::get().num_threads()});
  return Context::get().get_or_create(key, name, [&] {
    const memory::format_tag tag = binary_tag(p);
    const memory::desc full_md(full, memory::data_type::f32, tag);
    const memory::desc bcast_md(bcast, memory::data_type::f32, tag);
    const dnnl::algorithm alg =
        p.algorithm == BinaryAlgorithm::kAdd ? dnnl::algorithm::binary_add : dnnl::algorithm::binary_mul;
    const dnnl::binary::desc desc(alg, full_md, bcast_md, full_md);
    dnnl::post_ops ops;
    detail::append_activation(ops, p.activation, p.alpha, p.beta);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    return dnnl::binary::primitive_desc(desc, attr, Context::get().engine());
  });
}

// A reorder from src_md to dst_md. reorder::primitive_desc is not a dnnl::primitive_desc in 2.x:
// the cache gets a clone of its handle.
dnnl::primitive_desc reorder_pd(const memory::desc& src_md, const memory::desc& dst_md) {
  const dnnl::engine& engine = Context::get().engine();
  const dnnl::reorder::primitive_desc reorder(engine, src_md, engine, dst_md);
  dnnl_primitive_desc_t handle = nullptr;
  dnnl::error::wrap_c_api(dnnl_primitive_desc_clone(&handle, reorder.get()), "could not clone a reorder pd");
  dnnl::primitive_desc pd;
  pd.reset(handle);
  return pd;
}

std::shared_ptr<const detail::CachedPrimitive> reorder_primitive(const LayoutReorderOnednnParams& p) {
  memory::dims dims(p.dims, p.dims + p.rank);
  CacheKey key(LayoutReorderOnednn::kName);
  key.add(static_cast<int64_t>(p.dtype)).add_range(dims.begin(), dims.end());
  key.add(static_cast<int64_t>(p.src_layout)).add(static_cast<int64_t>(p.dst_layout));
  key.add(int64_t{Context::get().num_threads()});
  return Context::get().get_or_create(key, LayoutReorderOnednn::kName, [&] {
    const memory::data_type dt = detail::to_dnnl(p.dtype);
    const memory::desc src_md(dims, dt, detail::activation_tag(p.rank, p.src_layout));
    const memory::desc dst_md(dims, dt, detail::activation_tag(p.rank, p.dst_layout));
    return reorder_pd(src_md, dst_md);
  });
}

// The oneDNN data type a copy of `dtype` moves (same type on both sides: a copy, never a conversion;
// bool moves as u8). undef for s64, which oneDNN has no type for.
memory::data_type copy_type(DType dtype) {
  switch (dtype) {
    case DType::kF32: return memory::data_type::f32;
    case DType::kS32: return memory::data_type::s32;
    case DType::kU8:
    case DType::kBool: return memory::data_type::u8;
    case DType::kS8: return memory::data_type::s8;
    default: return memory::data_type::undef;
  }
}

std::shared_ptr<const detail::CachedPrimitive> strided_copy_primitive(const StridedCopyOnednnParams& p) {
  const memory::dims dims(p.dims, p.dims + p.rank);
  const memory::dims src_strides(p.src_strides, p.src_strides + p.rank);
  const memory::dims dst_strides(p.dst_strides, p.dst_strides + p.rank);
  CacheKey key(StridedCopyOnednn::kName);
  key.add(static_cast<int64_t>(copy_type(p.dtype))).add_range(dims.begin(), dims.end());
  key.add_range(src_strides.begin(), src_strides.end()).add_range(dst_strides.begin(), dst_strides.end());
  key.add(int64_t{Context::get().num_threads()});
  return Context::get().get_or_create(key, StridedCopyOnednn::kName, [&] {
    const memory::data_type dt = copy_type(p.dtype);
    const memory::desc src_md(dims, dt, src_strides);
    const memory::desc dst_md(dims, dt, dst_strides);
    return reorder_pd(src_md, dst_md);
  });
}

// Whether `strides` address each index of `dims` exactly once within prod(dims) elements (a
// permutation of row-major strides; size-1 dims may carry any stride).
bool dense_permutation(int rank, const int64_t* dims, const int64_t* strides) {
  std::vector<std::pair<int64_t, int64_t>> order;  // (stride, dim) of the dims > 1
  for (int i = 0; i < rank; ++i) {
    if (dims[i] > 1) order.emplace_back(strides[i], dims[i]);
  }
  std::sort(order.begin(), order.end());
  int64_t expected = 1;
  for (const auto& [stride, dim] : order) {
    if (stride != expected) return false;
    expected *= dim;
  }
  return true;
}

}  // namespace

// ---------------- EltwiseF32Onednn ----------------

EltwiseF32Onednn::EltwiseF32Onednn(EltwiseF32Onednn&&) noexcept = default;
EltwiseF32Onednn& EltwiseF32Onednn::operator=(EltwiseF32Onednn&&) noexcept = default;
EltwiseF32Onednn::~EltwiseF32Onednn() = default;

std::string_view EltwiseF32Onednn::name(const EltwiseF32OnednnParams& params) {
  switch (params.activation) {
    case Activation::kRelu: return "relu_f32__onednn";
    case Activation::kClip: return "clip_f32__onednn";
    case Activation::kHardSwish: return "hardswish_f32__onednn";
    case Activation::kHardSigmoid: return "hardsigmoid_f32__onednn";
    case Activation::kSigmoid: return "sigmoid_f32__onednn";
    case Activation::kLeakyRelu: return "leaky_relu_f32__onednn";
    case Activation::kTanh: return "tanh_f32__onednn";
    case Activation::kExp: return "exp_f32__onednn";
    case Activation::kSqrt: return "sqrt_f32__onednn";
    case Activation::kGeluErf: return "gelu_erf_f32__onednn";
    case Activation::kSwish: return "swish_f32__onednn";
    case Activation::kNone: break;
  }
  return "identity_f32__onednn";
}

Status EltwiseF32Onednn::applies(const EltwiseF32OnednnParams& params) {
  const std::string_view kernel_name = name(params);
  if (params.activation == Activation::kNone) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': no activation (activation=none, "
                      "expected relu, clip, hardswish, hardsigmoid, sigmoid, leaky_relu, tanh, exp, sqrt, gelu_erf or swish)", kernel_name);
  }
  if (params.count < 1) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': empty tensor (count={}, expected >= 1)",
                      kernel_name, params.count);
  }
  if (params.activation == Activation::kClip && params.alpha > params.beta) {
    // numpy.clip with lo > hi yields hi everywhere; oneDNN's clip does not promise that.
    return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': empty clip range (min={}, max={}, "
                      "expected min <= max)", kernel_name, params.alpha, params.beta);
  }
  for (const auto& [alg, alpha, beta] : eltwise_steps(params)) {
    HQP_RETURN_IF_ERROR(detail::require_optimized(*eltwise_primitive(kernel_name, params.count, alg, alpha, beta),
                                                  kernel_name));
  }
  return Status::ok_status();
}

Result<EltwiseF32Onednn> EltwiseF32Onednn::create(const EltwiseF32OnednnParams& params) {
  HQP_RETURN_IF_ERROR(applies(params));
  EltwiseF32Onednn kernel;
  kernel.params_ = params;
  for (const auto& [alg, alpha, beta] : eltwise_steps(params)) {
    kernel.steps_.push_back(bind_src_dst(eltwise_primitive(name(params), params.count, alg, alpha, beta)));
  }
  return kernel;
}

Status EltwiseF32Onednn::run(const float* src, float* dst) {
  const float* in = src;
  for (auto& step : steps_) {
    step->bind(DNNL_ARG_SRC, in);
    step->bind(DNNL_ARG_DST, dst);
    HQP_RETURN_IF_ERROR(step->execute(name(params_)));
    in = dst;  // later steps run in place
  }
  return Status::ok_status();
}

const std::string& EltwiseF32Onednn::implementation() const { return steps_.front()->cached->impl; }

// ---------------- BinaryF32Onednn ----------------

BinaryF32Onednn::BinaryF32Onednn(BinaryF32Onednn&&) noexcept = default;
BinaryF32Onednn& BinaryF32Onednn::operator=(BinaryF32Onednn&&) noexcept = default;
BinaryF32Onednn::~BinaryF32Onednn() = default;

std::string_view BinaryF32Onednn::name(const BinaryF32OnednnParams& params) {
  return params.algorithm == BinaryAlgorithm::kAdd ? "add_f32__onednn" : "mul_f32__onednn";
}

Status BinaryF32Onednn::applies(const BinaryF32OnednnParams& params) {
  const std::string_view kernel_name = name(params);
  if (params.rank < 1 || params.rank > 6) {
    return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': rank not supported (rank={}, expected "
                      "1..6)", kernel_name, params.rank);
  }
  for (int i = 0; i < params.rank; ++i) {
    const int64_t a = params.src0_dims[i], b = params.src1_dims[i];
    if (a < 1 || b < 1 || (a != b && a != 1 && b != 1)) {
      return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': shapes do not broadcast at dim {} "
                        "(src0={}, src1={}, expected equal or 1)", kernel_name, i, a, b);
    }
  }
  const int full = full_operand(params);
  if (full < 0) {
    return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': both operands broadcast (expected one "
                      "operand with the full output shape)", kernel_name);
  }
  return detail::require_optimized(*binary_primitive(params, full == 1), kernel_name);
}

Result<BinaryF32Onednn> BinaryF32Onednn::create(const BinaryF32OnednnParams& params) {
  HQP_RETURN_IF_ERROR(applies(params));
  BinaryF32Onednn kernel;
  kernel.params_ = params;
  kernel.swapped_ = full_operand(params) == 1;
  auto cached = binary_primitive(params, kernel.swapped_);
  const dnnl::engine& engine = Context::get().engine();
  kernel.exec_ = std::make_unique<detail::Executable>();
  kernel.exec_->args[DNNL_ARG_SRC_0] = memory(cached->pd.src_desc(0), engine, nullptr);
  kernel.exec_->args[DNNL_ARG_SRC_1] = memory(cached->pd.src_desc(1), engine, nullptr);
  kernel.exec_->args[DNNL_ARG_DST] = memory(cached->pd.dst_desc(0), engine, nullptr);
  kernel.exec_->cached = std::move(cached);
  return kernel;
}

Status BinaryF32Onednn::run(const float* src0, const float* src1, float* dst) {
  if (swapped_) std::swap(src0, src1);
  exec_->bind(DNNL_ARG_SRC_0, src0);
  exec_->bind(DNNL_ARG_SRC_1, src1);
  exec_->bind(DNNL_ARG_DST, dst);
  return exec_->execute(name(params_));
}

const std::string& BinaryF32Onednn::implementation() const { return exec_->cached->impl; }

// ---------------- LayoutReorderOnednn ----------------

LayoutReorderOnednn::LayoutReorderOnednn(LayoutReorderOnednn&&) noexcept = default;
LayoutReorderOnednn& LayoutReorderOnednn::operator=(LayoutReorderOnednn&&) noexcept = default;
LayoutReorderOnednn::~LayoutReorderOnednn() = default;

Status LayoutReorderOnednn::applies(const LayoutReorderOnednnParams& params) {
  if (params.rank < 3 || params.rank > 5) {
    return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': rank not supported (rank={}, expected "
                      "3..5)", kName, params.rank);
  }
  if (params.dtype != DType::kF32 && params.dtype != DType::kU8 && params.dtype != DType::kS8) {
    return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': dtype not supported (dtype={}, expected "
                      "f32, u8 or s8)", kName, dtype_name(params.dtype));
  }
  for (int i = 0; i < params.rank; ++i) {
    if (params.dims[i] < 1) {
      return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': empty dim {} (dim={}, expected >= 1)",
                        kName, i, params.dims[i]);
    }
  }
  return reorder_primitive(params)->status;  // oneDNN's simple reorders are fine here
}

Result<LayoutReorderOnednn> LayoutReorderOnednn::create(const LayoutReorderOnednnParams& params) {
  HQP_RETURN_IF_ERROR(applies(params));
  LayoutReorderOnednn kernel;
  kernel.exec_ = bind_src_dst(reorder_primitive(params));
  return kernel;
}

Status LayoutReorderOnednn::run(const void* src, void* dst) {
  exec_->bind(DNNL_ARG_SRC, src);
  exec_->bind(DNNL_ARG_DST, dst);
  return exec_->execute(kName);
}

const std::string& LayoutReorderOnednn::implementation() const { return exec_->cached->impl; }

// ---------------- StridedCopyOnednn ----------------

StridedCopyOnednn::StridedCopyOnednn(StridedCopyOnednn&&) noexcept = default;
StridedCopyOnednn& StridedCopyOnednn::operator=(StridedCopyOnednn&&) noexcept = default;
StridedCopyOnednn::~StridedCopyOnednn() = default;

Status StridedCopyOnednn::applies(const StridedCopyOnednnParams& params) {
  if (params.rank < 1 || params.rank > kMaxKernelRank) {
    return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': rank out of range (rank={}, expected "
                      "1..{})", kName, params.rank, kMaxKernelRank);
  }
  for (int i = 0; i < params.rank; ++i) {
    if (params.dims[i] < 1) {
      return make_error(StatusCode::kInvalidArgument, "cannot create kernel '{}': empty dim {} (dim={}, expected >= 1)",
                        kName, i, params.dims[i]);
    }
  }
  if (copy_type(params.dtype) == memory::data_type::undef) {
    return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': dtype not supported (dtype={}, expected "
                      "f32, s32, u8, s8 or bool)", kName, dtype_name(params.dtype));
  }
  if (!dense_permutation(params.rank, params.dims, params.src_strides) ||
      !dense_permutation(params.rank, params.dims, params.dst_strides)) {
    return make_error(StatusCode::kUnsupported, "cannot create kernel '{}': strides are not a dense permutation",
                      kName);
  }
  return Status::ok_status();
}

Result<StridedCopyOnednn> StridedCopyOnednn::create(const StridedCopyOnednnParams& params) {
  HQP_RETURN_IF_ERROR(applies(params));
  StridedCopyOnednn kernel;
  bool same = true;
  int64_t count = 1;
  for (int i = 0; i < params.rank; ++i) {
    count *= params.dims[i];
    if (params.dims[i] > 1 && params.src_strides[i] != params.dst_strides[i]) same = false;
  }
  if (same) {
    kernel.bytes_ = count * static_cast<int64_t>(dtype_size(params.dtype));
    kernel.impl_ = "memcpy";
    return kernel;
  }
  std::shared_ptr<const detail::CachedPrimitive> cached = strided_copy_primitive(params);
  HQP_RETURN_IF_ERROR(cached->status);
  kernel.impl_ = cached->impl;
  kernel.exec_ = bind_src_dst(std::move(cached));
  return kernel;
}

Status StridedCopyOnednn::run(const void* src, void* dst) {
  if (bytes_ > 0) {
    std::memcpy(dst, src, static_cast<size_t>(bytes_));
    return Status::ok_status();
  }
  exec_->bind(DNNL_ARG_SRC, src);
  exec_->bind(DNNL_ARG_DST, dst);
  return exec_->execute(kName);
}

const std::string& StridedCopyOnednn::implementation() const { return impl_; }

}  // namespace hqp::kernels::onednn
