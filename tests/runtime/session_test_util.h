// Helpers of the hqp::Session tests: the golden torchvision cases, the demo model, seeded random
// inputs, and running one model through the reference executor and Session engines. Test-only.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/status.h"
#include "core/tensor.h"
#include "onnx/import.h"
#include "runtime/session.h"

namespace hqp::test {

inline const std::string kGoldenDir = HQP_GOLDEN_DIR;
inline const std::string kHqp = HQP_BINARY;
inline const std::string kDemoDir = std::string(HQP_SOURCE_DIR) + "/models/demo";
inline const std::string kDemoModel = kDemoDir + "/tiny_cnn.onnx";
inline const std::string kDemoInput = kDemoDir + "/input_0.pb";

// make_golden.py's DEFAULT_MODELS x DEFAULT_OPSETS (the cases the CTest fixture generates).
inline const std::vector<std::string> kGoldenCases = {
    "resnet18_op13",           "resnet18_op17",           "mobilenet_v2_op13",      "mobilenet_v2_op17",
    "mobilenet_v3_small_op13", "mobilenet_v3_small_op17", "mobilenet_v3_large_op13", "mobilenet_v3_large_op17",
};

// The runtime does not open files: import, then compile (what every caller of Session does).
inline Result<Session> load_session(const std::string& onnx_path, const SessionOptions& options) {
  HQP_ASSIGN_OR_RETURN(ir::Graph graph, onnx_io::import_model_file(onnx_path));
  return Session::create(graph, options);
}

inline std::string golden_model(const std::string& name) { return kGoldenDir + "/" + name + "/model.onnx"; }
inline std::string golden_input(const std::string& name) {
  return kGoldenDir + "/" + name + "/test_data_set_0/input_0.pb";
}
inline std::string golden_output(const std::string& name) {
  return kGoldenDir + "/" + name + "/test_data_set_0/output_0.pb";
}
inline std::string missing_golden_hint() {
  return "the CTest fixture golden_models_generate generates it, or run /usr/bin/python3 "
         "tests/golden/make_golden.py --out " + kGoldenDir;
}

// f32 tensor of N(0, 1) values from a fixed seed.
inline Tensor random_f32(Shape shape, uint32_t seed) {
  Result<Tensor> t = Tensor::zeros(DType::kF32, std::move(shape));
  EXPECT_TRUE(t.ok()) << t.status().message();
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& x : t->span<float>()) x = dist(rng);
  return std::move(t).value();
}

// Rows [b, b+1) of a tensor along dim 0, as a new tensor.
inline Tensor batch_row(const Tensor& t, int64_t b) {
  Shape shape = t.shape();
  shape[0] = 1;
  Result<Tensor> row = Tensor::zeros(t.dtype(), shape);
  EXPECT_TRUE(row.ok()) << row.status().message();
  const size_t bytes = static_cast<size_t>(row->nbytes());
  std::memcpy(row->raw_data(), static_cast<const std::byte*>(t.raw_data()) + static_cast<size_t>(b) * bytes, bytes);
  return std::move(row).value();
}

inline SessionOptions session_options(Engine engine, int threads = 2, bool optimize = true) {
  SessionOptions o;
  o.engine = engine;
  o.threads = threads;
  o.optimize = optimize;
  return o;
}

}  // namespace hqp::test
