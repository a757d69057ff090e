// skip_output_requantize: which conv-output Q -> DQ pairs it drops (before a residual Add whose
// other operand is dequantized, before a float activation) and which it keeps (a shared Q, unequal
// parameters, a graph output, a float other operand), and that the whole pipeline then fuses an
// ONNX-Runtime-placed residual block into one QConv with an INT8 sum.
#include <gtest/gtest.h>

#include "passes/pass_test_util.h"
#include "passes/pipeline.h"
#include "passes/skip_output_requantize.h"

namespace hqp::test {
namespace {

using ir::OpKind;

constexpr float kScale = 0.05f;

// x (f32) -> QDQ -> [conv with QDQ weights] -> Q -> DQ: the conv output in ONNX Runtime's placement.
struct OrtBlock {
  GraphBuilder b;
  ir::Value* x_dq = nullptr;
  ir::Value* conv_out = nullptr;  // f32, before its pair
  ir::Value* conv_dq = nullptr;   // after the pair
};

void ort_conv(OrtBlock& o, float out_scale = kScale) {
  ir::Value* x = o.b.input("x", {1, 4, 6, 6});
  o.x_dq = o.b.qdq(x, kScale, 128);
  o.conv_out = o.b.qdq_conv(o.x_dq, kScale, 4, 4, 3, true);
  o.conv_dq = o.b.qdq(o.conv_out, out_scale, 128);
}

int pairs(const ir::Graph& g) { return count_kind(g, OpKind::QuantizeLinear); }

TEST(SkipOutputRequantize, DropsThePairBeforeAResidualAdd) {
  OrtBlock o;
  ort_conv(o);
  ir::Value* sum = o.b.op(OpKind::Add, {o.conv_dq, o.x_dq});
  ir::Value* y = o.b.qdq(o.b.op(OpKind::Relu, {sum}), kScale, 0);
  o.b.g.add_output(y);
  HQP_ASSERT_OK(ir::verify_and_infer(o.b.g));
  const int before = pairs(o.b.g);
  const Result<passes::SkipRequantizeStats> r = passes::skip_output_requantize(o.b.g);
  HQP_ASSERT_OK(r.status());
  const passes::SkipRequantizeStats s = *r;
  EXPECT_EQ(s.residual, 1);
  EXPECT_EQ(s.activation, 0);
  EXPECT_EQ(pairs(o.b.g), before - 1);
  const ir::Node* add = o.b.g.find_value(sum->name)->producer();
  EXPECT_TRUE(add->input(0) == o.conv_out || add->input(1) == o.conv_out);
}

TEST(SkipOutputRequantize, DropsThePairBeforeAFloatActivation) {
  for (OpKind act : {OpKind::HardSwish, OpKind::HardSigmoid, OpKind::Sigmoid}) {
    OrtBlock o;
    ort_conv(o);
    ir::Value* y = o.b.qdq(o.b.op(act, {o.conv_dq}), kScale, 128);
    o.b.g.add_output(y);
    HQP_ASSERT_OK(ir::verify_and_infer(o.b.g));
    const Result<passes::SkipRequantizeStats> r = passes::skip_output_requantize(o.b.g);
  HQP_ASSERT_OK(r.status());
  const passes::SkipRequantizeStats s = *r;
    EXPECT_EQ(s.activation, 1) << ir::op_name(act);
    EXPECT_EQ(o.conv_out->uses().size(), 1u);
    EXPECT_EQ(o.conv_out->uses()[0].node->kind, act);
  }
}

TEST(SkipOutputRequantize, KeepsPairsItCannotDrop) {
  {  // the other Add operand is float: no INT8 sum would form
    OrtBlock o;
    ort_conv(o);
    ir::Value* f = o.b.input("f", {1, 4, 6, 6});
    o.b.g.add_output(o.b.op(OpKind::Add, {o.conv_dq, f}));
    HQP_ASSERT_OK(ir::verify_and_infer(o.b.g));
    const Result<passes::SkipRequantizeStats> r = passes::skip_output_requantize(o.b.g);
  HQP_ASSERT_OK(r.status());
  const passes::SkipRequantizeStats s = *r;
    EXPECT_EQ(s.residual, 0);
  }
  {  // the dequantized conv output has a second reader
    OrtBlock o;
    ort_conv(o);
    o.b.g.add_output(o.b.op(OpKind::Add, {o.conv_dq, o.x_dq}));
    o.b.g.add_output(o.b.op(OpKind::Relu, {o.conv_dq}));
    HQP_ASSERT_OK(ir::verify_and_infer(o.b.g));
    const Result<passes::SkipRequantizeStats> r = passes::skip_output_requantize(o.b.g);
  HQP_ASSERT_OK(r.status());
  const passes::SkipRequantizeStats s = *r;
    EXPECT_EQ(s.residual, 0);
  }
  {  // the conv output is a graph output
    OrtBlock o;
    ort_conv(o);
    o.b.g.add_output(o.conv_out);
    o.b.g.add_output(o.b.op(OpKind::HardSwish, {o.conv_dq}));
    HQP_ASSERT_OK(ir::verify_and_infer(o.b.g));
    const Result<passes::SkipRequantizeStats> r = passes::skip_output_requantize(o.b.g);
  HQP_ASSERT_OK(r.status());
  const passes::SkipRequantizeStats s = *r;
    EXPECT_EQ(s.activation, 0);
  }
  {  // Q and DQ with different scales are a real requantization
    OrtBlock o;
    ir::Value* x = o.b.input("x", {1, 4, 6, 6});
    o.x_dq = o.b.qdq(x, kScale, 128);
    o.conv_out = o.b.qdq_conv(o.x_dq, kScale, 4, 4, 3, true);
    ir::Value* s1 = o.b.init("s1", Tensor::scalar<float>(0.05f));
    ir::Value* s2 = o.b.init("s2", Tensor::scalar<float>(0.1f));
    ir::Value* zp = o.b.init("zp", Tensor::scalar<uint8_t>(128));
    ir::Value* q = o.b.op(OpKind::QuantizeLinear, {o.conv_out, s1, zp}, ir::AxisAttrs{});
    ir::Value* dq = o.b.op(OpKind::DequantizeLinear, {q, s2, zp}, ir::AxisAttrs{});
    o.b.g.add_output(o.b.op(OpKind::HardSwish, {dq}));
    HQP_ASSERT_OK(ir::verify_and_infer(o.b.g));
    const Result<passes::SkipRequantizeStats> r = passes::skip_output_requantize(o.b.g);
  HQP_ASSERT_OK(r.status());
  const passes::SkipRequantizeStats s = *r;
    EXPECT_EQ(s.activation, 0);
  }
}

TEST(SkipOutputRequantize, OnlyTheLaterConvOfTwoLosesItsPair) {
  // Add(conv_a, conv_b), both in ONNX Runtime's placement: conv_b (later) takes the sum, conv_a
  // stays quantized so the sum is INT8.
  GraphBuilder b;
  ir::Value* x = b.input("x", {1, 4, 6, 6});
  ir::Value* x_dq = b.qdq(x, kScale, 128);
  ir::Value* a = b.qdq_conv(x_dq, kScale, 4, 4, 1, true);
  ir::Value* a_dq = b.qdq(a, kScale, 128);
  ir::Value* c = b.qdq_conv(x_dq, kScale, 4, 4, 3, true);
  ir::Value* c_dq = b.qdq(c, kScale, 128);
  b.g.add_output(b.qdq(b.op(OpKind::Add, {a_dq, c_dq}), kScale, 128));
  HQP_ASSERT_OK(ir::verify_and_infer(b.g));
  const Result<passes::SkipRequantizeStats> r = passes::skip_output_requantize(b.g);
  HQP_ASSERT_OK(r.status());
  const passes::SkipRequantizeStats s = *r;
  EXPECT_EQ(s.residual, 1);
  EXPECT_EQ(c->uses()[0].node->kind, OpKind::Add);
  EXPECT_EQ(a->uses()[0].node->kind, OpKind::QuantizeLinear);
}

TEST(SkipOutputRequantize, PipelineFusesAnOrtResidualBlockIntoOneQConvWithSum) {
  OrtBlock o;
  ort_conv(o);
  ir::Value* sum = o.b.op(OpKind::Add, {o.conv_dq, o.x_dq});
  o.b.g.add_output(o.b.qdq(o.b.op(OpKind::Relu, {sum}), kScale, 0));
  HQP_ASSERT_OK(ir::verify_and_infer(o.b.g));
  passes::OptimizeOptions po;
  po.skip_output_requantize = true;  // opt-in (SessionOptions::fuse_requantize)
  HQP_ASSERT_OK(passes::optimize_for_runtime(o.b.g, po).status());
  EXPECT_EQ(count_kind(o.b.g, OpKind::QConv), 1);
  EXPECT_EQ(count_kind(o.b.g, OpKind::Add), 0);
  EXPECT_EQ(count_kind(o.b.g, OpKind::Relu), 0);
  for (const auto& n : o.b.g.nodes()) {
    if (n->kind == OpKind::QConv) {
      EXPECT_TRUE(n->attr<ir::FusedConvAttrs>().post.has_sum);
    }
  }
}

}  // namespace
}  // namespace hqp::test
