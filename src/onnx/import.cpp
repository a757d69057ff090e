// ONNX ModelProto -> ir::Graph. Order of work: size limits, protobuf parse, model header (ir_version,
// opsets), initializers, graph inputs, node names, node outputs, node inputs and attributes, graph
// outputs, then ir::verify_and_infer and the QDQ quantization parameters.
#include "onnx/import.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <onnx/defs/data_type_utils.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>

#include "ir/rewrite.h"
#include "ir/verifier.h"
#include "onnx/attributes.h"
#include "core/file_io.h"
#include "onnx/tensor_proto.h"

namespace hqp::onnx_io {

namespace {

using detail::tensor_from_proto;

bool is_default_domain(std::string_view domain) { return domain.empty() || domain == "ai.onnx"; }

Status not_a_model(std::string_view source, std::string_view why) {
  return make_error(StatusCode::kParseError, "cannot parse ONNX model '{}': not an ONNX model ({})", source, why);
}

// Model-level checks and metadata; returns the default-domain opset.
Result<int64_t> import_model_info(const onnx::ModelProto& model, std::string_view source, ir::ModelInfo& info) {
  // IR 3 (ONNX 1.0) introduced opset_import; every opset hqp reads (>= 6) needs it. (Other
  // protobufs, e.g. a TensorProto, parse as a ModelProto with a small or absent ir_version.)
  if (!model.has_ir_version() || model.ir_version() < 3) {
    return not_a_model(source, fmt::format("ir_version={}, expected >= 3", model.ir_version()));
  }
  if (!model.has_graph()) return not_a_model(source, "no graph");
  std::optional<int64_t> opset;
  std::unordered_set<std::string> domains;
  info.opset_imports.clear();
  for (const onnx::OperatorSetIdProto& op_set : model.opset_import()) {
    const std::string domain = op_set.domain() == "ai.onnx" ? std::string() : op_set.domain();
    if (!domains.insert(domain).second) {
      return make_error(StatusCode::kInvalidArgument, "cannot import model '{}': opset_import lists domain '{}' twice",
                        source, op_set.domain());
    }
    if (is_default_domain(op_set.domain())) opset = op_set.version();
    info.opset_imports.emplace_back(op_set.domain(), op_set.version());
  }
  if (!opset) return not_a_model(source, "no opset_import for the default domain");
  if (*opset < kMinOpset || *opset > kMaxOpset) {
    return make_error(StatusCode::kUnsupported,
                      "cannot import model '{}': unsupported opset {} of the default domain (expected {}..{})", source,
                      *opset, kMinOpset, kMaxOpset);
  }
  info.ir_version = model.ir_version();
  info.producer_name = model.producer_name();
  info.producer_version = model.producer_version();
  info.domain = model.domain();
  info.model_version = model.model_version();
  info.doc_string = model.doc_string();
  info.graph_name = model.graph().name();
  info.graph_doc_string = model.graph().doc_string();
  info.metadata_props.clear();
  for (const onnx::StringStringEntryProto& p : model.metadata_props()) info.metadata_props.emplace_back(p.key(), p.value());
  return *opset;
}

// dtype and dims of a graph input/output. An absent type, elem_type 0 or absent shape leave dtype
// undefined / shape nullopt; `context` starts every message.
Status import_value_type(const onnx::ValueInfoProto& vi, const std::string& context, DType& dtype,
                         std::optional<ir::Dims>& shape) {
  if (!vi.has_type()) return Status::ok_status();
  if (vi.type().value_case() != onnx::TypeProto::kTensorType) {
    return make_error(StatusCode::kUnsupported, "{}: only tensor types are supported (type case {})", context,
                      static_cast<int>(vi.type().value_case()));
  }
  const onnx::TypeProto_Tensor& tt = vi.type().tensor_type();
  if (tt.elem_type() != onnx::TensorProto::UNDEFINED) {
    HQP_ASSIGN_OR_RETURN(dtype, detail::dtype_from_onnx(tt.elem_type(), context));
  }
  if (!tt.has_shape()) return Status::ok_status();
  if (static_cast<size_t>(tt.shape().dim_size()) > kMaxRank) {
    return make_error(StatusCode::kOutOfRange, "{}: rank {} exceeds the limit (expected <= {})", context,
                      tt.shape().dim_size(), kMaxRank);
  }
  ir::Dims dims;
  for (const onnx::TensorShapeProto_Dimension& d : tt.shape().dim()) {
    if (d.has_dim_value()) {
      if (d.dim_value() < 0) {
        return make_error(StatusCode::kInvalidArgument, "{}: negative dimension {} (expected >= 0)", context,
                          d.dim_value());
      }
      dims.push_back(ir::Dim::fixed(d.dim_value()));
    } else if (d.has_dim_param() && !d.dim_param().empty()) {
      dims.push_back(ir::Dim::symbolic(d.dim_param()));
    } else {
      dims.push_back(ir::Dim::unknown());
    }
  }
  shape = std::move(dims);
  return Status::ok_status();
}

// IR node names: proto names where non-empty and unique; "<OpType>_<index>" for empty names and a
// "_<k>" suffix for repeated ones, never colliding with any name the model spells.
std::vector<std::string> assign_node_names(const onnx::GraphProto& g) {
  std::unordered_set<std::string> reserved;
  for (const onnx::NodeProto& n : g.node()) {
    if (!n.name().empty()) reserved.insert(n.name());
  }
  std::unordered_set<std::string> taken;
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(g.node_size()));
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto& n = g.node(i);
    if (!n.name().empty() && taken.insert(n.name()).second) {
      names.push_back(n.name());
      continue;
    }
    const std::string base = n.name().empty() ? fmt::format("{}_{}", n.op_type(), i) : n.name();
    std::string candidate = base;  // a repeated name is in `reserved`, so it always gets a suffix
    for (int k = 1; reserved.count(candidate) != 0 || taken.count(candidate) != 0; ++k) {
      candidate = fmt::format("{}_{}", base, k);
    }
    taken.insert(candidate);
    names.push_back(std::move(candidate));
  }
  return names;
}

