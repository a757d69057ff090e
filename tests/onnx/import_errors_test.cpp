// Negative tests of the ONNX importer: malformed, hostile or unsupported models built with the ONNX
// protobuf classes. Each expects a specific StatusCode and a message substring, never an abort.
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "onnx_test_util.h"

namespace hqp {
namespace {

using test::add_attr_float;
using test::add_attr_int;
using test::add_float_initializer;
using test::add_node;
using test::import_proto;
using test::make_relu_model;
using test::serialize;

void expect_error(const Status& status, StatusCode code, const std::string& substring) {
  ASSERT_FALSE(status.ok()) << "expected an error containing: " << substring;
  EXPECT_EQ(status.code(), code) << status_code_name(status.code()) << ": " << status.message();
  EXPECT_NE(status.message().find(substring), std::string::npos)
      << "message: " << status.message() << "\nexpected substring: " << substring;
}

template <typename T>
void expect_error(const Result<T>& result, StatusCode code, const std::string& substring) {
  expect_error(result.status(), code, substring);
}

// Relu model whose input is the initializer `W` (replaced by each test).
onnx::ModelProto make_initializer_model(const std::vector<int64_t>& dims) {
  onnx::ModelProto m = make_relu_model();
  onnx::GraphProto* g = m.mutable_graph();
  g->clear_input();
  g->clear_output();
  g->mutable_node(0)->set_input(0, "W");
  onnx::ValueInfoProto* out = g->add_output();
  out->set_name("Y");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorProto* w = g->add_initializer();
  w->set_name("W");
  w->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) w->add_dims(d);
  return m;
}

TEST(OnnxImportErrors, ValidModelImports) {
  Result<ir::Graph> g = import_proto(make_relu_model());
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->nodes().size(), 1u);
}

TEST(OnnxImportErrors, TruncatedFile) {
  onnx::ModelProto m = make_relu_model();
  add_float_initializer(m.mutable_graph(), "unused", {64}, std::vector<float>(64, 1.0f));
  const std::string bytes = serialize(m);
  for (size_t keep : {bytes.size() / 2, bytes.size() - 3, size_t{1}}) {
    SCOPED_TRACE(keep);
    expect_error(onnx_io::import_model_bytes(std::string_view(bytes).substr(0, keep), "cut.onnx"),
                 StatusCode::kParseError, "cannot parse ONNX model 'cut.onnx': not a valid protobuf");
  }
}

TEST(OnnxImportErrors, RandomBytes) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 20; ++trial) {
    std::string bytes(257 + trial * 13, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
    Result<ir::Graph> g = onnx_io::import_model_bytes(bytes, "random.onnx");
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.status().code(), StatusCode::kParseError) << g.status().message();
    EXPECT_NE(g.status().message().find("random.onnx"), std::string::npos);
  }
}

// Random byte flips of a valid model with a Conv, attributes and initializers: every import and
// re-export ends in a value or an error, never a crash (run under HQP_SANITIZE for the full value).
TEST(OnnxImportErrors, MutatedModelsNeverCrash) {
  onnx::ModelProto m = make_relu_model();
  onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  add_float_initializer(g, "W", {2, 2, 3, 3}, std::vector<float>(36, 0.25f));
  add_float_initializer(g, "B", {2}, {0.0f, 1.0f});
  onnx::NodeProto* conv = add_node(g, "Conv", {"X", "W", "B"}, {"c"}, "conv");
  test::add_attr_ints(conv, "pads", {1, 1, 1, 1});
  test::add_attr_ints(conv, "kernel_shape", {3, 3});
  add_attr_int(conv, "group", 1);
  add_node(g, "Relu", {"c"}, {"Y"}, "relu");
  const std::string bytes = serialize(m);
  ASSERT_TRUE(onnx_io::import_model_bytes(bytes, "base.onnx").ok());
  std::mt19937 rng(42);
  int imported = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string mutated = bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) mutated[rng() % mutated.size()] = static_cast<char>(rng() & 0xff);
    Result<ir::Graph> r = onnx_io::import_model_bytes(mutated, "mutated.onnx");
    if (r.ok()) {
      ++imported;
      Result<std::string> exported = onnx_io::export_model_bytes(*r);  // ok or an error, never a crash
      if (!exported.ok()) {
        EXPECT_FALSE(exported.status().message().empty());
      }
      continue;
    }
    EXPECT_FALSE(r.status().message().empty());
  }
  std::printf("  %d of 2000 mutated models still imported\n", imported);
}

