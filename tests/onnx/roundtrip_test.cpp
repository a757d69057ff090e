// import -> export -> import round trips: every ONNX backend-test model whose ops hqp knows, opset
// specific attribute forms, metadata, node naming, initializers listed as inputs, QDQ parameters,
// and exporter errors (forms the opset cannot express, the ONNX checker's verdict).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include "onnx_test_util.h"

namespace hqp {
namespace {

namespace fs = std::filesystem;
using test::add_attr_float;
using test::add_attr_int;
using test::add_attr_ints;
using test::add_float_initializer;
using test::add_node;
using test::expect_same_graph;
using test::import_proto;
using test::make_relu_model;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

onnx::ModelProto parse_model(const std::string& bytes) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(bytes));
  return m;
}

// Exports `g`, re-imports it, checks both graphs are the same and that exporting again gives the
// same bytes. Returns the exported model for further checks.
onnx::ModelProto expect_round_trip(const ir::Graph& g) {
  Result<std::string> bytes = onnx_io::export_model_bytes(g);
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  if (!bytes.ok()) return {};
  Result<ir::Graph> again = onnx_io::import_model_bytes(*bytes, "exported.onnx");
  EXPECT_TRUE(again.ok()) << again.status().message();
  if (!again.ok()) return {};
  expect_same_graph(g, *again);
  Result<std::string> bytes2 = onnx_io::export_model_bytes(*again);
  EXPECT_TRUE(bytes2.ok() && *bytes2 == *bytes) << "second export differs";
  return parse_model(*bytes);
}

const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

// Whether the model passes onnx.checker.check_model(full_check=True), as export requires.
bool passes_onnx_full_check(onnx::ModelProto m) {
  try {
    onnx::checker::check_model(m);
    onnx::shape_inference::InferShapes(m, onnx::OpSchemaRegistry::Instance(), onnx::ShapeInferenceOptions(true, 1, false));
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

// True when every node of the model is a default-domain op in ops.def.
bool ops_all_known(const onnx::ModelProto& m) {
  for (const auto& n : m.graph().node()) {
    if (!(n.domain().empty() || n.domain() == "ai.onnx") || !ir::op_from_name(n.op_type())) return false;
  }
  return true;
}

struct TestDataSummary {
  int round_tripped = 0;
  std::vector<std::string> unsupported;  // "case: reason"
  std::vector<std::string> invalid;      // cases that fail ONNX's own full check (export must refuse)
};

// Round-trips every case under HQP_ONNX_TESTDATA_DIR/<subdir> whose ops are all known. Cases that
// hqp rejects as kUnsupported (dtypes such as DOUBLE, opset 1) are listed, not failed.
TestDataSummary round_trip_test_data(const std::string& subdir) {
  TestDataSummary summary;
  const fs::path root = fs::path(HQP_ONNX_TESTDATA_DIR) / subdir;
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (fs::exists(entry.path() / "model.onnx")) cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());
  for (const fs::path& dir : cases) {
    const std::string name = dir.filename().string();
    SCOPED_TRACE(subdir + "/" + name);
    const std::string bytes = read_bytes(dir / "model.onnx");
    const onnx::ModelProto original = parse_model(bytes);
    if (!ops_all_known(original)) continue;
    Result<ir::Graph> g = onnx_io::import_model_bytes(bytes, (dir / "model.onnx").string());
    if (!g.ok() && g.status().code() == StatusCode::kUnsupported) {
      summary.unsupported.push_back(name + ": " + g.status().message());
      continue;
    }
    EXPECT_TRUE(g.ok()) << g.status().message();
    if (!g.ok()) continue;
    if (!passes_onnx_full_check(original)) {
      Result<std::string> out = onnx_io::export_model_bytes(*g);
      EXPECT_FALSE(out.ok());
      EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument) << out.status().message();
      summary.invalid.push_back(name + ": " + out.status().message());
      continue;
    }
    expect_round_trip(*g);
    ++summary.round_tripped;
  }
  for (const std::string& u : summary.unsupported) std::printf("  [unsupported] %s\n", u.c_str());
  for (const std::string& u : summary.invalid) std::printf("  [fails ONNX check] %s\n", u.c_str());
  std::printf("  %s: %d models round-tripped, %zu unsupported\n", subdir.c_str(), summary.round_tripped,
              summary.unsupported.size());
  return summary;
}

