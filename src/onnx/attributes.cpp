// ONNX attribute import/export per op. Import reads an attribute only when the op's ONNX schema at
// the model's opset defines it, so opset-specific forms (Clip min/max < 11, Squeeze axes < 13,
// Dropout ratio < 12, ...) are gated by ONNX's own tables; export writes the form of the opset.
#include "onnx/attributes.h"

#include <string>
#include <vector>

#include "onnx/tensor_proto.h"

namespace hqp::onnx_io::detail {

namespace {

using onnx::AttributeProto;
using AttrType = AttributeProto::AttributeType;

// Attribute defaults of ONNX that the exporter omits.
constexpr float kDefaultBnEpsilon = 1e-5f;
constexpr float kDefaultBnMomentum = 0.9f;
constexpr float kDefaultHardSigmoidAlpha = 0.2f;
constexpr float kDefaultHardSigmoidBeta = 0.5f;
constexpr int64_t kDefaultQdqAxis = 1;
// Opsets where attribute forms change.
constexpr int64_t kOpsetNumpyBroadcast = 7;   // Add/Sub/Mul/Div/Gemm lose `broadcast`
constexpr int64_t kOpsetClipInputs = 11;      // Clip min/max become inputs
constexpr int64_t kOpsetDropoutInputs = 12;   // Dropout ratio becomes an input
constexpr int64_t kOpsetAxesInputs = 13;      // Squeeze/Unsqueeze axes become an input
constexpr int64_t kOpsetSoftmaxAxisOnly = 13; // Softmax stops coercing to 2-D; axis default 1 -> -1
constexpr int64_t kOpsetReduceSumAxesInput = 13;  // ReduceSum axes become an input (+ noop_with_empty_axes)
constexpr int64_t kOpsetPadInputs = 11;       // Pad pads / value become inputs
constexpr int64_t kOpsetSliceInputs = 10;     // Slice starts / ends / axes become inputs (+ steps)
constexpr int64_t kOpsetSplitInput = 13;
constexpr int64_t kOpsetResizeRoi = 11;       // Resize gains roi / sizes inputs and its coordinate modes      // Split sizes become an input

// The attribute's type; ONNX files older than IR version 2 may leave `type` unset.
AttrType effective_type(const AttributeProto& a) {
  if (a.type() != AttributeProto::UNDEFINED) return a.type();
  if (a.has_f()) return AttributeProto::FLOAT;
  if (a.has_i()) return AttributeProto::INT;
  if (a.has_s()) return AttributeProto::STRING;
  if (a.has_t()) return AttributeProto::TENSOR;
  if (a.has_g()) return AttributeProto::GRAPH;
  if (a.floats_size() > 0) return AttributeProto::FLOATS;
  if (a.ints_size() > 0) return AttributeProto::INTS;
  if (a.strings_size() > 0) return AttributeProto::STRINGS;
  return AttributeProto::UNDEFINED;
}

std::string attr_type_name(int type) {
  if (onnx::AttributeProto_AttributeType_IsValid(type)) {
    return onnx::AttributeProto_AttributeType_Name(static_cast<AttrType>(type));
  }
  return fmt::format("type {}", type);
}

class AttrReader {
 public:
  explicit AttrReader(const NodeImportContext& ctx)
      : ctx_(ctx), consumed_(static_cast<size_t>(ctx.proto.attribute_size()), false) {}

  Status check_names() const {
    const auto& attrs = ctx_.proto.attribute();
    for (int i = 0; i < attrs.size(); ++i) {
      if (attrs[i].name().empty()) return error(StatusCode::kInvalidArgument, "an attribute has an empty name");
      if (!attrs[i].ref_attr_name().empty()) {
        return error(StatusCode::kUnsupported,
                     fmt::format("attribute '{}' refers to a function attribute", attrs[i].name()));
      }
      for (int j = 0; j < i; ++j) {
        if (attrs[j].name() == attrs[i].name()) {
          return error(StatusCode::kInvalidArgument, fmt::format("attribute '{}' appears twice", attrs[i].name()));
        }
      }
    }
    return Status::ok_status();
  }

  // The attribute `name` of type `type`, marked as read; nullptr when absent or when the op's ONNX
  // schema at this opset does not define it (then finish() reports it). `legacy` skips that gate
  // for neutral attributes of old exporters (BatchNormalization spatial/is_test, ...).
  Result<const AttributeProto*> take(std::string_view name, AttrType type, bool legacy = false) {
    const AttributeProto* none = nullptr;
    if (!legacy && ctx_.schema.attributes().count(std::string(name)) == 0) return none;
    const auto& attrs = ctx_.proto.attribute();
    for (int i = 0; i < attrs.size(); ++i) {
      if (attrs[i].name() != name) continue;
      consumed_[static_cast<size_t>(i)] = true;
      const AttrType actual = effective_type(attrs[i]);
      if (actual != type) {
        return error(StatusCode::kInvalidArgument,
                     fmt::format("attribute '{}' of op '{}' has type {} (expected {})", name, ctx_.proto.op_type(),
                                 attr_type_name(actual), attr_type_name(type)));
      }
      return &attrs[i];
    }
    return none;
  }

