// Positive paths of the real `hqp` binary on the demo model (models/demo/tiny_cnn.onnx, made by
// models/make_demo.py): `info --json` contents, `run` against PyTorch's output, `convert` round
// trips, and `--help` of every subcommand.
#include <algorithm>
#include <cmath>
#include <iterator>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_test_util.h"
#include "common/cli_tolerances.h"
#include "common/tensor_compare.h"

namespace hqp::test {
namespace {

// Parameters and MACs of the demo model, from make_demo.py (PyTorch counts: 6402 float parameters
// including BatchNorm statistics; MACs of its 7 convolutions and the linear layer at batch 1).
constexpr int64_t kDemoParams = 6402;
constexpr int64_t kDemoMacs = 3854720;

nlohmann::json info_json(const std::string& model) {
  const ProcessResult r = run_hqp({"info", "--json", model});
  EXPECT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  EXPECT_EQ(r.err, "");
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.out;
  return j;
}

TEST(CliInfo, JsonOfTheDemoModel) {
  const nlohmann::json j = info_json(kDemoModel);
  ASSERT_TRUE(j.is_object());
  for (const char* key : {"inputs", "outputs", "nodes", "op_counts", "params", "size_bytes", "macs", "layers"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j.value("params", int64_t{-1}), kDemoParams);
  EXPECT_EQ(j.value("macs", int64_t{-1}), kDemoMacs);
  EXPECT_EQ(j.value("size_bytes", int64_t{-1}), static_cast<int64_t>(std::filesystem::file_size(kDemoModel)));
  EXPECT_EQ(j.value("opset", int64_t{-1}), 17);

  ASSERT_TRUE(j["inputs"].is_array());
  ASSERT_EQ(j["inputs"].size(), 1u);
  EXPECT_EQ(j["inputs"][0]["name"], "input");
  EXPECT_EQ(j["inputs"][0]["dtype"], "f32");
  EXPECT_EQ(j["inputs"][0]["shape"], nlohmann::json::parse(R"(["batch", 1, 28, 28])"));
  ASSERT_EQ(j["outputs"].size(), 1u);
  EXPECT_EQ(j["outputs"][0]["name"], "logits");
  EXPECT_EQ(j["outputs"][0]["shape"], nlohmann::json::parse(R"(["batch", 10])"));

  // Architecture of make_demo.py: 7 convs (stem, 2 in the basic block, depthwise, 2 SE, pointwise),
  // 5 BatchNorms, one Gemm.
  const nlohmann::json& ops = j["op_counts"];
  EXPECT_EQ(ops.value("Conv", 0), 7);
  EXPECT_EQ(ops.value("BatchNormalization", 0), 5);
  EXPECT_EQ(ops.value("Gemm", 0), 1);
  EXPECT_EQ(ops.value("MaxPool", 0), 1);
  int64_t op_total = 0;
  for (const auto& [op, n] : ops.items()) op_total += n.get<int64_t>();
  EXPECT_EQ(op_total, j.value("nodes", int64_t{-1}));

  // The per-layer table adds up to the totals.
  ASSERT_TRUE(j["layers"].is_array());
  EXPECT_EQ(static_cast<int64_t>(j["layers"].size()), j.value("nodes", int64_t{-1}));
  int64_t layer_macs = 0;
  int64_t layer_params = 0;
  for (const nlohmann::json& l : j["layers"]) {
    for (const char* key : {"name", "op", "output_shape", "params", "macs"}) EXPECT_TRUE(l.contains(key)) << key;
    layer_macs += l.value("macs", int64_t{0});
    layer_params += l.value("params", int64_t{0});
  }
  EXPECT_EQ(layer_macs, kDemoMacs);
  EXPECT_EQ(layer_params, kDemoParams);
  // First layer: the stem conv 1->16, 3x3, 28x28: 16*28*28*1*3*3 MACs, 16*9 weights.
  EXPECT_EQ(j["layers"][0]["op"], "Conv");
  EXPECT_EQ(j["layers"][0]["output_shape"], "[batch,16,28,28]");
  EXPECT_EQ(j["layers"][0]["macs"], 16 * 28 * 28 * 9);
  EXPECT_EQ(j["layers"][0]["params"], 16 * 9);
}

TEST(CliInfo, TextOutputAndDump) {
  const ProcessResult r = run_hqp({"info", kDemoModel, "--dump"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("input      input: f32[batch,1,28,28]\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("output     logits: f32[batch,10]\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("params     6402 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("macs       3854720 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("graph '"), std::string::npos) << "--dump prints the IR: " << r.out;
  EXPECT_NE(r.out.find("= Gemm(%"), std::string::npos) << r.out;
}

TEST(CliRun, ReproducesPyTorchOutputOfTheDemoModel) {
  TempDir dir;
  const std::string out = dir.file("out");  // created by hqp
  const ProcessResult r = run_hqp({"run", kDemoModel, "-i", kDemoInput, "-o", out});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("logits: f32 1x10 -> "), std::string::npos) << r.out;

  const onnx::TensorProto got = read_tensor_proto(out + "/output_0.pb");
  const onnx::TensorProto want = read_tensor_proto(kDemoOutput);
  EXPECT_EQ(got.name(), "logits");
  EXPECT_EQ(got.data_type(), onnx::TensorProto::FLOAT);
  ASSERT_EQ(std::vector<int64_t>(got.dims().begin(), got.dims().end()), (std::vector<int64_t>{1, 10}));
  const std::vector<float> g = float_values(got);
  const std::vector<float> w = float_values(want);
  ASSERT_EQ(g.size(), 10u);
  ASSERT_EQ(w.size(), 10u);
  const double err = max_relative_error(Tensor::from_vector<float>({1, 10}, g), Tensor::from_vector<float>({1, 10}, w));
  EXPECT_LE(err, kDemoVsPyTorchMaxRelErr);
  // Not trivially equal to zeros: the logits differ from each other.
  EXPECT_NE(*std::max_element(w.begin(), w.end()), *std::min_element(w.begin(), w.end()));
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"out"}));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(out), std::filesystem::directory_iterator()), 1);
}