TEST(OnnxRoundTrip, BackendNodeTestData) {
  if (!fs::exists(HQP_ONNX_TESTDATA_DIR)) GTEST_SKIP() << "no ONNX test data";
  TestDataSummary s = round_trip_test_data("node");
  EXPECT_GE(s.round_tripped, 160);
}

TEST(OnnxRoundTrip, BackendPytorchTestData) {
  if (!fs::exists(HQP_ONNX_TESTDATA_DIR)) GTEST_SKIP() << "no ONNX test data";
  int total = 0;
  for (const char* sub : {"pytorch-converted", "pytorch-operator", "simple"}) total += round_trip_test_data(sub).round_tripped;
  EXPECT_GE(total, 60);
}

TEST(OnnxRoundTrip, MetadataAndDocStrings) {
  onnx::ModelProto m = make_relu_model();
  m.set_producer_version("1.2.3");
  m.set_domain("org.example");
  m.set_model_version(42);
  m.set_doc_string("model doc");
  auto* ml = m.add_opset_import();
  ml->set_domain("ai.onnx.ml");
  ml->set_version(3);
  for (auto [k, v] : {std::pair{"author", "me"}, std::pair{"license", "MIT"}, std::pair{"version", "2"}}) {
    auto* p = m.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  }
  m.mutable_graph()->set_doc_string("graph doc");
  m.mutable_graph()->mutable_node(0)->set_doc_string("node doc");
  m.mutable_graph()->mutable_input(0)->set_doc_string("input doc");
  add_float_initializer(m.mutable_graph(), "unused", {1}, {1.0f})->set_doc_string("init doc");
  Result<ir::Graph> g = import_proto(m);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->info.producer_name, "hqp-test");
  EXPECT_EQ(g->info.producer_version, "1.2.3");
  EXPECT_EQ(g->info.domain, "org.example");
  EXPECT_EQ(g->info.model_version, 42);
  EXPECT_EQ(g->info.doc_string, "model doc");
  EXPECT_EQ(g->info.graph_name, "test_graph");
  EXPECT_EQ(g->info.graph_doc_string, "graph doc");
  ASSERT_EQ(g->info.metadata_props.size(), 3u);
  EXPECT_EQ(g->info.metadata_props[2], (std::pair<std::string, std::string>{"version", "2"}));
  EXPECT_EQ(g->info.opset_imports.size(), 2u);
  EXPECT_EQ(g->nodes()[0]->doc_string, "node doc");
  EXPECT_EQ(g->find_value("X")->doc_string, "input doc");
  EXPECT_EQ(g->find_value("unused")->doc_string, "init doc");
  onnx::ModelProto out = expect_round_trip(*g);
  EXPECT_EQ(out.opset_import_size(), 2);
  EXPECT_EQ(out.metadata_props_size(), 3);
}

TEST(OnnxRoundTrip, NodeNamesGeneratedForEmptyAndDuplicates) {
  onnx::ModelProto m = make_relu_model();
  onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  add_node(g, "Relu", {"X"}, {"a"}, "");
  add_node(g, "Relu", {"a"}, {"b"}, "dup");
  add_node(g, "Relu", {"b"}, {"c"}, "dup");
  add_node(g, "Relu", {"c"}, {"d"}, "Relu_0");  // collides with the name generated for node 0
  add_node(g, "Relu", {"d"}, {"Y"}, "");
  Result<ir::Graph> ir = import_proto(m);
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  std::vector<std::string> names;
  for (const auto& n : ir->nodes()) names.push_back(n->name);
  EXPECT_EQ(names, (std::vector<std::string>{"Relu_0_1", "dup", "dup_1", "Relu_0", "Relu_4"}));
  onnx::ModelProto out = expect_round_trip(*ir);
  ASSERT_EQ(out.graph().node_size(), 5);
  EXPECT_EQ(out.graph().node(0).name(), "Relu_0_1");
}

