// TorchModule / TorchExecutor: IR nodes on ATen ops with autograd. Conv and pool geometry
// (auto_pad, asymmetric pads, ceil_mode) comes from ir::conv_geometry / ir::pool_geometry and is
// realized by explicit padding, so every op means exactly what the reference executor computes.
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include "distributed/sync_batch_norm.h"
#include "ir/shape_inference.h"
#include "kernels/ref/resize.h"
#include "reference/node_params.h"
#include "train/torch_module.h"

namespace hqp::train {

namespace {

using ir::Node;
using ir::OpKind;

std::vector<int64_t> int_values(const at::Tensor& t) {
  at::Tensor c = t.to(at::kLong).contiguous();
  const int64_t* p = c.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + c.numel());
}

// constant_pad_nd's pad list: last dim first, (begin, end) per dim.
std::vector<int64_t> pad_list(std::span<const int64_t> begin, std::span<const int64_t> end) {
  std::vector<int64_t> pads;
  for (size_t i = begin.size(); i-- > 0;) {
    pads.push_back(begin[i]);
    pads.push_back(end[i]);
  }
  return pads;
}

// End padding that makes a floor-mode window of the given geometry produce exactly `out` outputs
// (covers ceil_mode and pads that the window never reaches; negative values crop).
std::vector<int64_t> effective_pad_end(const ir::WindowGeometry& g, at::IntArrayRef in_spatial) {
  std::vector<int64_t> end(g.out.size());
  for (size_t i = 0; i < g.out.size(); ++i) {
    const int64_t needed = (g.out[i] - 1) * g.stride[i] + (g.kernel[i] - 1) * g.dilation[i] + 1;
    end[i] = needed - in_spatial[i] - g.pad_begin[i];
  }
  return end;
}

bool all_zero(std::span<const int64_t> v) {
  return std::all_of(v.begin(), v.end(), [](int64_t x) { return x == 0; });
}

at::Tensor apply_activation(const ir::PostOps& post, const at::Tensor& y) {
  switch (post.activation) {
    case ir::Activation::kNone: return y;
    case ir::Activation::kRelu: return at::relu(y);
    case ir::Activation::kClip: return at::clamp(y, post.alpha, post.beta);
    case ir::Activation::kHardSwish: return at::hardswish(y);
    case ir::Activation::kHardSigmoid: return at::clamp(y * post.alpha + post.beta, 0.0, 1.0);
    case ir::Activation::kSigmoid: return at::sigmoid(y);
    case ir::Activation::kGelu: return at::gelu(y);
    case ir::Activation::kSilu: return at::silu(y);
  }
  return y;
}

// Which trainable role (or buffer) input `index` of `node` plays, if any.
enum class InitClass { kConstant, kParam, kBuffer };
InitClass classify(const Node& node, size_t index, ParamRole* role) {
  switch (node.kind) {
    case OpKind::Conv:
    case OpKind::FusedConv:
      if (index == 1) { *role = ParamRole::kWeight; return InitClass::kParam; }
      if (index == 2) { *role = ParamRole::kBias; return InitClass::kParam; }
      return InitClass::kConstant;
    case OpKind::Gemm:
    case OpKind::FusedGemm:
      if (index == 1) { *role = ParamRole::kWeight; return InitClass::kParam; }
      if (index == 2) { *role = ParamRole::kBias; return InitClass::kParam; }
      return InitClass::kConstant;
    case OpKind::MatMul:
      *role = ParamRole::kWeight;
      return InitClass::kParam;
    case OpKind::BatchNormalization:
      if (index == 1) { *role = ParamRole::kNormScale; return InitClass::kParam; }
      if (index == 2) { *role = ParamRole::kNormBias; return InitClass::kParam; }
      if (index == 3 || index == 4) return InitClass::kBuffer;
      return InitClass::kConstant;
    default: return InitClass::kConstant;
  }
}

Status check_supported(const Node& node) {
  auto unsupported = [&](std::string_view why) {
    return make_error(StatusCode::kUnsupported, "cannot execute node '{}' ({}) on libtorch: {}", node.name,
                      ir::op_name(node.kind), why);
  };
  switch (node.kind) {
    case OpKind::QuantizeLinear:
    case OpKind::DequantizeLinear:
    case OpKind::QConv:
    case OpKind::QGemm:
    case OpKind::QAdd:
    case OpKind::QMul:
    case OpKind::QLut:
    case OpKind::QGlobalAveragePool: return unsupported("quantized ops are not trainable (train the float model)");
    case OpKind::BatchNormalization:
      for (size_t i = 1; i < node.num_outputs(); ++i) {
        if (node.output(i) != nullptr) return unsupported("training-mode outputs (running mean/var) are not supported");
      }
      return Status();
    case OpKind::MaxPool:
      if (node.output(1) != nullptr) return unsupported("the Indices output is not supported");
      return Status();
    default: return Status();
  }
}

at::Tensor view_for_observer(const at::Tensor& t) {
  at::Tensor d = t.detach();
  if (d.is_floating_point() && d.scalar_type() != at::kFloat) d = d.to(at::kFloat);
  return d.contiguous();
}

// A copy with NHWC strides. Not contiguous(ChannelsLast): with one channel (a gray input, a
// depthwise weight [C,1,k,k]) NCHW strides already count as channels-last contiguous, so that
// returns the tensor unchanged, libtorch then suggests NCHW, and every oneDNN convolution after
// it runs in a blocked NCHW layout with reorders (3x slower MobileNetV3 training).
at::Tensor channels_last(const at::Tensor& t) {
  return at::empty_like(t, t.options().memory_format(at::MemoryFormat::ChannelsLast)).copy_(t);
}

Result<Tensor> host_view(const at::Tensor& c) {
  DType dtype;
  switch (c.scalar_type()) {
    case at::kFloat: dtype = DType::kF32; break;
    case at::kLong: dtype = DType::kS64; break;
    case at::kInt: dtype = DType::kS32; break;
    case at::kByte: dtype = DType::kU8; break;
    case at::kChar: dtype = DType::kS8; break;
    case at::kBool: dtype = DType::kBool; break;
    default:
      return make_error(StatusCode::kUnsupported, "cannot convert torch tensor: scalar type {} has no hqp dtype",
                        std::string(c10::toString(c.scalar_type())));
  }
  Shape shape(c.sizes().begin(), c.sizes().end());
  return Tensor::view(dtype, std::move(shape), c.data_ptr());
}

}  // namespace

