// Text dump of the IR.
#include "ir/printer.h"

#include <fmt/ranges.h>

namespace hqp::ir {

namespace {

const char* auto_pad_name(AutoPad p) {
  switch (p) {
    case AutoPad::kNotSet: return "NOTSET";
    case AutoPad::kSameUpper: return "SAME_UPPER";
    case AutoPad::kSameLower: return "SAME_LOWER";
    case AutoPad::kValid: return "VALID";
  }
  return "?";
}

struct AttrFormatter {
  std::string out;
  void add(const char* name, const std::string& v) { out += fmt::format("{}{}={}", out.empty() ? "" : ", ", name, v); }
  void vec(const char* name, const std::vector<int64_t>& v) {
    if (!v.empty()) add(name, fmt::format("[{}]", fmt::join(v, ",")));
  }

  void operator()(const NoAttrs&) {}
  void operator()(const ConvAttrs& a) {
    vec("kernel_shape", a.kernel_shape);
    vec("strides", a.strides);
    vec("dilations", a.dilations);
    vec("pads", a.pads);
    if (a.group != 1) add("group", std::to_string(a.group));
    if (a.auto_pad != AutoPad::kNotSet) add("auto_pad", auto_pad_name(a.auto_pad));
  }
  void operator()(const PoolAttrs& a) {
    vec("kernel_shape", a.kernel_shape);
    vec("strides", a.strides);
    vec("dilations", a.dilations);
    vec("pads", a.pads);
    if (a.auto_pad != AutoPad::kNotSet) add("auto_pad", auto_pad_name(a.auto_pad));
    if (a.ceil_mode) add("ceil_mode", "1");
    if (a.count_include_pad) add("count_include_pad", "1");
    if (a.storage_order) add("storage_order", "1");
  }
  void operator()(const BatchNormAttrs& a) {
    add("epsilon", fmt::format("{}", a.epsilon));
    add("momentum", fmt::format("{}", a.momentum));
    if (a.training_mode) add("training_mode", "1");
  }
  void operator()(const ClipAttrs& a) {
    if (a.min) add("min", fmt::format("{}", *a.min));
    if (a.max) add("max", fmt::format("{}", *a.max));
  }
  void operator()(const HardSigmoidAttrs& a) {
    add("alpha", fmt::format("{}", a.alpha));
    add("beta", fmt::format("{}", a.beta));
  }
  void operator()(const LeakyReluAttrs& a) { add("alpha", fmt::format("{}", a.alpha)); }
  void operator()(const CastAttrs& a) { add("to", std::string(dtype_name(a.to))); }
  void operator()(const ReduceAttrs& a) {
    if (a.axes) add("axes", fmt::format("[{}]", fmt::join(*a.axes, ",")));
    if (a.keepdims != 1) add("keepdims", std::to_string(a.keepdims));
    if (a.noop_with_empty_axes != 0) add("noop_with_empty_axes", std::to_string(a.noop_with_empty_axes));
  }
  void operator()(const ResizeAttrs& a) {
    static constexpr const char* kModes[] = {"nearest", "linear"};
    static constexpr const char* kCoordinates[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                                   "tf_half_pixel_for_nn"};
    static constexpr const char* kNearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    add("mode", kModes[static_cast<int>(a.mode)]);
    add("coordinate_transformation_mode", kCoordinates[static_cast<int>(a.coordinates)]);
    if (a.mode == ResizeMode::kNearest) add("nearest_mode", kNearest[static_cast<int>(a.nearest)]);
  }
  void operator()(const PadAttrs& a) {
    if (a.mode != PadMode::kConstant) add("mode", a.mode == PadMode::kReflect ? "reflect" : "edge");
    if (a.pads) add("pads", fmt::format("[{}]", fmt::join(*a.pads, ",")));
    if (a.value) add("value", fmt::format("{}", *a.value));
  }
  void operator()(const SliceAttrs& a) {
    if (a.starts) add("starts", fmt::format("[{}]", fmt::join(*a.starts, ",")));
    if (a.ends) add("ends", fmt::format("[{}]", fmt::join(*a.ends, ",")));
    if (a.axes) add("axes", fmt::format("[{}]", fmt::join(*a.axes, ",")));
  }
  void operator()(const SplitAttrs& a) {
    add("axis", std::to_string(a.axis));
    if (a.split) add("split", fmt::format("[{}]", fmt::join(*a.split, ",")));
  }
  void operator()(const LayerNormAttrs& a) {
    add("axis", std::to_string(a.axis));
    add("epsilon", fmt::format("{}", a.epsilon));
    if (a.stash_type != 1) add("stash_type", std::to_string(a.stash_type));
  }
  void operator()(const FlattenAttrs& a) { add("axis", std::to_string(a.axis)); }
  void operator()(const ReshapeAttrs& a) {
    if (a.allowzero) add("allowzero", "1");
  }
  void operator()(const TransposeAttrs& a) { vec("perm", a.perm); }
  void operator()(const AxesAttrs& a) {
    if (a.axes) add("axes", fmt::format("[{}]", fmt::join(*a.axes, ",")));
  }
  void operator()(const ShapeAttrs& a) {
    if (a.start) add("start", std::to_string(*a.start));
    if (a.end) add("end", std::to_string(*a.end));
  }
  void operator()(const AxisAttrs& a) {
    if (a.present) add("axis", std::to_string(a.axis));
  }
  void operator()(const GemmAttrs& a) {
    if (a.alpha != 1.0f) add("alpha", fmt::format("{}", a.alpha));
    if (a.beta != 1.0f) add("beta", fmt::format("{}", a.beta));
    if (a.trans_a) add("transA", "1");
    if (a.trans_b) add("transB", "1");
  }
  void operator()(const DropoutAttrs& a) {
    if (a.ratio) add("ratio", fmt::format("{}", *a.ratio));
  }
  void operator()(const ConstantAttrs& a) {
    add("value", fmt::format("{}{}", dtype_name(a.value.dtype()), dims_to_string(dims_from_shape(a.value.shape()))));
  }
  void post(const PostOps& p) {
    static constexpr const char* kNames[] = {"none", "relu", "clip", "hardswish", "hardsigmoid", "sigmoid", "gelu", "silu"};
    if (p.activation != Activation::kNone) add("activation", kNames[static_cast<int>(p.activation)]);
    if (p.activation == Activation::kClip || p.activation == Activation::kHardSigmoid) {
      add("act_alpha", fmt::format("{}", p.alpha));
      add("act_beta", fmt::format("{}", p.beta));
    }
    if (p.has_sum) add("sum", "1");
  }
  void operator()(const FusedConvAttrs& a) {
    (*this)(a.conv);
    post(a.post);
  }
  void operator()(const FusedGemmAttrs& a) {
    (*this)(a.gemm);
    post(a.post);
  }
  void operator()(const SoftmaxAttrs& a) {
    add("axis", std::to_string(a.axis));
    if (a.legacy_coerce_2d) add("legacy_coerce_2d", "1");
  }
};

}  // namespace

std::string format_attrs(const Attrs& attrs) {
  AttrFormatter f;
  std::visit(f, attrs);
  return f.out;
}

std::string format_value_type(const Value& v) {
  std::string s(dtype_name(v.dtype));
  s += v.shape ? dims_to_string(*v.shape) : "[?]";
  if (v.quant) {
    s += v.quant->axis ? fmt::format(" quant(per-axis {}, {} scales)", *v.quant->axis, v.quant->scale.size())
                       : fmt::format(" quant(scale={}, zp={})", v.quant->scale.empty() ? 0.f : v.quant->scale[0],
                                     v.quant->zero_point.empty() ? 0 : v.quant->zero_point[0]);
  }
  return s;
}

std::string dump(const Graph& graph, bool with_initializers) {
  std::string out = fmt::format("graph '{}' opset={} ir_version={}\n", graph.info.graph_name, graph.opset(),
                                graph.info.ir_version);
  for (const Value* v : graph.inputs()) out += fmt::format("  input  {}: {}\n", v->name, format_value_type(*v));
  const auto inits = graph.initializers();
  if (with_initializers) {
    for (const Value* v : inits) out += fmt::format("  init   {}: {}\n", v->name, format_value_type(*v));
  } else {
    out += fmt::format("  ({} initializers)\n", inits.size());
  }
  auto order = graph.topological_order();
  std::vector<Node*> nodes;
  if (order.ok()) {
    nodes = *order;
  } else {
    for (const auto& n : graph.nodes()) nodes.push_back(n.get());
  }
  for (const Node* n : nodes) {
    std::vector<std::string> outs, ins;
    for (const Value* v : n->outputs()) outs.push_back(v ? fmt::format("%{}: {}", v->name, format_value_type(*v)) : "_");
    for (const Value* v : n->inputs()) ins.push_back(v ? "%" + v->name : "_");
    const std::string attrs = format_attrs(n->attrs);
    out += fmt::format("  {} = {}({}){}  # {}\n", fmt::join(outs, ", "), op_name(n->kind), fmt::join(ins, ", "),
                       attrs.empty() ? "" : " {" + attrs + "}", n->name);
  }
  for (const Value* v : graph.outputs()) out += fmt::format("  output {}: {}\n", v->name, format_value_type(*v));
  return out;
}

}  // namespace hqp::ir
