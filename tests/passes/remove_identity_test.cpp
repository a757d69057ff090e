// remove_identity: Identity / inference Dropout removal keeps graph output names and values.
#include <gtest/gtest.h>

#include "passes/pass_test_util.h"
#include "passes/remove_identity.h"

namespace hqp::test {
namespace {

using ir::OpKind;

TEST(RemoveIdentity, RemovesChainAndKeepsOutputName) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {1, 3, 5, 5});
  ir::Value* c = b.conv(x, 3, 4, 3);
  ir::Value* i1 = b.op(OpKind::Identity, {c});
  ir::Value* r = b.op(OpKind::Relu, {i1});
  ir::Value* d = b.op(OpKind::Dropout, {r});
  ir::Value* y = b.g.add_value("y");
  b.g.add_node(OpKind::Identity, "final_identity", {d}, {y});
  b.finish({y});
  ir::Graph before = b.g.clone();
  Result<passes::RemoveIdentityStats> s = passes::remove_identity(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->removed, 3);
  EXPECT_EQ(s->kept, 0);
  EXPECT_EQ(count_kind(b.g, OpKind::Identity), 0);
  EXPECT_EQ(count_kind(b.g, OpKind::Dropout), 0);
  EXPECT_EQ(b.g.nodes().size(), 2u);
  ASSERT_EQ(b.g.outputs().size(), 1u);
  EXPECT_EQ(b.g.outputs()[0]->name, "y");
  HQP_EXPECT_OK(ir::verify(b.g));
  expect_same_outputs(before, b.g, b.random_inputs(), 0.0);
}

TEST(RemoveIdentity, KeepsCopiesOfInputsInitializersAndOtherOutputs) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 3});
  ir::Value* y1 = b.op(OpKind::Identity, {x});                     // graph input -> output
  ir::Value* w = b.init("w", b.random_f32({2, 3}, -1, 1));
  ir::Value* y2 = b.op(OpKind::Identity, {w});                     // initializer -> output
  ir::Value* r = b.op(OpKind::Relu, {x});
  ir::Value* y3 = b.op(OpKind::Identity, {r});                     // output -> output
  b.finish({y1, y2, r, y3});
  ir::Graph before = b.g.clone();
  Result<passes::RemoveIdentityStats> s = passes::remove_identity(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->removed, 0);
  EXPECT_EQ(s->kept, 3);
  EXPECT_EQ(count_kind(b.g, OpKind::Identity), 3);
  expect_same_outputs(before, b.g, b.random_inputs(), 0.0);
}

TEST(RemoveIdentity, KeepsDropoutWhoseMaskIsRead) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 3});
  ir::Value* y = b.g.add_value("y");
  ir::Value* mask = b.g.add_value("mask");
  b.g.add_node(OpKind::Dropout, "dropout", {x}, {y, mask});
  ir::Value* r = b.op(OpKind::Relu, {y});
  b.finish({r, mask});
  Result<passes::RemoveIdentityStats> s = passes::remove_identity(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->removed, 0);
  EXPECT_EQ(count_kind(b.g, OpKind::Dropout), 1);
}

TEST(RemoveIdentity, IdentityBetweenProducerWithSeveralReadersAndOutput) {
  // conv feeds a Relu and an Identity that is the graph output: conv now writes the output value
  // and the Relu reads it.
  GraphBuilder b;
  ir::Value* x = b.input("x", {1, 2, 4, 4});
  ir::Value* c = b.conv(x, 2, 2, 1);
  ir::Value* r = b.op(OpKind::Relu, {c});
  ir::Value* out = b.g.add_value("out");
  b.g.add_node(OpKind::Identity, "id", {c}, {out});
  b.finish({out, r});
  ir::Graph before = b.g.clone();
  HQP_ASSERT_OK(passes::remove_identity(b.g).status());
  EXPECT_EQ(count_kind(b.g, OpKind::Identity), 0);
  EXPECT_EQ(b.g.outputs()[0]->name, "out");
  EXPECT_EQ(b.g.outputs()[0]->producer()->kind, OpKind::Conv);
  expect_same_outputs(before, b.g, b.random_inputs(), 0.0);
}

}  // namespace
}  // namespace hqp::test