Result<at::ScalarType> torch_dtype(DType dtype) {
  switch (dtype) {
    case DType::kF32: return at::kFloat;
    case DType::kU8: return at::kByte;
    case DType::kS8: return at::kChar;
    case DType::kS32: return at::kInt;
    case DType::kS64: return at::kLong;
    case DType::kBool: return at::kBool;
    case DType::kUndefined: break;
  }
  return make_error(StatusCode::kUnsupported, "cannot convert tensor: dtype {} has no torch type", dtype_name(dtype));
}

Result<at::Tensor> to_torch(const Tensor& t, at::ScalarType float_type) {
  HQP_ASSIGN_OR_RETURN(at::ScalarType st, torch_dtype(t.dtype()));
  std::vector<int64_t> sizes(t.shape().begin(), t.shape().end());
  at::Tensor out = at::empty(sizes, at::TensorOptions().dtype(st));
  if (t.nbytes() > 0) std::memcpy(out.data_ptr(), t.raw_data(), static_cast<size_t>(t.nbytes()));
  if (st == at::kFloat && float_type != at::kFloat) out = out.to(float_type);
  return out;
}

Result<Tensor> from_torch(const at::Tensor& t) {
  at::Tensor c = t.detach();
  if (c.is_floating_point() && c.scalar_type() != at::kFloat) c = c.to(at::kFloat);
  c = c.contiguous();
  HQP_ASSIGN_OR_RETURN(Tensor view, host_view(c));
  return view.clone();
}

// ---------------------------------------------------------------------------------------------
// TorchModule

Result<std::unique_ptr<TorchModule>> TorchModule::create(const ir::Graph& graph, const ExecutorOptions& options) {
  std::unique_ptr<TorchModule> m(new TorchModule());
  m->graph_ = graph.clone();
  m->float_type_ = options.double_precision ? at::kDouble : at::kFloat;
  m->channels_last_ = options.channels_last;
  m->opset_ = m->graph_.opset();
  const ir::Graph& g = m->graph_;
  HQP_ASSIGN_OR_RETURN(std::vector<ir::Node*> order, g.topological_order());

  std::unordered_map<const ir::Value*, int> slot;
  auto slot_of = [&](const ir::Value* v) {
    auto [it, inserted] = slot.emplace(v, static_cast<int>(slot.size()));
    return it->second;
  };
  for (const ir::Value* v : g.inputs()) m->input_slots_.push_back(slot_of(v));

  // Initializers: parameters and buffers in order of first use, then constants.
  std::unordered_map<const ir::Value*, InitClass> init_class;
  for (const ir::Node* node : order) {
    HQP_RETURN_IF_ERROR(check_supported(*node));
    for (size_t i = 0; i < node->num_inputs(); ++i) {
      const ir::Value* v = node->input(i);
      if (v == nullptr || !v->is_initializer() || init_class.count(v) != 0) continue;
      ParamRole role = ParamRole::kWeight;
      InitClass cls = v->data.dtype() == DType::kF32 ? classify(*node, i, &role) : InitClass::kConstant;
      init_class[v] = cls;
      if (cls == InitClass::kParam) m->param_info_.push_back(ParamInfo{v->name, role, v->data.shape()});
      if (cls == InitClass::kBuffer) m->buffer_names_.push_back(v->name);
    }
  }
  std::vector<std::pair<int, at::Tensor>> fixed;
  for (const ir::Value* v : g.initializers()) {
    auto it = init_class.find(v);
    if (it == init_class.end()) continue;  // unused initializer
    HQP_ASSIGN_OR_RETURN(at::Tensor t, to_torch(v->data, m->float_type_));
    if (m->channels_last_ && t.dim() == 4 && t.is_floating_point()) t = channels_last(t);
    if (it->second == InitClass::kParam) t.set_requires_grad(true);
    fixed.emplace_back(slot_of(v), t);
  }
  // Parameters and buffers in the order of param_info_ / buffer_names_.
  for (const ParamInfo& p : m->param_info_) {
    for (auto& [s, t] : fixed) {
      if (s == slot.at(g.find_value(p.name))) m->params_.push_back(t);
    }
  }
  for (const std::string& name : m->buffer_names_) {
    for (auto& [s, t] : fixed) {
      if (s == slot.at(g.find_value(name))) m->buffers_.push_back(t);
    }
  }

  // Plan: Constant nodes become fixed slots; others are steps.
  std::unordered_map<int, size_t> last_use;
  for (const ir::Node* node : order) {
    if (node->kind == OpKind::Constant) {
      HQP_ASSIGN_OR_RETURN(at::Tensor t, to_torch(node->attr<ir::ConstantAttrs>().value, m->float_type_));
      fixed.emplace_back(slot_of(node->output(0)), t);
      continue;
    }
    Step step;
    step.node = node;
    for (const ir::Value* v : node->inputs()) step.in.push_back(v == nullptr ? -1 : slot_of(v));
    for (const ir::Value* v : node->outputs()) step.out.push_back(v == nullptr ? -1 : slot_of(v));
    for (int s : step.in) {
      if (s >= 0) last_use[s] = m->steps_.size();
    }
    m->steps_.push_back(std::move(step));
  }
  for (const ir::Value* v : g.outputs()) m->output_slots_.push_back(slot_of(v));
  m->num_slots_ = slot.size();
  m->fixed_slots_.assign(m->num_slots_, at::Tensor());
  for (auto& [s, t] : fixed) m->fixed_slots_[static_cast<size_t>(s)] = t;
  std::vector<bool> keep(m->num_slots_, false);
  for (int s : m->output_slots_) keep[static_cast<size_t>(s)] = true;
  for (auto& [s, t] : fixed) keep[static_cast<size_t>(s)] = true;
  for (auto [s, step] : last_use) {
    if (!keep[static_cast<size_t>(s)]) m->steps_[step].free_after.push_back(s);
  }
  return m;
}

