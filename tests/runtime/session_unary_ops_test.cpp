// The element-wise float ops torchvision's newer classifiers need (LeakyRelu, Tanh, Exp, Sqrt, Erf):
// the fast runtime runs each on oneDNN's eltwise primitive where oneDNN has one (Erf has none and
// stays on the reference kernel) and agrees with the reference executor.
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/tensor_compare.h"
#include "ir/verifier.h"
#include "reference/executor.h"
#include "runtime/session_test_util.h"
#include "runtime/session_tolerances.h"

namespace hqp::test {
namespace {

using ir::Graph;
using ir::OpKind;
using ir::Value;

struct UnaryCase {
  std::string name;
  OpKind kind;
  ir::Attrs attrs;
  bool positive_input;     // Sqrt: |x|
  std::string fast_kernel;  // implementation prefix the fast engine must choose
};

// x [2, 16, 5, 5] -> op -> y
Graph unary_graph(const UnaryCase& c) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({2, 16, 5, 5}));
  Value* y = g.add_value("y");
  g.add_node(c.kind, c.name, {x}, {y}, c.attrs);
  g.add_output(y);
  return g;
}

TEST(SessionUnaryOps, FastEngineMatchesReference) {
  const std::vector<UnaryCase> cases = {
      {"leaky_relu", OpKind::LeakyRelu, ir::LeakyReluAttrs{0.1f}, false, "leaky_relu_f32__onednn"},
      {"tanh", OpKind::Tanh, ir::NoAttrs{}, false, "tanh_f32__onednn"},
      {"exp", OpKind::Exp, ir::NoAttrs{}, false, "exp_f32__onednn"},
      {"sqrt", OpKind::Sqrt, ir::NoAttrs{}, true, "sqrt_f32__onednn"},
      {"erf", OpKind::Erf, ir::NoAttrs{}, false, "ref"},
  };
  for (const UnaryCase& c : cases) {
    Graph g = unary_graph(c);
    HQP_ASSERT_OK(ir::verify_and_infer(g));
    Tensor x = random_f32({2, 16, 5, 5}, 7);
    if (c.positive_input) {
      for (float& v : x.span<float>()) v = v < 0 ? -v : v;
    }
    const std::vector<Tensor> inputs = {x};
    Result<std::vector<Tensor>> want = reference::run_reference(g, inputs);
    HQP_ASSERT_OK(want.status());
    Result<Session> s = Session::create(g, session_options(Engine::kFast, 1));
    HQP_ASSERT_OK(s.status());
    Result<std::vector<Tensor>> got = s->run(inputs);
    HQP_ASSERT_OK(got.status());
    EXPECT_LE(max_relative_error((*got)[0], (*want)[0]), kSessionFastMaxRelErr) << c.name;
    ASSERT_EQ(s->plan_info().size(), 1u) << c.name;
    EXPECT_EQ(s->plan_info()[0].implementation.rfind(c.fast_kernel, 0), 0u)
        << c.name << ": " << s->plan_info()[0].implementation;
  }
}

