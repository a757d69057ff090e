// `hqp compress` end to end on a model hqp did not make: the small CNN trained and exported by
// PyTorch on real Fashion-MNIST (fixture `pytorch_eval`). The INT8 result passes the full ONNX
// check, is smaller and pruned, its val top-1 is what compress reported (re-measured by `hqp eval`)
// and within --max-drop of the original's; the report is written; --resume of the finished run in
// the same work dir gives the same model; --baselines writes the baselines' models next to the
// report, each the model its figures describe; bad input is a one-line error that writes nothing.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_test_util.h"

namespace hqp::test {
namespace {

const std::string kDir = HQP_PYTORCH_EVAL_DIR;

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(CliCompressPytorchModel, CompressesWithinTheBoundAndEvalAgrees) {
  if (std::filesystem::exists(kDir + "/SKIPPED")) GTEST_SKIP() << "fixture skipped (no dataset)";
  std::ifstream f(kDir + "/expected.json");
  ASSERT_TRUE(f) << kDir << "/expected.json missing (fixture pytorch_eval_generate did not run)";
  const nlohmann::json expected = nlohmann::json::parse(f);
  const std::string mean = expected["mean"].dump(), std_ = expected["std"].dump();
  TempDir tmp;
  const std::string out = tmp.file("small.onnx"), report = tmp.file("report"), work = tmp.file("work");
  const std::vector<std::string> args = {"compress", kDir + "/model.onnx", "--data", kDir + "/data", "--mean", mean,
                                         "--std", std_, "--val-split", "random:600", "-o", out, "--max-drop", "2",
                                         "--target-macs", "0.6", "--step", "0.2", "--min-step", "0.1",
                                         "--finetune-steps", "20", "--importance-batches", "2", "--calib-samples",
                                         "128", "--latency-runs", "3", "--threads", "1", "--workers", "1",
                                         "--work-dir", work, "--report-dir", report, "--json"};
  const ProcessResult r = run_hqp(args);
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const double val_before = j["before"]["val_top1"].get<double>();
  const double val_after = j["after"]["val_top1"].get<double>();
  EXPECT_GT(val_before, 0.3);
  EXPECT_LE((val_before - val_after) * 100.0, 2.0 + 1e-9);
  EXPECT_TRUE(j["after"]["int8"].get<bool>());
  EXPECT_TRUE(j["after"].contains("test_top1"));
  EXPECT_LT(j["after"]["bytes"].get<int64_t>(), j["before"]["bytes"].get<int64_t>() / 2);  // INT8 and pruned (a tiny model: QDQ metadata weighs)
  EXPECT_GT(j["steps_kept"].get<int64_t>(), 0) << r.out;
  EXPECT_LT(j["after"]["macs"].get<int64_t>(), j["before"]["macs"].get<int64_t>());
  EXPECT_GT(j["speedup"].get<double>(), 0.0);
  // The full ONNX check, and hqp eval of the written file measures what compress reported.
  const ProcessResult c = run_process(
      {HQP_PYTHON, "-c", "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", out});
  EXPECT_TRUE(c.exited && c.exit_code == 0) << c.describe() << ": " << c.err;
  const ProcessResult e = run_hqp({"eval", out, "--data", kDir + "/data", "--mean", mean, "--std", std_,
                                   "--val-split", "random:600", "--split", "val", "--threads", "1", "--json"});
  ASSERT_TRUE(e.exited && e.exit_code == 0) << e.describe() << ": " << e.err;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(e.out)["top1"].get<double>(), val_after);
  // The report.
  const nlohmann::json rep = nlohmann::json::parse(slurp(report + "/report.json"));
  EXPECT_EQ(rep["format"], "hqp-compress-report");
  EXPECT_FALSE(rep["pruning"]["steps"].empty());
  EXPECT_NE(rep["command"].get<std::string>().find("--report-dir"), std::string::npos);
  EXPECT_NE(slurp(report + "/report.html").find("hqp-compress-report"), std::string::npos);
  // Resuming the finished run from its work dir reproduces the same model.
  const std::string model_bytes = slurp(out);
  std::vector<std::string> resume = args;
  resume.push_back("--resume");
  const ProcessResult r2 = run_hqp(resume);
  ASSERT_TRUE(r2.exited && r2.exit_code == 0) << r2.describe() << ": " << r2.err;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(r2.out)["after"]["val_top1"].get<double>(), val_after);
  EXPECT_EQ(nlohmann::json::parse(r2.out)["after"]["macs"], j["after"]["macs"]);
  // A fresh run into a work dir that holds a run is refused.
  std::vector<std::string> again = args;
  const ProcessResult r3 = run_hqp(again);
  EXPECT_TRUE(is_one_line_error(r3, 1, "--resume")) << r3.err;
  EXPECT_EQ(tmp.list(), (std::vector<std::string>{"report", "small.onnx", "work"}));
  (void)model_bytes;
}