Result<std::vector<at::Tensor>> TorchModule::convert_inputs(std::span<const Tensor> inputs) const {
  const auto& decl = graph_.inputs();
  if (inputs.size() != decl.size()) {
    return make_error(StatusCode::kInvalidArgument, "cannot run model: got {} inputs (expected {})", inputs.size(),
                      decl.size());
  }
  std::vector<at::Tensor> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ir::Value& v = *decl[i];
    const Tensor& t = inputs[i];
    if (t.dtype() != v.dtype) {
      return make_error(StatusCode::kInvalidArgument, "cannot run model: input '{}' has dtype {} (expected {})", v.name,
                        dtype_name(t.dtype()), dtype_name(v.dtype));
    }
    if (v.shape) {
      const ir::Dims& d = *v.shape;
      bool ok = static_cast<size_t>(t.rank()) == d.size();
      for (size_t k = 0; ok && k < d.size(); ++k) ok = !d[k].is_static() || d[k].value == t.dim(static_cast<int64_t>(k));
      if (!ok) {
        return make_error(StatusCode::kInvalidArgument, "cannot run model: input '{}' has shape {} (expected {})",
                          v.name, shape_to_string(t.shape()), ir::dims_to_string(d));
      }
    }
    HQP_ASSIGN_OR_RETURN(at::Tensor x, to_torch(t, float_type_));
    out.push_back(std::move(x));
  }
  return out;
}

Result<std::vector<at::Tensor>> TorchModule::forward(const std::vector<at::Tensor>& inputs, const ForwardHooks& hooks) {
  if (inputs.size() != input_slots_.size()) {
    return make_error(StatusCode::kInvalidArgument, "cannot run model: got {} inputs (expected {})", inputs.size(),
                      input_slots_.size());
  }
  std::vector<at::Tensor> env = fixed_slots_;
  for (size_t i = 0; i < inputs.size(); ++i) {
    at::Tensor x = inputs[i];
    if (x.is_floating_point() && x.scalar_type() != float_type_) x = x.to(float_type_);
    if (channels_last_ && x.dim() == 4 && x.is_floating_point()) x = channels_last(x);
    env[static_cast<size_t>(input_slots_[i])] = x;
  }
  const bool record_grads = hooks.gradient_observer != nullptr && at::GradMode::is_enabled();
  for (const Step& step : steps_) {
    try {
      HQP_RETURN_IF_ERROR(run_node(step, env));
    } catch (const c10::Error& e) {
      return make_error(StatusCode::kInvalidArgument, "cannot run node '{}' ({}) on libtorch: {}", step.node->name,
                        ir::op_name(step.node->kind), e.what_without_backtrace());
    }
    for (size_t i = 0; i < step.out.size(); ++i) {
      if (step.out[i] < 0) continue;
      const at::Tensor& y = env[static_cast<size_t>(step.out[i])];
      const ir::Value& value = *step.node->output(i);
      if (hooks.observer != nullptr) {
        at::Tensor c = view_for_observer(y);
        Result<Tensor> view = host_view(c);
        if (view.ok()) hooks.observer->on_output(*step.node, value, *view);
      }
      if (record_grads && y.requires_grad() && y.is_floating_point() && y.dim() >= 2 &&
          hooks.gradient_observer->observes(*step.node, value)) {
        ir::GradientObserver* obs = hooks.gradient_observer;
        const ir::Node* node = step.node;
        const ir::Value* val = &value;
        at::Tensor a = y.detach();
        int64_t axis = obs->channel_axis(*node, value);
        if (axis < 0) axis += y.dim();
        if (axis < 1 || axis >= y.dim()) axis = 1;
        y.register_hook([a, obs, node, val, axis](const at::Tensor& g) {
          // Under bf16 autocast a and g are bf16: form the product in f32.
          auto wide = [](const at::Tensor& t) { return t.scalar_type() == at::kBFloat16 ? t.to(at::kFloat) : t; };
          at::Tensor prod = wide(a) * wide(g);
          std::vector<int64_t> dims;  // every axis but the batch and the channels: [N, C] remains
          for (int64_t d = 1; d < prod.dim(); ++d) {
            if (d != axis) dims.push_back(d);
          }
          at::Tensor r = dims.empty() ? prod : prod.sum(dims);
          r = r.to(at::kFloat).contiguous();
          Result<Tensor> view = host_view(r);
          if (view.ok()) obs->on_channel_fisher(*node, *val, *view);
        });
      }
    }
    for (int s : step.free_after) env[static_cast<size_t>(s)] = at::Tensor();
  }
  std::vector<at::Tensor> outs;
  for (int s : output_slots_) outs.push_back(env[static_cast<size_t>(s)]);
  return outs;
}

