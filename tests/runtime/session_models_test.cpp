// hqp::Session on whole models: the demo model and the 8 golden torchvision cases, fast engine
// (graph passes + oneDNN) and reference engine against the reference executor, the per-node plan
// (one entry per node, oneDNN for every convolution), and the arena's peak against no sharing.
// Missing golden data is a failure, never a skip.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/tensor_compare.h"
#include "common/tolerances.h"
#include "onnx/import.h"
#include "reference/executor.h"
#include "runtime/session_test_util.h"
#include "runtime/session_tolerances.h"

namespace hqp::test {
namespace {

namespace fs = std::filesystem;

// One model with an input, a reference-executor output and (golden cases) PyTorch's output.
struct ModelCase {
  std::string name;
  std::string model;
  std::string input;
  std::string torch_output;  // empty for the demo model
};

std::vector<ModelCase> all_cases() {
  std::vector<ModelCase> cases = {{"tiny_cnn", kDemoModel, kDemoInput, ""}};
  for (const std::string& g : kGoldenCases) cases.push_back({g, golden_model(g), golden_input(g), golden_output(g)});
  return cases;
}

bool is_conv(const std::string& op) { return op == "Conv" || op == "FusedConv"; }

// Structural checks of a fast plan: one entry per node of the optimized graph in topological
// order, a non-empty implementation each, oneDNN for every FP32 convolution, and every rejected
// candidate as "<candidate>: <reason>".
void expect_fast_plan(const Session& s, const std::string& name) {
  Result<std::vector<ir::Node*>> order = s.graph().topological_order();
  ASSERT_TRUE(order.ok()) << order.status().message();
  const std::vector<NodePlanInfo>& info = s.plan_info();
  ASSERT_EQ(info.size(), order->size()) << name << ": plan_info entries vs nodes of the optimized graph";
  int convs = 0;
  for (size_t i = 0; i < info.size(); ++i) {
    const NodePlanInfo& n = info[i];
    EXPECT_EQ(n.node, (*order)[i]->name) << name << ": entry " << i;
    EXPECT_EQ(n.op, std::string(ir::op_name((*order)[i]->kind))) << name << ": " << n.node;
    EXPECT_FALSE(n.implementation.empty()) << name << ": " << n.node;
    if (is_conv(n.op)) {
      ++convs;
      EXPECT_EQ(n.implementation.rfind("conv_f32__onednn", 0), 0u)
          << name << ": " << n.node << " ran on " << n.implementation;
      EXPECT_TRUE(n.rejected.empty()) << name << ": " << n.node;
    }
    for (const std::string& r : n.rejected) {
      const size_t colon = r.find(": ");
      EXPECT_TRUE(colon != std::string::npos && colon > 0 && colon + 2 < r.size())
          << name << ": " << n.node << ": rejection without '<candidate>: <reason>': " << r;
    }
  }
  EXPECT_GT(convs, 0) << name;
}

class SessionModel : public ::testing::TestWithParam<ModelCase> {};

TEST_P(SessionModel, EnginesMatchReferenceExecutor) {
  const ModelCase& c = GetParam();
  ASSERT_TRUE(fs::exists(c.model)) << c.model << " is missing; " << missing_golden_hint();
  Result<ir::Graph> graph = onnx_io::import_model_file(c.model);
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  Result<Tensor> input = onnx_io::read_tensor_file(c.input);
  ASSERT_TRUE(input.ok()) << input.status().message();
  const std::vector<Tensor> inputs = {*input};

  Result<std::vector<Tensor>> want = reference::run_reference(*graph, inputs);
  ASSERT_TRUE(want.ok()) << want.status().message();
  ASSERT_EQ(want->size(), 1u);
  const Tensor& ref = (*want)[0];

  // Fast engine.
  Result<Session> fast = Session::create(*graph, session_options(Engine::kFast));
  ASSERT_TRUE(fast.ok()) << fast.status().message();
  Result<std::vector<Tensor>> got_fast = fast->run(inputs);
  ASSERT_TRUE(got_fast.ok()) << got_fast.status().message();
  ASSERT_EQ(got_fast->size(), 1u);
  ASSERT_FALSE(type_mismatch((*got_fast)[0], ref)) << *type_mismatch((*got_fast)[0], ref);
  const double err_fast = max_relative_error((*got_fast)[0], ref);
  EXPECT_LE(err_fast, kSessionFastMaxRelErr) << c.name << ": fast vs reference executor";
  ASSERT_NO_FATAL_FAILURE(expect_fast_plan(*fast, c.name));
  EXPECT_GT(fast->peak_activation_bytes(), 0);
  EXPECT_LE(fast->peak_activation_bytes(), fast->naive_activation_bytes());

  double err_torch = -1.0;
  if (!c.torch_output.empty()) {
    Result<Tensor> torch = onnx_io::read_tensor_file(c.torch_output);
    ASSERT_TRUE(torch.ok()) << torch.status().message();
    err_torch = max_relative_error((*got_fast)[0], *torch);
    EXPECT_LE(err_torch, kGoldenMaxRelErr) << c.name << ": fast vs PyTorch";
  }

  // Reference engine with the passes: every node on the reference kernels.
  Result<Session> ref_opt = Session::create(*graph, session_options(Engine::kReference));
  ASSERT_TRUE(ref_opt.ok()) << ref_opt.status().message();
  Result<std::vector<Tensor>> got_ref_opt = ref_opt->run(inputs);
  ASSERT_TRUE(got_ref_opt.ok()) << got_ref_opt.status().message();
  const double err_ref_opt = max_relative_error((*got_ref_opt)[0], ref);
  EXPECT_LE(err_ref_opt, kSessionRefOptimizedMaxRelErr) << c.name << ": reference engine (optimized)";
  for (const NodePlanInfo& n : ref_opt->plan_info()) {
    EXPECT_EQ(n.implementation, "ref") << c.name << ": " << n.node;
    EXPECT_TRUE(n.rejected.empty()) << c.name << ": " << n.node << " (no fast candidates are tried)";
  }

  // Reference engine without the passes: the reference executor's computation, bit for bit.
  Result<Session> ref_raw = Session::create(*graph, session_options(Engine::kReference, 1, /*optimize=*/false));
  ASSERT_TRUE(ref_raw.ok()) << ref_raw.status().message();
  EXPECT_EQ(ref_raw->optimize_report(), "");
  Result<std::vector<Tensor>> got_ref_raw = ref_raw->run(inputs);
  ASSERT_TRUE(got_ref_raw.ok()) << got_ref_raw.status().message();
  const double err_ref_raw = max_relative_error((*got_ref_raw)[0], ref);
  EXPECT_LE(err_ref_raw, kSessionRefUnoptimizedMaxRelErr) << c.name << ": reference engine (unoptimized)";

  std::printf("[ SESSION  ] %-24s rel err fast %.2e  ref+passes %.2e  ref %.2e  fast vs torch %.2e  peak %lld / "
              "naive %lld bytes\n",
              c.name.c_str(), err_fast, err_ref_opt, err_ref_raw, err_torch,
              static_cast<long long>(fast->peak_activation_bytes()),
              static_cast<long long>(fast->naive_activation_bytes()));
}

INSTANTIATE_TEST_SUITE_P(Models, SessionModel, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<ModelCase>& info) { return info.param.name; });

// The arena shares memory by liveness: ResNet-18's peak is well below the sum of its buffers.
TEST(SessionMemory, ResNet18PeakBelowNaive) {
  const std::string model = golden_model("resnet18_op13");
  ASSERT_TRUE(fs::exists(model)) << model << " is missing; " << missing_golden_hint();
  Result<Session> s = load_session(model, session_options(Engine::kFast));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->peak_activation_bytes(), 0) << "no plan before the first run";
  const std::vector<Tensor> inputs = {random_f32({1, 3, 224, 224}, 7)};
  ASSERT_TRUE(s->run(inputs).ok());
  const int64_t peak = s->peak_activation_bytes();
  const int64_t naive = s->naive_activation_bytes();
  // The largest activation alone (the stem conv's 64x112x112 f32 output) bounds the peak below.
  constexpr int64_t kStemOutputBytes = int64_t{64} * 112 * 112 * 4;
  EXPECT_GE(peak, kStemOutputBytes);
  EXPECT_LT(peak, naive);
  EXPECT_LT(peak * 2, naive) << "peak " << peak << " naive " << naive;
  EXPECT_GT(s->weight_bytes(), 0);
  std::printf("[ SESSION  ] resnet18 batch 1: peak %lld bytes, naive %lld bytes (%.1f%%)\n",
              static_cast<long long>(peak), static_cast<long long>(naive), 100.0 * peak / naive);
}

}  // namespace
}  // namespace hqp::test
