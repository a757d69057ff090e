// Helpers for the ONNX importer/exporter tests: building ModelProtos programmatically with the
// ONNX protobuf classes, and comparing two imported graphs field by field. Test-only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "ir/graph.h"
#include "ir/printer.h"
#include "onnx/export.h"
#include "onnx/import.h"

namespace hqp::test {

inline std::string serialize(const google::protobuf::MessageLite& message) {
  std::string bytes;
  EXPECT_TRUE(message.SerializeToString(&bytes));
  return bytes;
}

inline void set_tensor_type(onnx::ValueInfoProto* vi, const std::string& name, int32_t elem_type,
                            const std::vector<int64_t>& dims) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

inline onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op_type, const std::vector<std::string>& inputs,
                                 const std::vector<std::string>& outputs, const std::string& name = "") {
  onnx::NodeProto* n = g->add_node();
  n->set_op_type(op_type);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

inline onnx::AttributeProto* add_attr_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
  return a;
}

inline onnx::AttributeProto* add_attr_float(onnx::NodeProto* n, const std::string& name, float v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
  return a;
}

inline onnx::AttributeProto* add_attr_ints(onnx::NodeProto* n, const std::string& name,
                                           const std::vector<int64_t>& v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
  return a;
}

inline onnx::TensorProto* add_float_initializer(onnx::GraphProto* g, const std::string& name,
                                                const std::vector<int64_t>& dims, const std::vector<float>& values) {
  onnx::TensorProto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  t->set_raw_data(values.data(), values.size() * sizeof(float));
  return t;
}

// A valid model: X f32[1,2,3,3] -> Relu ("relu") -> Y, default-domain `opset`, ir_version 8.
inline onnx::ModelProto make_relu_model(int64_t opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("hqp-test");
  auto* op_set = m.add_opset_import();
  op_set->set_domain("");
  op_set->set_version(opset);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("test_graph");
  set_tensor_type(g->add_input(), "X", onnx::TensorProto::FLOAT, {1, 2, 3, 3});
  set_tensor_type(g->add_output(), "Y", onnx::TensorProto::FLOAT, {1, 2, 3, 3});
  add_node(g, "Relu", {"X"}, {"Y"}, "relu");
  return m;
}

inline Result<ir::Graph> import_proto(const onnx::ModelProto& m, bool verify = true) {
  onnx_io::ImportOptions options;
  options.verify = verify;
  return onnx_io::import_model_bytes(serialize(m), "test.onnx", options);
}

inline std::string value_name(const ir::Value* v) { return v == nullptr ? std::string("<absent>") : v->name; }

// Field-by-field equality of two graphs (metadata, nodes in order with attributes, every value's
// type, data, quantization and flags, graph inputs and outputs).
inline void expect_same_graph(const ir::Graph& a, const ir::Graph& b) {
  const ir::ModelInfo& ia = a.info;
  const ir::ModelInfo& ib = b.info;
  EXPECT_EQ(ia.ir_version, ib.ir_version);
  EXPECT_EQ(ia.opset_imports, ib.opset_imports);
  EXPECT_EQ(ia.producer_name, ib.producer_name);
  EXPECT_EQ(ia.producer_version, ib.producer_version);
  EXPECT_EQ(ia.domain, ib.domain);
  EXPECT_EQ(ia.model_version, ib.model_version);
  EXPECT_EQ(ia.doc_string, ib.doc_string);
  EXPECT_EQ(ia.graph_name, ib.graph_name);
  EXPECT_EQ(ia.graph_doc_string, ib.graph_doc_string);
  EXPECT_EQ(ia.metadata_props, ib.metadata_props);

  ASSERT_EQ(a.nodes().size(), b.nodes().size());
  for (size_t i = 0; i < a.nodes().size(); ++i) {
    const ir::Node& na = *a.nodes()[i];
    const ir::Node& nb = *b.nodes()[i];
    SCOPED_TRACE("node " + na.name);
    EXPECT_EQ(na.name, nb.name);
    EXPECT_EQ(na.kind, nb.kind);
    EXPECT_TRUE(na.attrs == nb.attrs) << ir::format_attrs(na.attrs) << " vs " << ir::format_attrs(nb.attrs);
    EXPECT_EQ(na.doc_string, nb.doc_string);
    ASSERT_EQ(na.num_inputs(), nb.num_inputs());
    for (size_t k = 0; k < na.num_inputs(); ++k) EXPECT_EQ(value_name(na.input(k)), value_name(nb.input(k)));
    ASSERT_EQ(na.num_outputs(), nb.num_outputs());
    for (size_t k = 0; k < na.num_outputs(); ++k) EXPECT_EQ(value_name(na.output(k)), value_name(nb.output(k)));
  }

  ASSERT_EQ(a.values().size(), b.values().size());
  for (const auto& va : a.values()) {
    SCOPED_TRACE("value " + va->name);
    const ir::Value* vb = b.find_value(va->name);
    ASSERT_NE(vb, nullptr);
    EXPECT_EQ(va->dtype, vb->dtype);
    EXPECT_EQ(va->shape.has_value(), vb->shape.has_value());
    if (va->shape && vb->shape) {
      EXPECT_EQ(ir::dims_to_string(*va->shape), ir::dims_to_string(*vb->shape));
    }
    EXPECT_EQ(va->is_initializer(), vb->is_initializer());
    EXPECT_TRUE(va->data.equals(vb->data));
    EXPECT_TRUE(va->quant == vb->quant);
    EXPECT_EQ(va->initializer_listed_as_input, vb->initializer_listed_as_input);
    EXPECT_EQ(va->doc_string, vb->doc_string);
  }

  auto names = [](const std::vector<ir::Value*>& vs) {
    std::vector<std::string> out;
    for (const ir::Value* v : vs) out.push_back(value_name(v));
    return out;
  };
  EXPECT_EQ(names(a.inputs()), names(b.inputs()));
  EXPECT_EQ(names(a.outputs()), names(b.outputs()));
}

}  // namespace hqp::test