Status TorchModule::run_node(const Step& step, std::vector<at::Tensor>& env) const {
  const Node& node = *step.node;
  auto has = [&](size_t i) { return i < step.in.size() && step.in[i] >= 0; };
  auto in = [&](size_t i) -> const at::Tensor& { return env[static_cast<size_t>(step.in[i])]; };
  auto set_out = [&](size_t i, at::Tensor t) {
    if (i < step.out.size() && step.out[i] >= 0) env[static_cast<size_t>(step.out[i])] = std::move(t);
  };
  auto error = [&](StatusCode code, const std::string& what) {
    return make_error(code, "cannot run node '{}' ({}) on libtorch: {}", node.name, ir::op_name(node.kind), what);
  };
  auto axis_of = [&](int64_t axis, int64_t rank) -> Result<int64_t> {
    return ir::normalize_axis(axis, rank, "axis");
  };

  switch (node.kind) {
    case OpKind::Conv:
    case OpKind::FusedConv: {
      const bool fused = node.kind == OpKind::FusedConv;
      const ir::ConvAttrs& a = fused ? node.attr<ir::FusedConvAttrs>().conv : node.attr<ir::ConvAttrs>();
      at::Tensor x = in(0);
      const at::Tensor& w = in(1);
      const std::vector<int64_t> in_sp(x.sizes().begin() + 2, x.sizes().end());
      const std::vector<int64_t> k_sp(w.sizes().begin() + 2, w.sizes().end());
      HQP_ASSIGN_OR_RETURN(ir::WindowGeometry g, ir::conv_geometry(a, in_sp, k_sp));
      std::vector<int64_t> pad = g.pad_begin;
      if (g.pad_begin != g.pad_end) {
        x = at::constant_pad_nd(x, pad_list(g.pad_begin, g.pad_end), 0.0);
        std::fill(pad.begin(), pad.end(), 0);
      }
      const std::vector<int64_t> out_pad(in_sp.size(), 0);
      // conv1d/2d/3d rather than at::convolution: those are the entry points libtorch's autocast
      // casts to bf16 (TrainConfig::bf16); at::convolution would stay f32.
      const at::Tensor bias = has(2) ? in(2) : at::Tensor();
      at::Tensor y;
      switch (x.dim()) {
        case 3: y = at::conv1d(x, w, bias, g.stride, pad, g.dilation, a.group); break;
        case 4: y = at::conv2d(x, w, bias, g.stride, pad, g.dilation, a.group); break;
        case 5: y = at::conv3d(x, w, bias, g.stride, pad, g.dilation, a.group); break;
        default:
          y = at::convolution(x, w, bias, g.stride, pad, g.dilation, false, out_pad, a.group);
          break;
      }
      if (fused) {
        const ir::PostOps& post = node.attr<ir::FusedConvAttrs>().post;
        if (post.has_sum && has(3)) y = y + in(3);
        y = apply_activation(post, y);
      }
      set_out(0, y);
      return Status();
    }
    case OpKind::BatchNormalization: {
      const auto& a = node.attr<ir::BatchNormAttrs>();
      const bool training = mode_ == ExecMode::kTrain;
      if (training && sync_bn_ != nullptr) {
        set_out(0, distributed::sync_batch_norm(in(0), in(1), in(2), in(3), in(4), 1.0 - static_cast<double>(a.momentum),
                                                static_cast<double>(a.epsilon), *sync_bn_));
        return Status();
      }
      set_out(0, at::batch_norm(in(0), in(1), in(2), in(3), in(4), training, 1.0 - static_cast<double>(a.momentum),
                                static_cast<double>(a.epsilon), false));
      return Status();
    }
    case OpKind::Relu: set_out(0, at::relu(in(0))); return Status();
    case OpKind::Sigmoid: set_out(0, at::sigmoid(in(0))); return Status();
    case OpKind::HardSwish: set_out(0, at::hardswish(in(0))); return Status();
    case OpKind::LeakyRelu:
      set_out(0, at::leaky_relu(in(0), static_cast<double>(node.attr<ir::LeakyReluAttrs>().alpha)));
      return Status();
    case OpKind::Tanh: set_out(0, at::tanh(in(0))); return Status();
    case OpKind::Cast: {
      switch (node.attr<ir::CastAttrs>().to) {
        case DType::kF32: set_out(0, in(0).to(at::kFloat)); return Status();
        case DType::kU8: set_out(0, in(0).to(at::kByte)); return Status();
        case DType::kS8: set_out(0, in(0).to(at::kChar)); return Status();
        case DType::kS32: set_out(0, in(0).to(at::kInt)); return Status();
        case DType::kS64: set_out(0, in(0).to(at::kLong)); return Status();
        case DType::kBool: set_out(0, in(0).to(at::kBool)); return Status();
        case DType::kUndefined: break;
      }
      return error(StatusCode::kUnsupported, "Cast to an undefined dtype");
    }
    case OpKind::Exp: set_out(0, at::exp(in(0))); return Status();
    case OpKind::Sqrt: set_out(0, at::sqrt(in(0))); return Status();
    case OpKind::Erf: set_out(0, at::erf(in(0))); return Status();
    case OpKind::Gelu: set_out(0, at::gelu(in(0))); return Status();
    case OpKind::Silu: set_out(0, at::silu(in(0))); return Status();
    case OpKind::HardSigmoid: {
      const auto& a = node.attr<ir::HardSigmoidAttrs>();
      // PyTorch's Hardsigmoid (relu6(x + 3) / 6, what torchvision's SE blocks export) is one fused
      // kernel forward and backward; other alpha/beta take the three-op form.
      if (a.alpha == 1.0f / 6.0f && a.beta == 0.5f) {
        set_out(0, at::hardsigmoid(in(0)));
      } else {
        set_out(0, at::clamp(in(0) * static_cast<double>(a.alpha) + static_cast<double>(a.beta), 0.0, 1.0));
      }
      return Status();
    }
    case OpKind::Clip: {
      const auto& a = node.attr<ir::ClipAttrs>();
      c10::optional<at::Scalar> lo, hi;
      if (a.min) lo = static_cast<double>(*a.min);
      if (a.max) hi = static_cast<double>(*a.max);
      if (has(1)) lo = in(1).item();
      if (has(2)) hi = in(2).item();
      set_out(0, at::clamp(in(0), lo, hi));
      return Status();
    }
    case OpKind::Add: set_out(0, in(0) + in(1)); return Status();
    case OpKind::Pow: {
      const at::Tensor& a = in(0);
      const at::Tensor& b = in(1);
      if (a.is_floating_point() && b.is_floating_point()) {
        set_out(0, at::pow(a, b));
      } else {  // integer base or exponent: as the reference, in double, then the base's type (truncated)
        set_out(0, at::pow(a.to(at::kDouble), b.to(at::kDouble)).trunc().to(a.scalar_type()));
      }
      return Status();
    }
    case OpKind::PRelu: {
      const at::Tensor& x = in(0);
      const std::vector<int64_t> s = ir::prelu_slope_shape(in(1).sizes().vec(), static_cast<size_t>(x.dim()), opset_);
      set_out(0, at::where(x >= 0, x, x * in(1).reshape(s)));
      return Status();
    }
    case OpKind::Sub: set_out(0, in(0) - in(1)); return Status();
    case OpKind::Mul: set_out(0, in(0) * in(1)); return Status();
    case OpKind::Div:
      if (in(0).is_floating_point()) {
        set_out(0, in(0) / in(1));
      } else {
        set_out(0, at::div(in(0), in(1), "trunc"));
      }
      return Status();
    case OpKind::GlobalAveragePool: {
      const at::Tensor& x = in(0);
      std::vector<int64_t> dims;
      for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
      set_out(0, x.mean(dims, true));
      return Status();
    }
    case OpKind::MaxPool:
    case OpKind::AveragePool: {
      const bool is_max = node.kind == OpKind::MaxPool;
      const auto& a = node.attr<ir::PoolAttrs>();
      const at::Tensor& x = in(0);
      const std::vector<int64_t> in_sp(x.sizes().begin() + 2, x.sizes().end());
      HQP_ASSIGN_OR_RETURN(ir::WindowGeometry g, ir::pool_geometry(a, in_sp, is_max));
      const std::vector<int64_t> end = effective_pad_end(g, in_sp);
      const size_t rank = in_sp.size();
      if (rank < 1 || rank > 3) return error(StatusCode::kUnsupported, fmt::format("{}-d pooling", rank));
      const std::vector<int64_t> zero(rank, 0);
      auto pool = [&](const at::Tensor& t) -> at::Tensor {
        if (is_max) {
          if (rank == 1) return at::max_pool1d(t, g.kernel, g.stride, zero, g.dilation, false);
          if (rank == 2) return at::max_pool2d(t, g.kernel, g.stride, zero, g.dilation, false);
          return at::max_pool3d(t, g.kernel, g.stride, zero, g.dilation, false);
        }
        if (rank == 1) return at::avg_pool1d(t, g.kernel, g.stride, zero, false, true);
        if (rank == 2) return at::avg_pool2d(t, g.kernel, g.stride, zero, false, true);
        return at::avg_pool3d(t, g.kernel, g.stride, zero, false, true);
      };
      const bool padded = !all_zero(g.pad_begin) || !all_zero(end);
      if (is_max) {
        at::Tensor xp = padded ? at::constant_pad_nd(x, pad_list(g.pad_begin, end),
                                                     -std::numeric_limits<double>::infinity())
                               : x;
        set_out(0, pool(xp));
        return Status();
      }
      if (!padded) {
        set_out(0, pool(x));
        return Status();
      }
      // Sum over the window divided by the number of counted taps: input positions, plus the
      // explicit pads when count_include_pad (never the ceil_mode extension).
      at::Tensor xp = at::constant_pad_nd(x, pad_list(g.pad_begin, end), 0.0);
      std::vector<int64_t> mask_sizes = {1, 1};
      mask_sizes.insert(mask_sizes.end(), in_sp.begin(), in_sp.end());
      at::Tensor mask = at::ones(mask_sizes, x.options().requires_grad(false));
      mask = at::constant_pad_nd(mask, pad_list(g.pad_begin, g.pad_end), a.count_include_pad != 0 ? 1.0 : 0.0);
      std::vector<int64_t> extra_begin(rank, 0), extra_end(rank);
      for (size_t i = 0; i < rank; ++i) extra_end[i] = end[i] - g.pad_end[i];
      mask = at::constant_pad_nd(mask, pad_list(extra_begin, extra_end), 0.0);
      set_out(0, pool(xp) / pool(mask));
      return Status();
    }
    case OpKind::Flatten: {
      const at::Tensor& x = in(0);
      int64_t axis = node.attr<ir::FlattenAttrs>().axis;
      if (axis < 0) axis += x.dim();
      int64_t outer = 1, inner = 1;
      for (int64_t d = 0; d < x.dim(); ++d) (d < axis ? outer : inner) *= x.size(d);
      set_out(0, x.reshape({outer, inner}));
      return Status();
    }
    case OpKind::Reshape: {
      const at::Tensor& x = in(0);
      std::vector<int64_t> shape = int_values(in(1));
      if (node.attr<ir::ReshapeAttrs>().allowzero == 0) {
        for (size_t i = 0; i < shape.size(); ++i) {
          if (shape[i] == 0) shape[i] = x.size(static_cast<int64_t>(i));
        }
      }
      set_out(0, x.reshape(shape));
      return Status();
    }
    case OpKind::Transpose: {
      const at::Tensor& x = in(0);
      std::vector<int64_t> perm = node.attr<ir::TransposeAttrs>().perm;
      if (perm.empty()) {
        for (int64_t d = x.dim(); d-- > 0;) perm.push_back(d);
      }
      set_out(0, x.permute(perm));
      return Status();
    }
    case OpKind::Squeeze:
    case OpKind::Unsqueeze: {
      const at::Tensor& x = in(0);
      std::optional<std::vector<int64_t>> axes = node.attr<ir::AxesAttrs>().axes;
      if (has(1)) axes = int_values(in(1));
      if (node.kind == OpKind::Squeeze) {
        if (!axes) {
          set_out(0, at::squeeze(x));
          return Status();
        }
        std::vector<int64_t> norm;
        for (int64_t ax : *axes) {
          HQP_ASSIGN_OR_RETURN(int64_t n, axis_of(ax, x.dim()));
          norm.push_back(n);
        }
        std::sort(norm.rbegin(), norm.rend());
        at::Tensor y = x;
        for (int64_t ax : norm) y = y.squeeze(ax);
        set_out(0, y);
        return Status();
      }
      if (!axes) return error(StatusCode::kInvalidArgument, "Unsqueeze without axes");
      const int64_t out_rank = x.dim() + static_cast<int64_t>(axes->size());
      std::vector<int64_t> norm;
      for (int64_t ax : *axes) {
        HQP_ASSIGN_OR_RETURN(int64_t n, axis_of(ax, out_rank));
        norm.push_back(n);
      }
      std::sort(norm.begin(), norm.end());
      at::Tensor y = x;
      for (int64_t ax : norm) y = y.unsqueeze(ax);
      set_out(0, y);
      return Status();
    }
    case OpKind::Shape: {
      const at::Tensor& x = in(0);
      const auto& a = node.attr<ir::ShapeAttrs>();
      const int64_t r = x.dim();
      auto clamp = [r](int64_t v) { return std::clamp(v < 0 ? v + r : v, int64_t{0}, r); };
      const int64_t start = clamp(a.start.value_or(0));
      const int64_t end = clamp(a.end.value_or(r));
      std::vector<int64_t> dims;
      for (int64_t d = start; d < end; ++d) dims.push_back(x.size(d));
      set_out(0, at::tensor(dims, at::TensorOptions().dtype(at::kLong)));
      return Status();
    }
    case OpKind::Gather: {
      const at::Tensor& x = in(0);
      at::Tensor idx = in(1).to(at::kLong);
      HQP_ASSIGN_OR_RETURN(int64_t axis, axis_of(node.attr<ir::AxisAttrs>().axis, x.dim()));
      idx = at::where(idx < 0, idx + x.size(axis), idx);
      std::vector<int64_t> shape(x.sizes().begin(), x.sizes().begin() + axis);
      shape.insert(shape.end(), idx.sizes().begin(), idx.sizes().end());
      shape.insert(shape.end(), x.sizes().begin() + axis + 1, x.sizes().end());
      set_out(0, x.index_select(axis, idx.reshape({-1})).reshape(shape));
      return Status();
    }
    case OpKind::Concat: {
      std::vector<at::Tensor> parts;
      for (size_t i = 0; i < step.in.size(); ++i) {
        if (has(i)) parts.push_back(in(i));
      }
      HQP_ASSIGN_OR_RETURN(int64_t axis, axis_of(node.attr<ir::AxisAttrs>().axis, parts.at(0).dim()));
      set_out(0, at::cat(parts, axis));
      return Status();
    }
    case OpKind::Slice: {
      const at::Tensor& x = in(0);
      const auto& a = node.attr<ir::SliceAttrs>();
      std::vector<int64_t> starts, ends;
      std::optional<std::vector<int64_t>> axes = a.axes, steps;
      if (a.starts && a.ends) {
        starts = *a.starts;
        ends = *a.ends;
      } else {
        if (!has(1) || !has(2)) return error(StatusCode::kInvalidArgument, "inputs 'starts' and 'ends' are required");
        starts = int_values(in(1));
        ends = int_values(in(2));
        if (has(3)) axes = int_values(in(3));
        if (has(4)) steps = int_values(in(4));
      }
      Result<std::vector<std::optional<ir::SliceSpec>>> specs = ir::slice_specs(x.dim(), starts, ends, axes, steps);
      if (!specs.ok()) return specs.status().with_context(fmt::format("cannot run node '{}'", node.name));
      at::Tensor y = x;
      for (int64_t d = 0; d < x.dim(); ++d) {
        const auto& sp = (*specs)[static_cast<size_t>(d)];
        if (!sp) continue;
        const ir::SliceRange r = ir::slice_range(x.size(d), sp->start, sp->end, sp->step);
        if (r.step > 0) {
          y = y.slice(d, r.start, r.start + (r.count > 0 ? (r.count - 1) * r.step + 1 : 0), r.step);
        } else {  // libtorch slices forward only: gather the indices
          y = y.index_select(d, at::arange(r.start, r.start + r.count * r.step, r.step, at::TensorOptions().dtype(at::kLong)));
        }
      }
      set_out(0, y);
      return Status();
    }
    case OpKind::Split: {
      const at::Tensor& x = in(0);
      const auto& a = node.attr<ir::SplitAttrs>();
      HQP_ASSIGN_OR_RETURN(int64_t axis, axis_of(a.axis, x.dim()));
      std::optional<std::vector<int64_t>> split = a.split;
      if (!split && has(1)) split = int_values(in(1));
      Result<std::vector<int64_t>> sizes = ir::split_sizes(x.size(axis), split, node.num_outputs());
      if (!sizes.ok()) return sizes.status().with_context(fmt::format("cannot run node '{}'", node.name));
      std::vector<at::Tensor> parts = x.split_with_sizes(*sizes, axis);
      for (size_t i = 0; i < parts.size(); ++i) set_out(i, parts[i]);
      return Status();
    }
    case OpKind::Pad: {
      const at::Tensor& x = in(0);
      const auto& a = node.attr<ir::PadAttrs>();
      std::optional<std::vector<int64_t>> pads_input;
      if (has(1)) pads_input = int_values(in(1));
      Result<std::vector<int64_t>> pads = ir::pad_amounts(a, pads_input, x.dim());
      if (!pads.ok()) return pads.status().with_context(fmt::format("cannot run node '{}'", node.name));
      const int64_t r = x.dim();
      if (a.mode == ir::PadMode::kConstant) {
        double value = a.value.value_or(0.0f);
        if (has(2)) value = in(2).to(at::kDouble).item<double>();
        const std::span<const int64_t> all(*pads);
        set_out(0, at::constant_pad_nd(x, pad_list(all.first(static_cast<size_t>(r)), all.last(static_cast<size_t>(r))),
                                       value));
        return Status();
      }
      // Reflect / edge on any axes, crops included: gather each padded axis's source indices (the
      // mapping of kernels/ref/layout.h, pad_any__ref), which autograd differentiates.
      at::Tensor y = x;
      for (int64_t d = 0; d < r; ++d) {
        const int64_t b = (*pads)[static_cast<size_t>(d)];
        const int64_t e = (*pads)[static_cast<size_t>(d + r)];
        if (b == 0 && e == 0) continue;
        const int64_t n = x.size(d);
        if (n == 0) return error(StatusCode::kInvalidArgument, "reflect / edge padding of an empty axis");
        std::vector<int64_t> idx;
        for (int64_t i = 0; i < n + b + e; ++i) {
          int64_t j = i - b;
          if (j < 0 || j >= n) {
            if (a.mode == ir::PadMode::kEdge || n == 1) {
              j = j < 0 ? 0 : n - 1;
            } else {
              const int64_t period = 2 * (n - 1);
              j %= period;
              if (j < 0) j += period;
              if (j >= n) j = period - j;
            }
          }
          idx.push_back(j);
        }
        y = y.index_select(d, at::tensor(idx, at::TensorOptions().dtype(at::kLong)));
      }
      set_out(0, y);
      return Status();
    }
    case OpKind::Resize: {
      // The reference kernel's taps per axis (kernels/ref/resize.h), as index_select and a
      // weighted sum: gradients flow to X through the same interpolation, last axis first.
      at::Tensor y = in(0);
      std::optional<std::vector<float>> scales;
      if (has(2) && in(2).numel() > 0) {
        const at::Tensor s = in(2).to(at::kFloat).contiguous();
        scales = std::vector<float>(s.data_ptr<float>(), s.data_ptr<float>() + s.numel());
      }
      std::optional<std::vector<int64_t>> sizes;
      if (has(3)) sizes = int_values(in(3));
      Result<kernels::ResizeParams> p = reference::resize_params(node.attr<ir::ResizeAttrs>(), Shape(y.sizes().begin(), y.sizes().end()), scales, sizes);
      if (!p.ok()) return p.status();
      const auto long_options = at::TensorOptions().dtype(at::kLong);
      for (int d = p->rank - 1; d >= 0; --d) {
        const kernels::ResizeTaps t = kernels::resize_taps(*p, d);
        if (p->src_shape[d] == p->dst_shape[d] && p->mode == kernels::ResizeMode::kNearest) {
          bool identity = true;
          for (size_t i = 0; i < t.lo.size(); ++i) identity = identity && t.lo[i] == static_cast<int64_t>(i);
          if (identity) continue;
        }
        const at::Tensor lo = y.index_select(d, at::tensor(t.lo, long_options));
        if (p->mode == kernels::ResizeMode::kNearest) {
          y = lo;
          continue;
        }
        std::vector<int64_t> wshape(static_cast<size_t>(p->rank), 1);
        wshape[static_cast<size_t>(d)] = static_cast<int64_t>(t.w.size());
        const at::Tensor w = at::tensor(t.w, at::TensorOptions().dtype(at::kFloat)).reshape(wshape);
        const at::Tensor hi = y.index_select(d, at::tensor(t.hi, long_options));
        y = lo * (1.0 - w) + hi * w;
      }
      set_out(0, y);
      return Status();
    }
    case OpKind::Expand: {
      const at::Tensor& x = in(0);
      const std::vector<int64_t> shape = int_values(in(1));
      set_out(0, x.expand(at::infer_size(x.sizes(), shape)));
      return Status();
    }
    case OpKind::Gemm:
    case OpKind::FusedGemm: {
      const bool fused = node.kind == OpKind::FusedGemm;
      const ir::GemmAttrs& a = fused ? node.attr<ir::FusedGemmAttrs>().gemm : node.attr<ir::GemmAttrs>();
      const at::Tensor A = a.trans_a != 0 ? in(0).t() : in(0);
      const at::Tensor B = a.trans_b != 0 ? in(1).t() : in(1);
      at::Tensor y;
      if (A.dim() > 2) {  // FusedGemm over the rows of A [..., K] (transA = 0; see shape inference)
        y = at::matmul(A, B);
        if (a.alpha != 1.0f) y = y * static_cast<double>(a.alpha);
        if (has(2)) y = y + in(2).reshape({-1}) * static_cast<double>(a.beta);
      } else if (has(2)) {
        y = at::addmm(in(2), A, B, static_cast<double>(a.beta), static_cast<double>(a.alpha));
      } else {
        y = at::mm(A, B);
        if (a.alpha != 1.0f) y = y * static_cast<double>(a.alpha);
      }
      if (fused) y = apply_activation(node.attr<ir::FusedGemmAttrs>().post, y);
      set_out(0, y);
      return Status();
    }
    case OpKind::MatMul: set_out(0, at::matmul(in(0), in(1))); return Status();
    case OpKind::Identity: set_out(0, in(0)); return Status();
    case OpKind::Dropout: {
      const at::Tensor& x = in(0);
      double ratio = node.attr<ir::DropoutAttrs>().ratio.value_or(0.5f);
      if (has(1)) ratio = in(1).item<double>();
      const bool want_mask = step.out.size() > 1 && step.out[1] >= 0;
      if (mode_ != ExecMode::kTrain || ratio == 0.0) {
        set_out(0, x);
        if (want_mask) set_out(1, at::ones(x.sizes(), x.options().dtype(at::kBool).requires_grad(false)));
        return Status();
      }
      c10::optional<at::Generator> gen;
      if (generator_.defined()) gen = generator_;
      const at::Tensor keep = at::empty(x.sizes(), x.options().requires_grad(false)).bernoulli_(1.0 - ratio, gen);
      set_out(0, x * keep / (1.0 - ratio));
      if (want_mask) set_out(1, keep.to(at::kBool));
      return Status();
    }
    case OpKind::ReduceMean:
    case OpKind::ReduceMax:
    case OpKind::ReduceSum: {
      const at::Tensor& x = in(0);
      const auto& a = node.attr<ir::ReduceAttrs>();
      std::optional<std::vector<int64_t>> axes_input;
      if (has(1)) {
        const at::Tensor t = in(1).to(at::kLong).contiguous();
        axes_input = std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
      }
      Result<std::vector<bool>> reduce = ir::reduced_axes(a, axes_input, x.dim());
      if (!reduce.ok()) return reduce.status().with_context(fmt::format("cannot run node '{}'", node.name));
      std::vector<int64_t> dims;
      for (int64_t d = 0; d < x.dim(); ++d) {
        if ((*reduce)[static_cast<size_t>(d)]) dims.push_back(d);
      }
      const bool keep = a.keepdims != 0;
      if (dims.empty()) {
        set_out(0, x);
      } else if (node.kind == OpKind::ReduceMean) {
        set_out(0, at::mean(x, dims, keep));
      } else if (node.kind == OpKind::ReduceSum) {
        set_out(0, at::sum(x, dims, keep));
      } else {
        set_out(0, at::amax(x, dims, keep));
      }
      return Status();
    }
    case OpKind::LayerNormalization: {
      const at::Tensor& x = in(0);
      const auto& a = node.attr<ir::LayerNormAttrs>();
      HQP_ASSIGN_OR_RETURN(int64_t axis, axis_of(a.axis, x.dim()));
      const std::vector<int64_t> normalized(x.sizes().begin() + axis, x.sizes().end());
      auto param = [&](size_t i) -> at::Tensor {
        if (!has(i)) return at::Tensor();
        const at::Tensor& t = in(i);
        return t.numel() == 1 ? t.reshape({}).expand(normalized) : t.reshape(normalized);
      };
      auto [y, mean, rstd] = at::native_layer_norm(x, normalized, param(1), param(2), a.epsilon);
      set_out(0, y);
      std::vector<int64_t> stats(x.sizes().begin(), x.sizes().end());
      for (size_t d = static_cast<size_t>(axis); d < stats.size(); ++d) stats[d] = 1;
      set_out(1, mean.reshape(stats));
      set_out(2, rstd.reshape(stats));
      return Status();
    }
    case OpKind::Softmax: {
      const at::Tensor& x = in(0);
      const auto& a = node.attr<ir::SoftmaxAttrs>();
      HQP_ASSIGN_OR_RETURN(int64_t axis, axis_of(a.axis, x.dim()));
      if (!a.legacy_coerce_2d) {
        set_out(0, at::softmax(x, axis));
        return Status();
      }
      int64_t outer = 1;
      for (int64_t d = 0; d < axis; ++d) outer *= x.size(d);
      set_out(0, at::softmax(x.reshape({outer, -1}), 1).reshape(x.sizes()));
      return Status();
    }
    case OpKind::Constant:  // planned as a fixed slot
    case OpKind::QuantizeLinear:
    case OpKind::DequantizeLinear:
    case OpKind::QConv:
    case OpKind::QGemm:
    case OpKind::QAdd:
    case OpKind::QMul:
    case OpKind::QLut:
    case OpKind::QGlobalAveragePool: break;
  }
  return error(StatusCode::kUnsupported, "no libtorch implementation");
}

