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

}  // namespace
}  // namespace hqp::test