TEST(OnnxRoundTrip, SymbolicAndUnknownDims) {
  onnx::ModelProto m = make_relu_model();
  auto* shape = m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
  shape->mutable_dim(0)->set_dim_param("batch");
  shape->mutable_dim(2)->clear_dim_value();
  m.mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->clear_shape();
  Result<ir::Graph> g = import_proto(m);
  ASSERT_TRUE(g.ok()) << g.status().message();
  const ir::Value* x = g->find_value("X");
  ASSERT_TRUE(x->shape.has_value());
  EXPECT_EQ(ir::dims_to_string(*x->shape), "[batch,2,?,3]");
  onnx::ModelProto out = expect_round_trip(*g);
  const auto& dims = out.graph().input(0).type().tensor_type().shape().dim();
  ASSERT_EQ(dims.size(), 4);
  EXPECT_EQ(dims[0].dim_param(), "batch");
  EXPECT_FALSE(dims[2].has_dim_value() || dims[2].has_dim_param());
}

TEST(OnnxRoundTrip, InitializersListedAsInputs) {
  onnx::ModelProto m = make_relu_model();
  onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  add_float_initializer(g, "B", {1}, {0.5f});
  test::set_tensor_type(g->add_input(), "B", onnx::TensorProto::FLOAT, {1});
  add_node(g, "Add", {"X", "B"}, {"Y"}, "add");
  Result<ir::Graph> ir = import_proto(m);
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  EXPECT_EQ(ir->inputs().size(), 1u);
  EXPECT_TRUE(ir->find_value("B")->initializer_listed_as_input);
  EXPECT_TRUE(ir->find_value("B")->is_initializer());
  onnx::ModelProto out = expect_round_trip(*ir);
  EXPECT_EQ(out.graph().input_size(), 2);

  // IR version 3 requires every initializer among the inputs, also one a pass added.
  onnx::ModelProto old = make_relu_model(7);
  old.set_ir_version(3);
  Result<ir::Graph> old_ir = import_proto(old);
  ASSERT_TRUE(old_ir.ok()) << old_ir.status().message();
  old_ir->add_initializer("added", Tensor::scalar<float>(0.0f));
  Result<std::string> old_bytes = onnx_io::export_model_bytes(*old_ir);
  ASSERT_TRUE(old_bytes.ok()) << old_bytes.status().message();
  onnx::ModelProto old_out = parse_model(*old_bytes);
  ASSERT_EQ(old_out.graph().input_size(), 2);
  EXPECT_EQ(old_out.graph().input(1).name(), "added");
}

TEST(OnnxRoundTrip, TypedInitializersExportAsRawData) {
  onnx::ModelProto m = make_relu_model();
  onnx::GraphProto* g = m.mutable_graph();
  onnx::TensorProto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(2);
  w->add_float_data(1.0f);
  w->add_float_data(2.0f);
  onnx::TensorProto* q = g->add_initializer();
  q->set_name("q");
  q->set_data_type(onnx::TensorProto::INT8);
  q->add_dims(2);
  q->add_int32_data(-5);
  q->add_int32_data(7);
  Result<ir::Graph> ir = import_proto(m);
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  EXPECT_TRUE(ir->find_value("w")->data.equals(Tensor::from_vector<float>({2}, {1.0f, 2.0f})));
  EXPECT_TRUE(ir->find_value("q")->data.equals(Tensor::from_vector<int8_t>({2}, {-5, 7})));
  onnx::ModelProto out = expect_round_trip(*ir);
  for (const auto& t : out.graph().initializer()) EXPECT_TRUE(t.has_raw_data()) << t.name();
}