Status TorchModule::write_back(ir::Graph& graph) const {
  std::vector<std::pair<ir::Value*, const at::Tensor*>> targets;
  auto collect = [&](const std::string& name, const at::Tensor& t) -> Status {
    ir::Value* v = graph.find_value(name);
    if (v == nullptr || !v->is_initializer()) {
      return make_error(StatusCode::kInvalidArgument, "cannot write back parameter '{}': the graph has no such initializer",
                        name);
    }
    const Shape shape(t.sizes().begin(), t.sizes().end());
    if (v->data.dtype() != DType::kF32 || v->data.shape() != shape) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot write back parameter '{}': the initializer is {}[{}] (expected f32[{}])", name,
                        dtype_name(v->data.dtype()), shape_to_string(v->data.shape()), shape_to_string(shape));
    }
    targets.emplace_back(v, &t);
    return Status();
  };
  for (size_t i = 0; i < params_.size(); ++i) HQP_RETURN_IF_ERROR(collect(param_info_[i].name, params_[i]));
  for (size_t i = 0; i < buffers_.size(); ++i) HQP_RETURN_IF_ERROR(collect(buffer_names_[i], buffers_[i]));
  for (auto& [v, t] : targets) {
    HQP_ASSIGN_OR_RETURN(Tensor data, from_torch(*t));
    v->data = std::move(data);
  }
  return Status();
}

