// Bad input to hqp::Session, each with the specific error it must give: thread count <= 0, wrong
// input count, dtype and shape (naming the dim), a node no kernel can run (an internal QConv
// without quantization parameters), and a candidate that does not apply (a conv whose weights are
// a graph input falls back to the reference kernel with the reason recorded).
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/tensor_compare.h"
#include "ir/verifier.h"
#include "onnx/import.h"
#include "reference/executor.h"
#include "runtime/session_test_util.h"
#include "runtime/session_tolerances.h"

namespace hqp::test {
namespace {

using ir::Graph;
using ir::OpKind;
using ir::Value;

Graph demo_graph() {
  Result<ir::Graph> g = onnx_io::import_model_file(kDemoModel);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return std::move(g).value();
}

Session demo_session(Engine engine = Engine::kFast) {
  Result<Session> s = load_session(kDemoModel, session_options(engine));
  EXPECT_TRUE(s.ok()) << s.status().message();
  return std::move(s).value();
}

Status run_status(Session& s, const std::vector<Tensor>& inputs) { return s.run(inputs).status(); }

TEST(SessionErrors, ThreadCountMustBeInRange) {
  const Graph g = demo_graph();
  for (int threads : {0, -1, -8, kMaxSessionThreads + 1, 100000}) {
    Result<Session> s = Session::create(g, session_options(Engine::kFast, threads));
    EXPECT_TRUE(is_error(s.status(), StatusCode::kInvalidArgument,
                         fmt::format("cannot create session: thread count {} (expected 1..{})", threads,
                                     kMaxSessionThreads)));
    Result<Session> loaded = load_session(kDemoModel, session_options(Engine::kReference, threads));
    EXPECT_TRUE(is_error(loaded.status(), StatusCode::kInvalidArgument, "thread count"));
  }
}

TEST(SessionErrors, WrongInputCount) {
  Session s = demo_session();
  EXPECT_TRUE(is_error(run_status(s, {}), StatusCode::kInvalidArgument,
                       "cannot run model: got 0 inputs (expected 1: input)"));
  const Tensor x = random_f32({1, 1, 28, 28}, 1);
  EXPECT_TRUE(is_error(run_status(s, {x, x}), StatusCode::kInvalidArgument, "got 2 inputs (expected 1: input)"));
  EXPECT_EQ(s.plan_count(), 0) << "a rejected run compiles nothing";
}

TEST(SessionErrors, WrongDtype) {
  Session s = demo_session();
  Result<Tensor> u8 = Tensor::zeros(DType::kU8, {1, 1, 28, 28});
  ASSERT_TRUE(u8.ok());
  EXPECT_TRUE(is_error(run_status(s, {*u8}), StatusCode::kInvalidArgument,
                       "input 'input' has dtype u8 (expected f32)"));
}

// NaN / ±Inf inputs: the engines would disagree (oneDNN and INT8 quantization drop a NaN that the
// reference kernels propagate), so both refuse them with the same error (issue 9); the reference
// executor follows IEEE semantics on request.
TEST(SessionErrors, BothEnginesRefuseNonFiniteInputsAlike) {
  const Graph g = demo_graph();
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    Tensor x = random_f32({2, 1, 28, 28}, 3);
    x.data<float>()[1000] = bad;
    const std::string what = std::isnan(bad) ? "NaN" : (bad > 0 ? "+Inf" : "-Inf");
    const std::string want = "cannot run model: input 'input' holds " + what + " at element 1000";
    for (Engine e : {Engine::kFast, Engine::kReference}) {
      Session s = demo_session(e);
      EXPECT_TRUE(is_error(run_status(s, {x}), StatusCode::kInvalidArgument, want));
    }
    EXPECT_TRUE(is_error(reference::run_reference(g, std::vector<Tensor>{x}).status(), StatusCode::kInvalidArgument,
                         want));
    reference::RunOptions ieee;
    ieee.allow_non_finite = true;
    Result<std::vector<Tensor>> y = reference::run_reference(g, std::vector<Tensor>{x}, ieee);
    ASSERT_TRUE(y.ok()) << y.status().message();
    EXPECT_FALSE(std::isfinite((*y)[0].data<float>()[10])) << "sample 1's logits carry it";
  }
}

TEST(SessionErrors, ShapeMismatchNamesTheDim) {
  Session s = demo_session();
  // Dim 2 (height) is static 28 in the model.
  EXPECT_TRUE(is_error(run_status(s, {random_f32({1, 1, 27, 28}, 2)}), StatusCode::kInvalidArgument,
                       "input 'input' has shape 1x1x27x28 (expected [batch,1,28,28]; dim 2 must be 28)"));
  EXPECT_TRUE(is_error(run_status(s, {random_f32({2, 3, 28, 28}, 2)}), StatusCode::kInvalidArgument,
                       "dim 1 must be 1"));
  EXPECT_TRUE(is_error(run_status(s, {random_f32({1, 28, 28}, 2)}), StatusCode::kInvalidArgument,
                       "input 'input' has shape 1x28x28 (expected [batch,1,28,28])"));
  // The session still runs a good input afterwards.
  EXPECT_TRUE(s.run(std::vector<Tensor>{random_f32({1, 1, 28, 28}, 3)}).ok());
}

// x: u8 [1,4,8,8] -> QConv (s8 weights [8,4,3,3], no Value::quant anywhere) -> y f32 [1,8,6,6].
// Structurally valid (the verifier accepts it), but no kernel can requantize without scales.
Graph qconv_without_quant_params() {
  Graph g;
  Value* x = g.add_input("x", DType::kU8, dims({1, 4, 8, 8}));
  std::vector<int8_t> w(8 * 4 * 3 * 3, 1);
  Value* wv = g.add_initializer("w", Tensor::from_vector<int8_t>({8, 4, 3, 3}, w));
  Value* y = g.add_value("y");
  g.add_node(OpKind::QConv, "qconv_unquantized", {x, wv}, {y}, ir::FusedConvAttrs{});
  g.add_output(y);
  return g;
}

TEST(SessionErrors, NodeNoKernelCanRunNamesOpAndNode) {
  Graph g = qconv_without_quant_params();
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  Result<Tensor> x = Tensor::zeros(DType::kU8, {1, 4, 8, 8});
  ASSERT_TRUE(x.ok());
  const std::vector<Tensor> inputs = {*x};
  for (Engine engine : {Engine::kFast, Engine::kReference}) {
    Result<Session> s = Session::create(g, session_options(engine));
    ASSERT_TRUE(s.ok()) << s.status().message();
    const Status st = s->run(inputs).status();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.message(),
              "cannot run node 'qconv_unquantized' (QConv): input 'x' has no per-tensor quantization parameters");
    if (engine == Engine::kFast) {
      // The oneDNN candidates said why they did not apply before the reference kernel failed (the
      // two for CPUs without VNNI, either for that reason or because this CPU has VNNI).
      ASSERT_EQ(s->plan_info().size(), 1u);
      const NodePlanInfo& n = s->plan_info()[0];
      EXPECT_EQ(n.implementation, "ref");
      ASSERT_EQ(n.rejected.size(), 3u);
      EXPECT_EQ(n.rejected[0], "conv_int8__onednn: input 'x' has no per-tensor quantization parameters");
      EXPECT_EQ(n.rejected[1].rfind("conv_int8_acc__onednn: ", 0), 0u) << n.rejected[1];
      EXPECT_EQ(n.rejected[2].rfind("conv_int8_via_f32__onednn: ", 0), 0u) << n.rejected[2];
    }
  }
}