// Opset 6 forms: Clip min/max attributes, BatchNormalization/Dropout legacy flags, Softmax with its
// old default axis and 2-D coercion, Gemm and Add legacy broadcasting.
TEST(OnnxRoundTrip, Opset6Forms) {
  onnx::ModelProto m = make_relu_model(6);
  m.set_ir_version(3);
  onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  g->clear_output();
  for (const char* p : {"scale", "bias", "mean", "var"}) add_float_initializer(g, p, {2}, {1.0f, 1.0f});
  onnx::NodeProto* bn = add_node(g, "BatchNormalization", {"X", "scale", "bias", "mean", "var"}, {"bn"}, "bn");
  add_attr_float(bn, "epsilon", 1e-3f);
  add_attr_int(bn, "is_test", 1);
  add_attr_int(bn, "spatial", 1);
  onnx::NodeProto* clip = add_node(g, "Clip", {"bn"}, {"clip"}, "clip");
  add_attr_float(clip, "min", 0.0f);
  add_attr_float(clip, "max", 6.0f);
  onnx::NodeProto* drop = add_node(g, "Dropout", {"clip"}, {"drop"}, "drop");
  add_attr_float(drop, "ratio", 0.25f);
  add_attr_int(drop, "is_test", 1);
  add_node(g, "Flatten", {"drop"}, {"flat"}, "flat");
  add_float_initializer(g, "gemm.w", {18, 4}, std::vector<float>(72, 0.5f));
  add_float_initializer(g, "gemm.b", {4}, {1.0f, 2.0f, 3.0f, 4.0f});
  onnx::NodeProto* gemm = add_node(g, "Gemm", {"flat", "gemm.w", "gemm.b"}, {"gemm"}, "gemm");
  add_attr_int(gemm, "broadcast", 1);
  add_float_initializer(g, "offset", {4}, {0.0f, 0.0f, 0.0f, 1.0f});
  onnx::NodeProto* add = add_node(g, "Add", {"gemm", "offset"}, {"add"}, "add");
  add_attr_int(add, "broadcast", 1);
  add_attr_int(add, "axis", 1);
  add_node(g, "Softmax", {"add"}, {"Y"}, "softmax");
  test::set_tensor_type(g->add_output(), "Y", onnx::TensorProto::FLOAT, {1, 4});
  for (const auto& t : std::vector<onnx::TensorProto>(g->initializer().begin(), g->initializer().end())) {
    test::set_tensor_type(g->add_input(), t.name(), onnx::TensorProto::FLOAT,
                          std::vector<int64_t>(t.dims().begin(), t.dims().end()));
  }
  Result<ir::Graph> ir = import_proto(m);
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  EXPECT_EQ(ir->find_node("bn")->attr<ir::BatchNormAttrs>().epsilon, 1e-3f);
  EXPECT_EQ(ir->find_node("clip")->attr<ir::ClipAttrs>(), (ir::ClipAttrs{0.0f, 6.0f}));
  EXPECT_EQ(ir->find_node("drop")->attr<ir::DropoutAttrs>().ratio, 0.25f);
  EXPECT_EQ(ir->find_node("softmax")->attr<ir::SoftmaxAttrs>(), (ir::SoftmaxAttrs{1, true}));
  onnx::ModelProto out = expect_round_trip(*ir);
  for (const auto& n : out.graph().node()) {
    if (n.op_type() == "Clip") {
      ASSERT_NE(find_attr(n, "min"), nullptr);
      EXPECT_EQ(find_attr(n, "max")->f(), 6.0f);
    }
    if (n.op_type() == "Gemm" || n.op_type() == "Add") {
      EXPECT_EQ(find_attr(n, "broadcast")->i(), 1) << n.op_type();
    }
    if (n.op_type() == "Dropout") {
      EXPECT_EQ(find_attr(n, "ratio")->f(), 0.25f);
    }
    if (n.op_type() == "BatchNormalization") {
      EXPECT_EQ(find_attr(n, "spatial"), nullptr);
    }
  }
}