// ---------------------------------------------------------------------------------------------
// TorchExecutor

void set_torch_threads(int n) {
  HQP_CHECK(n >= 1);
  at::set_num_threads(n);
}

int torch_threads() { return at::get_num_threads(); }

TorchExecutor::TorchExecutor(std::unique_ptr<TorchModule> module) : module_(std::move(module)) {}
TorchExecutor::~TorchExecutor() = default;

Result<std::unique_ptr<TorchExecutor>> TorchExecutor::create(const ir::Graph& graph, const ExecutorOptions& options) {
  try {
    HQP_ASSIGN_OR_RETURN(std::unique_ptr<TorchModule> m, TorchModule::create(graph, options));
    return std::unique_ptr<TorchExecutor>(new TorchExecutor(std::move(m)));
  } catch (const c10::Error& e) {
    return make_error(StatusCode::kInternal, "cannot create libtorch executor: {}", e.what_without_backtrace());
  }
}

void TorchExecutor::set_mode(ExecMode mode) { module_->set_mode(mode); }
ExecMode TorchExecutor::mode() const { return module_->mode(); }

Result<std::vector<Tensor>> TorchExecutor::run(std::span<const Tensor> inputs, ir::Observer* observer) {
  at::NoGradGuard no_grad;
  HQP_ASSIGN_OR_RETURN(std::vector<at::Tensor> xs, module_->convert_inputs(inputs));
  ForwardHooks hooks;
  hooks.observer = observer;
  HQP_ASSIGN_OR_RETURN(std::vector<at::Tensor> ys, module_->forward(xs, hooks));
  std::vector<Tensor> outs;
  for (const at::Tensor& y : ys) {
    HQP_ASSIGN_OR_RETURN(Tensor t, from_torch(y));
    outs.push_back(std::move(t));
  }
  return outs;
}