// x -> Pow(x, 2) -> PRelu(slope [16, 1, 1]) -> ReduceMean(axes 2, 3) -> ReduceMax(axis 1, no keepdims)
// -> ReduceSum (every axis) -> y: the ops without a oneDNN kernel run on the reference fallback's
// views inside a fast plan and agree with the reference executor.
TEST(SessionUnaryOps, PowPReluAndReductionsRunInAFastPlan) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({2, 16, 5, 5}));
  Value* two = g.add_initializer("two", Tensor::scalar<float>(2.0f));
  Value* slope = g.add_initializer("slope", random_f32({16, 1, 1}, 3));
  Value* sq = g.add_value("sq");
  Value* pr = g.add_value("pr");
  Value* mean = g.add_value("mean");
  Value* mx = g.add_value("mx");
  Value* y = g.add_value("y");
  g.add_node(OpKind::Pow, "pow", {x, two}, {sq});
  g.add_node(OpKind::PRelu, "prelu", {sq, slope}, {pr});
  ir::ReduceAttrs spatial;
  spatial.axes = std::vector<int64_t>{2, 3};
  g.add_node(OpKind::ReduceMean, "mean", {pr}, {mean}, spatial);
  ir::ReduceAttrs channels;
  channels.axes = std::vector<int64_t>{1};
  channels.keepdims = 0;
  g.add_node(OpKind::ReduceMax, "max", {mean}, {mx}, channels);
  g.add_node(OpKind::ReduceSum, "sum", {mx}, {y}, ir::ReduceAttrs{});
  g.add_output(y);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  ASSERT_TRUE(y->shape.has_value());
  EXPECT_EQ(ir::dims_to_string(*y->shape), ir::dims_to_string(dims({1, 1, 1})));
  const std::vector<Tensor> inputs = {random_f32({2, 16, 5, 5}, 9)};
  Result<std::vector<Tensor>> want = reference::run_reference(g, inputs);
  HQP_ASSERT_OK(want.status());
  Result<Session> s = Session::create(g, session_options(Engine::kFast, 1));
  HQP_ASSERT_OK(s.status());
  Result<std::vector<Tensor>> got = s->run(inputs);
  HQP_ASSERT_OK(got.status());
  EXPECT_LE(max_relative_error((*got)[0], (*want)[0]), kSessionFastMaxRelErr);
}

// x [2, 16, 5, 5] -> conv 3x3 -> ReduceMean over the spatial axes, written as exporters write it
// (axes in either order or negative, keepdims 0 / 1) -> y: the fast engine
// runs it as oneDNN's global average pooling on the conv's channels-last output, without a
// reorder; other axes stay on the reference kernel. Values agree with the reference executor.
TEST(SessionUnaryOps, SpatialReduceMeanRunsAsGlobalAveragePool) {
  struct Case {
    std::vector<int64_t> axes;
    int64_t keepdims;
    bool pooled;
  };
  const Case cases[] = {{{2, 3}, 0, true},  {{-1, -2}, 1, true},    {{3, 2}, 0, true},
                        {{1}, 1, false}, {{1, 2, 3}, 0, false}, {{2}, 1, false}};
  for (const Case& c : cases) {
    const std::string what = fmt::format("axes [{}] keepdims {}", fmt::join(c.axes, ","), c.keepdims);
    SCOPED_TRACE(what);
    Graph g;
    Value* x = g.add_input("x", DType::kF32, dims({2, 16, 5, 5}));
    Value* w = g.add_initializer("w", random_f32({16, 16, 3, 3}, 5));
    Value* conv = g.add_value("conv");
    Value* y = g.add_value("y");
    ir::ConvAttrs ca;
    ca.pads = std::vector<int64_t>{1, 1, 1, 1};
    g.add_node(OpKind::Conv, "conv", {x, w}, {conv}, ca);
    ir::ReduceAttrs ra;
    ra.keepdims = c.keepdims;
    ra.axes = c.axes;
    g.add_node(OpKind::ReduceMean, "mean", {conv}, {y}, ra);
    g.add_output(y);
    HQP_ASSERT_OK(ir::verify_and_infer(g));
    const std::vector<Tensor> inputs = {random_f32({2, 16, 5, 5}, 13)};
    Result<std::vector<Tensor>> want = reference::run_reference(g, inputs);
    HQP_ASSERT_OK(want.status());
    for (int threads : {1, 2}) {
      SessionOptions options = session_options(Engine::kFast, threads);
      options.profile = true;
      Result<Session> s = Session::create(g, options);
      HQP_ASSERT_OK(s.status());
      Result<std::vector<Tensor>> got = s->run(inputs);
      HQP_ASSERT_OK(got.status());
      ASSERT_EQ((*got)[0].shape(), (*want)[0].shape()) << what;
      EXPECT_LE(max_relative_error((*got)[0], (*want)[0]), kSessionFastMaxRelErr) << what;
      bool pooled = false;
      bool reordered = false;
      for (const StepProfile& step : s->profile()) {
        if (step.node == "mean") pooled = step.implementation.find("averagepool") != std::string::npos;
        if (step.node == "reorder:conv") reordered = true;
      }
      EXPECT_EQ(pooled, c.pooled) << what;
      EXPECT_EQ(reordered, !c.pooled) << what;  // the reference kernel reads NCHW
    }
  }
}