// Names of a node's inputs or outputs without trailing empty (absent optional) entries.
std::vector<std::string> trimmed_names(const google::protobuf::RepeatedPtrField<std::string>& names) {
  std::vector<std::string> out(names.begin(), names.end());
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

class GraphImporter {
 public:
  GraphImporter(const onnx::GraphProto& proto, int64_t opset, ir::Graph& graph)
      : proto_(proto), opset_(opset), graph_(graph) {}

  Status run() {
    if (proto_.sparse_initializer_size() > 0) {
      return make_error(StatusCode::kUnsupported, "cannot import graph '{}': sparse initializers are not supported",
                        proto_.name());
    }
    HQP_RETURN_IF_ERROR(import_initializers());
    HQP_RETURN_IF_ERROR(import_inputs());
    HQP_RETURN_IF_ERROR(import_nodes());
    return import_outputs();
  }

  // Checks the legacy broadcast axes import_attrs could not check (unknown ranks); call after
  // shape inference.
  Status check_legacy_broadcasts() const {
    auto rank = [](const ir::Value* v) {
      return v != nullptr && v->shape ? std::optional<int64_t>(static_cast<int64_t>(v->shape->size())) : std::nullopt;
    };
    for (const auto& [node, axis] : legacy_broadcasts_) {
      HQP_RETURN_IF_ERROR(detail::check_legacy_broadcast(node->name, axis, rank(node->input(0)), rank(node->input(1))));
    }
    return Status::ok_status();
  }

 private:
  Status import_initializers() {
    for (const onnx::TensorProto& t : proto_.initializer()) {
      const std::string context = fmt::format("cannot import initializer '{}'", t.name());
      if (t.name().empty()) return make_error(StatusCode::kInvalidArgument, "{}: empty name", context);
      if (graph_.find_value(t.name()) != nullptr) {
        return make_error(StatusCode::kInvalidArgument, "{}: the name appears twice among the initializers", context);
      }
      HQP_ASSIGN_OR_RETURN(Tensor data, tensor_from_proto(t, context));
      ir::Value* v = graph_.add_initializer(t.name(), std::move(data));
      v->doc_string = t.doc_string();
    }
    return Status::ok_status();
  }

  Status import_inputs() {
    std::unordered_set<std::string> seen;
    for (const onnx::ValueInfoProto& vi : proto_.input()) {
      const std::string context = fmt::format("cannot import graph input '{}'", vi.name());
      if (vi.name().empty()) return make_error(StatusCode::kInvalidArgument, "{}: empty name", context);
      if (!seen.insert(vi.name()).second) {
        return make_error(StatusCode::kInvalidArgument, "{}: listed twice among the graph inputs", context);
      }
      if (ir::Value* init = graph_.find_value(vi.name()); init != nullptr) {
        // Old ONNX files list initializers among the inputs; they stay constants.
        init->initializer_listed_as_input = true;
        continue;
      }
      DType dtype = DType::kUndefined;
      std::optional<ir::Dims> shape;
      HQP_RETURN_IF_ERROR(import_value_type(vi, context, dtype, shape));
      if (dtype == DType::kUndefined) {
        return make_error(StatusCode::kInvalidArgument, "{}: no tensor element type", context);
      }
      if (!shape) {
        // ONNX's checker requires the field too; without a rank nothing downstream can be planned.
        return make_error(StatusCode::kInvalidArgument,
                          "{}: no shape (expected the type's shape field; an unknown dimension is written as "
                          "dim_param)",
                          context);
      }
      ir::Value* v = graph_.add_input(vi.name(), dtype, {});
      v->shape = std::move(shape);
      v->doc_string = vi.doc_string();
    }
    return Status::ok_status();
  }

  Status import_nodes() {
    const int node_count = proto_.node_size();
    std::vector<std::string> names = assign_node_names(proto_);
    // Pass 1: op kinds and output values, so that inputs may refer to any node's outputs (a node
    // list out of topological order, or with a cycle, is then reported by ir::verify).
    std::vector<ir::OpKind> kinds;
    std::vector<const onnx::OpSchema*> schemas;
    std::vector<std::vector<ir::Value*>> outputs(static_cast<size_t>(node_count));
    std::unordered_map<std::string, size_t> producer_of;
    for (int i = 0; i < node_count; ++i) {
      const onnx::NodeProto& n = proto_.node(i);
      const std::string& name = names[static_cast<size_t>(i)];
      std::optional<ir::OpKind> kind =
          is_default_domain(n.domain()) ? ir::op_from_name(n.op_type()) : std::optional<ir::OpKind>();
      if (!kind) {
        return make_error(StatusCode::kUnsupported, "cannot import node '{}': unsupported op '{}' (domain '{}', opset {})",
                          name, n.op_type(), n.domain(), opset_for_domain(n.domain()));
      }
      const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(opset_), "");
      if (schema == nullptr) {
        return make_error(StatusCode::kInvalidArgument, "cannot import node '{}': op '{}' does not exist at opset {}",
                          name, n.op_type(), opset_);
      }
      // Arity as ONNX's checker counts it (empty names of omitted optional inputs included).
      if (n.input_size() < schema->min_input() || n.input_size() > schema->max_input()) {
        return make_error(StatusCode::kInvalidArgument,
                          "cannot import node '{}': op '{}' (opset {}) has {} inputs (expected {}..{})", name,
                          n.op_type(), opset_, n.input_size(), schema->min_input(), schema->max_input());
      }
      if (n.output_size() < schema->min_output() || n.output_size() > schema->max_output()) {
        return make_error(StatusCode::kInvalidArgument,
                          "cannot import node '{}': op '{}' (opset {}) has {} outputs (expected {}..{})", name,
                          n.op_type(), opset_, n.output_size(), schema->min_output(), schema->max_output());
      }
      kinds.push_back(*kind);
      schemas.push_back(schema);
      for (const std::string& out : trimmed_names(n.output())) {
        if (out.empty()) {
          outputs[static_cast<size_t>(i)].push_back(nullptr);
          continue;
        }
        if (graph_.find_value(out) != nullptr) {
          auto it = producer_of.find(out);
          if (it != producer_of.end()) {
            return make_error(StatusCode::kInvalidArgument,
                              "cannot import node '{}': output '{}' is already produced by node '{}'", name, out,
                              names[it->second]);
          }
          return make_error(StatusCode::kInvalidArgument,
                            "cannot import node '{}': output '{}' is also a graph input or initializer", name, out);
        }
        producer_of.emplace(out, static_cast<size_t>(i));
        outputs[static_cast<size_t>(i)].push_back(graph_.add_value(out));
      }
    }
    // Pass 2: inputs, attributes, nodes.
    for (int i = 0; i < node_count; ++i) {
      const onnx::NodeProto& n = proto_.node(i);
      const size_t index = static_cast<size_t>(i);
      std::vector<ir::Value*> inputs;
      std::vector<std::optional<int64_t>> input_ranks;
      for (const std::string& in : trimmed_names(n.input())) {
        ir::Value* v = nullptr;
        if (!in.empty()) {
          v = graph_.find_value(in);
          if (v == nullptr) {
            return make_error(StatusCode::kInvalidArgument,
                              "cannot import node '{}': input '{}' is not a graph input, initializer or output of any "
                              "node (missing initializer?)",
                              names[index], in);
          }
        }
        inputs.push_back(v);
        input_ranks.push_back(v != nullptr && v->shape ? std::optional<int64_t>(static_cast<int64_t>(v->shape->size()))
                                                       : std::nullopt);
      }
      const detail::NodeImportContext ctx{n, kinds[index], names[index], opset_, *schemas[index], input_ranks};
      detail::ImportNotes notes;
      HQP_ASSIGN_OR_RETURN(ir::Attrs attrs, detail::import_attrs(ctx, notes));
      ir::Node* node = graph_.add_node(kinds[index], names[index], std::move(inputs), std::move(outputs[index]),
                                       std::move(attrs));
      node->doc_string = n.doc_string();
      if (notes.legacy_broadcast_axis) legacy_broadcasts_.emplace_back(node, *notes.legacy_broadcast_axis);
    }
    return Status::ok_status();
  }

  Status import_outputs() {
    for (const onnx::ValueInfoProto& vi : proto_.output()) {
      const std::string context = fmt::format("cannot import graph output '{}'", vi.name());
      ir::Value* v = graph_.find_value(vi.name());
      if (v == nullptr) {
        return make_error(StatusCode::kInvalidArgument, "{}: not produced by any node, graph input or initializer",
                          context);
      }
      DType dtype = DType::kUndefined;
      std::optional<ir::Dims> shape;
      HQP_RETURN_IF_ERROR(import_value_type(vi, context, dtype, shape));
      // Declared types of node outputs are kept for inference to check; inputs and initializers
      // already carry theirs.
      if (v->producer() != nullptr) {
        if (dtype != DType::kUndefined) v->dtype = dtype;
        if (shape) v->shape = std::move(shape);
      }
      if (v->doc_string.empty()) v->doc_string = vi.doc_string();
      graph_.add_output(v);
    }
    return Status::ok_status();
  }

  int64_t opset_for_domain(const std::string& domain) const {
    if (is_default_domain(domain)) return opset_;
    for (const auto& [d, version] : graph_.info.opset_imports) {
      if (d == domain) return version;
    }
    return 0;
  }

  const onnx::GraphProto& proto_;
  int64_t opset_;
  ir::Graph& graph_;
  std::vector<std::pair<ir::Node*, int64_t>> legacy_broadcasts_;  // (node, axis) to check later
};