Result<TorchExecutor::GradientPass> TorchExecutor::gradient_pass(const Tensor& images, const Tensor& labels,
                                                                 ir::GradientObserver& observer) {
  if (labels.dtype() != DType::kS64 || labels.rank() != 1 || images.rank() < 1 || images.dim(0) != labels.dim(0)) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot compute gradients: labels must be s64 [N] matching the {} images (got {} {})",
                      images.rank() > 0 ? images.dim(0) : 0, dtype_name(labels.dtype()),
                      shape_to_string(labels.shape()));
  }
  const Tensor in[] = {images};
  HQP_ASSIGN_OR_RETURN(std::vector<at::Tensor> xs, module_->convert_inputs(in));
  HQP_ASSIGN_OR_RETURN(at::Tensor y, to_torch(labels));
  GradientPass r;
  try {
    at::AutoGradMode grad(true);
    ForwardHooks hooks;
    hooks.gradient_observer = &observer;
    HQP_ASSIGN_OR_RETURN(std::vector<at::Tensor> outs, module_->forward(xs, hooks));
    at::Tensor logits = outs.at(0);
    if (logits.dim() != 2 || logits.size(0) != y.size(0)) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot compute gradients: output has {} dims (expected [{}, classes] logits)", logits.dim(),
                        y.size(0));
    }
    if (logits.scalar_type() != at::kFloat && logits.scalar_type() != at::kDouble) logits = logits.to(at::kFloat);
    at::Tensor loss = at::cross_entropy_loss(logits, y, {}, at::Reduction::Sum);
    loss.backward();
    r.loss_sum = loss.item<double>();
    r.correct = logits.detach().argmax(1).eq(y).sum().item<int64_t>();
    r.samples = y.size(0);
  } catch (const c10::Error& e) {
    for (at::Tensor& p : module_->parameters()) p.mutable_grad() = at::Tensor();
    return make_error(StatusCode::kInvalidArgument, "cannot compute gradients: {}", e.what_without_backtrace());
  }
  for (at::Tensor& p : module_->parameters()) p.mutable_grad() = at::Tensor();
  return r;
}

const std::vector<ParamInfo>& TorchExecutor::parameters() const { return module_->parameter_info(); }

int64_t TorchExecutor::num_parameter_elements() const {
  int64_t n = 0;
  for (const at::Tensor& p : module_->parameters()) n += p.numel();
  return n;
}

std::vector<std::string> TorchExecutor::buffer_names() const { return module_->buffer_names(); }

Status TorchExecutor::write_back(ir::Graph& graph) const { return module_->write_back(graph); }

}  // namespace hqp::train
