// fuse_conv_activation: every supported activation into Conv / Gemm (bit-identical results), the
// torch hardswish and SiLU (x * Sigmoid(x)) patterns, and the producers / activations that must not fuse.
#include <gtest/gtest.h>

#include "passes/fuse_conv_activation.h"
#include "passes/pass_test_util.h"
#include "passes/pass_tolerances.h"

namespace hqp::test {
namespace {

using ir::Activation;
using ir::OpKind;

// How the test builds the activation after the conv.
enum class ActCase { kRelu, kClipAttrs, kClipInitializers, kClipConstantNodes, kClipMinOnly, kHardSwish,
                     kHardSigmoid, kSigmoid, kSiluPattern };

ir::Value* add_activation(GraphBuilder& b, ir::Value* x, ActCase c) {
  switch (c) {
    case ActCase::kRelu: return b.op(OpKind::Relu, {x});
    case ActCase::kClipAttrs: return b.op(OpKind::Clip, {x}, ir::ClipAttrs{0.0f, 6.0f});
    case ActCase::kClipInitializers:
      return b.op(OpKind::Clip, {x, b.init("lo", Tensor::scalar<float>(-0.25f)), b.init("hi", Tensor::scalar<float>(0.5f))},
                  ir::ClipAttrs{});
    case ActCase::kClipConstantNodes: {
      ir::Value* lo = b.op(OpKind::Constant, {}, ir::ConstantAttrs{Tensor::scalar<float>(0.0f)});
      ir::Value* hi = b.op(OpKind::Constant, {}, ir::ConstantAttrs{Tensor::scalar<float>(0.3f)});
      return b.op(OpKind::Clip, {x, lo, hi}, ir::ClipAttrs{});
    }
    case ActCase::kClipMinOnly: return b.op(OpKind::Clip, {x, b.init("lo", Tensor::scalar<float>(0.1f))}, ir::ClipAttrs{});
    case ActCase::kHardSwish: return b.op(OpKind::HardSwish, {x});
    case ActCase::kHardSigmoid: return b.op(OpKind::HardSigmoid, {x}, ir::HardSigmoidAttrs{0.3f, 0.4f});
    case ActCase::kSigmoid: return b.op(OpKind::Sigmoid, {x});
    case ActCase::kSiluPattern: return b.op(OpKind::Mul, {x, b.op(OpKind::Sigmoid, {x})});
  }
  return nullptr;
}

class FuseEachActivation : public ::testing::TestWithParam<ActCase> {};

TEST_P(FuseEachActivation, IntoConvAndGemm) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 5, 7, 6});
  ir::Value* c = add_activation(b, b.conv(x, 5, 6, 3), GetParam());
  ir::Value* gap = b.op(OpKind::Flatten, {b.op(OpKind::GlobalAveragePool, {c})}, ir::FlattenAttrs{});
  ir::Value* fc = add_activation(b, b.gemm(gap, 6, 3), GetParam());
  b.finish({c, fc});
  ir::Graph before = b.g.clone();
  Result<passes::FuseActivationStats> s = passes::fuse_conv_activation(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->fused_conv, 1);
  EXPECT_EQ(s->fused_gemm, 1);
  EXPECT_EQ(count_kind(b.g, OpKind::FusedConv), 1);
  EXPECT_EQ(count_kind(b.g, OpKind::FusedGemm), 1);
  EXPECT_EQ(b.g.nodes().size(), 4u);  // FusedConv, GlobalAveragePool, Flatten, FusedGemm
  HQP_EXPECT_OK(ir::verify(b.g));
  expect_same_outputs(before, b.g, b.random_inputs(), kFusionMaxRelErr);
}

INSTANTIATE_TEST_SUITE_P(Activations, FuseEachActivation,
                         ::testing::Values(ActCase::kRelu, ActCase::kClipAttrs, ActCase::kClipInitializers,
                                           ActCase::kClipConstantNodes, ActCase::kClipMinOnly, ActCase::kHardSwish,
                                           ActCase::kHardSigmoid, ActCase::kSigmoid, ActCase::kSiluPattern));

TEST(FuseConvActivation, SiluPatternEitherOperandOrder) {
  for (bool gate_first : {false, true}) {
    GraphBuilder b;
    ir::Value* x = b.input("x", {1, 4, 6, 6});
    ir::Value* c = b.conv(x, 4, 8, 3);
    ir::Value* gate = b.op(OpKind::Sigmoid, {c});
    ir::Value* y = b.g.add_value("y");
    b.g.add_node(OpKind::Mul, "silu", gate_first ? std::vector<ir::Value*>{gate, c} : std::vector<ir::Value*>{c, gate},
                 {y});
    b.finish({y});
    ir::Graph before = b.g.clone();
    Result<passes::FuseActivationStats> s = passes::fuse_conv_activation(b.g);
    HQP_ASSERT_OK(s.status());
    EXPECT_EQ(s->silu_patterns, 1);
    EXPECT_EQ(s->hardswish_patterns, 0);
    ASSERT_EQ(b.g.nodes().size(), 1u);
    const ir::Node& n = *b.g.nodes()[0];
    EXPECT_EQ(n.kind, OpKind::FusedConv);
    EXPECT_EQ(n.attr<ir::FusedConvAttrs>().post.activation, Activation::kSilu);
    EXPECT_EQ(b.g.outputs()[0]->name, "y");
    // The reference rounds SiLU exactly as Sigmoid then Mul: the fused graph gives the same bits.
    expect_same_outputs(before, b.g, b.random_inputs(), 0.0);
  }
}