  Status read(std::string_view name, int64_t& out, bool legacy = false) {
    HQP_ASSIGN_OR_RETURN(const AttributeProto* a, take(name, AttributeProto::INT, legacy));
    if (a != nullptr) out = a->i();
    return Status::ok_status();
  }
  Status read(std::string_view name, std::optional<int64_t>& out, bool legacy = false) {
    HQP_ASSIGN_OR_RETURN(const AttributeProto* a, take(name, AttributeProto::INT, legacy));
    if (a != nullptr) out = a->i();
    return Status::ok_status();
  }
  Status read(std::string_view name, float& out) {
    HQP_ASSIGN_OR_RETURN(const AttributeProto* a, take(name, AttributeProto::FLOAT));
    if (a != nullptr) out = a->f();
    return Status::ok_status();
  }
  Status read(std::string_view name, std::optional<float>& out) {
    HQP_ASSIGN_OR_RETURN(const AttributeProto* a, take(name, AttributeProto::FLOAT));
    if (a != nullptr) out = a->f();
    return Status::ok_status();
  }
  Status read(std::string_view name, std::vector<int64_t>& out) {
    HQP_ASSIGN_OR_RETURN(const AttributeProto* a, take(name, AttributeProto::INTS));
    if (a != nullptr) out.assign(a->ints().begin(), a->ints().end());
    return Status::ok_status();
  }
  Status read(std::string_view name, std::optional<std::vector<int64_t>>& out) {
    HQP_ASSIGN_OR_RETURN(const AttributeProto* a, take(name, AttributeProto::INTS));
    if (a != nullptr) out = std::vector<int64_t>(a->ints().begin(), a->ints().end());
    return Status::ok_status();
  }
  Status read(std::string_view name, std::string& out) {
    HQP_ASSIGN_OR_RETURN(const AttributeProto* a, take(name, AttributeProto::STRING));
    if (a != nullptr) out = a->s();
    return Status::ok_status();
  }
  // A 0/1 flag (ceil_mode, transA, ...): ONNX's own inference and kernels disagree on other
  // values (some test == 1, some != 0), so they are refused.
  Status read_flag(std::string_view name, int64_t& out) {
    HQP_RETURN_IF_ERROR(read(name, out));
    if (out != 0 && out != 1) {
      return error(StatusCode::kInvalidArgument,
                   fmt::format("attribute '{}' is {} (expected 0 or 1)", name, out));
    }
    return Status::ok_status();
  }
  Status read_auto_pad(ir::AutoPad& out) {
    std::string s;
    HQP_RETURN_IF_ERROR(read("auto_pad", s));
    if (s.empty() || s == "NOTSET") out = ir::AutoPad::kNotSet;
    else if (s == "SAME_UPPER") out = ir::AutoPad::kSameUpper;
    else if (s == "SAME_LOWER") out = ir::AutoPad::kSameLower;
    else if (s == "VALID") out = ir::AutoPad::kValid;
    else {
      return error(StatusCode::kInvalidArgument,
                   fmt::format("auto_pad='{}' (expected NOTSET, SAME_UPPER, SAME_LOWER or VALID)", s));
    }
    return Status::ok_status();
  }

  // kUnsupported for the first attribute nobody read.
  Status finish() const {
    const auto& attrs = ctx_.proto.attribute();
    for (int i = 0; i < attrs.size(); ++i) {
      if (!consumed_[static_cast<size_t>(i)]) {
        return error(StatusCode::kUnsupported, fmt::format("unsupported attribute '{}' of op '{}' (opset {})",
                                                           attrs[i].name(), ctx_.proto.op_type(), ctx_.opset));
      }
    }
    return Status::ok_status();
  }

  Status error(StatusCode code, const std::string& what) const {
    return Status(code, fmt::format("cannot import node '{}': {}", ctx_.node_name, what));
  }

