// TorchExecutor forward against the reference executor (every op, tiny_cnn, zoo models), BN train
// mode running-stat semantics, write_back, observers and error cases. Public API only.
#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/tensor_compare.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "reference/executor.h"
#include "train/torch_executor.h"
#include "train/train_test_util.h"
#include "train/train_tolerances.h"
#include "train/zoo.h"

namespace hqp::test {
namespace {

using train::ExecMode;
using train::TorchExecutor;

std::unique_ptr<TorchExecutor> make_executor(const ir::Graph& g) {
  auto e = TorchExecutor::create(g);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return std::move(e).value();
}

void expect_matches_reference(const ir::Graph& g, const std::vector<Tensor>& inputs, double max_rel_err) {
  auto want = reference::run_reference(g, inputs);
  ASSERT_TRUE(want.ok()) << want.status().message();
  auto exec = make_executor(g);
  auto got = exec->run(inputs);
  ASSERT_TRUE(got.ok()) << got.status().message();
  ASSERT_EQ(got->size(), want->size());
  for (size_t i = 0; i < got->size(); ++i) {
    auto m = type_mismatch((*got)[i], (*want)[i]);
    ASSERT_FALSE(m.has_value()) << *m;
    EXPECT_LE(max_relative_error((*got)[i], (*want)[i]), max_rel_err) << "output " << i;
  }
}

// One test over all op cases (each test is a process under CTest, and loading libtorch costs
// ~0.5 s): failures name the case.
TEST(TorchExecutorTest, EveryOpMatchesReferenceExecutor) {
  for (const OpCase& c : op_cases()) {
    SCOPED_TRACE(c.name);
    ir::Graph g = op_graph(c);
    expect_matches_reference(g, op_inputs(c), kTorchOpMaxRelErr);
  }
}

TEST(TorchExecutorTest, DemoModelMatchesReference) {
  const std::string dir = std::string(HQP_SOURCE_DIR) + "/models/demo";
  auto g = onnx_io::import_model_file(dir + "/tiny_cnn.onnx");
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto x = onnx_io::read_tensor_file(dir + "/input_0.pb");
  ASSERT_TRUE(x.ok()) << x.status().message();
  expect_matches_reference(*g, {*x}, kTorchModelMaxRelErr);
  // And the stored expected output.
  auto want = onnx_io::read_tensor_file(dir + "/output_0.pb");
  ASSERT_TRUE(want.ok());
  auto exec = make_executor(*g);
  auto got = exec->run(std::vector<Tensor>{*x});
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_LE(max_relative_error((*got)[0], *want), kTorchModelMaxRelErr);
}

TEST(TorchExecutorTest, ShapeComputationChainFeedsReshape) {
  // y = Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])): flatten through shape ops.
  ir::Graph g;
  ir::Value* x = g.add_input("x", DType::kF32, dims({"N", 3, 4}));
  auto node = [&](ir::OpKind kind, const std::string& name, std::vector<ir::Value*> ins, ir::Attrs a) {
    ir::Value* out = g.add_value(name);
    g.add_node(kind, name, std::move(ins), {out}, std::move(a));
    return out;
  };
  ir::Value* s = node(ir::OpKind::Shape, "shape", {x}, ir::ShapeAttrs{});
  ir::Value* n = node(ir::OpKind::Gather, "n", {s, g.add_initializer("zero", Tensor::scalar<int64_t>(0))},
                      ir::AxisAttrs{0, true});
  ir::Value* n1 = node(ir::OpKind::Unsqueeze, "n1", {n, g.add_initializer("axes0", s64_vector({0}))}, ir::AxesAttrs{});
  ir::Value* shape = node(ir::OpKind::Concat, "cat", {n1, g.add_initializer("minus1", s64_vector({-1}))},
                          ir::AxisAttrs{0, true});
  ir::Value* y = node(ir::OpKind::Reshape, "reshape", {x, shape}, ir::ReshapeAttrs{});
  g.add_output(y);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  expect_matches_reference(g, {random_f32({5, 3, 4}, 3)}, kTorchOpMaxRelErr);
}

TEST(TorchExecutorTest, ZooMobileNetV3SmallMatchesReference) {
  train::ZooOptions o;
  o.num_classes = 10;
  o.small_input = true;
  o.input_size = 32;
  auto g = train::build_zoo_model("mobilenet_v3_small", o);
  ASSERT_TRUE(g.ok()) << g.status().message();
  expect_matches_reference(*g, {random_f32({2, 3, 32, 32}, 5)}, kTorchModelMaxRelErr);
}

TEST(TorchExecutorTest, ZooResNet18SmallStemMatchesReference) {
  train::ZooOptions o;
  o.in_channels = 1;
  o.num_classes = 10;
  o.small_input = true;
  o.input_size = 12;
  auto g = train::build_zoo_model("resnet18", o);
  ASSERT_TRUE(g.ok()) << g.status().message();
  expect_matches_reference(*g, {random_f32({1, 1, 12, 12}, 6)}, kTorchModelMaxRelErr);
}

TEST(TorchExecutorTest, ParametersBuffersAndRoles) {
  ir::Graph g = tiny_classifier();
  auto exec = make_executor(g);
  std::vector<std::string> names;
  for (const auto& p : exec->parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv.weight", "conv.bias", "bn.weight", "bn.bias", "fc.weight", "fc.bias"}));
  EXPECT_EQ(exec->parameters()[0].role, train::ParamRole::kWeight);
  EXPECT_EQ(exec->parameters()[1].role, train::ParamRole::kBias);
  EXPECT_EQ(exec->parameters()[2].role, train::ParamRole::kNormScale);
  EXPECT_EQ(exec->parameters()[3].role, train::ParamRole::kNormBias);
  EXPECT_EQ(exec->buffer_names(), (std::vector<std::string>{"bn.running_mean", "bn.running_var"}));
  EXPECT_EQ(exec->num_parameter_elements(), 36 + 4 + 4 + 4 + 8 + 2);
}

// Train mode: BN normalizes with batch stats and updates running = m·running + (1-m)·batch
// (ONNX momentum m; the variance update uses the unbiased batch variance, as PyTorch does).
TEST(TorchExecutorTest, BatchNormTrainModeUpdatesRunningStats) {
  ir::BatchNormAttrs a;
  a.momentum = 0.75f;
  OpCase c{"bn", ir::OpKind::BatchNormalization, a,
           {OpInput::runtime({4, 2, 3, 3}), OpInput::init(full_f32({2}, 1.0f)), OpInput::init(full_f32({2}, 0.0f)),
            OpInput::init(Tensor::from_vector<float>({2}, {0.5f, -1.0f})),
            OpInput::init(Tensor::from_vector<float>({2}, {2.0f, 3.0f}))}};
  ir::Graph g = op_graph(c);
  const Tensor mean0 = g.find_value("w3")->data;
  auto exec = make_executor(g);
  exec->set_mode(ExecMode::kTrain);
  const Tensor x = random_f32({4, 2, 3, 3}, 9, -2.0f, 3.0f);
  auto y = exec->run(std::vector<Tensor>{x});
  ASSERT_TRUE(y.ok()) << y.status().message();
  HQP_ASSERT_OK(exec->write_back(g));
  const float* px = x.data<float>();
  const float* rm = g.find_value("w3")->data.data<float>();
  const float* rv = g.find_value("w4")->data.data<float>();
  const float old_mean[2] = {0.5f, -1.0f}, old_var[2] = {2.0f, 3.0f};
  for (int c2 = 0; c2 < 2; ++c2) {
    double sum = 0, sq = 0;
    const int count = 4 * 9;
    for (int n = 0; n < 4; ++n) {
      for (int i = 0; i < 9; ++i) sum += px[(n * 2 + c2) * 9 + i];
    }
    const double mean = sum / count;
    for (int n = 0; n < 4; ++n) {
      for (int i = 0; i < 9; ++i) sq += std::pow(px[(n * 2 + c2) * 9 + i] - mean, 2);
    }
    const double unbiased = sq / (count - 1);
    EXPECT_NEAR(rm[c2], 0.75 * old_mean[c2] + 0.25 * mean, 1e-5);
    EXPECT_NEAR(rv[c2], 0.75 * old_var[c2] + 0.25 * unbiased, 1e-5);
    // Output normalized with the biased batch variance: per-channel mean 0, variance ~1.
    double ymean = 0;
    for (int n = 0; n < 4; ++n) {
      for (int i = 0; i < 9; ++i) ymean += (*y)[0].data<float>()[(n * 2 + c2) * 9 + i];
    }
    EXPECT_NEAR(ymean / count, 0.0, 1e-5);
  }
  // The original initializer tensor was not written in place.
  EXPECT_TRUE(mean0.equals(Tensor::from_vector<float>({2}, {0.5f, -1.0f})));
}

TEST(TorchExecutorTest, EvalModeIsDeterministicAndDropoutActiveOnlyInTrainMode) {
  ir::Graph g = tiny_classifier();
  auto exec = make_executor(g);
  const Tensor x = random_f32({6, 1, 8, 8}, 4);
  auto a = exec->run(std::vector<Tensor>{x});
  auto b = exec->run(std::vector<Tensor>{x});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE((*a)[0].equals((*b)[0]));
  exec->set_mode(ExecMode::kTrain);
  auto c = exec->run(std::vector<Tensor>{x});
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE((*c)[0].equals((*a)[0]));
}

TEST(TorchExecutorTest, WriteBackRoundTripsThroughOnnx) {
  ir::Graph g = tiny_classifier();
  auto exec = make_executor(g);
  ir::Graph copy = g.clone();
  HQP_ASSERT_OK(exec->write_back(copy));
  for (const ir::Value* v : g.initializers()) {
    const ir::Value* w = copy.find_value(v->name);
    ASSERT_NE(w, nullptr);
    EXPECT_TRUE(w->data.equals(v->data)) << v->name;
    if (v->data.dtype() == DType::kF32 && v->name != "dropout.ratio") {
      EXPECT_NE(w->data.raw_data(), v->data.raw_data()) << v->name << " shares storage after write_back";
    }
  }
  auto bytes = onnx_io::export_model_bytes(copy);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
}

TEST(TorchExecutorTest, WriteBackRejectsMismatchingGraph) {
  ir::Graph g = tiny_classifier();
  auto exec = make_executor(g);
  ir::Graph other = op_graph(op_cases()[0]);
  EXPECT_TRUE(is_error(exec->write_back(other), StatusCode::kInvalidArgument, "conv.weight"));
}

class CountingObserver : public ir::Observer {
 public:
  void on_output(const ir::Node& node, const ir::Value& value, const Tensor& tensor) override {
    names.push_back(value.name);
    if (value.name == "logits") last = tensor.clone();
  }
  std::vector<std::string> names;
  Tensor last;
};

TEST(TorchExecutorTest, ObserverSeesEveryNodeOutput) {
  ir::Graph g = tiny_classifier();
  auto exec = make_executor(g);
  CountingObserver obs;
  const Tensor x = random_f32({2, 1, 8, 8}, 4);
  auto y = exec->run(std::vector<Tensor>{x}, &obs);
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(obs.names, (std::vector<std::string>{"conv", "bn", "relu", "gap", "flatten", "dropout", "logits"}));
  EXPECT_TRUE(obs.last.equals((*y)[0]));
}

TEST(TorchExecutorTest, RejectsQuantizedOpsAndBadInputs) {
  ir::Graph g;
  ir::Value* x = g.add_input("x", DType::kF32, dims({4}));
  ir::Value* q = g.add_value("q");
  g.add_node(ir::OpKind::QuantizeLinear, "quant", {x, g.add_initializer("s", Tensor::scalar<float>(0.1f))}, {q},
             ir::AxisAttrs{});
  g.add_output(q);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  auto e = TorchExecutor::create(g);
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(is_error(e.status(), StatusCode::kUnsupported, "quant"));

  ir::Graph t = tiny_classifier();
  auto exec = make_executor(t);
  auto r = exec->run(std::vector<Tensor>{random_f32({2, 1, 7, 8}, 1)});
  EXPECT_TRUE(is_error(r.status(), StatusCode::kInvalidArgument, "input 'input'"));
}

}  // namespace
}  // namespace hqp::test