TEST(CliRun, BatchOfTwoMatchesTwoSingleRuns) {
  // The demo model has a symbolic batch: stack the reference input with its negation.
  const onnx::TensorProto in = read_tensor_proto(kDemoInput);
  std::vector<float> x = float_values(in);
  ASSERT_EQ(x.size(), 28u * 28u);
  std::vector<float> neg(x.size());
  for (size_t i = 0; i < x.size(); ++i) neg[i] = -x[i];
  std::vector<float> both = x;
  both.insert(both.end(), neg.begin(), neg.end());

  TempDir dir;
  ASSERT_TRUE(write_file(dir.file("neg.pb"), serialize(float_tensor("input", {1, 1, 28, 28}, neg))));
  ASSERT_TRUE(write_file(dir.file("both.pb"), serialize(float_tensor("input", {2, 1, 28, 28}, both))));
  for (const auto& [input, out] : {std::pair{kDemoInput, "o1"}, {dir.file("neg.pb"), "o2"}, {dir.file("both.pb"), "o3"}}) {
    const ProcessResult r = run_hqp({"run", kDemoModel, "-i", input, "-o", dir.file(out), "--engine", "ref"});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  }
  std::vector<float> single = float_values(read_tensor_proto(dir.file("o1/output_0.pb")));
  const std::vector<float> single_neg = float_values(read_tensor_proto(dir.file("o2/output_0.pb")));
  single.insert(single.end(), single_neg.begin(), single_neg.end());
  const onnx::TensorProto batch = read_tensor_proto(dir.file("o3/output_0.pb"));
  EXPECT_EQ(std::vector<int64_t>(batch.dims().begin(), batch.dims().end()), (std::vector<int64_t>{2, 10}));
  // The reference kernels compute each sample independently, in the same order: bit-identical.
  // (oneDNN's may pick another implementation, with another summation order, for another batch.)
  EXPECT_EQ(float_values(batch), single);
}