TEST(OnnxRoundTrip, LegacyBroadcastAlongInnerAxisIsUnsupported) {
  onnx::ModelProto m = make_relu_model(6);
  onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  add_float_initializer(g, "b", {2}, {1.0f, 2.0f});
  onnx::NodeProto* add = add_node(g, "Add", {"X", "b"}, {"Y"}, "add");
  add_attr_int(add, "broadcast", 1);
  add_attr_int(add, "axis", 1);  // aligns b with dim 1 of a 4-D X: not numpy broadcasting
  Result<ir::Graph> ir = import_proto(m);
  ASSERT_FALSE(ir.ok());
  EXPECT_EQ(ir.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(ir.status().message().find("legacy broadcast along axis=1"), std::string::npos) << ir.status().message();
}

// Opset 11 forms (Squeeze/Unsqueeze axes attributes, Clip min/max inputs) and opset 13 forms
// (axes inputs, Softmax along one axis).
TEST(OnnxRoundTrip, Opset11And13AxesForms) {
  onnx::ModelProto m11 = make_relu_model(11);
  onnx::GraphProto* g = m11.mutable_graph();
  g->clear_node();
  g->clear_output();
  add_attr_ints(add_node(g, "Unsqueeze", {"X"}, {"u"}, "unsq"), "axes", {0});
  add_attr_ints(add_node(g, "Squeeze", {"u"}, {"s"}, "sq"), "axes", {0});
  add_float_initializer(g, "lo", {}, {0.0f});
  add_node(g, "Clip", {"s", "lo", ""}, {"Y"}, "clip");
  test::set_tensor_type(g->add_output(), "Y", onnx::TensorProto::FLOAT, {1, 2, 3, 3});
  Result<ir::Graph> ir11 = import_proto(m11);
  ASSERT_TRUE(ir11.ok()) << ir11.status().message();
  EXPECT_EQ(ir11->find_node("sq")->attr<ir::AxesAttrs>().axes, std::vector<int64_t>{0});
  EXPECT_EQ(ir11->find_node("clip")->num_inputs(), 2u);  // trailing absent input dropped
  onnx::ModelProto out11 = expect_round_trip(*ir11);
  EXPECT_NE(find_attr(out11.graph().node(1), "axes"), nullptr);

  onnx::ModelProto m13 = make_relu_model(13);
  g = m13.mutable_graph();
  g->clear_node();
  onnx::TensorProto* axes = g->add_initializer();
  axes->set_name("axes");
  axes->set_data_type(onnx::TensorProto::INT64);
  axes->add_dims(1);
  axes->add_int64_data(0);
  add_node(g, "Unsqueeze", {"X", "axes"}, {"u"}, "unsq");
  add_node(g, "Squeeze", {"u", "axes"}, {"s"}, "sq");
  add_attr_int(add_node(g, "Softmax", {"s"}, {"Y"}, "softmax"), "axis", 1);
  Result<ir::Graph> ir13 = import_proto(m13);
  ASSERT_TRUE(ir13.ok()) << ir13.status().message();
  EXPECT_FALSE(ir13->find_node("sq")->attr<ir::AxesAttrs>().axes.has_value());
  EXPECT_EQ(ir13->find_node("softmax")->attr<ir::SoftmaxAttrs>(), (ir::SoftmaxAttrs{1, false}));
  expect_round_trip(*ir13);
}

TEST(OnnxRoundTrip, PoolAndConstantForms) {
  onnx::ModelProto m = make_relu_model(13);
  onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  g->clear_output();
  onnx::NodeProto* avg = add_node(g, "AveragePool", {"X"}, {"avg"}, "avg");
  add_attr_ints(avg, "kernel_shape", {2, 2});
  add_attr_int(avg, "count_include_pad", 1);
  onnx::AttributeProto* pad = avg->add_attribute();
  pad->set_name("auto_pad");
  pad->set_type(onnx::AttributeProto::STRING);
  pad->set_s("SAME_UPPER");
  onnx::NodeProto* max = add_node(g, "MaxPool", {"avg"}, {"max"}, "max");
  add_attr_ints(max, "kernel_shape", {3, 3});
  add_attr_ints(max, "pads", {1, 1, 1, 1});
  add_attr_int(max, "storage_order", 0);
  add_attr_int(max, "ceil_mode", 1);
  add_attr_float(add_node(g, "Constant", {}, {"cf"}, "cf"), "value_float", 2.0f);
  onnx::NodeProto* cfs = add_node(g, "Constant", {}, {"cfs"}, "cfs");
  onnx::AttributeProto* floats = cfs->add_attribute();
  floats->set_name("value_floats");
  floats->set_type(onnx::AttributeProto::FLOATS);
  floats->add_floats(1.0f);
  floats->add_floats(0.5f);
  add_attr_int(add_node(g, "Constant", {}, {"ci"}, "ci"), "value_int", 7);
  add_attr_ints(add_node(g, "Constant", {}, {"cis"}, "cis"), "value_ints", {1, 2, 3});
  onnx::NodeProto* cv = add_node(g, "Constant", {}, {"cv"}, "cv");
  onnx::AttributeProto* value = cv->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  value->mutable_t()->set_data_type(onnx::TensorProto::BOOL);
  value->mutable_t()->add_dims(2);
  value->mutable_t()->add_int32_data(1);
  value->mutable_t()->add_int32_data(0);
  add_node(g, "Mul", {"max", "cf"}, {"Y"}, "mul");
  test::set_tensor_type(g->add_output(), "Y", onnx::TensorProto::FLOAT, {1, 2, 3, 3});
  for (const char* extra : {"cfs", "ci", "cis", "cv"}) g->add_output()->set_name(extra);
  Result<ir::Graph> ir = import_proto(m);
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  const auto& pa = ir->find_node("avg")->attr<ir::PoolAttrs>();
  EXPECT_EQ(pa.auto_pad, ir::AutoPad::kSameUpper);
  EXPECT_EQ(pa.count_include_pad, 1);
  EXPECT_EQ(ir->find_node("max")->attr<ir::PoolAttrs>().ceil_mode, 1);
  using Form = ir::ConstantAttrs::Form;
  EXPECT_EQ(ir->find_node("cf")->attr<ir::ConstantAttrs>().form, Form::kValueFloat);
  EXPECT_TRUE(ir->find_node("cf")->attr<ir::ConstantAttrs>().value.equals(Tensor::scalar<float>(2.0f)));
  EXPECT_EQ(ir->find_node("cfs")->attr<ir::ConstantAttrs>().form, Form::kValueFloats);
  EXPECT_TRUE(ir->find_node("ci")->attr<ir::ConstantAttrs>().value.equals(Tensor::scalar<int64_t>(7)));
  EXPECT_TRUE(ir->find_node("cis")->attr<ir::ConstantAttrs>().value.equals(
      Tensor::from_vector<int64_t>({3}, {1, 2, 3})));
  EXPECT_TRUE(ir->find_node("cv")->attr<ir::ConstantAttrs>().value.equals(Tensor::from_vector<bool>({2}, {true, false})));
  onnx::ModelProto out = expect_round_trip(*ir);
  for (const auto& n : out.graph().node()) {
    if (n.name() == "cis") {
      EXPECT_NE(find_attr(n, "value_ints"), nullptr);
    }
    if (n.name() == "cf") {
      EXPECT_NE(find_attr(n, "value_float"), nullptr);
    }
    if (n.name() == "avg") {
      EXPECT_EQ(find_attr(n, "auto_pad")->s(), "SAME_UPPER");
    }
  }
}

TEST(OnnxRoundTrip, QdqQuantParams) {
  onnx::ModelProto m = make_relu_model(13);
  onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  g->clear_output();
  // Activation: per-tensor, scale and zero point from Constant nodes (u8).
  onnx::NodeProto* cs = add_node(g, "Constant", {}, {"x.scale"}, "x.scale");
  add_attr_float(cs, "value_float", 0.05f);
  onnx::NodeProto* cz = add_node(g, "Constant", {}, {"x.zp"}, "x.zp");
  onnx::AttributeProto* zp = cz->add_attribute();
  zp->set_name("value");
  zp->set_type(onnx::AttributeProto::TENSOR);
  zp->mutable_t()->set_data_type(onnx::TensorProto::UINT8);
  zp->mutable_t()->set_raw_data(std::string(1, '\x80'));
  add_node(g, "QuantizeLinear", {"X", "x.scale", "x.zp"}, {"xq"}, "q");
  add_node(g, "DequantizeLinear", {"xq", "x.scale", "x.zp"}, {"xdq"}, "dq");
  // Weight: s8 per output channel (axis 0), no zero point on a second, per-tensor DQ.
  onnx::TensorProto* w = g->add_initializer();
  w->set_name("w.q");
  w->set_data_type(onnx::TensorProto::INT8);
  for (int64_t d : {3, 2, 1, 1}) w->add_dims(d);
  w->set_raw_data(std::string("\x01\x02\x03\xfd\xfe\xff", 6));
  add_float_initializer(g, "w.scale", {3}, {0.1f, 0.2f, 0.3f});
  onnx::TensorProto* wz = g->add_initializer();
  wz->set_name("w.zp");
  wz->set_data_type(onnx::TensorProto::INT8);
  wz->add_dims(3);
  wz->set_raw_data(std::string(3, '\0'));
  add_attr_int(add_node(g, "DequantizeLinear", {"w.q", "w.scale", "w.zp"}, {"w"}, "wdq"), "axis", 0);
  add_node(g, "Conv", {"xdq", "w"}, {"conv"}, "conv");
  onnx::TensorProto* u = g->add_initializer();
  u->set_name("u.q");
  u->set_data_type(onnx::TensorProto::UINT8);
  u->set_raw_data(std::string(1, '\x02'));
  add_float_initializer(g, "u.scale", {}, {0.5f});
  add_node(g, "DequantizeLinear", {"u.q", "u.scale"}, {"u"}, "udq");
  add_node(g, "Add", {"conv", "u"}, {"Y"}, "add");
  test::set_tensor_type(g->add_output(), "Y", onnx::TensorProto::FLOAT, {1, 3, 3, 3});
  Result<ir::Graph> ir = import_proto(m);
  ASSERT_TRUE(ir.ok()) << ir.status().message();

  const ir::Value* xq = ir->find_value("xq");
  ASSERT_TRUE(xq->quant.has_value());
  EXPECT_EQ(*xq->quant, (ir::QuantParams{{0.05f}, {128}, std::nullopt, DType::kU8}));
  const ir::Value* wq = ir->find_value("w.q");
  ASSERT_TRUE(wq->quant.has_value());
  EXPECT_EQ(*wq->quant, (ir::QuantParams{{0.1f, 0.2f, 0.3f}, {0, 0, 0}, int64_t{0}, DType::kS8}));
  const ir::Value* uq = ir->find_value("u.q");
  ASSERT_TRUE(uq->quant.has_value());
  EXPECT_EQ(*uq->quant, (ir::QuantParams{{0.5f}, {0}, std::nullopt, DType::kU8}));
  EXPECT_FALSE(ir->find_value("X")->quant.has_value());
  expect_round_trip(*ir);
}

TEST(OnnxExport, FormsTheOpsetCannotExpress) {
  Result<ir::Graph> ir = import_proto(make_relu_model(13));
  ASSERT_TRUE(ir.ok());
  ir::Node* relu = ir->nodes()[0].get();
  ir::Graph& g = *ir;
  ir::Value* x = g.find_value("X");
  ir::Value* clipped = g.add_value("clipped");
  g.add_node(ir::OpKind::Clip, "clip", {x}, {clipped}, ir::ClipAttrs{0.0f, 6.0f});
  g.set_input(relu, 0, clipped);
  Result<std::string> bytes = onnx_io::export_model_bytes(g);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(bytes.status().message().find("cannot export node 'clip': Clip min/max attributes need opset < 11"),
            std::string::npos)
      << bytes.status().message();
}

TEST(OnnxExport, InternalOpsAreNotExportable) {
  Result<ir::Graph> ir = import_proto(make_relu_model(13));
  ASSERT_TRUE(ir.ok());
  ir::Graph& g = *ir;
  ir::Value* w = g.add_initializer("w", Tensor::zeros(DType::kF32, {2, 2, 1, 1}).value());
  ir::Value* y2 = g.add_value("y2");
  g.add_node(ir::OpKind::FusedConv, "fused", {g.find_value("Y"), w}, {y2}, ir::FusedConvAttrs{});
  g.set_outputs({y2});
  Result<std::string> bytes = onnx_io::export_model_bytes(g);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(bytes.status().message().find("internal op 'FusedConv'"), std::string::npos) << bytes.status().message();
}

TEST(OnnxExport, OnnxCheckerFailureIsAnInvalidModel) {
  // A declared output shape that contradicts the op passes hqp's import with verify=false; ONNX's
  // strict shape inference rejects it on export.
  onnx::ModelProto m = make_relu_model(13);
  m.mutable_graph()->mutable_output(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(3)->set_dim_value(4);
  Result<ir::Graph> ir = import_proto(m, /*verify=*/false);
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  Result<std::string> bytes = onnx_io::export_model_bytes(*ir);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bytes.status().message().find("the ONNX checker rejects it"), std::string::npos) << bytes.status().message();
  EXPECT_NE(bytes.status().message().find("Relu"), std::string::npos) << bytes.status().message();
}

TEST(OnnxExport, ModelFileRoundTrip) {
  Result<ir::Graph> ir = import_proto(make_relu_model(13));
  ASSERT_TRUE(ir.ok());
  const std::string path = ::testing::TempDir() + "/hqp_export_file_test.onnx";
  ASSERT_TRUE(onnx_io::export_model_file(*ir, path).ok());
  Result<ir::Graph> back = onnx_io::import_model_file(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  expect_same_graph(*ir, *back);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace hqp
