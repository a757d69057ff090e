// ir::Graph -> ONNX ModelProto, serialized and checked with ONNX's own checker and strict shape
// inference; TensorProto files. Attribute forms per opset live in attributes.cpp.
#include "onnx/export.h"

#include <algorithm>
#include <exception>

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include "onnx/attributes.h"
#include "core/file_io.h"
#include "onnx/import.h"
#include "onnx/tensor_proto.h"

namespace hqp::onnx_io {

namespace {

// IR versions before 4 require every initializer to be listed among the graph inputs.
constexpr int64_t kIrVersionInitializersOptionalInputs = 4;
// Graph name written when the IR's is empty (the ONNX checker requires one).
constexpr const char* kDefaultGraphName = "hqp";

std::string graph_label(const ir::Graph& graph) {
  return graph.info.graph_name.empty() ? std::string(kDefaultGraphName) : graph.info.graph_name;
}

// name, elem_type and dims (dim_value / dim_param / empty dim for unknown; no shape when the rank
// is unknown).
void fill_value_info(const ir::Value& v, onnx::ValueInfoProto* vi) {
  vi->set_name(v.name);
  if (!v.doc_string.empty()) vi->set_doc_string(v.doc_string);
  onnx::TypeProto_Tensor* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(detail::dtype_to_onnx(v.dtype));
  if (!v.shape) return;
  onnx::TensorShapeProto* shape = tt->mutable_shape();
  for (const ir::Dim& d : *v.shape) {
    onnx::TensorShapeProto_Dimension* dim = shape->add_dim();
    if (d.is_static()) dim->set_dim_value(d.value);
    if (d.is_symbolic()) dim->set_dim_param(d.symbol);
  }
}

Status export_node(const ir::Node& node, int64_t opset, onnx::NodeProto* proto) {
  const std::string op(ir::op_name(node.kind));
  if (ir::is_internal_op(node.kind)) {
    return make_error(StatusCode::kUnsupported,
                      "cannot export node '{}': internal op '{}' (domain '{}') has no ONNX form", node.name, op,
                      ir::kInternalDomain);
  }
  const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(op, static_cast<int>(opset), "");
  if (schema == nullptr) {
    return make_error(StatusCode::kUnsupported, "cannot export node '{}': op '{}' does not exist at opset {}",
                      node.name, op, opset);
  }
  proto->set_name(node.name);
  proto->set_op_type(op);
  if (!node.doc_string.empty()) proto->set_doc_string(node.doc_string);
  for (const ir::Value* in : node.inputs()) proto->add_input(in != nullptr ? in->name : std::string());
  for (const ir::Value* out : node.outputs()) proto->add_output(out != nullptr ? out->name : std::string());
  while (proto->input_size() > 0 && proto->input(proto->input_size() - 1).empty()) proto->mutable_input()->RemoveLast();
  while (proto->output_size() > 0 && proto->output(proto->output_size() - 1).empty()) {
    proto->mutable_output()->RemoveLast();
  }
  return detail::export_attrs(node, opset, *schema, proto);
}

Result<onnx::ModelProto> build_model(const ir::Graph& graph) {
  const std::string context = fmt::format("cannot export model '{}'", graph_label(graph));
  const int64_t opset = graph.opset();
  if (opset < kMinOpset || opset > kMaxOpset) {
    return make_error(StatusCode::kUnsupported, "{}: unsupported opset {} of the default domain (expected {}..{})",
                      context, opset, kMinOpset, kMaxOpset);
  }
  const ir::ModelInfo& info = graph.info;
  onnx::ModelProto model;
  // A file written by a newer ONNX (IR 9 / 10, e.g. ONNX Runtime's quantizer on a recent onnx
  // package) is written back at the IR version of the ONNX this build links: what the newer IR
  // versions added (float8 / 4-bit types, function overloads) never reaches the IR.
  model.set_ir_version(std::min<int64_t>(info.ir_version, onnx::Version::IR_VERSION));
  for (const auto& [domain, version] : info.opset_imports) {
    onnx::OperatorSetIdProto* op_set = model.add_opset_import();
    op_set->set_domain(domain);
    op_set->set_version(version);
  }
  if (!info.producer_name.empty()) model.set_producer_name(info.producer_name);
  if (!info.producer_version.empty()) model.set_producer_version(info.producer_version);
  if (!info.domain.empty()) model.set_domain(info.domain);
  if (info.model_version != 0) model.set_model_version(info.model_version);
  if (!info.doc_string.empty()) model.set_doc_string(info.doc_string);
  for (const auto& [key, value] : info.metadata_props) {
    onnx::StringStringEntryProto* p = model.add_metadata_props();
    p->set_key(key);
    p->set_value(value);
  }

  onnx::GraphProto* g = model.mutable_graph();
  g->set_name(graph_label(graph));
  if (!info.graph_doc_string.empty()) g->set_doc_string(info.graph_doc_string);

  const bool list_all_initializers = info.ir_version < kIrVersionInitializersOptionalInputs;
  for (const ir::Value* v : graph.inputs()) {
    if (v->dtype == DType::kUndefined) {
      return make_error(StatusCode::kInvalidArgument, "{}: graph input '{}' has no dtype", context, v->name);
    }
    fill_value_info(*v, g->add_input());
  }
  for (const ir::Value* v : graph.initializers()) {
    onnx::TensorProto* t = g->add_initializer();
    detail::tensor_to_proto(v->data, v->name, t);
    if (!v->doc_string.empty()) t->set_doc_string(v->doc_string);
    if (v->initializer_listed_as_input || list_all_initializers) {
      onnx::ValueInfoProto* vi = g->add_input();
      vi->set_name(v->name);
      onnx::TypeProto_Tensor* tt = vi->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(detail::dtype_to_onnx(v->data.dtype()));
      onnx::TensorShapeProto* shape = tt->mutable_shape();
      for (int64_t d : v->data.shape()) shape->add_dim()->set_dim_value(d);
    }
  }

  // ONNX requires nodes in topological order; for a graph already in order this is its own order.
  Result<std::vector<ir::Node*>> order = graph.topological_order();
  if (!order.ok()) return order.status().with_context(context);
  for (const ir::Node* node : *order) HQP_RETURN_IF_ERROR(export_node(*node, opset, g->add_node()));

  for (const ir::Value* v : graph.outputs()) fill_value_info(*v, g->add_output());
  return model;
}

// onnx.checker.check_model(full_check=True): the structural checker, then strict shape inference
// with type checks. Shape inference adds value_info to `model` (the caller serialized it already).
Status run_onnx_checks(onnx::ModelProto& model, const std::string& label) {
  try {
    onnx::checker::check_model(model);
    const onnx::ShapeInferenceOptions options(/*check_type_val=*/true, /*strict_mode_val=*/1,
                                              /*data_prop_val=*/false);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& e) {
    // Not kInternal: besides an exporter bug, this is a model that hqp's rules accept and ONNX 1.12's
    // reject (its MaxPool ceil_mode inference keeps a last window that PyTorch and ONNX Runtime
    // drop, e.g.); either way nothing is written.
    return make_error(StatusCode::kInvalidArgument, "cannot export model '{}': the ONNX checker rejects it: {}", label,
                      e.what());
  }
  return Status::ok_status();
}

}  // namespace

Result<std::string> export_model_bytes(const ir::Graph& graph) {
  HQP_ASSIGN_OR_RETURN(onnx::ModelProto model, build_model(graph));
  const size_t size = model.ByteSizeLong();
  if (size > static_cast<size_t>(detail::kMaxProtobufBytes)) {
    return make_error(StatusCode::kOutOfRange, "cannot export model '{}': {} bytes exceed the protobuf limit of {}",
                      graph_label(graph), size, detail::kMaxProtobufBytes);
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) {
    return make_error(StatusCode::kInternal, "cannot export model '{}': protobuf serialization failed",
                      graph_label(graph));
  }
  HQP_RETURN_IF_ERROR(run_onnx_checks(model, graph_label(graph)));
  return bytes;
}

Status export_model_file(const ir::Graph& graph, const std::string& path) {
  HQP_ASSIGN_OR_RETURN(std::string bytes, export_model_bytes(graph));
  return write_file_atomic(path, bytes, fmt::format("cannot write ONNX model '{}'", path));
}

Status write_tensor_file(const Tensor& t, const std::string& name, const std::string& path) {
  const std::string context = fmt::format("cannot write tensor file '{}'", path);
  if (!t.defined()) return make_error(StatusCode::kInvalidArgument, "{}: tensor '{}' is undefined", context, name);
  if (t.nbytes() > detail::kMaxProtobufBytes) {
    return make_error(StatusCode::kOutOfRange, "{}: {} bytes exceed the protobuf limit of {}", context, t.nbytes(),
                      detail::kMaxProtobufBytes);
  }
  onnx::TensorProto proto;
  detail::tensor_to_proto(t, name, &proto);
  std::string bytes;
  if (!proto.SerializeToString(&bytes)) {
    return make_error(StatusCode::kInternal, "{}: protobuf serialization failed", context);
  }
  return write_file_atomic(path, bytes, context);
}

}  // namespace hqp::onnx_io
