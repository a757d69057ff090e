// fuse_residual_add: ResNet basic blocks (identity and downsample shortcut) become one FusedConv
// per block tail with has_sum and the Relu; negative cases stay untouched.
#include <gtest/gtest.h>

#include "passes/fuse_conv_activation.h"
#include "passes/fuse_residual_add.h"
#include "passes/pass_test_util.h"
#include "passes/pass_tolerances.h"

namespace hqp::test {
namespace {

using ir::Activation;
using ir::OpKind;

// out = Relu(conv2(Relu(conv1(x))) + shortcut), shortcut = x or conv_ds(x) (stride 2 block).
ir::Value* basic_block(GraphBuilder& b, ir::Value* x, int64_t ic, int64_t oc, bool downsample) {
  const int64_t stride = downsample ? 2 : 1;
  ir::Value* h = b.op(OpKind::Relu, {b.conv(x, ic, oc, 3, stride)});
  ir::Value* main = b.conv(h, oc, oc, 3);
  ir::Value* shortcut = downsample ? b.conv(x, ic, oc, 1, 2) : x;
  return b.op(OpKind::Relu, {b.op(OpKind::Add, {main, shortcut})});
}

TEST(FuseResidualAdd, ResNetBlocksBecomeOneFusedConvPerTail) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 4, 8, 8});
  ir::Value* y = basic_block(b, basic_block(b, x, 4, 4, false), 4, 6, true);
  b.finish({y});
  ir::Graph before = b.g.clone();
  HQP_ASSERT_OK(passes::fuse_conv_activation(b.g).status());
  Result<passes::FuseResidualStats> s = passes::fuse_residual_add(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->fused, 2);
  EXPECT_EQ(s->with_activation, 2);
  EXPECT_EQ(count_kind(b.g, OpKind::Add), 0);
  EXPECT_EQ(count_kind(b.g, OpKind::Relu), 0);
  EXPECT_EQ(count_kind(b.g, OpKind::FusedConv), 4);  // conv1 of each block, and each tail
  EXPECT_EQ(count_kind(b.g, OpKind::Conv), 1);       // the downsample conv feeds the Sum
  int tails = 0;
  for (const auto& n : b.g.nodes()) {
    if (n->kind != OpKind::FusedConv || !n->attr<ir::FusedConvAttrs>().post.has_sum) continue;
    ++tails;
    EXPECT_EQ(n->attr<ir::FusedConvAttrs>().post.activation, Activation::kRelu);
    EXPECT_EQ(n->num_inputs(), 4u);
  }
  EXPECT_EQ(tails, 2);
  HQP_EXPECT_OK(ir::verify(b.g));
  expect_same_outputs(before, b.g, b.random_inputs(), kFusionMaxRelErr);
}

TEST(FuseResidualAdd, AddWithoutActivationEitherOperandOrder) {
  for (bool conv_first : {true, false}) {
    GraphBuilder b;
    ir::Value* x = b.input("x", {1, 5, 6, 6});
    ir::Value* c = b.conv(x, 5, 5, 3);
    ir::Value* y = b.op(OpKind::Add, conv_first ? std::vector<ir::Value*>{c, x} : std::vector<ir::Value*>{x, c});
    b.finish({y});
    ir::Graph before = b.g.clone();
    Result<passes::FuseResidualStats> s = passes::fuse_residual_add(b.g);
    HQP_ASSERT_OK(s.status());
    EXPECT_EQ(s->fused, 1);
    EXPECT_EQ(s->with_activation, 0);
    ASSERT_EQ(b.g.nodes().size(), 1u);
    EXPECT_EQ(b.g.nodes()[0]->input(3), b.g.inputs()[0]);
    expect_same_outputs(before, b.g, b.random_inputs(), kFusionMaxRelErr);
  }
}

TEST(FuseResidualAdd, DoesNotFuseCycleBroadcastSharedOrActivatedConv) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {1, 4, 6, 6});
  // (1) Add(conv, Relu(conv)): the other operand is computed from the conv (fusing would need the
  //     conv's own output as its input: a cycle); the conv output also has two readers.
  ir::Value* c1 = b.conv(x, 4, 4, 3);
  ir::Value* a1 = b.op(OpKind::Add, {c1, b.op(OpKind::Relu, {c1})});
  // (2) Add(conv, per-channel constant): broadcasting, not a residual of the same shape.
  ir::Value* c2 = b.conv(x, 4, 4, 3);
  ir::Value* a2 = b.op(OpKind::Add, {c2, b.init("chan", b.random_f32({1, 4, 1, 1}, -1, 1))});
  // (3) Add(Relu(conv), x): the activation would have to run before the sum.
  ir::Value* c3 = b.conv(x, 4, 4, 3);
  ir::Value* r3 = b.op(OpKind::Relu, {c3});
  ir::Value* a3 = b.op(OpKind::Add, {r3, x});
  b.finish({a1, a2, a3});
  ir::Graph before = b.g.clone();
  HQP_ASSERT_OK(passes::fuse_conv_activation(b.g).status());  // conv3 + Relu -> FusedConv(Relu)
  Result<passes::FuseResidualStats> s = passes::fuse_residual_add(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->fused, 0);
  EXPECT_EQ(count_kind(b.g, OpKind::Add), 3);
  HQP_EXPECT_OK(ir::verify(b.g));
  expect_same_outputs(before, b.g, b.random_inputs(), kFusionMaxRelErr);
}

}  // namespace
}  // namespace hqp::test