TEST(OnnxImportErrors, TensorProtoIsNotAModel) {
  onnx::TensorProto t;
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.add_dims(2);
  const float values[2] = {1.0f, 2.0f};
  t.set_raw_data(values, sizeof(values));
  expect_error(onnx_io::import_model_bytes(serialize(t), "tensor.pb"), StatusCode::kParseError,
               "cannot parse ONNX model 'tensor.pb': not an ONNX model");
}

TEST(OnnxImportErrors, EmptyModelIsNotAModel) {
  expect_error(onnx_io::import_model_bytes(serialize(onnx::ModelProto()), "empty.onnx"), StatusCode::kParseError,
               "not an ONNX model (ir_version=0");
  expect_error(onnx_io::import_model_bytes("", "zero.onnx"), StatusCode::kParseError, "not an ONNX model");
}

TEST(OnnxImportErrors, ModelWithoutGraphOrOpset) {
  onnx::ModelProto no_graph = make_relu_model();
  no_graph.clear_graph();
  expect_error(import_proto(no_graph), StatusCode::kParseError, "not an ONNX model (no graph)");
  onnx::ModelProto no_opset = make_relu_model();
  no_opset.clear_opset_import();
  expect_error(import_proto(no_opset), StatusCode::kParseError, "no opset_import for the default domain");
}

TEST(OnnxImportErrors, OpsetOutsideSupportedRange) {
  expect_error(import_proto(make_relu_model(5)), StatusCode::kUnsupported, "unsupported opset 5");
  expect_error(import_proto(make_relu_model(18)), StatusCode::kUnsupported, "unsupported opset 18");
}

TEST(OnnxImportErrors, UnknownOpIsNamed) {
  onnx::ModelProto m = make_relu_model();
  m.mutable_graph()->mutable_node(0)->set_op_type("FancyNewOp");
  expect_error(import_proto(m), StatusCode::kUnsupported,
               "cannot import node 'relu': unsupported op 'FancyNewOp' (domain '', opset 13)");
}

TEST(OnnxImportErrors, NonDefaultDomain) {
  onnx::ModelProto m = make_relu_model();
  auto* op_set = m.add_opset_import();
  op_set->set_domain("com.microsoft");
  op_set->set_version(1);
  m.mutable_graph()->mutable_node(0)->set_domain("com.microsoft");
  expect_error(import_proto(m), StatusCode::kUnsupported,
               "unsupported op 'Relu' (domain 'com.microsoft', opset 1)");
}

TEST(OnnxImportErrors, OpNotInOpset) {
  onnx::ModelProto m = make_relu_model(13);
  m.mutable_graph()->mutable_node(0)->set_op_type("HardSwish");  // since opset 14
  expect_error(import_proto(m), StatusCode::kInvalidArgument, "op 'HardSwish' does not exist at opset 13");
}

TEST(OnnxImportErrors, MissingInitializer) {
  onnx::ModelProto m = make_relu_model();
  onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  add_node(g, "Conv", {"X", "conv.weight"}, {"Y"}, "conv1");
  expect_error(import_proto(m), StatusCode::kInvalidArgument,
               "cannot import node 'conv1': input 'conv.weight' is not a graph input, initializer or output of any "
               "node (missing initializer?)");
}

TEST(OnnxImportErrors, DuplicateProducer) {
  onnx::ModelProto m = make_relu_model();
  add_node(m.mutable_graph(), "Sigmoid", {"X"}, {"Y"}, "sig");
  expect_error(import_proto(m), StatusCode::kInvalidArgument,
               "cannot import node 'sig': output 'Y' is already produced by node 'relu'");
  onnx::ModelProto m2 = make_relu_model();
  m2.mutable_graph()->mutable_node(0)->set_output(0, "X");
  expect_error(import_proto(m2), StatusCode::kInvalidArgument, "output 'X' is also a graph input or initializer");
}

TEST(OnnxImportErrors, GraphOutputNotProduced) {
  onnx::ModelProto m = make_relu_model();
  m.mutable_graph()->mutable_output(0)->set_name("nowhere");
  expect_error(import_proto(m), StatusCode::kInvalidArgument,
               "graph output 'nowhere': not produced by any node, graph input or initializer");
}

TEST(OnnxImportErrors, DimsProductOverflowsInt64) {
  onnx::ModelProto m = make_initializer_model({int64_t{1} << 40, int64_t{1} << 40});
  expect_error(import_proto(m), StatusCode::kOutOfRange, "element count overflows int64");
}