// QuantParams of a QuantizeLinear/DequantizeLinear node whose scale and zero point are constants.
std::optional<ir::QuantParams> qdq_params(const ir::Node& node, int64_t opset, std::optional<int64_t> rank) {
  const Tensor* scale = ir::constant_of(node.input(1));
  const Tensor* zero_point = ir::constant_of(node.input(2));
  if (scale == nullptr || scale->dtype() != DType::kF32 || scale->rank() > 1) return std::nullopt;
  if (node.input(2) != nullptr &&
      (zero_point == nullptr || (zero_point->dtype() != DType::kU8 && zero_point->dtype() != DType::kS8) ||
       zero_point->numel() != scale->numel())) {
    return std::nullopt;
  }
  ir::QuantParams q;
  q.storage = zero_point != nullptr ? zero_point->dtype() : DType::kU8;
  for (int64_t i = 0; i < scale->numel(); ++i) {
    q.scale.push_back(scale->data<float>()[i]);
    q.zero_point.push_back(zero_point != nullptr ? static_cast<int32_t>(zero_point->element_as_int64(i)) : 0);
  }
  // Per-tensor: a scalar scale (or, before per-axis existed at opset 13, any single scale).
  const bool per_tensor = scale->rank() == 0 || (opset < 13 && scale->numel() == 1);
  if (!per_tensor) {
    int64_t axis = node.attr<ir::AxisAttrs>().axis;
    if (axis < 0 && rank) axis += *rank;
    q.axis = axis;
  }
  return q;
}

