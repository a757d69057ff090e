// Helpers of the CLI tests: running the built `hqp` binary, checking the one-line error contract,
// and building small ONNX models / tensors with the ONNX protobuf classes (no Python).
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <onnx/onnx_pb.h>

#include "common/subprocess.h"
#include "common/temp_dir.h"

namespace hqp::test {

inline const std::string kHqp = HQP_BINARY;
inline const std::string kDemoDir = std::string(HQP_SOURCE_DIR) + "/models/demo";
inline const std::string kDemoModel = kDemoDir + "/tiny_cnn.onnx";
inline const std::string kDemoInput = kDemoDir + "/input_0.pb";
inline const std::string kDemoOutput = kDemoDir + "/output_0.pb";

inline ProcessResult run_hqp(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kHqp};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv);
}

// The CLI's error contract: exit code `code`, no crash, exactly one line on stderr containing
// `substr` (and nothing else).
inline ::testing::AssertionResult is_one_line_error(const ProcessResult& r, int code, std::string_view substr) {
  if (!r.spawned || !r.exited) return ::testing::AssertionFailure() << r.describe() << "; stderr: " << r.err;
  if (r.exit_code != code) {
    return ::testing::AssertionFailure() << "exit " << r.exit_code << " (expected " << code << "); stderr: " << r.err
                                         << "; stdout: " << r.out;
  }
  const auto lines = std::count(r.err.begin(), r.err.end(), '\n');
  if (lines != 1 || r.err.back() != '\n') {
    return ::testing::AssertionFailure() << lines << " lines on stderr (expected exactly one): " << r.err;
  }
  if (r.err.find(substr) == std::string::npos) {
    return ::testing::AssertionFailure() << "stderr lacks '" << substr << "': " << r.err;
  }
  return ::testing::AssertionSuccess();
}

inline std::string serialize(const google::protobuf::MessageLite& m) {
  std::string bytes;
  EXPECT_TRUE(m.SerializeToString(&bytes));
  return bytes;
}

inline void set_tensor_type(onnx::ValueInfoProto* vi, const std::string& name, int32_t elem_type,
                            const std::vector<int64_t>& dims) {
  vi->set_name(name);
  onnx::TypeProto_Tensor* t = vi->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem_type);
  onnx::TensorShapeProto* shape = t->mutable_shape();
  for (int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

inline onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, const std::string& name,
                                 std::initializer_list<std::string> inputs, std::initializer_list<std::string> outputs) {
  onnx::NodeProto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const std::string& i : inputs) n->add_input(i);
  for (const std::string& o : outputs) n->add_output(o);
  return n;
}

// A valid opset-13 model: x float[1,2,4,4] -> Relu -> y float[1,2,4,4].
inline onnx::ModelProto relu_model() {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.set_producer_name("hqp-cli-test");
  onnx::OperatorSetIdProto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("relu_graph");
  set_tensor_type(g->add_input(), "x", onnx::TensorProto::FLOAT, {1, 2, 4, 4});
  set_tensor_type(g->add_output(), "y", onnx::TensorProto::FLOAT, {1, 2, 4, 4});
  add_node(g, "Relu", "relu", {"x"}, {"y"});
  return m;
}

// Float tensor with raw_data of `values`.
inline onnx::TensorProto float_tensor(const std::string& name, const std::vector<int64_t>& dims,
                                      const std::vector<float>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
  return t;
}

// Float values of a TensorProto with raw_data or float_data.
inline std::vector<float> float_values(const onnx::TensorProto& t) {
  if (!t.raw_data().empty()) {
    std::vector<float> v(t.raw_data().size() / sizeof(float));
    std::copy_n(t.raw_data().data(), v.size() * sizeof(float), reinterpret_cast<char*>(v.data()));
    return v;
  }
  return std::vector<float>(t.float_data().begin(), t.float_data().end());
}

inline onnx::TensorProto read_tensor_proto(const std::string& path) {
  onnx::TensorProto t;
  EXPECT_TRUE(t.ParseFromString(read_file(path))) << path;
  return t;
}

// The value of metadata_props[key] of an ONNX file ("" when absent).
inline std::string metadata(const std::string& model_path, const std::string& key) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(read_file(model_path))) << model_path;
  for (const onnx::StringStringEntryProto& e : m.metadata_props()) {
    if (e.key() == key) return e.value();
  }
  return "";
}

// The JSON a successful `hqp ... --json` printed (a failed test expectation otherwise).
inline nlohmann::json parse_json(const ProcessResult& r) {
  EXPECT_TRUE(r.exited && r.exit_code == 0) << r.describe() << "\nstderr: " << r.err << "\nstdout: " << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  return j;
}

}  // namespace hqp::test
