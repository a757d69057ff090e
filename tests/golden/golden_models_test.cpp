// Golden torchvision models (ResNet-18, MobileNetV2, MobileNetV3-Small/Large at opsets 13 and 17),
// exported by tests/golden/make_golden.py into $HQP_GOLDEN_DIR by the CTest fixture
// golden_models_generate: hqp's import + reference executor must reproduce PyTorch's logits, its
// statistics must match the generator's counts, and export + re-import must be lossless.
// Missing golden data is a failure, never a skip.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/tensor_compare.h"
#include "common/tolerances.h"
#include "ir/model_stats.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "reference/executor.h"

namespace hqp::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kGoldenDir = HQP_GOLDEN_DIR;
constexpr const char* kHqpBinary = HQP_BINARY;
// make_golden.py's DEFAULT_MODELS x DEFAULT_OPSETS: the cases the fixture generates.
const std::vector<std::string> kGoldenCases = {
    "resnet18_op13",           "resnet18_op17",           "mobilenet_v2_op13",      "mobilenet_v2_op17",
    "mobilenet_v3_small_op13", "mobilenet_v3_small_op17", "mobilenet_v3_large_op13", "mobilenet_v3_large_op17",
};
// The case `hqp info --json` is checked on.
constexpr const char* kInfoCase = "resnet18_op13";