TEST(OnnxImportErrors, DimsAboveTensorByteLimit) {
  onnx::ModelProto m = make_initializer_model({int64_t{1} << 40});
  expect_error(import_proto(m), StatusCode::kOutOfRange, "cannot import initializer 'W'");
}

TEST(OnnxImportErrors, NegativeDims) {
  expect_error(import_proto(make_initializer_model({2, -3})), StatusCode::kInvalidArgument, "negative dimension -3");
  onnx::ModelProto m = make_relu_model();
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(1)->set_dim_value(-2);
  expect_error(import_proto(m), StatusCode::kInvalidArgument, "cannot import graph input 'X': negative dimension -2");
}

TEST(OnnxImportErrors, RankAboveLimit) {
  expect_error(import_proto(make_initializer_model(std::vector<int64_t>(kMaxRank + 1, 1))), StatusCode::kOutOfRange,
               "rank 9 exceeds the limit");
}

TEST(OnnxImportErrors, RawDataSizeMismatch) {
  onnx::ModelProto m = make_initializer_model({2, 3});
  m.mutable_graph()->mutable_initializer(0)->set_raw_data(std::string(20, '\0'));
  expect_error(import_proto(m), StatusCode::kInvalidArgument,
               "cannot import initializer 'W': raw_data holds 20 bytes (expected 24");
}

TEST(OnnxImportErrors, TypedDataCountMismatch) {
  onnx::ModelProto m = make_initializer_model({4});
  for (float v : {1.0f, 2.0f, 3.0f}) m.mutable_graph()->mutable_initializer(0)->add_float_data(v);
  expect_error(import_proto(m), StatusCode::kInvalidArgument, "holds 3 values in float_data");
  onnx::ModelProto wrong_field = make_initializer_model({1});
  wrong_field.mutable_graph()->mutable_initializer(0)->add_int64_data(7);
  expect_error(import_proto(wrong_field), StatusCode::kInvalidArgument, "expected 1 in float_data");
}

TEST(OnnxImportErrors, NarrowIntOutOfRange) {
  onnx::ModelProto m = make_initializer_model({2});
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  w->set_data_type(onnx::TensorProto::INT8);
  w->add_int32_data(5);
  w->add_int32_data(300);
  expect_error(import_proto(m, /*verify=*/false), StatusCode::kInvalidArgument, "int32_data[1]=300 is out of range");
}

TEST(OnnxImportErrors, CyclicGraph) {
  onnx::ModelProto m = make_relu_model();
  onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  add_node(g, "Add", {"X", "b"}, {"a"}, "first");
  add_node(g, "Relu", {"a"}, {"b"}, "second");
  add_node(g, "Relu", {"a"}, {"Y"}, "out");
  expect_error(import_proto(m), StatusCode::kInvalidArgument, "contains a cycle through node 'first'");
}

TEST(OnnxImportErrors, UnsupportedDtype) {
  onnx::ModelProto m = make_initializer_model({2});
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  w->set_data_type(onnx::TensorProto::FLOAT16);
  w->set_raw_data(std::string(4, '\0'));
  expect_error(import_proto(m), StatusCode::kUnsupported,
               "cannot import initializer 'W': unsupported data type FLOAT16");
  onnx::ModelProto in = make_relu_model();
  in.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::DOUBLE);
  expect_error(import_proto(in), StatusCode::kUnsupported, "cannot import graph input 'X': unsupported data type DOUBLE");
}

TEST(OnnxImportErrors, NonTensorGraphInput) {
  onnx::ModelProto m = make_relu_model();
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_sequence_type();
  expect_error(import_proto(m), StatusCode::kUnsupported, "only tensor types are supported");
}

TEST(OnnxImportErrors, AttributeOfWrongType) {
  onnx::ModelProto m = make_relu_model();
  onnx::NodeProto* n = m.mutable_graph()->mutable_node(0);
  n->set_op_type("Flatten");
  add_attr_float(n, "axis", 1.0f);
  expect_error(import_proto(m), StatusCode::kInvalidArgument,
               "cannot import node 'relu': attribute 'axis' of op 'Flatten' has type FLOAT (expected INT)");
}