// A QConv whose input is quantized per tensor, with weights zero point `weight_zero_point` and,
// when `sum_without_input`, a residual-sum post-op but no Sum input.
Graph qconv_quantized(int32_t weight_zero_point, bool sum_without_input) {
  Graph g;
  Value* x = g.add_input("x", DType::kU8, dims({1, 4, 8, 8}));
  x->quant = ir::QuantParams{};
  x->quant->scale = {0.1f};
  x->quant->zero_point = {0};
  x->quant->storage = DType::kU8;
  std::vector<int8_t> w(8 * 4 * 3 * 3, 1);
  Value* wv = g.add_initializer("w", Tensor::from_vector<int8_t>({8, 4, 3, 3}, w));
  wv->quant = ir::QuantParams{};
  wv->quant->scale = {0.05f};
  wv->quant->zero_point = {weight_zero_point};
  wv->quant->storage = DType::kS8;
  Value* y = g.add_value("y");
  ir::FusedConvAttrs a;
  a.post.has_sum = sum_without_input;
  g.add_node(OpKind::QConv, "qconv", {x, wv}, {y}, a);
  g.add_output(y);
  return g;
}

// The INT8 kernels assume symmetric weights and a present Sum input: both engines refuse such a node
// with the same message (the reference executor used to ignore the zero point / the sum).
TEST(SessionErrors, BothEnginesRefuseAsymmetricWeightsAndAMissingSum) {
  struct Case {
    int32_t zero_point;
    bool missing_sum;
    const char* message;
  };
  for (const Case& c : {Case{3, false, "cannot run node 'qconv' (QConv): weights are not symmetric (zero point != 0)"},
                        Case{0, true, "cannot run node 'qconv' (QConv): sum input missing"}}) {
    Graph g = qconv_quantized(c.zero_point, c.missing_sum);
    HQP_ASSERT_OK(ir::verify_and_infer(g));
    const std::vector<Tensor> inputs = {Tensor::zeros(DType::kU8, {1, 4, 8, 8}).value()};
    EXPECT_EQ(reference::run_reference(g, inputs).status().message(), c.message);
    for (Engine engine : {Engine::kFast, Engine::kReference}) {
      Result<Session> s = Session::create(g, session_options(engine));
      HQP_ASSERT_OK(s.status());
      EXPECT_EQ(s->run(inputs).status().message(), c.message);
    }
  }
  // The same node with symmetric weights and no sum runs.
  Graph ok = qconv_quantized(0, false);
  HQP_ASSERT_OK(ir::verify_and_infer(ok));
  const std::vector<Tensor> inputs = {Tensor::zeros(DType::kU8, {1, 4, 8, 8}).value()};
  EXPECT_TRUE(reference::run_reference(ok, inputs).ok());
}