std::string missing_data_hint() {
  return fmt::format("the CTest fixture golden_models_generate generates the golden data (ctest -L slow), or run "
                     "/usr/bin/python3 tests/golden/make_golden.py --out {}",
                     kGoldenDir);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One generated case: model.onnx, test_data_set_0/{input_0,output_0}.pb, meta.json.
struct GoldenData {
  fs::path dir;
  nlohmann::json meta;
  Tensor input;     // f32 [2, 3, 224, 224]
  Tensor expected;  // f32 [2, 1000], PyTorch eval-mode logits
};

// Loads a case's data (not the model); fails the current test with a hint when anything is missing.
void load_golden_data(const std::string& name, GoldenData* d) {
  d->dir = fs::path(kGoldenDir) / name;
  for (const char* f : {"model.onnx", "meta.json", "test_data_set_0/input_0.pb", "test_data_set_0/output_0.pb"}) {
    ASSERT_TRUE(fs::exists(d->dir / f)) << "golden file " << (d->dir / f).string() << " is missing; "
                                        << missing_data_hint();
  }
  std::ifstream meta_file(d->dir / "meta.json");
  d->meta = nlohmann::json::parse(meta_file, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(d->meta.is_discarded()) << (d->dir / "meta.json").string() << " is not valid JSON";
  for (const char* key : {"onnx_float_params", "macs", "model", "opset"}) {
    ASSERT_TRUE(d->meta.contains(key)) << "meta.json lacks '" << key << "'";
  }
  Result<Tensor> in = onnx_io::read_tensor_file((d->dir / "test_data_set_0/input_0.pb").string());
  ASSERT_TRUE(in.ok()) << in.status().message();
  Result<Tensor> out = onnx_io::read_tensor_file((d->dir / "test_data_set_0/output_0.pb").string());
  ASSERT_TRUE(out.ok()) << out.status().message();
  d->input = std::move(in).value();
  d->expected = std::move(out).value();
}

std::vector<std::string> node_names(const ir::Graph& g) {
  std::vector<std::string> names;
  auto order = g.topological_order();
  if (order.ok()) {
    for (const ir::Node* n : *order) names.push_back(n->name);
  }
  return names;
}

std::vector<std::string> value_names(const std::vector<ir::Value*>& values) {
  std::vector<std::string> names;
  for (const ir::Value* v : values) names.push_back(v->name);
  return names;
}

std::set<std::string> initializer_names(const ir::Graph& g) {
  std::set<std::string> names;
  for (const ir::Value* v : g.initializers()) names.insert(v->name);
  return names;
}

class GoldenModel : public ::testing::TestWithParam<std::string> {};

// Import, run on PyTorch's input, compare logits and statistics; then export, re-import, run again
// and require bit-identical logits and preserved names, opset and metadata.
TEST_P(GoldenModel, MatchesPyTorchAndRoundTrips) {
  const std::string& name = GetParam();
  GoldenData d;
  ASSERT_NO_FATAL_FAILURE(load_golden_data(name, &d));

  auto t0 = std::chrono::steady_clock::now();
  Result<ir::Graph> imported = onnx_io::import_model_file((d.dir / "model.onnx").string());
  ASSERT_TRUE(imported.ok()) << imported.status().message();
  const ir::Graph& graph = *imported;
  const double t_import = seconds_since(t0);

  // Logits against PyTorch.
  t0 = std::chrono::steady_clock::now();
  const std::vector<Tensor> inputs = {d.input};
  Result<std::vector<Tensor>> got = reference::run_reference(graph, inputs);
  ASSERT_TRUE(got.ok()) << got.status().message();
  const double t_run = seconds_since(t0);
  ASSERT_EQ(got->size(), 1u);
  const Tensor& logits = (*got)[0];
  ASSERT_FALSE(type_mismatch(logits, d.expected)) << *type_mismatch(logits, d.expected);
  const double rel_err = max_relative_error(logits, d.expected);
  EXPECT_LE(rel_err, kGoldenMaxRelErr) << name << ": max|hqp - torch| / max|torch| = " << rel_err;

  // Statistics against the generator's counts (float initializers; Conv + Linear MACs at batch 1).
  const ir::ModelStats stats = ir::compute_stats(graph);
  EXPECT_EQ(stats.params, d.meta["onnx_float_params"].get<int64_t>()) << name << ": params";
  EXPECT_EQ(stats.macs, d.meta["macs"].get<int64_t>()) << name << ": macs";
  if (d.meta["model"] == "resnet18") {
    EXPECT_NEAR(static_cast<double>(stats.macs), kResNet18Macs, kResNet18Macs * kResNet18MacsRelTol);
  }

  // Round trip.
  t0 = std::chrono::steady_clock::now();
  Result<std::string> bytes = onnx_io::export_model_bytes(graph);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  const double t_export = seconds_since(t0);
  Result<ir::Graph> reimported = onnx_io::import_model_bytes(*bytes, name + " (re-import)");
  ASSERT_TRUE(reimported.ok()) << reimported.status().message();
  const ir::Graph& g2 = *reimported;
  EXPECT_EQ(g2.opset(), graph.opset());
  EXPECT_EQ(g2.opset(), d.meta["opset"].get<int64_t>());
  EXPECT_EQ(g2.info.opset_imports, graph.info.opset_imports);
  EXPECT_EQ(g2.info.metadata_props, graph.info.metadata_props);
  EXPECT_FALSE(graph.info.metadata_props.empty()) << "make_golden.py writes hqp.* metadata_props";
  EXPECT_EQ(value_names(g2.inputs()), value_names(graph.inputs()));
  EXPECT_EQ(value_names(g2.outputs()), value_names(graph.outputs()));
  EXPECT_EQ(node_names(g2), node_names(graph));
  EXPECT_EQ(initializer_names(g2), initializer_names(graph));

  t0 = std::chrono::steady_clock::now();
  Result<std::vector<Tensor>> again = reference::run_reference(g2, inputs);
  ASSERT_TRUE(again.ok()) << again.status().message();
  const double t_run2 = seconds_since(t0);
  ASSERT_EQ(again->size(), 1u);
  const auto diff = bitwise_mismatch((*again)[0], logits);
  EXPECT_FALSE(diff) << name << ": logits after export and re-import: " << *diff;

  std::printf("[ GOLDEN   ] %-24s rel err %.2e  params %lld  macs %lld  | import %.2fs run %.2fs export %.2fs "
              "re-run %.2fs\n",
              name.c_str(), rel_err, static_cast<long long>(stats.params), static_cast<long long>(stats.macs),
              t_import, t_run, t_export, t_run2);
}

INSTANTIATE_TEST_SUITE_P(Torchvision, GoldenModel, ::testing::ValuesIn(kGoldenCases),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// The golden directory holds generated cases, and exactly the ones this test knows.
TEST(GoldenDir, HoldsTheGeneratedCases) {
  std::set<std::string> present;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(kGoldenDir, ec)) {
    if (e.is_directory() && fs::exists(e.path() / "model.onnx")) present.insert(e.path().filename().string());
  }
  ASSERT_FALSE(present.empty()) << "no golden cases (*/model.onnx) in " << kGoldenDir << "; "
                                << missing_data_hint();
  for (const std::string& c : kGoldenCases) {
    EXPECT_TRUE(present.count(c)) << "golden case " << c << " is missing; " << missing_data_hint();
  }
  for (const std::string& c : present) {
    EXPECT_NE(std::find(kGoldenCases.begin(), kGoldenCases.end(), c), kGoldenCases.end())
        << "golden case " << c << " is not tested: add it to kGoldenCases";
  }
}

// `hqp info --json MODEL` reports the documented keys, and the same params/MACs as the generator.
TEST(GoldenCli, InfoJsonMatchesMeta) {
  GoldenData d;
  ASSERT_NO_FATAL_FAILURE(load_golden_data(kInfoCase, &d));
  const std::string cmd = fmt::format("'{}' info --json '{}'", kHqpBinary, (d.dir / "model.onnx").string());
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr) << "cannot run " << cmd;
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int status = pclose(pipe);
  ASSERT_EQ(status, 0) << cmd << " exited with status " << status << ":\n" << out;
  const nlohmann::json j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << cmd << " printed invalid JSON:\n" << out.substr(0, 2000);
  for (const char* key : {"inputs", "outputs", "nodes", "op_counts", "params", "size_bytes", "macs", "layers"}) {
    EXPECT_TRUE(j.contains(key)) << "hqp info --json lacks '" << key << "'";
  }
  ASSERT_TRUE(j.contains("params") && j.contains("macs"));
  EXPECT_EQ(j["params"].get<int64_t>(), d.meta["onnx_float_params"].get<int64_t>());
  EXPECT_EQ(j["macs"].get<int64_t>(), d.meta["macs"].get<int64_t>());
  EXPECT_EQ(j["size_bytes"].get<int64_t>(), static_cast<int64_t>(fs::file_size(d.dir / "model.onnx")));
  ASSERT_TRUE(j["inputs"].is_array() && j["inputs"].size() == 1);
  EXPECT_EQ(j["inputs"][0]["name"], d.meta["input_name"]);
  ASSERT_TRUE(j["outputs"].is_array() && j["outputs"].size() == 1);
  EXPECT_EQ(j["outputs"][0]["name"], d.meta["output_name"]);
  EXPECT_TRUE(j["layers"].is_array() && !j["layers"].empty());
}

}  // namespace
}  // namespace hqp::test