TEST(FuseConvActivation, TorchHardSwishPatternEitherOperandOrder) {
  for (bool gate_first : {false, true}) {
    GraphBuilder b;
    ir::Value* x = b.input("x", {1, 4, 6, 6});
    ir::Value* c = b.conv(x, 4, 4, 3);
    ir::Value* gate = b.op(OpKind::HardSigmoid, {c}, ir::HardSigmoidAttrs{1.0f / 6.0f, 0.5f});
    ir::Value* y = b.g.add_value("y");
    b.g.add_node(OpKind::Mul, "hswish", gate_first ? std::vector<ir::Value*>{gate, c} : std::vector<ir::Value*>{c, gate},
                 {y});
    b.finish({y});
    ir::Graph before = b.g.clone();
    Result<passes::FuseActivationStats> s = passes::fuse_conv_activation(b.g);
    HQP_ASSERT_OK(s.status());
    EXPECT_EQ(s->hardswish_patterns, 1);
    ASSERT_EQ(b.g.nodes().size(), 1u);
    const ir::Node& n = *b.g.nodes()[0];
    EXPECT_EQ(n.kind, OpKind::FusedConv);
    EXPECT_EQ(n.attr<ir::FusedConvAttrs>().post.activation, Activation::kHardSwish);
    EXPECT_EQ(b.g.outputs()[0]->name, "y");
    expect_same_outputs(before, b.g, b.random_inputs(), kFusionMaxRelErr);
  }
}

TEST(FuseConvActivation, DoesNotFuseSharedOutputComputedBoundsOrOtherHardSigmoid) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {1, 3, 5, 5});
  ir::Value* hi = b.input("hi", {});
  // (1) conv output read by a Relu and a Sigmoid.
  ir::Value* c1 = b.conv(x, 3, 3, 3);
  ir::Value* r1 = b.op(OpKind::Relu, {c1});
  ir::Value* s1 = b.op(OpKind::Sigmoid, {c1});
  // (2) Clip whose max is a graph input.
  ir::Value* c2 = b.conv(x, 3, 3, 3);
  ir::Value* clip = b.op(OpKind::Clip, {c2, b.init("lo", Tensor::scalar<float>(0.0f)), hi}, ir::ClipAttrs{});
  // (3) x * HardSigmoid(x) with alpha 0.2: not hardswish.
  ir::Value* c3 = b.conv(x, 3, 3, 3);
  ir::Value* m = b.op(OpKind::Mul, {c3, b.op(OpKind::HardSigmoid, {c3}, ir::HardSigmoidAttrs{0.2f, 0.5f})});
  // (4) conv output that is a graph output.
  ir::Value* c4 = b.conv(x, 3, 3, 3);
  ir::Value* r4 = b.op(OpKind::Relu, {c4});
  // (5) c5 * Sigmoid(another value): a gate, not SiLU.
  ir::Value* c5 = b.conv(x, 3, 3, 3);
  ir::Value* c5b = b.conv(x, 3, 3, 3);
  ir::Value* gated = b.op(OpKind::Mul, {c5, b.op(OpKind::Sigmoid, {c5b})});
  ir::Value* c5c = b.op(OpKind::Relu, {c5});  // c5 has a second reader
  // (6) x * Sigmoid(x) whose Sigmoid output is read again.
  ir::Value* c6 = b.conv(x, 3, 3, 3);
  ir::Value* s6 = b.op(OpKind::Sigmoid, {c6});
  ir::Value* m6 = b.op(OpKind::Mul, {c6, s6});
  b.finish({r1, s1, clip, m, c4, r4, gated, c5c, m6, s6});
  ir::Graph before = b.g.clone();
  Result<passes::FuseActivationStats> s = passes::fuse_conv_activation(b.g);
  HQP_ASSERT_OK(s.status());
  // Only (5)'s second conv fuses: its output feeds nothing but the Sigmoid (a plain activation).
  EXPECT_EQ(s->fused_conv, 1);
  EXPECT_EQ(s->silu_patterns, 0);
  EXPECT_EQ(count_kind(b.g, OpKind::FusedConv), 1);
  EXPECT_EQ(count_kind(b.g, OpKind::Conv), 6);
  std::vector<Tensor> in = b.random_inputs();
  in[1] = Tensor::scalar<float>(0.4f);
  expect_same_outputs(before, b.g, in, 0.0);
}

}  // namespace
}  // namespace hqp::test
