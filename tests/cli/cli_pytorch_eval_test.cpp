// `hqp eval` of a model trained and exported by PyTorch agrees with PyTorch's own accuracy on the
// same real Fashion-MNIST test images (fixture `pytorch_eval`: tests/golden/make_pytorch_eval.py
// writes the model, an IDX subset and PyTorch's top-1/top-5/loss/per-class figures). Every engine
// must give the same accuracy; the only allowance is the samples whose two best PyTorch logits are
// within 1e-3 (counted by the fixture), where float rounding may legitimately pick the other class.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_test_util.h"

namespace hqp::test {
namespace {

const std::string kDir = HQP_PYTORCH_EVAL_DIR;

class PytorchEvalTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (std::filesystem::exists(kDir + "/SKIPPED")) {
      std::ifstream f(kDir + "/SKIPPED");
      std::string why;
      std::getline(f, why);
      GTEST_SKIP() << why;
    }
    std::ifstream f(kDir + "/expected.json");
    ASSERT_TRUE(f) << kDir << "/expected.json missing (fixture pytorch_eval_generate did not run)";
    expected_ = nlohmann::json::parse(f);
  }
  nlohmann::json expected_;
};

TEST_P(PytorchEvalTest, AccuracyEqualsPytorchs) {
  const std::string mean = expected_["mean"].dump();
  const std::string std_ = expected_["std"].dump();
  const ProcessResult r = run_hqp({"eval", kDir + "/model.onnx", "--data", kDir + "/data", "--split", "test",
                                   "--mean", mean, "--std", std_, "--engine", GetParam(), "--batch-size", "100",
                                   "--threads", "1", "--json"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << "; stderr: " << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const int64_t n = expected_["samples"].get<int64_t>();
  ASSERT_EQ(j["samples"].get<int64_t>(), n);
  const double allowance = (expected_["near_ties"].get<double>() + 1e-6) / static_cast<double>(n);
  // A model that learned something, far from 100 %: a preprocessing or layout slip changes it.
  ASSERT_GT(expected_["top1"].get<double>(), 0.3);
  ASSERT_LT(expected_["top1"].get<double>(), 0.99);
  EXPECT_NEAR(j["top1"].get<double>(), expected_["top1"].get<double>(), allowance);
  EXPECT_NEAR(j["top5"].get<double>(), expected_["top5"].get<double>(), allowance);
  // Mean cross-entropy over 1000 samples: float32 logits vs PyTorch's, far below any real change.
  EXPECT_NEAR(j["loss"].get<double>(), expected_["loss"].get<double>(), 1e-4);
  ASSERT_EQ(j["per_class"].size(), expected_["per_class"].size());
  for (size_t c = 0; c < j["per_class"].size(); ++c) {
    const double samples = j["per_class"][c]["samples"].get<double>();
    EXPECT_NEAR(j["per_class"][c]["top1"].get<double>(), expected_["per_class"][c].get<double>(),
                (expected_["near_ties"].get<double>() + 1e-6) / samples)
        << "class " << c;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, PytorchEvalTest, ::testing::Values("fast", "torch", "ref"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace hqp::test