// A run killed with SIGKILL right after its first kept pruning step was checkpointed, then resumed,
// writes the same model as an uninterrupted run with the same seed (the MAC cost: a latency table
// re-measured by a second process would rank differently; a resumed run reuses its own table).
TEST(CliCompressPytorchModel, KilledRunResumesToTheSameModel) {
  if (std::filesystem::exists(kDir + "/SKIPPED")) GTEST_SKIP() << "fixture skipped (no dataset)";
  std::ifstream f(kDir + "/expected.json");
  ASSERT_TRUE(f) << kDir << "/expected.json missing (fixture pytorch_eval_generate did not run)";
  const nlohmann::json expected = nlohmann::json::parse(f);
  TempDir tmp;
  auto args = [&](const std::string& out, const std::string& work) {
    return std::vector<std::string>{
        "compress", kDir + "/model.onnx", "--data", kDir + "/data", "--mean", expected["mean"].dump(), "--std",
        expected["std"].dump(), "--val-split", "random:600", "-o", out, "--max-drop", "2", "--target-macs", "0.5",
        "--step", "0.15", "--min-step", "0.1", "--finetune-steps", "20", "--importance-batches", "2",
        "--calib-samples", "128", "--latency-runs", "3", "--cost", "macs", "--threads", "1", "--workers", "1",
        "--work-dir", work, "--no-test", "--json"};
  };
  const ProcessResult whole = run_hqp(args(tmp.file("whole.onnx"), tmp.file("work-whole")));
  ASSERT_TRUE(whole.exited && whole.exit_code == 0) << whole.describe() << ": " << whole.err;
  const nlohmann::json jw = nlohmann::json::parse(whole.out);
  ASSERT_GE(jw["steps_kept"].get<int64_t>(), 2) << "the kill must land between kept steps: " << whole.out;

  std::vector<std::string> argv = {kHqp};
  const std::vector<std::string> a = args(tmp.file("killed.onnx"), tmp.file("work-killed"));
  argv.insert(argv.end(), a.begin(), a.end());
  const std::string first_step = tmp.file("work-killed/hybrid/model-a0000.onnx");
  const ProcessResult killed = run_process_killed_when(argv, [&] { return std::filesystem::exists(first_step); });
  ASSERT_TRUE(killed.spawned) << killed.describe();
  ASSERT_EQ(killed.term_signal, SIGKILL) << "the run ended before the kill: " << killed.describe();
  EXPECT_FALSE(std::filesystem::exists(tmp.file("killed.onnx"))) << "no output from a killed run";

  std::vector<std::string> resume = a;
  resume.push_back("--resume");
  const ProcessResult resumed = run_hqp(resume);
  ASSERT_TRUE(resumed.exited && resumed.exit_code == 0) << resumed.describe() << ": " << resumed.err;
  const nlohmann::json jr = nlohmann::json::parse(resumed.out);
  EXPECT_EQ(jr["steps_kept"], jw["steps_kept"]);
  EXPECT_EQ(jr["after"]["macs"], jw["after"]["macs"]);
  EXPECT_EQ(jr["after"]["params"], jw["after"]["params"]);
  EXPECT_DOUBLE_EQ(jr["after"]["val_top1"].get<double>(), jw["after"]["val_top1"].get<double>());
  EXPECT_EQ(slurp(tmp.file("killed.onnx")), slurp(tmp.file("whole.onnx"))) << "the same bytes";
}