TEST(OnnxImportErrors, UnknownAttributeOnKnownOp) {
  onnx::ModelProto m = make_relu_model();
  add_attr_int(m.mutable_graph()->mutable_node(0), "fancy", 3);
  expect_error(import_proto(m), StatusCode::kUnsupported,
               "cannot import node 'relu': unsupported attribute 'fancy' of op 'Relu'");
}

TEST(OnnxImportErrors, AttributeOfAnotherOpset) {
  // Clip min/max are inputs from opset 11 on; as attributes they are not Clip's any more.
  onnx::ModelProto m = make_relu_model(13);
  onnx::NodeProto* n = m.mutable_graph()->mutable_node(0);
  n->set_op_type("Clip");
  add_attr_float(n, "min", 0.0f);
  expect_error(import_proto(m), StatusCode::kUnsupported, "unsupported attribute 'min' of op 'Clip' (opset 13)");
}

TEST(OnnxImportErrors, DuplicateAttribute) {
  onnx::ModelProto m = make_relu_model();
  onnx::NodeProto* n = m.mutable_graph()->mutable_node(0);
  n->set_op_type("Flatten");
  add_attr_int(n, "axis", 1);
  add_attr_int(n, "axis", 2);
  expect_error(import_proto(m), StatusCode::kInvalidArgument, "attribute 'axis' appears twice");
}

TEST(OnnxImportErrors, BadAutoPad) {
  onnx::ModelProto m = make_relu_model();
  onnx::NodeProto* n = m.mutable_graph()->mutable_node(0);
  n->set_op_type("MaxPool");
  test::add_attr_ints(n, "kernel_shape", {2, 2});
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name("auto_pad");
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s("SAME_MIDDLE");
  expect_error(import_proto(m), StatusCode::kInvalidArgument, "auto_pad='SAME_MIDDLE'");
}

TEST(OnnxImportErrors, LegacyBatchNormSpatialZero) {
  onnx::ModelProto m = make_relu_model(7);
  onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  for (const char* p : {"scale", "bias", "mean", "var"}) add_float_initializer(g, p, {2}, {1.0f, 1.0f});
  onnx::NodeProto* bn = add_node(g, "BatchNormalization", {"X", "scale", "bias", "mean", "var"}, {"Y"}, "bn");
  add_attr_int(bn, "spatial", 0);
  expect_error(import_proto(m), StatusCode::kUnsupported, "BatchNormalization spatial=0 is not supported");
}

TEST(OnnxImportErrors, ExternalData) {
  onnx::ModelProto m = make_initializer_model({2});
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* entry = w->add_external_data();
  entry->set_key("location");
  entry->set_value("weights.bin");
  expect_error(import_proto(m), StatusCode::kUnsupported,
               "cannot import initializer 'W': tensors with external data are not supported");
}

TEST(OnnxImportErrors, ConstantForms) {
  onnx::ModelProto m = make_relu_model();
  onnx::GraphProto* g = m.mutable_graph();
  onnx::NodeProto* c = add_node(g, "Constant", {}, {"c"}, "const");
  onnx::AttributeProto* a = c->add_attribute();
  a->set_name("value_strings");
  a->set_type(onnx::AttributeProto::STRINGS);
  a->add_strings("x");
  expect_error(import_proto(m), StatusCode::kUnsupported, "unsupported attribute 'value_strings' of op 'Constant'");
  onnx::ModelProto none = make_relu_model();
  add_node(none.mutable_graph(), "Constant", {}, {"c"}, "const");
  expect_error(import_proto(none), StatusCode::kInvalidArgument, "Constant has 0 value attributes (expected exactly 1)");
}

TEST(OnnxImportErrors, FileLimitsAndMissingFile) {
  expect_error(onnx_io::import_model_file("/nonexistent/dir/model.onnx"), StatusCode::kNotFound,
               "cannot import ONNX model '/nonexistent/dir/model.onnx'");
  const std::string path = ::testing::TempDir() + "/hqp_limit_test.onnx";
  ASSERT_TRUE(onnx_io::export_model_file(import_proto(make_relu_model()).value(), path).ok());
  onnx_io::ImportOptions small;
  small.max_file_bytes = 10;
  expect_error(onnx_io::import_model_file(path, small), StatusCode::kOutOfRange, "(max_file_bytes=10)");
  expect_error(onnx_io::import_model_bytes(serialize(make_relu_model()), "mem.onnx", small), StatusCode::kOutOfRange,
               "(max_file_bytes=10)");
  EXPECT_TRUE(onnx_io::import_model_file(path).ok());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace hqp
