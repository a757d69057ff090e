// `hqp prune` end to end on a model hqp did not make: the small CNN trained and exported by
// PyTorch on real Fashion-MNIST (fixture `pytorch_eval`). The pruned file is smaller, its val
// top-1 is what prune reported (re-measured by `hqp eval`), the drop stays within --max-drop,
// and the report holds the trajectory.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_test_util.h"

namespace hqp::test {
namespace {

const std::string kDir = HQP_PYTORCH_EVAL_DIR;

TEST(CliPrunePytorchModel, PrunesWithinTheBoundAndEvalAgrees) {
  if (std::filesystem::exists(kDir + "/SKIPPED")) GTEST_SKIP() << "fixture skipped (no dataset)";
  std::ifstream f(kDir + "/expected.json");
  ASSERT_TRUE(f) << kDir << "/expected.json missing (fixture pytorch_eval_generate did not run)";
  const nlohmann::json expected = nlohmann::json::parse(f);
  const std::string mean = expected["mean"].dump(), std_ = expected["std"].dump();
  TempDir tmp;
  const std::string out = tmp.file("pruned.onnx"), report = tmp.file("report.json");
  const ProcessResult r = run_hqp({"prune", kDir + "/model.onnx", "--data", kDir + "/data", "--mean", mean, "--std",
                                   std_, "--val-split", "random:600", "-o", out, "--max-drop", "2",
                                   "--target-macs", "0.6", "--step", "0.2", "--min-step", "0.1", "--finetune-steps",
                                   "20", "--importance-batches", "2", "--threads", "1", "--workers", "1",
                                   "--report", report, "--json"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const double val_before = j["before"]["val_top1"].get<double>();
  const double val_after = j["after"]["val_top1"].get<double>();
  EXPECT_GT(val_before, 0.3);
  EXPECT_LE((val_before - val_after) * 100.0, 2.0 + 1e-9);
  EXPECT_LE(j["after"]["macs"].get<int64_t>(), j["before"]["macs"].get<int64_t>());
  EXPECT_TRUE(j["after"].contains("test_top1"));
  // The report: every step, kept ones within the bound.
  std::ifstream rf(report);
  ASSERT_TRUE(rf);
  const nlohmann::json rep = nlohmann::json::parse(rf);
  ASSERT_FALSE(rep["steps"].empty());
  bool kept = false;
  for (const auto& s : rep["steps"]) {
    if (!s["accepted"].get<bool>()) continue;
    kept = true;
    EXPECT_LE((val_before - s["val_top1"].get<double>()) * 100.0, 2.0 + 1e-9);
  }
  ASSERT_TRUE(kept) << r.out;
  EXPECT_LT(j["after"]["macs"].get<int64_t>(), j["before"]["macs"].get<int64_t>());
  EXPECT_LT(j["after"]["bytes"].get<int64_t>(), j["before"]["bytes"].get<int64_t>());
  // hqp eval on the written file and the same val split measures what prune reported.
  const ProcessResult e = run_hqp({"eval", out, "--data", kDir + "/data", "--mean", mean, "--std", std_,
                                   "--val-split", "random:600", "--split", "val", "--threads", "1", "--json"});
  ASSERT_TRUE(e.exited && e.exit_code == 0) << e.describe() << ": " << e.err;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(e.out)["top1"].get<double>(), val_after);
  // Only the two requested files were written.
  EXPECT_EQ(tmp.list(), (std::vector<std::string>{"pruned.onnx", "report.json"}));
}

// A QDQ file (hqp quantize's output): --groups lists its groups (weights behind DequantizeLinear
// are prunable), and pruning it refuses with one line, writing nothing: fine-tuning needs floats.
TEST(CliPrunePytorchModel, QuantizedModelListsGroupsAndRefusesTheLoop) {
  if (std::filesystem::exists(kDir + "/SKIPPED")) GTEST_SKIP() << "fixture skipped (no dataset)";
  std::ifstream f(kDir + "/expected.json");
  ASSERT_TRUE(f) << kDir << "/expected.json missing (fixture pytorch_eval_generate did not run)";
  const nlohmann::json expected = nlohmann::json::parse(f);
  const std::string mean = expected["mean"].dump(), std_ = expected["std"].dump();
  TempDir tmp;
  const std::string q = tmp.file("int8.onnx");
  const ProcessResult qr = run_hqp({"quantize", kDir + "/model.onnx", "--data", kDir + "/data", "--mean", mean,
                                    "--std", std_, "--val-split", "random:200", "--max-drop", "0", "--calib-samples",
                                    "64", "--no-test", "--threads", "1", "--workers", "1", "-o", q});
  ASSERT_TRUE(qr.exited && qr.exit_code == 0) << qr.describe() << ": " << qr.err;
  const ProcessResult g = run_hqp({"prune", q, "--groups", "--json"});
  ASSERT_TRUE(g.exited && g.exit_code == 0) << g.describe() << ": " << g.err;
  const nlohmann::json groups = nlohmann::json::parse(g.out);
  const ProcessResult fg = run_hqp({"prune", kDir + "/model.onnx", "--groups", "--json"});
  ASSERT_TRUE(fg.exited && fg.exit_code == 0) << fg.describe() << ": " << fg.err;
  EXPECT_GT(groups["prunable_groups"].get<int>(), 0);
  EXPECT_EQ(groups["prunable_groups"], nlohmann::json::parse(fg.out)["prunable_groups"]);
  const std::string out = tmp.file("pruned.onnx");
  const ProcessResult r = run_hqp({"prune", q, "--data", kDir + "/data", "--mean", mean, "--std", std_,
                                   "--val-split", "random:200", "-o", out, "--threads", "1", "--workers", "1"});
  EXPECT_TRUE(r.exited && r.exit_code == 1) << r.describe();
  EXPECT_NE(r.err.find("the model is quantized"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hqp compress"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace hqp::test