// --baselines with --report-dir writes each baseline's model next to the report, and each file is
// the model whose figures the report gives (hqp eval re-measures its val top-1).
TEST(CliCompressPytorchModel, BaselinesWriteTheirModels) {
  if (std::filesystem::exists(kDir + "/SKIPPED")) GTEST_SKIP() << "fixture skipped (no dataset)";
  std::ifstream f(kDir + "/expected.json");
  ASSERT_TRUE(f) << kDir << "/expected.json missing (fixture pytorch_eval_generate did not run)";
  const nlohmann::json expected = nlohmann::json::parse(f);
  const std::string mean = expected["mean"].dump(), std_ = expected["std"].dump();
  TempDir tmp;
  const std::string report = tmp.file("report");
  const ProcessResult r = run_hqp({"compress", kDir + "/model.onnx", "--data", kDir + "/data", "--mean", mean, "--std",
                                   std_, "--val-split", "random:600", "-o", tmp.file("small.onnx"), "--max-drop", "2",
                                   "--target-macs", "0.7", "--step", "0.2", "--min-step", "0.2", "--finetune-steps",
                                   "10", "--importance-batches", "1", "--calib-samples", "64", "--latency-runs", "2",
                                   "--cost", "macs", "--threads", "1", "--workers", "1", "--no-test", "--baselines",
                                   "--report-dir", report, "--json"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  const nlohmann::json rep = nlohmann::json::parse(slurp(report + "/report.json"));
  ASSERT_EQ(rep["baselines"].size(), 4u);
  std::vector<std::string> files;
  for (const nlohmann::json& b : rep["baselines"]) {
    const std::string file = b["file"].get<std::string>();
    files.push_back(file);
    const ProcessResult e = run_hqp({"eval", report + "/" + file, "--data", kDir + "/data", "--mean", mean, "--std",
                                     std_, "--val-split", "random:600", "--split", "val", "--threads", "1", "--json"});
    ASSERT_TRUE(e.exited && e.exit_code == 0) << file << ": " << e.describe() << ": " << e.err;
    EXPECT_DOUBLE_EQ(nlohmann::json::parse(e.out)["top1"].get<double>(), b["val_top1"].get<double>()) << file;
  }
  EXPECT_EQ(files, (std::vector<std::string>{"baselines/quant-only.onnx", "baselines/prune-only.onnx",
                                             "baselines/l1-quant.onnx", "baselines/random-quant.onnx"}));
}

TEST(CliCompress, BadInputIsAOneLineErrorAndWritesNothing) {
  TempDir tmp;
  const std::string out = tmp.file("o.onnx");
  ProcessResult r = run_hqp({"compress", kDemoModel, "--data", "fashion-mnist", "-o", tmp.file("no/such/dir/o.onnx")});
  EXPECT_TRUE(is_one_line_error(r, 1, "directory")) << r.err;
  r = run_hqp({"compress", kDemoModel, "--data", "fashion-mnist", "-o", out, "--target", "int4"});
  EXPECT_TRUE(r.exited && r.exit_code == 2) << r.describe();
  r = run_hqp({"compress", kDemoModel, "--data", "fashion-mnist", "-o", out, "--max-drop", "0"});
  EXPECT_TRUE(r.exited && r.exit_code == 2) << r.describe();
  r = run_hqp({"compress", kDemoModel, "--data", "fashion-mnist", "-o", out, "--resume"});
  EXPECT_TRUE(is_one_line_error(r, 1, "resume")) << r.err;
  r = run_hqp({"compress", kDemoModel, "--data", "fashion-mnist", "-o", out, "--target-macs", "0.5", "--target-speedup", "2"});
  EXPECT_TRUE(is_one_line_error(r, 1, "not both")) << r.err;
  {
    std::ofstream file(tmp.file("a-file"));
    file << "x";
  }
  r = run_hqp({"compress", kDemoModel, "--data", "fashion-mnist", "-o", out, "--report-dir", tmp.file("a-file")});
  EXPECT_TRUE(is_one_line_error(r, 1, "--report-dir")) << r.err;
  r = run_hqp({"compress", kDemoModel, "--data", tmp.file("no-such-dataset"), "-o", out});
  EXPECT_TRUE(r.exited && r.exit_code == 1) << r.describe();
  EXPECT_NE(r.err.find("no-such-dataset"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(tmp.list(), (std::vector<std::string>{"a-file"}));
}

}  // namespace
}  // namespace hqp::test