// Attaches QuantParams to QuantizeLinear outputs and DequantizeLinear inputs; the first node that
// describes a value wins.
void attach_quant_params(ir::Graph& graph) {
  for (const auto& n : graph.nodes()) {
    ir::Value* target = nullptr;
    if (n->kind == ir::OpKind::QuantizeLinear) target = n->output(0);
    if (n->kind == ir::OpKind::DequantizeLinear) target = n->input(0);
    if (target == nullptr || target->quant) continue;
    const ir::Value* data = n->input(0);
    std::optional<int64_t> rank;
    if (data != nullptr && data->shape) rank = static_cast<int64_t>(data->shape->size());
    target->quant = qdq_params(*n, graph.opset(), rank);
  }
}

// Every node input's dtype (known after inference) within its ONNX schema's type constraint at the
// model's opset, as ONNX's checker requires (e.g. Mul-6 takes no uint8). Walks the file's nodes
// (value names are kept exactly, so the graph holds each input's dtype); the IR node names are
// computed again only for the error message.
Status check_type_constraints(const onnx::GraphProto& proto, const ir::Graph& graph, int64_t opset) {
  for (int k = 0; k < proto.node_size(); ++k) {
    const onnx::NodeProto& n = proto.node(k);
    const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(opset), "");
    if (schema == nullptr || schema->inputs().empty()) continue;
    const auto& formals = schema->inputs();
    for (int i = 0; i < n.input_size(); ++i) {
      const size_t index = static_cast<size_t>(i);
      if (index >= formals.size() && formals.back().GetOption() != onnx::OpSchema::Variadic) continue;
      const ir::Value* v = n.input(i).empty() ? nullptr : graph.find_value(n.input(i));
      if (v == nullptr || v->dtype == DType::kUndefined) continue;
      const onnx::OpSchema::FormalParameter& formal = formals[std::min(index, formals.size() - 1)];
      onnx::TypeProto type;
      type.mutable_tensor_type()->set_elem_type(detail::dtype_to_onnx(v->dtype));
      const onnx::DataType data_type = onnx::Utils::DataTypeUtils::ToType(type);
      if (formal.GetTypes().count(data_type) == 0) {
        return make_error(StatusCode::kInvalidArgument,
                          "cannot import node '{}': input {} '{}' is {} (op {} at opset {} does not take that type "
                          "there)",
                          assign_node_names(proto)[static_cast<size_t>(k)], formal.GetName(), v->name, *data_type,
                          n.op_type(), opset);
      }
    }
  }
  return Status::ok_status();
}