// x [1, 7, 7, 96] (channels last, as ConvNeXt's blocks hold it) -> MatMul(W [96, 384]) -> y: one
// oneDNN GEMM over the 49 rows, equal to the reference executor's MatMul.
TEST(SessionUnaryOps, MatMulByAConstantMatrixRunsOnOnednn) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({1, 7, 7, 96}));
  Value* w = g.add_initializer("w", random_f32({96, 384}, 4));
  Value* y = g.add_value("y");
  g.add_node(OpKind::MatMul, "matmul", {x, w}, {y});
  g.add_output(y);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<Tensor> inputs = {random_f32({1, 7, 7, 96}, 11)};
  Result<std::vector<Tensor>> want = reference::run_reference(g, inputs);
  HQP_ASSERT_OK(want.status());
  Result<Session> s = Session::create(g, session_options(Engine::kFast, 1));
  HQP_ASSERT_OK(s.status());
  Result<std::vector<Tensor>> got = s->run(inputs);
  HQP_ASSERT_OK(got.status());
  EXPECT_LE(max_relative_error((*got)[0], (*want)[0]), kSessionFastMaxRelErr);
  ASSERT_EQ(s->plan_info().size(), 1u);
  EXPECT_EQ(s->plan_info()[0].implementation.rfind("gemm_f32__onednn", 0), 0u) << s->plan_info()[0].implementation;
}

// LayerNormalization over the last axis (ConvNeXt's channels-last norm): oneDNN's kernel when only
// Y is produced; with the Mean output requested the reference kernel runs it and says why.
TEST(SessionUnaryOps, LayerNormRunsOnOnednnUnlessStatisticsAreProduced) {
  for (bool with_mean : {false, true}) {
    Graph g;
    Value* x = g.add_input("x", DType::kF32, dims({2, 5, 7, 48}));
    Value* y = g.add_value("y");
    std::vector<Value*> outs = {y};
    if (with_mean) outs.push_back(g.add_value("mean"));
    g.add_node(OpKind::LayerNormalization, "ln",
               {x, g.add_initializer("scale", random_f32({48}, 4)), g.add_initializer("bias", random_f32({48}, 5))},
               outs, ir::LayerNormAttrs{});
    for (Value* o : outs) g.add_output(o);
    HQP_ASSERT_OK(ir::verify_and_infer(g));
    const std::vector<Tensor> inputs = {random_f32({2, 5, 7, 48}, 11)};
    Result<std::vector<Tensor>> want = reference::run_reference(g, inputs);
    HQP_ASSERT_OK(want.status());
    Result<Session> s = Session::create(g, session_options(Engine::kFast, 1));
    HQP_ASSERT_OK(s.status());
    Result<std::vector<Tensor>> got = s->run(inputs);
    HQP_ASSERT_OK(got.status());
    ASSERT_EQ(got->size(), want->size());
    for (size_t i = 0; i < got->size(); ++i) {
      EXPECT_LE(max_relative_error((*got)[i], (*want)[i]), kSessionFastMaxRelErr) << "output " << i;
    }
    ASSERT_EQ(s->plan_info().size(), 1u);
    const NodePlanInfo& n = s->plan_info()[0];
    if (with_mean) {
      EXPECT_EQ(n.implementation, "ref");
      ASSERT_EQ(n.rejected.size(), 1u);
      EXPECT_NE(n.rejected[0].find("Mean / InvStdDev"), std::string::npos) << n.rejected[0];
    } else {
      EXPECT_EQ(n.implementation.rfind("layer_norm_f32__onednn", 0), 0u) << n.implementation;
    }
  }
}

}  // namespace
}  // namespace hqp::test