TEST(CliConvert, RoundTripGivesBitIdenticalRunOutputs) {
  TempDir dir;
  const std::string converted = dir.file("converted.onnx");
  const std::string folded = dir.file("folded.onnx");
  ProcessResult r = run_hqp({"convert", kDemoModel, converted});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("wrote " + converted), std::string::npos) << r.out;
  r = run_hqp({"convert", kDemoModel, folded, "--fold-constants"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  EXPECT_NE(r.out.find("folded "), std::string::npos) << r.out;
  // Converting the converted model again is a fixed point (same bytes).
  const std::string twice = dir.file("twice.onnx");
  r = run_hqp({"convert", converted, twice});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  EXPECT_EQ(read_file(twice), read_file(converted));

  std::vector<std::string> outputs;
  for (const std::string& model : {kDemoModel, converted, folded}) {
    const std::string out = dir.file("run_" + std::filesystem::path(model).stem().string());
    r = run_hqp({"run", model, "-i", kDemoInput, "-o", out});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << model << ": " << r.describe() << ": " << r.err;
    outputs.push_back(read_file(out + "/output_0.pb"));
  }
  ASSERT_FALSE(outputs[0].empty());
  // Same name, dims, dtype and raw bytes: the serialized TensorProtos are identical.
  EXPECT_EQ(outputs[1], outputs[0]) << "convert changed the outputs";
  EXPECT_EQ(outputs[2], outputs[0]) << "convert --fold-constants changed the outputs";

  // The converted model describes the same network.
  const nlohmann::json a = info_json(kDemoModel);
  const nlohmann::json b = info_json(converted);
  for (const char* key : {"inputs", "outputs", "nodes", "op_counts", "params", "macs"}) {
    EXPECT_EQ(a[key], b[key]) << key;
  }
}

TEST(CliConvert, OverwritesAnExistingOutputAtomically) {
  TempDir dir;
  const std::string out = dir.file("model.onnx");
  ASSERT_TRUE(write_file(out, "old contents"));
  const ProcessResult r = run_hqp({"convert", kDemoModel, out});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  EXPECT_NE(read_file(out), "old contents");
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"model.onnx"}));  // no temporary file left
}

TEST(CliConvert, FailedConvertKeepsAnExistingOutput) {
  TempDir dir;
  const std::string out = dir.file("model.onnx");
  ASSERT_TRUE(write_file(out, "old contents"));
  ASSERT_TRUE(write_file(dir.file("bad.onnx"), "not a model"));
  const ProcessResult r = run_hqp({"convert", dir.file("bad.onnx"), out});
  EXPECT_TRUE(is_one_line_error(r, 1, "cannot parse ONNX model"));
  EXPECT_EQ(read_file(out), "old contents");
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"bad.onnx", "model.onnx"}));
}

// ---------------------------------------------------------------------------------------------
// --help and --version

TEST(CliHelp, EverySubcommandHasHelp) {
  const struct {
    std::vector<std::string> args;
    std::vector<const char*> mentions;
  } cases[] = {
      {{"--help"}, {"info", "run", "convert"}},
      {{"info", "--help"}, {"--json", "--dump", "model"}},
      {{"run", "--help"}, {"--input", "--out-dir", "--engine"}},
      {{"convert", "--help"}, {"--fold-constants", "input", "output"}},
      {{"-h"}, {"info"}},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {kHqp};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const ProcessResult r = run_process(argv);
    SCOPED_TRACE(c.args.size() > 1 ? c.args[0] : "hqp");
    ASSERT_TRUE(r.exited) << r.describe();
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    for (const char* m : c.mentions) EXPECT_NE(r.out.find(m), std::string::npos) << m << " in: " << r.out;
  }
}