Result<ir::Graph> import_model_proto(const onnx::ModelProto& model, std::string_view source,
                                     const ImportOptions& options) {
  ir::Graph graph;
  HQP_ASSIGN_OR_RETURN(int64_t opset, import_model_info(model, source, graph.info));
  const std::string context = fmt::format("cannot import model '{}'", source);
  GraphImporter importer(model.graph(), opset, graph);
  HQP_RETURN_IF_ERROR(importer.run().with_context(context));
  if (options.verify) {
    HQP_RETURN_IF_ERROR(ir::verify_and_infer(graph).with_context(context));
    HQP_RETURN_IF_ERROR(check_type_constraints(model.graph(), graph, opset).with_context(context));
    // ONNX requires a shape on every graph output; one the file leaves out must be computable.
    for (const ir::Value* out : graph.outputs()) {
      if (!out->shape) {
        return make_error(StatusCode::kInvalidArgument,
                          "{}: the rank of graph output '{}' is neither declared nor computable (expected a "
                          "shape in its type)",
                          context, out->name);
      }
    }
  }
  HQP_RETURN_IF_ERROR(importer.check_legacy_broadcasts().with_context(context));
  attach_quant_params(graph);
  return graph;
}

}  // namespace

Result<ir::Graph> import_model_bytes(std::string_view bytes, std::string_view source_name,
                                     const ImportOptions& options) {
  const int64_t size = static_cast<int64_t>(bytes.size());
  if (size > options.max_file_bytes) {
    return make_error(StatusCode::kOutOfRange, "cannot import ONNX model '{}': model is {} bytes (max_file_bytes={})",
                      source_name, size, options.max_file_bytes);
  }
  if (size > detail::kMaxProtobufBytes) {
    return make_error(StatusCode::kOutOfRange, "cannot import ONNX model '{}': model is {} bytes (protobuf limit {})",
                      source_name, size, detail::kMaxProtobufBytes);
  }
  onnx::ModelProto model;
  if (!detail::parse_protobuf(bytes, &model)) {
    return make_error(StatusCode::kParseError,
                      "cannot parse ONNX model '{}': not a valid protobuf (truncated or corrupt file)", source_name);
  }
  return import_model_proto(model, source_name, options);
}