 private:
  const NodeImportContext& ctx_;
  std::vector<bool> consumed_;
};

// Opset < 7 Add/Sub/Mul/Div: `broadcast`=1 lets B broadcast into A, aligned at `axis` (default:
// trailing dims, which numpy broadcasting agrees with). An axis is checked now when both input
// ranks are known, otherwise noted for the importer to check after shape inference.
Status import_legacy_broadcast(AttrReader& r, const NodeImportContext& ctx, ImportNotes& notes) {
  std::optional<int64_t> broadcast;
  std::optional<int64_t> axis;
  HQP_RETURN_IF_ERROR(r.read("broadcast", broadcast));
  HQP_RETURN_IF_ERROR(r.read("axis", axis));
  if (!axis || broadcast.value_or(0) == 0) return Status::ok_status();
  const std::optional<int64_t> rank_a = ctx.input_ranks.size() > 0 ? ctx.input_ranks[0] : std::nullopt;
  const std::optional<int64_t> rank_b = ctx.input_ranks.size() > 1 ? ctx.input_ranks[1] : std::nullopt;
  if (!rank_a || !rank_b) {
    notes.legacy_broadcast_axis = axis;
    return Status::ok_status();
  }
  return check_legacy_broadcast(ctx.node_name, *axis, rank_a, rank_b);
}

Result<ir::ConstantAttrs> import_constant(AttrReader& r, const NodeImportContext& ctx) {
  const std::string context = fmt::format("cannot import node '{}': attribute 'value'", ctx.node_name);
  ir::ConstantAttrs a;
  int forms = 0;
  HQP_ASSIGN_OR_RETURN(const AttributeProto* value, r.take("value", AttributeProto::TENSOR));
  if (value != nullptr) {
    ++forms;
    HQP_ASSIGN_OR_RETURN(a.value, tensor_from_proto(value->t(), context));
    a.form = ir::ConstantAttrs::Form::kValue;
  }
  HQP_ASSIGN_OR_RETURN(const AttributeProto* value_float, r.take("value_float", AttributeProto::FLOAT));
  if (value_float != nullptr) {
    ++forms;
    a.value = Tensor::scalar<float>(value_float->f());
    a.form = ir::ConstantAttrs::Form::kValueFloat;
  }
  HQP_ASSIGN_OR_RETURN(const AttributeProto* value_floats, r.take("value_floats", AttributeProto::FLOATS));
  if (value_floats != nullptr) {
    ++forms;
    a.value = Tensor::from_vector<float>({value_floats->floats_size()},
                                         std::vector<float>(value_floats->floats().begin(), value_floats->floats().end()));
    a.form = ir::ConstantAttrs::Form::kValueFloats;
  }
  HQP_ASSIGN_OR_RETURN(const AttributeProto* value_int, r.take("value_int", AttributeProto::INT));
  if (value_int != nullptr) {
    ++forms;
    a.value = Tensor::scalar<int64_t>(value_int->i());
    a.form = ir::ConstantAttrs::Form::kValueInt;
  }
  HQP_ASSIGN_OR_RETURN(const AttributeProto* value_ints, r.take("value_ints", AttributeProto::INTS));
  if (value_ints != nullptr) {
    ++forms;
    a.value = Tensor::from_vector<int64_t>({value_ints->ints_size()},
                                           std::vector<int64_t>(value_ints->ints().begin(), value_ints->ints().end()));
    a.form = ir::ConstantAttrs::Form::kValueInts;
  }
  // sparse_value, value_string and value_strings stay unread: finish() reports them as unsupported.
  HQP_RETURN_IF_ERROR(r.finish());
  if (forms != 1) {
    return r.error(StatusCode::kInvalidArgument,
                   fmt::format("Constant has {} value attributes (expected exactly 1)", forms));
  }
  return a;
}

}  // namespace

Status check_legacy_broadcast(std::string_view node_name, int64_t axis, std::optional<int64_t> rank_a,
                              std::optional<int64_t> rank_b) {
  if (!rank_a || !rank_b) {
    return make_error(StatusCode::kUnsupported,
                      "cannot import node '{}': legacy broadcast with axis={} needs the ranks of both inputs", node_name,
                      axis);
  }
  const int64_t normalized = axis < 0 ? axis + *rank_a : axis;
  if (normalized != *rank_a - *rank_b) {
    return make_error(StatusCode::kUnsupported,
                      "cannot import node '{}': legacy broadcast along axis={} is not numpy broadcasting (rank(A)={}, "
                      "rank(B)={}, expected axis={})",
                      node_name, axis, *rank_a, *rank_b, *rank_a - *rank_b);
  }
  return Status::ok_status();
}

Result<ir::Attrs> import_attrs(const NodeImportContext& ctx, ImportNotes& notes) {
  using K = ir::OpKind;
  AttrReader r(ctx);
  HQP_RETURN_IF_ERROR(r.check_names());
  ir::Attrs attrs = ir::default_attrs(ctx.kind);
  switch (ctx.kind) {
    case K::Conv: {
      auto& a = std::get<ir::ConvAttrs>(attrs);
      HQP_RETURN_IF_ERROR(r.read("kernel_shape", a.kernel_shape));
      HQP_RETURN_IF_ERROR(r.read("strides", a.strides));
      HQP_RETURN_IF_ERROR(r.read("dilations", a.dilations));
      HQP_RETURN_IF_ERROR(r.read("pads", a.pads));
      HQP_RETURN_IF_ERROR(r.read("group", a.group));
      HQP_RETURN_IF_ERROR(r.read_auto_pad(a.auto_pad));
      break;
    }
    case K::BatchNormalization: {
      auto& a = std::get<ir::BatchNormAttrs>(attrs);
      HQP_RETURN_IF_ERROR(r.read("epsilon", a.epsilon));
      HQP_RETURN_IF_ERROR(r.read("momentum", a.momentum));
      HQP_RETURN_IF_ERROR(r.read_flag("training_mode", a.training_mode));
      // Legacy (opset < 9) attributes of old exporters: neutral at inference, dropped.
      std::optional<int64_t> spatial;
      std::optional<int64_t> is_test;
      HQP_RETURN_IF_ERROR(r.read("spatial", spatial, /*legacy=*/true));
      HQP_RETURN_IF_ERROR(r.read("is_test", is_test, /*legacy=*/true));
      HQP_RETURN_IF_ERROR(r.take("consumed_inputs", AttributeProto::INTS, /*legacy=*/true).status());
      if (spatial && *spatial != 1) {
        return r.error(StatusCode::kUnsupported,
                       fmt::format("BatchNormalization spatial={} is not supported (expected 1)", *spatial));
      }
      break;
    }
    case K::Clip: {
      auto& a = std::get<ir::ClipAttrs>(attrs);
      HQP_RETURN_IF_ERROR(r.read("min", a.min));
      HQP_RETURN_IF_ERROR(r.read("max", a.max));
      break;
    }
    case K::HardSigmoid: {
      auto& a = std::get<ir::HardSigmoidAttrs>(attrs);
      HQP_RETURN_IF_ERROR(r.read("alpha", a.alpha));
      HQP_RETURN_IF_ERROR(r.read("beta", a.beta));
      break;
    }
    case K::LeakyRelu: {
      auto& a = std::get<ir::LeakyReluAttrs>(attrs);
      HQP_RETURN_IF_ERROR(r.read("alpha", a.alpha));
      break;
    }
    case K::ReduceMean:
    case K::ReduceMax:
    case K::ReduceSum: {
      auto& a = std::get<ir::ReduceAttrs>(attrs);
      const bool axes_input = ctx.kind == K::ReduceSum && ctx.opset >= kOpsetReduceSumAxesInput;
      if (!axes_input) HQP_RETURN_IF_ERROR(r.read("axes", a.axes));
      HQP_RETURN_IF_ERROR(r.read("keepdims", a.keepdims));
      if (axes_input) HQP_RETURN_IF_ERROR(r.read("noop_with_empty_axes", a.noop_with_empty_axes));
      break;
    }
    case K::Add:
    case K::Sub:
    case K::Mul:
    case K::Div:
      if (ctx.opset < kOpsetNumpyBroadcast) HQP_RETURN_IF_ERROR(import_legacy_broadcast(r, ctx, notes));
      break;
    case K::AveragePool:
    case K::MaxPool: {
      auto& a = std::get<ir::PoolAttrs>(attrs);
      HQP_RETURN_IF_ERROR(r.read("kernel_shape", a.kernel_shape));
      HQP_RETURN_IF_ERROR(r.read("strides", a.strides));
      HQP_RETURN_IF_ERROR(r.read("dilations", a.dilations));
      HQP_RETURN_IF_ERROR(r.read("pads", a.pads));
      HQP_RETURN_IF_ERROR(r.read_auto_pad(a.auto_pad));
      HQP_RETURN_IF_ERROR(r.read_flag("ceil_mode", a.ceil_mode));
      HQP_RETURN_IF_ERROR(r.read_flag("count_include_pad", a.count_include_pad));
      HQP_RETURN_IF_ERROR(r.read_flag("storage_order", a.storage_order));
      break;
    }
    case K::Flatten: HQP_RETURN_IF_ERROR(r.read("axis", std::get<ir::FlattenAttrs>(attrs).axis)); break;
    case K::Reshape: HQP_RETURN_IF_ERROR(r.read_flag("allowzero", std::get<ir::ReshapeAttrs>(attrs).allowzero)); break;
    case K::Transpose: HQP_RETURN_IF_ERROR(r.read("perm", std::get<ir::TransposeAttrs>(attrs).perm)); break;
    case K::Squeeze:
    case K::Unsqueeze: {
      auto& axes = std::get<ir::AxesAttrs>(attrs).axes;
      HQP_RETURN_IF_ERROR(r.read("axes", axes));
      // ONNX's checker refuses a list attribute without elements (and the two ops disagree on its meaning).
      if (axes && axes->empty()) return r.error(StatusCode::kInvalidArgument, "attribute 'axes' is an empty list");
      break;
    }
    case K::Cast: {
      int64_t to = 0;
      HQP_RETURN_IF_ERROR(r.read("to", to));
      if (to == 0) return r.error(StatusCode::kInvalidArgument, "attribute 'to' is missing");
      Result<DType> dtype = detail::dtype_from_onnx(static_cast<int32_t>(to), fmt::format("cannot import node '{}'", ctx.node_name));
      if (!dtype.ok()) return dtype.status();
      std::get<ir::CastAttrs>(attrs).to = *dtype;
      break;
    }
    case K::Pad: {
      auto& a = std::get<ir::PadAttrs>(attrs);
      std::string mode;
      HQP_RETURN_IF_ERROR(r.read("mode", mode));
      if (mode.empty() || mode == "constant") a.mode = ir::PadMode::kConstant;
      else if (mode == "reflect") a.mode = ir::PadMode::kReflect;
      else if (mode == "edge") a.mode = ir::PadMode::kEdge;
      else {
        return r.error(StatusCode::kUnsupported,
                       fmt::format("Pad mode '{}' is not supported (expected constant, reflect or edge)", mode));
      }
      HQP_RETURN_IF_ERROR(r.read("pads", a.pads));
      HQP_RETURN_IF_ERROR(r.read("value", a.value));
      if (ctx.opset < kOpsetPadInputs && !a.pads) {
        return r.error(StatusCode::kInvalidArgument, "attribute 'pads' is missing");
      }
      break;
    }
    case K::Resize: {
      if (ctx.opset < kOpsetResizeRoi) {
        return r.error(StatusCode::kUnsupported,
                       fmt::format("Resize at opset {} (inputs X, scales) is not supported (expected opset >= {})",
                                   ctx.opset, kOpsetResizeRoi));
      }
      auto& a = std::get<ir::ResizeAttrs>(attrs);
      std::string mode, coordinates, nearest;
      int64_t exclude_outside = 0;
      float cubic_coeff_a = -0.75f, extrapolation_value = 0.0f;
      HQP_RETURN_IF_ERROR(r.read("mode", mode));
      HQP_RETURN_IF_ERROR(r.read("coordinate_transformation_mode", coordinates));
      HQP_RETURN_IF_ERROR(r.read("nearest_mode", nearest));
      // Only cubic mode and tf_crop_and_resize read these; they are accepted (and unused) otherwise.
      HQP_RETURN_IF_ERROR(r.read("cubic_coeff_a", cubic_coeff_a));
      HQP_RETURN_IF_ERROR(r.read("exclude_outside", exclude_outside));
      HQP_RETURN_IF_ERROR(r.read("extrapolation_value", extrapolation_value));
      if (mode.empty() || mode == "nearest") a.mode = ir::ResizeMode::kNearest;
      else if (mode == "linear") a.mode = ir::ResizeMode::kLinear;
      else {
        return r.error(StatusCode::kUnsupported,
                       fmt::format("Resize mode '{}' is not supported (expected nearest or linear)", mode));
      }
      if (coordinates.empty() || coordinates == "half_pixel") a.coordinates = ir::ResizeCoordinates::kHalfPixel;
      else if (coordinates == "pytorch_half_pixel") a.coordinates = ir::ResizeCoordinates::kPytorchHalfPixel;
      else if (coordinates == "align_corners") a.coordinates = ir::ResizeCoordinates::kAlignCorners;
      else if (coordinates == "asymmetric") a.coordinates = ir::ResizeCoordinates::kAsymmetric;
      else if (coordinates == "tf_half_pixel_for_nn") a.coordinates = ir::ResizeCoordinates::kTfHalfPixelForNn;
      else {
        return r.error(StatusCode::kUnsupported,
                       fmt::format("Resize coordinate_transformation_mode '{}' is not supported (expected half_pixel, "
                                   "pytorch_half_pixel, align_corners, asymmetric or tf_half_pixel_for_nn)",
                                   coordinates));
      }
      if (nearest.empty() || nearest == "round_prefer_floor") a.nearest = ir::ResizeNearest::kRoundPreferFloor;
      else if (nearest == "round_prefer_ceil") a.nearest = ir::ResizeNearest::kRoundPreferCeil;
      else if (nearest == "floor") a.nearest = ir::ResizeNearest::kFloor;
      else if (nearest == "ceil") a.nearest = ir::ResizeNearest::kCeil;
      else {
        return r.error(StatusCode::kInvalidArgument,
                       fmt::format("Resize nearest_mode '{}' is unknown (expected round_prefer_floor, "
                                   "round_prefer_ceil, floor or ceil)", nearest));
      }
      break;
    }
    case K::Slice: {
      auto& a = std::get<ir::SliceAttrs>(attrs);
      HQP_RETURN_IF_ERROR(r.read("starts", a.starts));
      HQP_RETURN_IF_ERROR(r.read("ends", a.ends));
      HQP_RETURN_IF_ERROR(r.read("axes", a.axes));
      if (ctx.opset < kOpsetSliceInputs && (!a.starts || !a.ends)) {
        return r.error(StatusCode::kInvalidArgument, "attributes 'starts' and 'ends' are required");
      }
      break;
    }
    case K::Split: {
      auto& a = std::get<ir::SplitAttrs>(attrs);
      HQP_RETURN_IF_ERROR(r.read("axis", a.axis));
      HQP_RETURN_IF_ERROR(r.read("split", a.split));
      break;
    }
    case K::Shape: {
      auto& a = std::get<ir::ShapeAttrs>(attrs);
      HQP_RETURN_IF_ERROR(r.read("start", a.start));
      HQP_RETURN_IF_ERROR(r.read("end", a.end));
      break;
    }
    case K::Gather:
    case K::Concat:
    case K::QuantizeLinear:
    case K::DequantizeLinear: {
      auto& a = std::get<ir::AxisAttrs>(attrs);
      std::optional<int64_t> axis;
      HQP_RETURN_IF_ERROR(r.read("axis", axis));
      a.present = axis.has_value();
      const bool is_qdq = ctx.kind == K::QuantizeLinear || ctx.kind == K::DequantizeLinear;
      a.axis = axis.value_or(is_qdq ? kDefaultQdqAxis : 0);
      break;
    }
    case K::Gemm: {
      auto& a = std::get<ir::GemmAttrs>(attrs);
      HQP_RETURN_IF_ERROR(r.read("alpha", a.alpha));
      HQP_RETURN_IF_ERROR(r.read("beta", a.beta));
      HQP_RETURN_IF_ERROR(r.read_flag("transA", a.trans_a));
      HQP_RETURN_IF_ERROR(r.read_flag("transB", a.trans_b));
      // Opset < 7: `broadcast` of C; numpy-style broadcasting of C (the IR's meaning) covers both values.
      HQP_RETURN_IF_ERROR(r.take("broadcast", AttributeProto::INT).status());
      break;
    }
    case K::Dropout: {
      auto& a = std::get<ir::DropoutAttrs>(attrs);
      HQP_RETURN_IF_ERROR(r.read("ratio", a.ratio));
      HQP_RETURN_IF_ERROR(r.read("seed", a.seed));
      // Opset 6 training flags; Dropout is the identity at inference either way.
      HQP_RETURN_IF_ERROR(r.take("is_test", AttributeProto::INT, /*legacy=*/true).status());
      HQP_RETURN_IF_ERROR(r.take("consumed_inputs", AttributeProto::INTS, /*legacy=*/true).status());
      break;
    }
    case K::Constant: {
      HQP_ASSIGN_OR_RETURN(ir::ConstantAttrs a, import_constant(r, ctx));
      attrs = std::move(a);
      break;
    }
    case K::LayerNormalization: {
      auto& a = std::get<ir::LayerNormAttrs>(attrs);
      HQP_RETURN_IF_ERROR(r.read("axis", a.axis));
      HQP_RETURN_IF_ERROR(r.read("epsilon", a.epsilon));
      HQP_RETURN_IF_ERROR(r.read("stash_type", a.stash_type));
      break;
    }
    case K::Softmax: {
      auto& a = std::get<ir::SoftmaxAttrs>(attrs);
      a.legacy_coerce_2d = ctx.opset < kOpsetSoftmaxAxisOnly;
      a.axis = a.legacy_coerce_2d ? 1 : -1;
      HQP_RETURN_IF_ERROR(r.read("axis", a.axis));
      break;
    }
    case K::Relu:
    case K::HardSwish:
    case K::Sigmoid:
    case K::Tanh:
    case K::Exp:
    case K::Sqrt:
    case K::Erf:
    case K::Pow:
    case K::PRelu:
    case K::Expand:
    case K::GlobalAveragePool:
    case K::MatMul:
    case K::Identity: break;
    case K::FusedConv:
    case K::FusedGemm:
    case K::QConv:
    case K::QGemm:
    case K::QAdd:
    case K::QMul:
    case K::QLut:
    case K::QGlobalAveragePool:
    case K::Gelu:
    case K::Silu:
      return r.error(StatusCode::kUnsupported,
                     fmt::format("internal op '{}' is never imported", ir::op_name(ctx.kind)));
  }
  HQP_RETURN_IF_ERROR(r.finish());
  return attrs;
}

namespace {

class AttrWriter {
 public:
  AttrWriter(const ir::Node& node, int64_t opset, const onnx::OpSchema& schema, onnx::NodeProto* proto)
      : node_(node), opset_(opset), schema_(schema), proto_(proto) {}

