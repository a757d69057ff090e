// `hqp quantize` end to end on a model hqp did not make: the small CNN trained and exported by
// PyTorch on real Fashion-MNIST (fixture `pytorch_eval`). The INT8 file passes the full ONNX check,
// is smaller, its val top-1 is what quantize reported (re-measured by `hqp eval`) and within
// --max-drop; both QDQ placements; bad input is a one-line error that writes nothing.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_test_util.h"

namespace hqp::test {
namespace {

const std::string kDir = HQP_PYTORCH_EVAL_DIR;

nlohmann::json expected_json() {
  std::ifstream f(kDir + "/expected.json");
  EXPECT_TRUE(f) << kDir << "/expected.json missing (fixture pytorch_eval_generate did not run)";
  return f ? nlohmann::json::parse(f) : nlohmann::json{};
}

TEST(CliQuantizePytorchModel, QuantizesWithinTheBoundAndEvalAgrees) {
  if (std::filesystem::exists(kDir + "/SKIPPED")) GTEST_SKIP() << "fixture skipped (no dataset)";
  const nlohmann::json expected = expected_json();
  ASSERT_FALSE(expected.is_null());
  const std::string mean = expected["mean"].dump(), std_ = expected["std"].dump();
  for (const std::string style : {"ort", "trt"}) {
    TempDir tmp;
    const std::string out = tmp.file("int8.onnx"), report = tmp.file("report.json");
    const ProcessResult r = run_hqp({"quantize", kDir + "/model.onnx", "--data", kDir + "/data", "--mean", mean, "--std",
                                     std_, "--val-split", "random:600", "-o", out, "--calibrator", "entropy",
                                     "--calib-samples", "256", "--qdq-style", style, "--max-drop", "1.0",
                                     "--threads", "1", "--workers", "1", "--latency-runs", "3", "--report", report,
                                     // trt also runs the accuracy repairs; ort fills the slots with the default seed
                                     style == "trt" ? "--cle" : "--seed", style == "trt" ? "--bias-correction" : "0",
                                     "--json"});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    const double val_float = j["float"]["val_top1"].get<double>();
    const double val_int8 = j["int8"]["val_top1"].get<double>();
    EXPECT_GT(val_float, 0.5);
    EXPECT_LE((val_float - val_int8) * 100.0, 1.0 + 1e-9) << style;
    EXPECT_EQ(j["calib_samples"].get<int64_t>(), 256);
    EXPECT_LT(j["int8"]["bytes"].get<int64_t>(), j["float"]["bytes"].get<int64_t>());
    EXPECT_TRUE(j["int8"].contains("test_top1"));
    EXPECT_GT(j["qdq"]["quantized_convs"].get<int>(), 0);
    if (style == "trt") EXPECT_GT(j["biases_corrected"].get<int>(), 0);
    // The full ONNX check (the same check ONNX Runtime's loader builds on).
    const ProcessResult c = run_process({HQP_PYTHON, "-c",
                                         "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), "
                                         "full_check=True)",
                                         out});
    EXPECT_TRUE(c.exited && c.exit_code == 0) << c.describe() << ": " << c.err;
    // hqp eval on the written file and the same val split measures what quantize reported.
    const ProcessResult e = run_hqp({"eval", out, "--data", kDir + "/data", "--mean", mean, "--std", std_,
                                     "--val-split", "random:600", "--split", "val", "--threads", "1", "--json"});
    ASSERT_TRUE(e.exited && e.exit_code == 0) << e.describe() << ": " << e.err;
    EXPECT_DOUBLE_EQ(nlohmann::json::parse(e.out)["top1"].get<double>(), val_int8);
    std::ifstream rf(report);
    ASSERT_TRUE(rf);
    const nlohmann::json rep = nlohmann::json::parse(rf);
    EXPECT_EQ(rep["config"]["qdq_style"], style);
    EXPECT_TRUE(rep["sensitivity"].is_array());
    EXPECT_EQ(tmp.list(), (std::vector<std::string>{"int8.onnx", "report.json"}));
  }
}

TEST(CliQuantize, BadInputIsAOneLineErrorAndWritesNothing) {
  TempDir tmp;
  const std::string out = tmp.file("o.onnx");
  ProcessResult r = run_hqp({"quantize", kDemoModel, "--data", "fashion-mnist", "-o", tmp.file("no/such/dir/o.onnx")});
  EXPECT_TRUE(is_one_line_error(r, 1, "directory")) << r.err;
  r = run_hqp({"quantize", kDemoModel, "--data", "fashion-mnist", "-o", out, "--calibrator", "kl"});
  EXPECT_TRUE(r.exited && r.exit_code == 2) << r.describe();
  r = run_hqp({"quantize", kDemoModel, "--data", "fashion-mnist", "-o", out, "--qdq-style", "qnn"});
  EXPECT_TRUE(r.exited && r.exit_code == 2) << r.describe();
  r = run_hqp({"quantize", kDemoModel, "--data", "fashion-mnist", "-o", out, "--percentile", "30"});
  EXPECT_TRUE(r.exited && r.exit_code == 2) << r.describe();
  r = run_hqp({"quantize", kDemoModel, "--data", tmp.file("no-such-dataset"), "-o", out});
  EXPECT_TRUE(r.exited && r.exit_code == 1) << r.describe();
  EXPECT_NE(r.err.find("no-such-dataset"), std::string::npos) << r.err;
  {
    std::ofstream bad(tmp.file("corrupt.onnx"));
    bad << "not a protobuf";
  }
  r = run_hqp({"quantize", tmp.file("corrupt.onnx"), "--data", "fashion-mnist", "-o", out});
  EXPECT_TRUE(r.exited && r.exit_code == 1) << r.describe();
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(tmp.list(), (std::vector<std::string>{"corrupt.onnx"}));
}

}  // namespace
}  // namespace hqp::test
