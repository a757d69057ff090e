// The 14 torchvision classifiers of issue 10 (tests/prune/make_torchvision_zoo.py) on the libtorch
// executor, which fine-tunes and scores them: its forward equals the fast runtime's, and one
// gradient pass with Fisher probes gives every prunable channel group a finite score with at least
// one channel above zero (the scores `hqp prune` / `hqp compress` rank). Missing data is a failure.
#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/prune_test_net.h"
#include "common/tensor_compare.h"
#include "ir/verifier.h"
#include "onnx/import.h"
#include "prune/channel_groups.h"
#include "prune/importance.h"
#include "runtime/session.h"
#include "train/torch_executor.h"

namespace hqp::test {
namespace {

// libtorch's float32 summation orders against oneDNN's, over up to ~100 layers.
constexpr double kExecutorVsFastMaxRelErr = 1e-4;

class TorchvisionTrain : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchvisionTrain, ExecutorMatchesFastRuntimeAndScoresEveryGroup) {
  const std::string path = std::string(HQP_TORCHVISION_ZOO_DIR) + "/" + GetParam() + "/model.onnx";
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing (CTest fixture prune_torchvision_generate)";
  Result<ir::Graph> g = onnx_io::import_model_file(path);
  HQP_ASSERT_OK(g.status());
  HQP_ASSERT_OK(ir::verify_and_infer(*g));
  const ir::Value* in = g->inputs().at(0);
  ASSERT_TRUE(in->shape && in->shape->size() == 4 && (*in->shape)[2].is_static());
  const int64_t size = (*in->shape)[2].value;
  const Tensor x = random_tensor({2, 3, size, size}, 11, 1.0f);

  // Forward: libtorch (eval mode) == the fast runtime.
  Result<std::unique_ptr<train::TorchExecutor>> exec = train::TorchExecutor::create(*g);
  HQP_ASSERT_OK(exec.status());
  (*exec)->set_mode(train::ExecMode::kEval);
  const std::vector<Tensor> inputs = {x};
  Result<std::vector<Tensor>> got = (*exec)->run(inputs);
  HQP_ASSERT_OK(got.status());
  SessionOptions so;
  so.engine = Engine::kFast;
  so.threads = 2;
  Result<Session> fast = Session::create(*g, so);
  HQP_ASSERT_OK(fast.status());
  Result<std::vector<Tensor>> want = fast->run(inputs);
  HQP_ASSERT_OK(want.status());
  ASSERT_EQ((*got)[0].shape(), (*want)[0].shape());
  EXPECT_LE(max_relative_error((*got)[0], (*want)[0]), kExecutorVsFastMaxRelErr) << GetParam();

  // Backward with Fisher probes at every consumer of every prunable group.
  Result<std::vector<prune::ChannelGroup>> groups = prune::channel_groups(*g);
  HQP_ASSERT_OK(groups.status());
  Result<prune::ProbedGraph> probed = prune::insert_fisher_probes(*g, *groups);
  HQP_ASSERT_OK(probed.status());
  Result<std::unique_ptr<train::TorchExecutor>> pexec = train::TorchExecutor::create(probed->graph);
  HQP_ASSERT_OK(pexec.status());
  (*pexec)->set_mode(train::ExecMode::kEval);
  Tensor labels = Tensor::zeros(DType::kS64, {2}).value();
  labels.data<int64_t>()[1] = 7;
  prune::GroupGradientAccumulator acc(*groups, probed->probes);
  Result<train::TorchExecutor::GradientPass> pass = (*pexec)->gradient_pass(x, labels, acc);
  HQP_ASSERT_OK(pass.status());
  acc.end_batch();
  EXPECT_TRUE(std::isfinite(pass->loss_sum)) << GetParam();
  const prune::GroupScores fisher = acc.fisher();
  int scored = 0;
  for (size_t gi = 0; gi < groups->size(); ++gi) {
    if (!(*groups)[gi].prunable) continue;
    ASSERT_EQ(fisher[gi].size(), static_cast<size_t>((*groups)[gi].channels)) << GetParam() << " group " << gi;
    double top = 0.0;
    for (double v : fisher[gi]) {
      EXPECT_TRUE(std::isfinite(v) && v >= 0.0) << GetParam() << " group " << gi;
      top = std::max(top, v);
    }
    EXPECT_GT(top, 0.0) << GetParam() << " group " << gi << " (" << (*groups)[gi].members[0].node << ") got no signal";
    ++scored;
  }
  EXPECT_GT(scored, 0) << GetParam();
  RecordProperty("groups_scored", scored);
}

INSTANTIATE_TEST_SUITE_P(Torchvision, TorchvisionTrain,
                         ::testing::Values("googlenet", "squeezenet1_1", "resnet50", "resnext50_32x4d",
                                           "efficientnet_b0", "regnet_y_400mf", "regnet_x_400mf", "densenet121",
                                           "shufflenet_v2_x1_0", "mnasnet1_0", "efficientnet_v2_s", "convnext_tiny",
                                           "inception_v3", "alexnet"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace hqp::test