  Status set_int(const char* name, int64_t v) {
    HQP_ASSIGN_OR_RETURN(AttributeProto * a, add(name, AttributeProto::INT));
    a->set_i(v);
    return Status::ok_status();
  }
  Status set_float(const char* name, float v) {
    HQP_ASSIGN_OR_RETURN(AttributeProto * a, add(name, AttributeProto::FLOAT));
    a->set_f(v);
    return Status::ok_status();
  }
  Status set_ints(const char* name, std::span<const int64_t> v) {
    HQP_ASSIGN_OR_RETURN(AttributeProto * a, add(name, AttributeProto::INTS));
    for (int64_t x : v) a->add_ints(x);
    return Status::ok_status();
  }
  Status set_floats(const char* name, std::span<const float> v) {
    HQP_ASSIGN_OR_RETURN(AttributeProto * a, add(name, AttributeProto::FLOATS));
    for (float x : v) a->add_floats(x);
    return Status::ok_status();
  }
  Status set_string(const char* name, const std::string& v) {
    HQP_ASSIGN_OR_RETURN(AttributeProto * a, add(name, AttributeProto::STRING));
    a->set_s(v);
    return Status::ok_status();
  }
  Status set_tensor(const char* name, const Tensor& t) {
    HQP_ASSIGN_OR_RETURN(AttributeProto * a, add(name, AttributeProto::TENSOR));
    tensor_to_proto(t, std::string(), a->mutable_t());
    a->mutable_t()->clear_name();
    return Status::ok_status();
  }
  Status set_ints_if_any(const char* name, const std::vector<int64_t>& v) {
    return v.empty() ? Status::ok_status() : set_ints(name, v);
  }