Result<ir::Graph> import_model_file(const std::string& path, const ImportOptions& options) {
  const bool protobuf_bound = options.max_file_bytes > detail::kMaxProtobufBytes;
  HQP_ASSIGN_OR_RETURN(std::string bytes,
                       read_file_bounded(path, protobuf_bound ? detail::kMaxProtobufBytes : options.max_file_bytes,
                                                 protobuf_bound ? "protobuf limit" : "max_file_bytes",
                                                 fmt::format("cannot import ONNX model '{}'", path)));
  return import_model_bytes(bytes, path, options);
}

Result<Tensor> tensor_from_bytes(std::string_view bytes, std::string_view source_name) {
  if (static_cast<int64_t>(bytes.size()) > detail::kMaxProtobufBytes) {
    return make_error(StatusCode::kOutOfRange, "cannot read tensor file '{}': {} bytes (protobuf limit {})",
                      source_name, bytes.size(), detail::kMaxProtobufBytes);
  }
  onnx::TensorProto proto;
  if (!detail::parse_protobuf(bytes, &proto)) {
    return make_error(StatusCode::kParseError,
                      "cannot parse tensor file '{}': not a valid protobuf (truncated or corrupt file)", source_name);
  }
  return tensor_from_proto(proto, fmt::format("cannot read tensor file '{}'", source_name));
}

Result<Tensor> read_tensor_file(const std::string& path) {
  HQP_ASSIGN_OR_RETURN(std::string bytes,
                       read_file_bounded(path, detail::kMaxProtobufBytes, "protobuf limit",
                                                 fmt::format("cannot read tensor file '{}'", path)));
  return tensor_from_bytes(bytes, path);
}

}  // namespace hqp::onnx_io