TEST(CliHelp, Version) {
  const ProcessResult r = run_hqp({"--version"});
  ASSERT_TRUE(r.exited) << r.describe();
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("hqp 0.1.0"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace hqp::test

namespace hqp::test {
namespace {

// `hqp prune --groups`: the demo model's channel groups (stem trunk with its residual block,
// depthwise conv and SE gate; the block's inner conv; the SE squeeze; the projection), as JSON.
TEST(CliPrune, GroupsOfTheDemoModel) {
  const ProcessResult r = run_hqp({"prune", kDemoModel, "--groups", "--json"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["prunable_groups"], 4);
  ASSERT_EQ(j["groups"].size(), 6u);
  const nlohmann::json& trunk = j["groups"][1];
  EXPECT_EQ(trunk["channels"], 16);
  EXPECT_TRUE(trunk["prunable"].get<bool>());
  EXPECT_EQ(trunk["max_removable"], 15);
  std::vector<std::string> roles;
  for (const auto& m : trunk["members"]) roles.push_back(m["role"]);
  for (const char* role : {"producer", "batchnorm", "depthwise", "consumer"}) {
    EXPECT_NE(std::find(roles.begin(), roles.end(), role), roles.end()) << role;
  }
  EXPECT_FALSE(j["groups"][0]["prunable"].get<bool>());
  EXPECT_EQ(j["groups"][0]["reason"], "reaches graph input 'input'");
  for (const auto& g : j["groups"]) EXPECT_FALSE(g["collapsible"].get<bool>()) << g["id"];

  // --remove-blocks: the residual block's inner conv and the SE squeeze may lose every channel
  // (their blocks go with the last one); the trunk may not.
  const ProcessResult rb = run_hqp({"prune", kDemoModel, "--groups", "--json", "--remove-blocks"});
  ASSERT_TRUE(rb.exited && rb.exit_code == 0) << rb.describe() << ": " << rb.err;
  const nlohmann::json jb = nlohmann::json::parse(rb.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(jb.is_object()) << rb.out;
  int collapsible = 0;
  for (const auto& g : jb["groups"]) {
    if (!g["collapsible"].get<bool>()) continue;
    ++collapsible;
    EXPECT_EQ(g["max_removable"], g["channels"]) << g["id"];
  }
  EXPECT_EQ(collapsible, 2);
  EXPECT_FALSE(jb["groups"][1]["collapsible"].get<bool>());
  const ProcessResult text = run_hqp({"prune", kDemoModel, "--groups", "--remove-blocks"});
  EXPECT_NE(text.out.find("the last one removes its block"), std::string::npos) << text.out;
}

TEST(CliPrune, BadOptionsAreOneLineErrors) {
  ProcessResult r = run_hqp({"prune", kDemoModel});
  EXPECT_TRUE(is_one_line_error(r, 1, "give --data DATASET and -o OUT.onnx"));
  TempDir tmp;
  r = run_hqp({"prune", kDemoModel, "--data", "fashion-mnist", "-o", tmp.file("no/such/dir/out.onnx")});
  EXPECT_TRUE(is_one_line_error(r, 1, "directory")) << r.err;
  r = run_hqp({"prune", kDemoModel, "--data", "fashion-mnist", "-o", tmp.file("o.onnx"), "--max-drop", "0"});
  EXPECT_TRUE(r.exited && r.exit_code == 2) << r.describe();
  r = run_hqp({"prune", kDemoModel, "--data", "fashion-mnist", "-o", tmp.file("o.onnx"), "--criterion", "fischer"});
  EXPECT_TRUE(r.exited && r.exit_code == 2) << r.describe();
  r = run_hqp({"prune", kDemoModel, "--data", "fashion-mnist", "-o", tmp.file("o.onnx"), "--resume"});
  EXPECT_TRUE(is_one_line_error(r, 1, "cannot resume pruning: no checkpoint in"));
  r = run_hqp({"prune", kDemoModel, "--data", "fashion-mnist", "-o", tmp.file("o.onnx"), "--target-macs", "0.5",
               "--target-speedup", "2"});
  EXPECT_TRUE(is_one_line_error(r, 1, "not both"));
  EXPECT_TRUE(tmp.list().empty());
  // A checkpoint left by a killed run is neither overwritten nor ignored.
  std::filesystem::create_directories(tmp.file("o.onnx.prune-checkpoint"));
  { std::ofstream(tmp.file("o.onnx.prune-checkpoint/prune-state.json")) << "{}"; }
  r = run_hqp({"prune", kDemoModel, "--data", "fashion-mnist", "-o", tmp.file("o.onnx")});
  EXPECT_TRUE(is_one_line_error(r, 1, "holds the checkpoint of an earlier run (continue it with --resume"));
  r = run_hqp({"prune", kDemoModel, "--data", "fashion-mnist", "-o", tmp.file("o.onnx"), "--resume"});
  EXPECT_TRUE(is_one_line_error(r, 1, "cannot resume pruning from"));
  r = run_hqp({"prune", kDemoModel, "--groups", "--ignore", "no_such_node"});
  EXPECT_TRUE(r.exited && r.exit_code == 1) << r.describe();
  EXPECT_NE(r.err.find("cannot ignore node 'no_such_node': the model has no node of that name"), std::string::npos)
      << r.err;
  r = run_hqp({"prune", kDemoModel, "--groups", "--round-to", "0"});
  EXPECT_TRUE(r.exited && r.exit_code == 2) << r.describe();
}

}  // namespace
}  // namespace hqp::test