  Status error(StatusCode code, const std::string& what) const {
    return Status(code, fmt::format("cannot export node '{}': {}", node_.name, what));
  }

 private:
  // New attribute; kUnsupported when the op's schema at this opset has no such attribute.
  Result<AttributeProto*> add(const char* name, AttrType type) {
    if (schema_.attributes().count(name) == 0) {
      return error(StatusCode::kUnsupported, fmt::format("op '{}' has no attribute '{}' at opset {} (IR value needs it)",
                                                         ir::op_name(node_.kind), name, opset_));
    }
    AttributeProto* a = proto_->add_attribute();
    a->set_name(name);
    a->set_type(type);
    return a;
  }

  const ir::Node& node_;
  int64_t opset_;
  const onnx::OpSchema& schema_;
  onnx::NodeProto* proto_;
};

Status export_auto_pad(AttrWriter& w, ir::AutoPad pad) {
  switch (pad) {
    case ir::AutoPad::kNotSet: return Status::ok_status();
    case ir::AutoPad::kSameUpper: return w.set_string("auto_pad", "SAME_UPPER");
    case ir::AutoPad::kSameLower: return w.set_string("auto_pad", "SAME_LOWER");
    case ir::AutoPad::kValid: return w.set_string("auto_pad", "VALID");
  }
  return Status::ok_status();
}

bool same_known_shape(const ir::Value* a, const ir::Value* b) {
  return a != nullptr && b != nullptr && a->shape && b->shape && static_shape(*a->shape) &&
         *a->shape == *b->shape;
}

Status export_constant(AttrWriter& w, const ir::ConstantAttrs& a) {
  using Form = ir::ConstantAttrs::Form;
  const Tensor& t = a.value;
  if (!t.defined()) return w.error(StatusCode::kInvalidArgument, "Constant has no value");
  auto expect = [&](DType dtype, int64_t rank, const char* form) -> Status {
    if (t.dtype() == dtype && t.rank() == rank) return Status::ok_status();
    return w.error(StatusCode::kInvalidArgument,
                   fmt::format("Constant form {} needs a rank-{} {} tensor (got {} of shape {})", form, rank,
                               dtype_name(dtype), dtype_name(t.dtype()), shape_to_string(t.shape())));
  };
  switch (a.form) {
    case Form::kValue: return w.set_tensor("value", t);
    case Form::kValueFloat:
      HQP_RETURN_IF_ERROR(expect(DType::kF32, 0, "value_float"));
      return w.set_float("value_float", t.data<float>()[0]);
    case Form::kValueFloats:
      HQP_RETURN_IF_ERROR(expect(DType::kF32, 1, "value_floats"));
      return w.set_floats("value_floats", t.span<float>());
    case Form::kValueInt:
      HQP_RETURN_IF_ERROR(expect(DType::kS64, 0, "value_int"));
      return w.set_int("value_int", t.data<int64_t>()[0]);
    case Form::kValueInts:
      HQP_RETURN_IF_ERROR(expect(DType::kS64, 1, "value_ints"));
      return w.set_ints("value_ints", t.span<int64_t>());
  }
  return Status::ok_status();
}

}  // namespace

Status export_attrs(const ir::Node& node, int64_t opset, const onnx::OpSchema& schema, onnx::NodeProto* proto) {
  using K = ir::OpKind;
  AttrWriter w(node, opset, schema, proto);
  switch (node.kind) {
    case K::Conv: {
      const auto& a = node.attr<ir::ConvAttrs>();
      HQP_RETURN_IF_ERROR(w.set_ints_if_any("kernel_shape", a.kernel_shape));
      HQP_RETURN_IF_ERROR(w.set_ints_if_any("strides", a.strides));
      HQP_RETURN_IF_ERROR(w.set_ints_if_any("dilations", a.dilations));
      HQP_RETURN_IF_ERROR(w.set_ints_if_any("pads", a.pads));
      if (a.group != 1) HQP_RETURN_IF_ERROR(w.set_int("group", a.group));
      return export_auto_pad(w, a.auto_pad);
    }
    case K::BatchNormalization: {
      const auto& a = node.attr<ir::BatchNormAttrs>();
      if (a.epsilon != kDefaultBnEpsilon) HQP_RETURN_IF_ERROR(w.set_float("epsilon", a.epsilon));
      if (a.momentum != kDefaultBnMomentum) HQP_RETURN_IF_ERROR(w.set_float("momentum", a.momentum));
      if (a.training_mode != 0) HQP_RETURN_IF_ERROR(w.set_int("training_mode", a.training_mode));
      return Status::ok_status();
    }
    case K::Clip: {
      const auto& a = node.attr<ir::ClipAttrs>();
      if ((a.min || a.max) && opset >= kOpsetClipInputs) {
        return w.error(StatusCode::kUnsupported,
                       fmt::format("Clip min/max attributes need opset < {} (model opset {}; they are inputs there)",
                                   kOpsetClipInputs, opset));
      }
      if (a.min) HQP_RETURN_IF_ERROR(w.set_float("min", *a.min));
      if (a.max) HQP_RETURN_IF_ERROR(w.set_float("max", *a.max));
      return Status::ok_status();
    }
    case K::HardSigmoid: {
      const auto& a = node.attr<ir::HardSigmoidAttrs>();
      if (a.alpha != kDefaultHardSigmoidAlpha) HQP_RETURN_IF_ERROR(w.set_float("alpha", a.alpha));
      if (a.beta != kDefaultHardSigmoidBeta) HQP_RETURN_IF_ERROR(w.set_float("beta", a.beta));
      return Status::ok_status();
    }
    case K::LeakyRelu: {
      const auto& a = node.attr<ir::LeakyReluAttrs>();
      return a.alpha != ir::LeakyReluAttrs{}.alpha ? w.set_float("alpha", a.alpha) : Status::ok_status();
    }
    case K::ReduceMean:
    case K::ReduceMax:
    case K::ReduceSum: {
      const auto& a = node.attr<ir::ReduceAttrs>();
      const bool axes_input = node.kind == K::ReduceSum && opset >= kOpsetReduceSumAxesInput;
      if (a.axes) {
        if (axes_input) {
          return w.error(StatusCode::kUnsupported,
                         fmt::format("ReduceSum axes attribute needs opset < {} (model opset {}; axes is an input there)",
                                     kOpsetReduceSumAxesInput, opset));
        }
        HQP_RETURN_IF_ERROR(w.set_ints("axes", *a.axes));
      }
      if (a.keepdims != 1) HQP_RETURN_IF_ERROR(w.set_int("keepdims", a.keepdims));
      if (a.noop_with_empty_axes != 0) {
        if (!axes_input) {
          return w.error(StatusCode::kUnsupported,
                         fmt::format("{} noop_with_empty_axes needs ReduceSum at opset >= {} (model opset {})",
                                     ir::op_name(node.kind), kOpsetReduceSumAxesInput, opset));
        }
        HQP_RETURN_IF_ERROR(w.set_int("noop_with_empty_axes", a.noop_with_empty_axes));
      }
      return Status::ok_status();
    }
    case K::Add:
    case K::Sub:
    case K::Mul:
    case K::Div:
      // Opset < 7 broadcasts only with broadcast=1 (B aligned with A's trailing dims).
      if (opset < kOpsetNumpyBroadcast && !same_known_shape(node.input(0), node.input(1))) {
        return w.set_int("broadcast", 1);
      }
      return Status::ok_status();
    case K::AveragePool:
    case K::MaxPool: {
      const auto& a = node.attr<ir::PoolAttrs>();
      HQP_RETURN_IF_ERROR(w.set_ints_if_any("kernel_shape", a.kernel_shape));
      HQP_RETURN_IF_ERROR(w.set_ints_if_any("strides", a.strides));
      HQP_RETURN_IF_ERROR(w.set_ints_if_any("dilations", a.dilations));
      HQP_RETURN_IF_ERROR(w.set_ints_if_any("pads", a.pads));
      HQP_RETURN_IF_ERROR(export_auto_pad(w, a.auto_pad));
      if (a.ceil_mode != 0) HQP_RETURN_IF_ERROR(w.set_int("ceil_mode", a.ceil_mode));
      if (a.count_include_pad != 0) HQP_RETURN_IF_ERROR(w.set_int("count_include_pad", a.count_include_pad));
      if (a.storage_order != 0) HQP_RETURN_IF_ERROR(w.set_int("storage_order", a.storage_order));
      return Status::ok_status();
    }
    case K::Flatten: {
      const auto& a = node.attr<ir::FlattenAttrs>();
      return a.axis != 1 ? w.set_int("axis", a.axis) : Status::ok_status();
    }
    case K::Reshape: {
      const auto& a = node.attr<ir::ReshapeAttrs>();
      return a.allowzero != 0 ? w.set_int("allowzero", a.allowzero) : Status::ok_status();
    }
    case K::Transpose: return w.set_ints_if_any("perm", node.attr<ir::TransposeAttrs>().perm);
    case K::Squeeze:
    case K::Unsqueeze: {
      const auto& a = node.attr<ir::AxesAttrs>();
      if (!a.axes) return Status::ok_status();
      if (opset >= kOpsetAxesInputs) {
        return w.error(StatusCode::kUnsupported,
                       fmt::format("{} axes attribute needs opset < {} (model opset {}; axes is an input there)",
                                   ir::op_name(node.kind), kOpsetAxesInputs, opset));
      }
      return w.set_ints("axes", *a.axes);
    }
    case K::Cast: return w.set_int("to", detail::dtype_to_onnx(node.attr<ir::CastAttrs>().to));
    case K::Pad: {
      const auto& a = node.attr<ir::PadAttrs>();
      if (a.mode == ir::PadMode::kReflect) HQP_RETURN_IF_ERROR(w.set_string("mode", "reflect"));
      if (a.mode == ir::PadMode::kEdge) HQP_RETURN_IF_ERROR(w.set_string("mode", "edge"));
      if ((a.pads || a.value) && opset >= kOpsetPadInputs) {
        return w.error(StatusCode::kUnsupported,
                       fmt::format("Pad pads/value attributes need opset < {} (model opset {}; they are inputs there)",
                                   kOpsetPadInputs, opset));
      }
      if (!a.pads && opset < kOpsetPadInputs) {
        return w.error(StatusCode::kUnsupported,
                       fmt::format("Pad with a pads input needs opset >= {} (model opset {})", kOpsetPadInputs, opset));
      }
      if (a.pads) HQP_RETURN_IF_ERROR(w.set_ints("pads", *a.pads));
      if (a.value) HQP_RETURN_IF_ERROR(w.set_float("value", *a.value));
      return Status::ok_status();
    }
    case K::Resize: {
      if (opset < kOpsetResizeRoi) {
        return w.error(StatusCode::kUnsupported,
                       fmt::format("Resize needs opset >= {} (model opset {})", kOpsetResizeRoi, opset));
      }
      static constexpr const char* kModes[] = {"nearest", "linear"};
      static constexpr const char* kCoordinates[] = {"half_pixel", "pytorch_half_pixel", "align_corners",
                                                     "asymmetric", "tf_half_pixel_for_nn"};
      static constexpr const char* kNearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
      const auto& a = node.attr<ir::ResizeAttrs>();
      HQP_RETURN_IF_ERROR(w.set_string("mode", kModes[static_cast<int>(a.mode)]));
      HQP_RETURN_IF_ERROR(w.set_string("coordinate_transformation_mode", kCoordinates[static_cast<int>(a.coordinates)]));
      return w.set_string("nearest_mode", kNearest[static_cast<int>(a.nearest)]);
    }
    case K::Slice: {
      const auto& a = node.attr<ir::SliceAttrs>();
      const bool attrs_form = a.starts || a.ends || a.axes;
      if (attrs_form != (opset < kOpsetSliceInputs)) {
        return w.error(StatusCode::kUnsupported,
                       fmt::format("Slice with its bounds as {} cannot be written at opset {} (attributes below {}, "
                                   "inputs from it)", attrs_form ? "attributes" : "inputs", opset, kOpsetSliceInputs));
      }
      if (a.starts) HQP_RETURN_IF_ERROR(w.set_ints("starts", *a.starts));
      if (a.ends) HQP_RETURN_IF_ERROR(w.set_ints("ends", *a.ends));
      if (a.axes) HQP_RETURN_IF_ERROR(w.set_ints("axes", *a.axes));
      return Status::ok_status();
    }
    case K::Split: {
      const auto& a = node.attr<ir::SplitAttrs>();
      if (a.axis != 0) HQP_RETURN_IF_ERROR(w.set_int("axis", a.axis));
      if (a.split) {
        if (opset >= kOpsetSplitInput) {
          return w.error(StatusCode::kUnsupported,
                         fmt::format("Split sizes attribute needs opset < {} (model opset {}; it is an input there)",
                                     kOpsetSplitInput, opset));
        }
        HQP_RETURN_IF_ERROR(w.set_ints("split", *a.split));
      }
      return Status::ok_status();
    }
    case K::Shape: {
      const auto& a = node.attr<ir::ShapeAttrs>();
      if (a.start) HQP_RETURN_IF_ERROR(w.set_int("start", *a.start));
      if (a.end) HQP_RETURN_IF_ERROR(w.set_int("end", *a.end));
      return Status::ok_status();
    }
    case K::Gather:
    case K::QuantizeLinear:
    case K::DequantizeLinear: {
      const auto& a = node.attr<ir::AxisAttrs>();
      return a.present ? w.set_int("axis", a.axis) : Status::ok_status();
    }
    case K::Concat: return w.set_int("axis", node.attr<ir::AxisAttrs>().axis);  // required by ONNX
    case K::Gemm: {
      const auto& a = node.attr<ir::GemmAttrs>();
      if (a.alpha != 1.0f) HQP_RETURN_IF_ERROR(w.set_float("alpha", a.alpha));
      if (a.beta != 1.0f) HQP_RETURN_IF_ERROR(w.set_float("beta", a.beta));
      if (a.trans_a != 0) HQP_RETURN_IF_ERROR(w.set_int("transA", a.trans_a));
      if (a.trans_b != 0) HQP_RETURN_IF_ERROR(w.set_int("transB", a.trans_b));
      if (opset < kOpsetNumpyBroadcast && node.input(2) != nullptr) HQP_RETURN_IF_ERROR(w.set_int("broadcast", 1));
      return Status::ok_status();
    }
    case K::Dropout: {
      const auto& a = node.attr<ir::DropoutAttrs>();
      if (a.ratio) {
        if (opset >= kOpsetDropoutInputs) {
          return w.error(StatusCode::kUnsupported,
                         fmt::format("Dropout ratio attribute needs opset < {} (model opset {}; ratio is an input there)",
                                     kOpsetDropoutInputs, opset));
        }
        HQP_RETURN_IF_ERROR(w.set_float("ratio", *a.ratio));
      }
      if (a.seed) HQP_RETURN_IF_ERROR(w.set_int("seed", *a.seed));
      return Status::ok_status();
    }
    case K::Constant: return export_constant(w, node.attr<ir::ConstantAttrs>());
    case K::LayerNormalization: {
      const auto& a = node.attr<ir::LayerNormAttrs>();
      const ir::LayerNormAttrs d;
      if (a.axis != d.axis) HQP_RETURN_IF_ERROR(w.set_int("axis", a.axis));
      if (a.epsilon != d.epsilon) HQP_RETURN_IF_ERROR(w.set_float("epsilon", a.epsilon));
      if (a.stash_type != d.stash_type) HQP_RETURN_IF_ERROR(w.set_int("stash_type", a.stash_type));
      return Status::ok_status();
    }
    case K::Softmax: {
      const auto& a = node.attr<ir::SoftmaxAttrs>();
      const bool legacy = opset < kOpsetSoftmaxAxisOnly;
      if (a.legacy_coerce_2d != legacy) {
        return w.error(StatusCode::kUnsupported,
                       fmt::format("Softmax with legacy_coerce_2d={} cannot be expressed at opset {} (it is {} there)",
                                   a.legacy_coerce_2d, opset, legacy));
      }
      const int64_t default_axis = legacy ? 1 : -1;
      return a.axis != default_axis ? w.set_int("axis", a.axis) : Status::ok_status();
    }
    case K::Relu:
    case K::HardSwish:
    case K::Sigmoid:
    case K::Tanh:
    case K::Exp:
    case K::Sqrt:
    case K::Erf:
    case K::Pow:
    case K::PRelu:
    case K::Expand:
    case K::GlobalAveragePool:
    case K::MatMul:
    case K::Identity: return Status::ok_status();
    case K::FusedConv:
    case K::FusedGemm:
    case K::QConv:
    case K::QGemm:
    case K::QAdd:
    case K::QMul:
    case K::QLut:
    case K::QGlobalAveragePool:
    case K::Gelu:
    case K::Silu:
      return w.error(StatusCode::kUnsupported,
                     fmt::format("internal op '{}' (domain '{}') has no ONNX form", ir::op_name(node.kind),
                                 ir::kInternalDomain));
  }
  return Status::ok_status();
}

}  // namespace hqp::onnx_io::detail