// x [1,3,10,10] -> Conv(w: a graph input) -> a [1,4,8,8] -> Relu -> Conv(constant weights, pad 1)
// -> y [1,5,8,8]: the first conv cannot be prepacked and runs on the reference kernel (NCHW), the
// second on oneDNN (NHWC, reorders inserted around it).
Graph conv_with_runtime_weights() {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({1, 3, 10, 10}));
  Value* w = g.add_input("w", DType::kF32, dims({4, 3, 3, 3}));
  Value* w2 = g.add_initializer("w2", random_f32({5, 4, 3, 3}, 5));
  Value* b2 = g.add_initializer("b2", random_f32({5}, 6));
  Value* a = g.add_value("a");
  Value* r = g.add_value("r");
  Value* y = g.add_value("y");
  g.add_node(OpKind::Conv, "conv_runtime_w", {x, w}, {a});
  g.add_node(OpKind::Relu, "relu", {a}, {r});
  ir::ConvAttrs pad1;
  pad1.pads = {1, 1, 1, 1};
  g.add_node(OpKind::Conv, "conv_const_w", {r, w2, b2}, {y}, pad1);
  g.add_output(y);
  return g;
}

TEST(SessionFallback, ConvWithGraphInputWeightsRunsOnReferenceWithReason) {
  Graph g = conv_with_runtime_weights();
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<Tensor> inputs = {random_f32({1, 3, 10, 10}, 7), random_f32({4, 3, 3, 3}, 8)};
  Result<std::vector<Tensor>> want = reference::run_reference(g, inputs);
  HQP_ASSERT_OK(want.status());

  Result<Session> s = Session::create(g, session_options(Engine::kFast));
  HQP_ASSERT_OK(s.status());
  Result<std::vector<Tensor>> got = s->run(inputs);
  HQP_ASSERT_OK(got.status());
  const double err = max_relative_error((*got)[0], (*want)[0]);
  EXPECT_LE(err, kSessionFastMaxRelErr);

  bool saw_runtime_w = false, saw_const_w = false;
  for (const NodePlanInfo& n : s->plan_info()) {
    if (n.node == "conv_runtime_w") {
      saw_runtime_w = true;
      EXPECT_EQ(n.implementation, "ref");
      ASSERT_EQ(n.rejected.size(), 1u);
      EXPECT_EQ(n.rejected[0], "conv_f32__onednn: weights are not a constant initializer");
    }
    if (n.node == "conv_const_w") {
      saw_const_w = true;
      EXPECT_EQ(n.implementation.rfind("conv_f32__onednn", 0), 0u) << n.implementation;
      EXPECT_TRUE(n.rejected.empty());
    }
  }
  EXPECT_TRUE(saw_runtime_w && saw_const_w) << "node names changed by the passes";
}

}  // namespace
}  // namespace hqp::test
