// Tests of ir::verify: each structural error a hand-built graph can have is reported with the
// node/value name and a specific message. (A value produced twice cannot be built through the
// Graph API — add_node checks it — so it is not tested here.)
#include <string>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "ir/verifier.h"

namespace hqp::ir {
namespace {

using test::dims;
using test::is_error;

TEST(Verifier, AcceptsAWellFormedGraph) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({"N", 2, 5, 5}));
  Value* w = g.add_initializer("w", test::full_f32({4, 2, 3, 3}, 0.5f));
  Value* y = g.add_value("y");
  Value* z = g.add_value("z");
  g.add_node(OpKind::Conv, "conv", {x, w, nullptr}, {y});  // absent optional bias
  g.add_node(OpKind::Relu, "relu", {y}, {z});
  g.add_output(z);
  HQP_EXPECT_OK(verify(g));
  HQP_EXPECT_OK(verify_and_infer(g));
  EXPECT_EQ(test::shape_of(z), "[N,4,3,3]");
}

TEST(Verifier, InputWithoutProducerIsAMissingInitializer) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({1, 2, 5, 5}));
  Value* w = g.add_value("conv1.weight");  // neither input, initializer nor node output
  Value* y = g.add_value("y");
  g.add_node(OpKind::Conv, "conv1", {x, w}, {y});
  g.add_output(y);
  const Status s = verify(g);
  EXPECT_TRUE(is_error(s, StatusCode::kInvalidArgument, "missing initializer")) << s.message();
  EXPECT_TRUE(is_error(s, StatusCode::kInvalidArgument, "node 'conv1' (Conv)"));
  EXPECT_TRUE(is_error(s, StatusCode::kInvalidArgument, "input 'conv1.weight'"));
}

TEST(Verifier, MissingRequiredInput) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({1, 2, 5, 5}));
  Value* y = g.add_value("y");
  g.add_node(OpKind::Conv, "conv", {x}, {y});
  g.add_output(y);
  EXPECT_TRUE(is_error(verify(g), StatusCode::kInvalidArgument,
                       "node 'conv' (Conv): required input 1 is missing (inputs=1, expected >= 2)"));
}

TEST(Verifier, AbsentRequiredInputCountsAsMissing) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({2, 3}));
  Value* y = g.add_value("y");
  g.add_node(OpKind::Add, "add", {nullptr, x}, {y});
  g.add_output(y);
  EXPECT_TRUE(is_error(verify(g), StatusCode::kInvalidArgument, "node 'add' (Add): required input 0 is missing"));
}

TEST(Verifier, TooManyInputs) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({2, 3}));
  Value* y = g.add_value("y");
  g.add_node(OpKind::Relu, "relu", {x, x}, {y});
  g.add_output(y);
  EXPECT_TRUE(
      is_error(verify(g), StatusCode::kInvalidArgument, "node 'relu' (Relu): too many inputs (inputs=2, expected <= 1)"));
}

TEST(Verifier, WrongNumberOfOutputs) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({2, 3}));
  Value* y = g.add_value("y");
  Value* extra = g.add_value("extra");
  g.add_node(OpKind::Relu, "relu", {x}, {y, extra});
  g.add_output(y);
  EXPECT_TRUE(is_error(verify(g), StatusCode::kInvalidArgument,
                       "node 'relu' (Relu): wrong number of outputs (outputs=2, expected 1..1)"));
}

TEST(Verifier, NodeWithoutOutputs) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({2, 3}));
  g.add_node(OpKind::Relu, "sink", {x}, {});
  g.add_output(x);
  EXPECT_TRUE(is_error(verify(g), StatusCode::kInvalidArgument, "node 'sink' (Relu): wrong number of outputs (outputs=0"));
}

TEST(Verifier, GraphWithoutOutputs) {
  Graph g;
  g.info.graph_name = "empty";
  Value* x = g.add_input("x", DType::kF32, dims({2}));
  g.add_node(OpKind::Relu, "relu", {x}, {g.add_value("y")});
  EXPECT_TRUE(is_error(verify(g), StatusCode::kInvalidArgument, "cannot verify graph 'empty': it has no outputs"));
}

TEST(Verifier, GraphOutputNobodyProduces) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({2}));
  Value* y = g.add_value("y");
  g.add_node(OpKind::Relu, "relu", {x}, {y});
  g.add_output(y);
  g.add_output(g.add_value("ghost"));
  EXPECT_TRUE(is_error(verify(g), StatusCode::kInvalidArgument,
                       "graph output 'ghost': it is not produced by any node, input or initializer"));
}

TEST(Verifier, InitializerDtypeDiffersFromItsData) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({4}));
  Value* b = g.add_initializer("bias", test::full_f32({4}, 1.0f));
  b->dtype = DType::kS64;
  Value* y = g.add_value("y");
  g.add_node(OpKind::Add, "add", {x, b}, {y});
  g.add_output(y);
  EXPECT_TRUE(is_error(verify(g), StatusCode::kInvalidArgument,
                       "initializer 'bias': dtype s64 differs from its data (f32)"));
}

TEST(Verifier, GraphInputThatANodeProduces) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({4}));
  Value* fake = g.add_value("fake");
  g.add_node(OpKind::Relu, "relu", {x}, {fake});
  g.set_inputs({x, fake});
  g.add_output(fake);
  EXPECT_TRUE(is_error(verify(g), StatusCode::kInvalidArgument,
                       "graph input 'fake': it is also produced by node 'relu'"));
}

TEST(Verifier, ConstantWithoutValue) {
  Graph g;
  Value* c = g.add_value("c");
  g.add_node(OpKind::Constant, "const", {}, {c});
  g.add_output(c);
  EXPECT_TRUE(is_error(verify(g), StatusCode::kInvalidArgument, "node 'const' (Constant): it has no value"));
}

TEST(Verifier, CycleIsReported) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({2}));
  Value* a = g.add_value("a");
  Value* b = g.add_value("b");
  g.add_node(OpKind::Add, "first", {x, b}, {a});
  g.add_node(OpKind::Relu, "second", {a}, {b});
  g.add_output(b);
  const Status s = verify(g);
  EXPECT_TRUE(is_error(s, StatusCode::kInvalidArgument, "contains a cycle through node"));
  // verify_and_infer stops at the same error instead of looping or aborting.
  EXPECT_TRUE(is_error(verify_and_infer(g), StatusCode::kInvalidArgument, "contains a cycle through node"));
}

TEST(Verifier, ReportsTheFirstBadNodeByName) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({2}));
  Value* y = g.add_value("y");
  Value* z = g.add_value("z");
  g.add_node(OpKind::Relu, "good", {x}, {y});
  g.add_node(OpKind::Add, "bad", {y, g.add_value("undefined")}, {z});
  g.add_output(z);
  const Status s = verify(g);
  EXPECT_TRUE(is_error(s, StatusCode::kInvalidArgument, "node 'bad' (Add): input 'undefined'"));
  EXPECT_EQ(s.message().find("'good'"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace hqp::ir
