// lower_qdq: QDQ (fake-quant) graphs vs the lowered INT8 graphs run by the integer reference.
// Power-of-two scales make the fake-quant simulation exact, so there the results must be
// bit-identical (kQdqPow2MaxLsb); arbitrary scales allow kQdqOneLayerMaxLsb (reason in
// pass_tolerances.h). Also: INT8 chains stay INT8, Value::quant is set, unmatched patterns stay.
#include <cmath>

#include <gtest/gtest.h>

#include "kernels/onednn/onednn_common.h"
#include "passes/fuse_conv_activation.h"
#include "passes/fuse_residual_add.h"
#include "passes/lower_qdq.h"
#include "passes/pass_test_util.h"
#include "passes/pass_tolerances.h"
#include "reference/executor.h"
#include "runtime/session.h"

namespace hqp::test {
namespace {

using ir::OpKind;

float pow2(int e) { return std::ldexp(1.0f, e); }

// The float fusions then the lowering, as optimize_for_runtime runs them.
Result<passes::LowerQdqStats> fuse_and_lower(ir::Graph& g) {
  HQP_RETURN_IF_ERROR(passes::fuse_conv_activation(g).status());
  HQP_RETURN_IF_ERROR(passes::fuse_residual_add(g).status());
  return passes::lower_qdq(g);
}

// x -> Q/DQ -> conv+Relu -> Q/DQ -> depthwise conv+Clip(0,6) -> Q/DQ -> conv + residual(y1) + Relu
//   -> Q (graph output "block_q", u8)
//   -> DQ -> conv + HardSwish -> Q/DQ -> MaxPool (same params) -> Q/DQ -> GAP -> Flatten -> Q/DQ
//   -> Gemm -> "logits" (f32)
struct QdqNet {
  GraphBuilder b;
  QdqNet(bool pow2_scales, DType act_storage) {
    const bool u8 = act_storage == DType::kU8;
    const int32_t zp_in = u8 ? 128 : 0;
    const int32_t zp_act = u8 ? 0 : -128;  // post-Relu tensors use the whole range
    std::uniform_real_distribution<float> jitter(0.8f, 1.25f);
    auto scale = [&](int e) { return pow2_scales ? pow2(e) : pow2(e) * jitter(b.rng); };
    ir::Value* x = b.input("x", {2, 6, 9, 9});
    const float s_in = scale(-6);
    ir::Value* xd = b.qdq(x, s_in, zp_in, act_storage);
    const float s1 = scale(-3);
    ir::Value* y1d = b.qdq(b.op(OpKind::Relu, {b.qdq_conv(xd, s_in, 6, 8, 3, pow2_scales)}), s1, zp_act, act_storage);
    const float s2 = scale(-4);
    ir::Value* y2 = b.op(OpKind::Clip, {b.qdq_conv(y1d, s1, 8, 8, 3, pow2_scales, 1, 8)}, ir::ClipAttrs{0.0f, 6.0f});
    ir::Value* y2d = b.qdq(y2, s2, zp_act, act_storage);
    ir::Value* y3 = b.op(OpKind::Relu, {b.op(OpKind::Add, {b.qdq_conv(y2d, s2, 8, 8, 1, pow2_scales), y1d})});
    const float s3 = scale(-3);
    ir::Value* s3v = b.init("s3", Tensor::scalar<float>(s3));
    ir::Value* zp3 = u8 ? b.init("zp3", Tensor::scalar<uint8_t>(static_cast<uint8_t>(zp_act)))
                        : b.init("zp3", Tensor::scalar<int8_t>(static_cast<int8_t>(zp_act)));
    ir::Value* block_q = b.g.add_value("block_q");
    b.g.add_node(OpKind::QuantizeLinear, "block_quant", {y3, s3v, zp3}, {block_q}, ir::AxisAttrs{});
    ir::Value* y3d = b.op(OpKind::DequantizeLinear, {block_q, s3v, zp3}, ir::AxisAttrs{});
    const float s4 = scale(-3);
    ir::Value* y4 = b.op(OpKind::HardSwish, {b.qdq_conv(y3d, s3, 8, 8, 3, pow2_scales, 2)});
    ir::Value* y4d = b.qdq(y4, s4, u8 ? 16 : -112, act_storage);
    ir::PoolAttrs pool;
    pool.kernel_shape = {2, 2};
    pool.strides = {2, 2};
    ir::Value* p = b.op(OpKind::MaxPool, {y4d}, pool);
    ir::Value* pd = b.qdq(p, s4, u8 ? 16 : -112, act_storage);  // MaxPool keeps its input's parameters
    ir::Value* f = b.op(OpKind::Flatten, {b.op(OpKind::GlobalAveragePool, {pd})}, ir::FlattenAttrs{});
    const float s5 = scale(-5);
    ir::Value* fd = b.qdq(f, s5, zp_in, act_storage);
    add_fc(fd, s5, pow2_scales);
    b.finish({block_q, logits});
  }
  ir::Value* logits = nullptr;

 private:
  void add_fc(ir::Value* fd, float s5, bool pow2_scales) {
    GraphBuilder::QWeight w = b.dq_weight({10, 8}, pow2_scales);
    ir::GemmAttrs a;
    a.trans_b = 1;
    logits = b.g.add_value("logits");
    b.g.add_node(OpKind::Gemm, "fc", {fd, w.dq, b.dq_bias(s5, w.scale)}, {logits}, a);
  }
};

void expect_lowered_structure(const ir::Graph& g, const passes::LowerQdqStats& s) {
  EXPECT_EQ(s.qconv, 4);
  EXPECT_EQ(s.qgemm, 1);
  EXPECT_EQ(s.float_outputs, 2);  // the HardSwish conv (activation split off) and the Gemm
  EXPECT_EQ(s.quantized_moves, 1);  // MaxPool on the INT8 tensor
  EXPECT_EQ(count_kind(g, OpKind::QConv), 4);
  EXPECT_EQ(count_kind(g, OpKind::QGemm), 1);
  EXPECT_EQ(count_kind(g, OpKind::Conv) + count_kind(g, OpKind::FusedConv) + count_kind(g, OpKind::Gemm), 0);
  EXPECT_EQ(count_kind(g, OpKind::Add), 0);
  // INT8 from the input's Q to the HardSwish conv; what remains: Q of the input, Q after the
  // (float) HardSwish and after Flatten, and the DQ before GlobalAveragePool (a float op).
  EXPECT_EQ(count_kind(g, OpKind::QuantizeLinear), 3);
  EXPECT_EQ(count_kind(g, OpKind::DequantizeLinear), 1);
  for (const auto& n : g.nodes()) {
    if (n->kind != OpKind::QConv && n->kind != OpKind::QGemm) continue;
    EXPECT_TRUE(n->input(0)->quant.has_value()) << n->name;
    EXPECT_TRUE(n->input(1)->quant.has_value() && n->input(1)->quant->axis == 0) << n->name;
    if (n->input(2) != nullptr) {
      EXPECT_EQ(n->input(2)->dtype, DType::kS32) << n->name;
    }
    if (n->output(0)->dtype != DType::kF32) {
      EXPECT_TRUE(n->output(0)->quant.has_value()) << n->name;
    }
  }
}

TEST(LowerQdq, Pow2ScalesChainIsBitExactU8) {
  QdqNet net(true, DType::kU8);
  ir::Graph before = net.b.g.clone();
  Result<passes::LowerQdqStats> s = fuse_and_lower(net.b.g);
  HQP_ASSERT_OK(s.status());
  HQP_EXPECT_OK(ir::verify(net.b.g));
  expect_lowered_structure(net.b.g, *s);
  EXPECT_EQ(net.b.g.outputs()[0]->name, "block_q");
  EXPECT_EQ(net.b.g.outputs()[0]->producer()->kind, OpKind::QConv);
  expect_same_outputs(before, net.b.g, net.b.random_inputs(), 0.0, kQdqPow2MaxLsb, 0.0);
}

TEST(LowerQdq, Pow2ScalesChainIsBitExactS8) {
  QdqNet net(true, DType::kS8);
  ir::Graph before = net.b.g.clone();
  Result<passes::LowerQdqStats> s = fuse_and_lower(net.b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->qconv, 4);
  EXPECT_EQ(s->qgemm, 1);
  EXPECT_EQ(s->quantized_moves, 1);  // MaxPool on the s8 tensor
  expect_same_outputs(before, net.b.g, net.b.random_inputs(), 0.0, kQdqPow2MaxLsb, 0.0);
}

TEST(LowerQdq, ArbitraryScalesOneLayerWithinOneLsb) {
  for (bool float_bias : {false, true}) {
    GraphBuilder b;
    ir::Value* x = b.input("x", {2, 7, 11, 11});
    const float sx = 0.0123f;
    ir::Value* xd = b.qdq(x, sx, 131);
    GraphBuilder::QWeight w = b.dq_weight({9, 7, 3, 3}, false);
    ir::Value* bias = float_bias ? b.init("bias", b.random_f32({9}, -0.5f, 0.5f)) : b.dq_bias(sx, w.scale);
    ir::ConvAttrs a;
    a.pads = {1, 1, 1, 1};
    ir::Value* c = b.op(OpKind::Relu, {b.op(OpKind::Conv, {xd, w.dq, bias}, a)});
    ir::Value* yq = b.g.add_value("yq");
    b.g.add_node(OpKind::QuantizeLinear, "q_out", {c, b.init("ys", Tensor::scalar<float>(0.0371f)),
                                                   b.init("yz", Tensor::scalar<uint8_t>(3))}, {yq}, ir::AxisAttrs{});
    b.finish({yq});
    ir::Graph before = b.g.clone();
    Result<passes::LowerQdqStats> s = fuse_and_lower(b.g);
    HQP_ASSERT_OK(s.status());
    EXPECT_EQ(s->qconv, 1);
    EXPECT_EQ(b.g.nodes().size(), 2u);  // Q of the input, QConv
    expect_same_outputs(before, b.g, b.random_inputs(), 0.0, kQdqOneLayerMaxLsb, kQdqOneLayerMaxMismatchFraction);
  }
}

// DQ -> Conv -> x * Sigmoid(x) -> Q (hqp's own placement of an EfficientNet block): the float
// fusion makes a SiLU FusedConv; lowering keeps the convolution INT8 with a float output and puts
// the activation back as one float Silu node (rounded as Sigmoid then Mul by the reference), since
// the INT8 output stage only clamps.
TEST(LowerQdq, SiluConvKeepsItsActivationInFloat) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 7, 11, 11});
  const float sx = 0.0123f;
  ir::Value* xd = b.qdq(x, sx, 131);
  GraphBuilder::QWeight w = b.dq_weight({9, 7, 3, 3}, false);
  ir::ConvAttrs a;
  a.pads = {1, 1, 1, 1};
  ir::Value* c = b.op(OpKind::Conv, {xd, w.dq, b.dq_bias(sx, w.scale)}, a);
  ir::Value* silu = b.op(OpKind::Mul, {c, b.op(OpKind::Sigmoid, {c})});
  ir::Value* yq = b.g.add_value("yq");
  b.g.add_node(OpKind::QuantizeLinear, "q_out", {silu, b.init("ys", Tensor::scalar<float>(0.0371f)),
                                                 b.init("yz", Tensor::scalar<uint8_t>(3))}, {yq}, ir::AxisAttrs{});
  b.finish({yq});
  ir::Graph before = b.g.clone();
  Result<passes::LowerQdqStats> s = fuse_and_lower(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->qconv, 1);
  EXPECT_EQ(s->float_outputs, 1);
  EXPECT_EQ(count_kind(b.g, OpKind::QConv), 1);
  EXPECT_EQ(count_kind(b.g, OpKind::Silu), 1);
  EXPECT_EQ(count_kind(b.g, OpKind::Sigmoid) + count_kind(b.g, OpKind::Mul), 0);
  EXPECT_EQ(count_kind(b.g, OpKind::FusedConv), 0);
  HQP_EXPECT_OK(ir::verify(b.g));
  const std::vector<Tensor> in = b.random_inputs();
  expect_same_outputs(before, b.g, in, 0.0, kQdqOneLayerMaxLsb, kQdqOneLayerMaxMismatchFraction);
  // The fast runtime runs the Silu as one oneDNN swish pass (not the reference's exp: within a step
  // of the reference's codes, rarely off).
  Session fast = Session::create(before).value();
  const std::vector<Tensor> got = fast.run(in).value();  // plans on the first run
  std::string impls;
  for (const NodePlanInfo& p : fast.plan_info()) impls += p.implementation + ";";
  EXPECT_NE(impls.find("swish"), std::string::npos) << impls;
  const LsbDiff d = lsb_diff(got[0], reference::run_reference(before, in).value()[0]);
  EXPECT_LE(d.max_lsb, kQdqOneLayerMaxLsb);
  EXPECT_LE(d.mismatch_fraction, kQdqOneLayerMaxMismatchFraction);
}

// TensorRT's placement: Q/DQ on a MaxPool's input, and separately on its consumer's input (s8
// symmetric, each with its own amax). x (s8) -> DQ -> MaxPool -> Q (other scale) -> DQ -> y: the
// MaxPool runs on the s8 codes and a QLut requantizes them, bit-equal to the float graph; with
// equal parameters (and for u8) no table is needed. Flatten moves elements the same way.
TEST(LowerQdq, DataMovementRequantizesToOtherParameters) {
  struct Case {
    OpKind kind;
    DType storage;
    float out_scale;
    int32_t out_zero;
    bool table;
  };
  for (const Case& c : {Case{OpKind::MaxPool, DType::kS8, 0.0437f, 0, true}, Case{OpKind::MaxPool, DType::kS8, 0.02f, 0, false},
                        Case{OpKind::MaxPool, DType::kU8, 0.031f, 9, true}, Case{OpKind::Flatten, DType::kS8, 0.011f, 0, true}}) {
    SCOPED_TRACE(std::string(ir::op_name(c.kind)) + (c.storage == DType::kS8 ? " s8" : " u8") + " scale " +
                 std::to_string(c.out_scale));
    GraphBuilder b;
    ir::Value* x = b.input("x", {2, 5, 7, 7});
    ir::Value* xd = b.qdq(x, 0.02f, c.storage == DType::kS8 ? 0 : 128, c.storage);
    ir::Value* moved;
    if (c.kind == OpKind::MaxPool) {
      ir::PoolAttrs pool;
      pool.kernel_shape = {3, 3};
      pool.strides = {2, 2};
      pool.pads = {1, 1, 1, 1};
      moved = b.op(OpKind::MaxPool, {xd}, pool);
    } else {
      moved = b.op(OpKind::Flatten, {xd}, ir::FlattenAttrs{});
    }
    b.finish({b.qdq(moved, c.out_scale, c.out_zero, c.storage)});
    ir::Graph before = b.g.clone();
    Result<passes::LowerQdqStats> s = passes::lower_qdq(b.g);
    HQP_ASSERT_OK(s.status());
    EXPECT_EQ(s->quantized_moves, 1);
    EXPECT_EQ(count_kind(b.g, OpKind::QLut), c.table ? 1 : 0);
    EXPECT_EQ(count_kind(b.g, OpKind::QuantizeLinear), 1);    // the input's
    EXPECT_EQ(count_kind(b.g, OpKind::DequantizeLinear), 1);  // the output's
    HQP_EXPECT_OK(ir::verify(b.g));
    expect_same_outputs(before, b.g, b.random_inputs(), 0.0);
  }
}

TEST(LowerQdq, RemovesRoundTripsWithEqualParameters) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {1, 3, 4, 4}, DType::kU8);
  ir::Value* s = b.init("s", Tensor::scalar<float>(0.05f));
  ir::Value* z = b.init("z", Tensor::scalar<uint8_t>(7));
  ir::Value* d = b.op(OpKind::DequantizeLinear, {x, s, z}, ir::AxisAttrs{});
  ir::Value* q = b.op(OpKind::QuantizeLinear, {d, s, z}, ir::AxisAttrs{});
  ir::Value* y = b.op(OpKind::Flatten, {b.op(OpKind::DequantizeLinear, {q, s, z}, ir::AxisAttrs{})}, ir::FlattenAttrs{});
  b.finish({y});
  ir::Graph before = b.g.clone();
  Result<passes::LowerQdqStats> st = passes::lower_qdq(b.g);
  HQP_ASSERT_OK(st.status());
  EXPECT_EQ(st->round_trips, 1);
  EXPECT_EQ(count_kind(b.g, OpKind::QuantizeLinear), 0);
  expect_same_outputs(before, b.g, b.random_inputs(), 0.0);
}

TEST(LowerQdq, LeavesUnmatchedPatternsAlone) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {1, 4, 5, 5});
  ir::Value* xd = b.qdq(x, 0.02f, 128);
  // (1) float input (no DQ) with QDQ weights.
  GraphBuilder::QWeight w1 = b.dq_weight({4, 4, 3, 3}, true);
  ir::ConvAttrs a;
  a.pads = {1, 1, 1, 1};
  ir::Value* c1 = b.op(OpKind::Conv, {x, w1.dq}, a);
  // (2) weights with a non-zero zero point (asymmetric).
  ir::Value* wq = b.init("wq", b.random_int<int8_t>(DType::kS8, {4, 4, 3, 3}, -100, 100));
  ir::Value* w2 = b.op(OpKind::DequantizeLinear, {wq, b.init("ws", Tensor::scalar<float>(0.01f)),
                                                  b.init("wz", Tensor::scalar<int8_t>(3))}, ir::AxisAttrs{});
  ir::Value* c2 = b.op(OpKind::Conv, {xd, w2}, a);
  // (3) float (not quantized) weights.
  ir::Value* c3 = b.conv(xd, 4, 4, 3);
  b.finish({c1, c2, c3});
  ir::Graph before = b.g.clone();
  Result<passes::LowerQdqStats> s = passes::lower_qdq(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->qconv, 0);
  EXPECT_EQ(count_kind(b.g, OpKind::Conv), 3);
  expect_same_outputs(before, b.g, b.random_inputs(), 0.0);
}

TEST(LowerQdq, ReferenceExecutorRejectsQConvWithoutQuantParams) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {1, 2, 3, 3}, DType::kU8);
  ir::Value* w = b.init("w", b.random_int<int8_t>(DType::kS8, {2, 2, 1, 1}, -5, 5));
  ir::Value* y = b.g.add_value("y");
  b.g.add_node(OpKind::QConv, "qconv", {x, w}, {y}, ir::FusedConvAttrs{});
  b.finish({y});
  Result<std::vector<Tensor>> r = reference::run_reference(b.g, b.random_inputs());
  EXPECT_TRUE(is_error(r.status(), StatusCode::kInvalidArgument, "quantization parameters"));
}

// ONNX Runtime's residual placement: DQ(a) + DQ(b) [-> Relu] -> Q, a and b INT8 with their own
// parameters (arbitrary scales). QAdd computes the unfused FP32 ops exactly: bit-equal.
struct QAddNet {
  GraphBuilder b;
  QAddNet(DType storage, bool relu, int32_t out_zero_point, Shape b_shape = {2, 5, 7, 7}) {
    const bool u8 = storage == DType::kU8;
    ir::Value* xa = b.input("a", {2, 5, 7, 7});
    ir::Value* xb = b.input("b", b_shape);
    ir::Value* ad = b.qdq(xa, 0.0173f, u8 ? 121 : -7, storage);
    ir::Value* bd = b.qdq(xb, 0.0291f, u8 ? 37 : 11, storage);
    ir::Value* sum = b.op(OpKind::Add, {ad, bd});
    if (relu) sum = b.op(OpKind::Relu, {sum});
    ir::Value* s = b.init("ys", Tensor::scalar<float>(0.0437f));
    ir::Value* z = u8 ? b.init("yz", Tensor::scalar<uint8_t>(static_cast<uint8_t>(out_zero_point)))
                      : b.init("yz", Tensor::scalar<int8_t>(static_cast<int8_t>(out_zero_point)));
    ir::Value* y = b.g.add_value("y");
    b.g.add_node(OpKind::QuantizeLinear, "y_q", {sum, s, z}, {y}, ir::AxisAttrs{});
    b.finish({y});
  }
};

TEST(LowerQdq, ResidualAddBecomesQAddBitExact) {
  for (DType storage : {DType::kU8, DType::kS8}) {
    for (bool relu : {false, true}) {
      const int32_t zp = relu ? (storage == DType::kU8 ? 0 : -128) : (storage == DType::kU8 ? 130 : 3);
      QAddNet net(storage, relu, zp);
      ir::Graph before = net.b.g.clone();
      Result<passes::LowerQdqStats> s = passes::lower_qdq(net.b.g);
      HQP_ASSERT_OK(s.status());
      EXPECT_EQ(s->qadd, 1) << dtype_name(storage) << " relu " << relu;
      EXPECT_EQ(count_kind(net.b.g, OpKind::QAdd), 1);
      EXPECT_EQ(count_kind(net.b.g, OpKind::Add) + count_kind(net.b.g, OpKind::Relu), 0);
      HQP_EXPECT_OK(ir::verify(net.b.g));
      // Inputs span the whole f32 range around the grids, so saturation and Relu are exercised.
      std::vector<Tensor> in = net.b.random_inputs();
      for (Tensor& t : in) {
        for (float& v : t.span<float>()) v *= 4.0f;
      }
      expect_same_outputs(before, net.b.g, in, 0.0, 0, 0.0);
      // And through the fast runtime (any-layout reference kernel).
      Session fast = Session::create(net.b.g).value();
      const std::vector<Tensor> want = reference::run_reference(before, in).value();
      const std::vector<Tensor> got = fast.run(in).value();
      EXPECT_EQ(lsb_diff(got[0], want[0]).max_lsb, 0);
    }
  }
}

// Q(Concat(DQ(a), DQ(b), DQ(c))) (ONNX Runtime's placement around a channel Concat): a and b
// (other parameters; b of the other 8-bit type) go through requantizing QLuts, c (the output's
// own parameters) is joined as it is; the Concat runs on INT8, bit-equal to the float one.
TEST(LowerQdq, ConcatOfQuantizedInputsRunsOnInt8BitExact) {
  for (DType storage : {DType::kU8, DType::kS8}) {
    const bool u8 = storage == DType::kU8;
    const DType other = u8 ? DType::kS8 : DType::kU8;
    GraphBuilder b;
    const float ys = 0.0437f;
    const int32_t yz = u8 ? 130 : 3;
    ir::Value* ad = b.qdq(b.input("a", {2, 5, 7, 7}), 0.0173f, u8 ? 121 : -7, storage);
    ir::Value* bd = b.qdq(b.input("b", {2, 3, 7, 7}), 0.0291f, u8 ? 11 : 37, other);
    ir::Value* cd = b.qdq(b.input("c", {2, 4, 7, 7}), ys, yz, storage);
    ir::AxisAttrs axis;
    axis.axis = 1;
    axis.present = true;
    ir::Value* cat = b.op(OpKind::Concat, {ad, bd, cd}, axis);
    ir::Value* s = b.init("ys", Tensor::scalar<float>(ys));
    ir::Value* z = u8 ? b.init("yz", Tensor::scalar<uint8_t>(static_cast<uint8_t>(yz)))
                      : b.init("yz", Tensor::scalar<int8_t>(static_cast<int8_t>(yz)));
    ir::Value* y = b.g.add_value("y");
    b.g.add_node(OpKind::QuantizeLinear, "y_q", {cat, s, z}, {y}, ir::AxisAttrs{});
    b.finish({y});
    ir::Graph before = b.g.clone();
    Result<passes::LowerQdqStats> st = passes::lower_qdq(b.g);
    HQP_ASSERT_OK(st.status());
    EXPECT_EQ(st->qconcat, 1) << dtype_name(storage);
    EXPECT_EQ(count_kind(b.g, OpKind::QLut), 2) << "a and b requantized, c as it is";
    EXPECT_EQ(count_kind(b.g, OpKind::DequantizeLinear), 0);
    ASSERT_EQ(count_kind(b.g, OpKind::Concat), 1);
    for (const auto& n : b.g.nodes()) {
      if (n->kind != OpKind::Concat) continue;
      for (const ir::Value* in : n->inputs()) EXPECT_EQ(in->dtype, storage) << in->name;
      EXPECT_EQ(n->output(0)->dtype, storage);
    }
    HQP_EXPECT_OK(ir::verify(b.g));
    std::vector<Tensor> in = b.random_inputs();
    for (Tensor& t : in) {
      for (float& v : t.span<float>()) v *= 4.0f;  // past the grids: saturation too
    }
    expect_same_outputs(before, b.g, in, 0.0, 0, 0.0);
    Session fast = Session::create(b.g).value();
    const std::vector<Tensor> want = reference::run_reference(before, in).value();
    const std::vector<Tensor> got = fast.run(in).value();
    EXPECT_EQ(lsb_diff(got[0], want[0]).max_lsb, 0);
  }
}

TEST(LowerQdq, AddsItCannotLowerStay) {
  {  // a Relu before a Q whose zero point is not the minimum is not a clamp of Q
    QAddNet net(DType::kU8, true, 5);
    Result<passes::LowerQdqStats> s = passes::lower_qdq(net.b.g);
    HQP_ASSERT_OK(s.status());
    EXPECT_EQ(s->qadd, 0);
  }
  {  // broadcasting operands
    QAddNet net(DType::kU8, false, 128, {2, 5, 1, 1});
    Result<passes::LowerQdqStats> s = passes::lower_qdq(net.b.g);
    HQP_ASSERT_OK(s.status());
    EXPECT_EQ(s->qadd, 0);
  }
}

// A squeeze-and-excitation block in ONNX Runtime's placement (Q->DQ on every activation):
//   x -> Q/DQ -> conv -> Q/DQ (c) -> HardSwish -> Q/DQ (h) -> GAP -> Q/DQ (g)
//     -> HardSigmoid -> Clip -> Q/DQ (gate) ;  Q(h * gate) -> "y_gate", Q(gate * h) -> "y_swapped",
//        Q(c * h) -> "y_equal" (h a function of c: becomes a table too)
// The conv puts h in NHWC in the fast runtime (the channels-last kernels); all scales arbitrary.
struct SeNet {
  GraphBuilder b;
  SeNet(DType storage) {
    const bool u8 = storage == DType::kU8;
    auto zp = [&](int32_t z) { return u8 ? z : z - 128; };
    ir::Value* x = b.input("x", {2, 3, 6, 6});
    ir::Value* xd = b.qdq(x, 0.0123f, zp(131), storage);
    ir::Value* cd = b.qdq(b.qdq_conv(xd, 0.0123f, 3, 8, 3, false), 0.0371f, zp(117), storage);
    ir::Value* hd = b.qdq(b.op(OpKind::HardSwish, {cd}), 0.0219f, zp(23), storage);
    ir::Value* gd = b.qdq(b.op(OpKind::GlobalAveragePool, {hd}), 0.0097f, zp(40), storage);
    ir::Value* gate = b.op(OpKind::HardSigmoid, {gd}, ir::HardSigmoidAttrs{1.0f / 6.0f, 0.5f});
    gate = b.op(OpKind::Clip, {gate}, ir::ClipAttrs{0.05f, 0.9f});
    ir::Value* gated = b.qdq(gate, 0.0039f, zp(0), storage);
    auto quant_out = [&](ir::Value* v, const char* name, float scale, int32_t z) {
      ir::Value* s = b.init("ys", Tensor::scalar<float>(scale));
      ir::Value* zv = u8 ? b.init("yz", Tensor::scalar<uint8_t>(static_cast<uint8_t>(z)))
                         : b.init("yz", Tensor::scalar<int8_t>(static_cast<int8_t>(z)));
      ir::Value* y = b.g.add_value(name);
      b.g.add_node(OpKind::QuantizeLinear, std::string(name) + "_q", {v, s, zv}, {y}, ir::AxisAttrs{});
      return y;
    };
    ir::Value* y1 = quant_out(b.op(OpKind::Mul, {hd, gated}), "y_gate", 0.0113f, zp(29));
    ir::Value* y2 = quant_out(b.op(OpKind::Mul, {gated, hd}), "y_swapped", 0.0071f, zp(64));
    ir::Value* y3 = quant_out(b.op(OpKind::Mul, {cd, hd}), "y_equal", 0.0052f, zp(128));
    b.finish({y1, y2, y3});
  }
};

TEST(LowerQdq, SqueezeExcitationBecomesInt8BitExact) {
  for (DType storage : {DType::kU8, DType::kS8}) {
    SeNet net(storage);
    ir::Graph before = net.b.g.clone();
    Result<passes::LowerQdqStats> s = fuse_and_lower(net.b.g);
    HQP_ASSERT_OK(s.status());
    // Tables: HardSwish; HardSigmoid -> Clip as one; c * h, a function of c's code alone (h = QLut(c)).
    EXPECT_EQ(s->qlut, 3) << dtype_name(storage);
    EXPECT_EQ(s->qglobal_average_pool, 1);
    EXPECT_EQ(s->qmul, 2);
    EXPECT_EQ(count_kind(net.b.g, OpKind::QLut), 3);
    EXPECT_EQ(count_kind(net.b.g, OpKind::QMul), 2);
    EXPECT_EQ(count_kind(net.b.g, OpKind::QGlobalAveragePool), 1);
    for (OpKind k : {OpKind::HardSwish, OpKind::HardSigmoid, OpKind::Clip, OpKind::Mul, OpKind::GlobalAveragePool,
                     OpKind::QuantizeLinear, OpKind::DequantizeLinear}) {
      EXPECT_EQ(count_kind(net.b.g, k), k == OpKind::QuantizeLinear ? 1 : 0) << ir::op_name(k);  // the input's Q
    }
    HQP_EXPECT_OK(ir::verify(net.b.g));
    std::vector<Tensor> in = net.b.random_inputs();
    for (Tensor& t : in) {
      for (float& v : t.span<float>()) v *= 2.0f;  // past the input grid: saturation too
    }
    expect_same_outputs(before, net.b.g, in, 0.0, 0, 0.0);
    // The fast runtime (channels-last gate and pooling kernels, prepared tables) equals the
    // reference of the unlowered graph bit for bit.
    Session fast = Session::create(before).value();
    const std::vector<Tensor> want = reference::run_reference(before, in).value();
    const std::vector<Tensor> got = fast.run(in).value();
    std::string impls;
    for (const NodePlanInfo& p : fast.plan_info()) impls += p.implementation + ";";
    EXPECT_NE(impls.find("qglobal_average_pool_nhwc"), std::string::npos) << impls;
    EXPECT_NE(impls.find("qmul_gate_nhwc"), std::string::npos) << impls;
    EXPECT_NE(impls.find("lut8"), std::string::npos) << impls;
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(lsb_diff(got[i], want[i]).max_lsb, 0) << dtype_name(storage) << " output " << i;
    }
  }
}

// HardSwish as opset-13 exporters write it, in ONNX Runtime's placement:
//   x -> Q/DQ (xd) -> HardSigmoid -> Q/DQ (hd) ;  Q(xd * hd)
// The product depends on x's code alone: one QLut, bit-equal to the unfused ops.
TEST(LowerQdq, DecomposedHardSwishBecomesOneTable) {
  for (DType storage : {DType::kU8, DType::kS8}) {
    for (bool x_first : {true, false}) {
      const bool u8 = storage == DType::kU8;
      GraphBuilder b;
      ir::Value* xd = b.qdq(b.input("x", {1, 8, 7, 7}), 0.0291f, u8 ? 140 : 12, storage);
      ir::Value* hd = b.qdq(b.op(OpKind::HardSigmoid, {xd}, ir::HardSigmoidAttrs{1.0f / 6.0f, 0.5f}), 0.00392f,
                            u8 ? 0 : -128, storage);
      ir::Value* m = x_first ? b.op(OpKind::Mul, {xd, hd}) : b.op(OpKind::Mul, {hd, xd});
      ir::Value* s = b.init("ys", Tensor::scalar<float>(0.0233f));
      ir::Value* z = u8 ? b.init("yz", Tensor::scalar<uint8_t>(uint8_t{17})) : b.init("yz", Tensor::scalar<int8_t>(int8_t{-111}));
      ir::Value* y = b.g.add_value("y");
      b.g.add_node(OpKind::QuantizeLinear, "y_q", {m, s, z}, {y}, ir::AxisAttrs{});
      b.finish({y});
      ir::Graph before = b.g.clone();
      Result<passes::LowerQdqStats> st = passes::lower_qdq(b.g);
      HQP_ASSERT_OK(st.status());
      EXPECT_EQ(st->qlut, 2);  // the HardSigmoid chain, then the product over it
      EXPECT_EQ(st->qmul, 0);
      EXPECT_EQ(count_kind(b.g, OpKind::QLut), 1);  // the first table is dead once the product has its own
      EXPECT_EQ(count_kind(b.g, OpKind::Mul) + count_kind(b.g, OpKind::HardSigmoid), 0);
      std::vector<Tensor> in = b.random_inputs();
      for (Tensor& t : in) {
        for (float& v : t.span<float>()) v *= 5.0f;
      }
      expect_same_outputs(before, b.g, in, 0.0, 0, 0.0);
      Session fast = Session::create(before).value();
      const std::vector<Tensor> want = reference::run_reference(before, in).value();
      const std::vector<Tensor> got = fast.run(in).value();
      EXPECT_EQ(lsb_diff(got[0], want[0]).max_lsb, 0) << dtype_name(storage) << " x_first " << x_first;
    }
  }
}

TEST(LowerQdq, PointwiseChainsItCannotTabulateStay) {
  {  // the activation's output is also read in float: not only the Q reads it
    GraphBuilder b;
    ir::Value* xd = b.qdq(b.input("x", {1, 4, 3, 3}), 0.02f, 128);
    ir::Value* h = b.op(OpKind::HardSwish, {xd});
    ir::Value* hq = b.qdq(h, 0.03f, 10);
    b.finish({hq, h});
    Result<passes::LowerQdqStats> s = passes::lower_qdq(b.g);
    HQP_ASSERT_OK(s.status());
    EXPECT_EQ(s->qlut, 0);
    EXPECT_EQ(count_kind(b.g, OpKind::HardSwish), 1);
  }
  {  // Clip bounds computed at run time
    GraphBuilder b;
    ir::Value* xd = b.qdq(b.input("x", {1, 4, 3, 3}), 0.02f, 128);
    ir::Value* lo = b.input("lo", {});
    ir::Value* c = b.op(OpKind::Clip, {xd, lo}, ir::ClipAttrs{});
    b.finish({b.qdq(c, 0.03f, 10)});
    Result<passes::LowerQdqStats> s = passes::lower_qdq(b.g);
    HQP_ASSERT_OK(s.status());
    EXPECT_EQ(s->qlut, 0);
  }
  {  // a gate over the batch axis is not one value per channel
    GraphBuilder b;
    ir::Value* ad = b.qdq(b.input("a", {2, 4, 3, 3}), 0.02f, 128);
    ir::Value* gd = b.qdq(b.input("g", {1, 4, 1, 1}), 0.01f, 0);
    b.finish({b.qdq(b.op(OpKind::Mul, {ad, gd}), 0.03f, 10)});
    Result<passes::LowerQdqStats> s = passes::lower_qdq(b.g);
    HQP_ASSERT_OK(s.status());
    EXPECT_EQ(s->qmul, 0);
  }
}

}  // namespace
}  // namespace hqp::test

namespace hqp::test {
namespace {

// The fast runtime's INT8 convolutions and gemms equal the integer reference bit for bit on every
// CPU: with VNNI on oneDNN's INT8 kernels, without it as oneDNN FP32 convolutions / inner products
// of integer values (exact while every partial sum stays within 2^24, checked at plan time) with
// the reference epilogue; one past that bound runs on the reference kernel.
TEST(LowerQdq, FastInt8ConvolutionsAreExactOnThisCpu) {
  const bool vnni = kernels::onednn::int8_kernels_exact_on_this_cpu();
  for (DType storage : {DType::kU8, DType::kS8}) {
    QdqNet net(false, storage);
    ir::Graph lowered = net.b.g.clone();
    HQP_ASSERT_OK(fuse_and_lower(lowered).status());
    const std::vector<Tensor> in = net.b.random_inputs();
    const std::vector<Tensor> want = reference::run_reference(lowered, in).value();
    Session fast = Session::create(net.b.g).value();
    const std::vector<Tensor> got = fast.run(in).value();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(bitwise_mismatch(got[i], want[i]), std::nullopt) << dtype_name(storage) << " output " << i;
    }
    int int8_ops = 0, int8_kernels_without_vnni = 0;  // the 4 QConv and the QGemm
    for (const NodePlanInfo& p : fast.plan_info()) {
      if (p.op != "QConv" && p.op != "QGemm") continue;  // (the INT8 MaxPool is "maxpool_s8__onednn")
      const bool int8_kernel = p.implementation.find("s8__onednn") != std::string::npos;
      const bool via_f32 = p.implementation.find("_int8_via_f32__onednn") != std::string::npos;
      const bool acc = p.implementation.find("conv_int8_acc__onednn") != std::string::npos;
      if (!int8_kernel && !via_f32 && !acc) continue;
      ++int8_ops;
      if (vnni) {
        EXPECT_TRUE(int8_kernel) << p.implementation;
      } else if (int8_kernel || acc) {
        // Without VNNI only u8 sources run on INT8 kernels (input doubled, or split weights);
        // s8 ones and convs of few input channels on FP32 ones.
        ++int8_kernels_without_vnni;
        EXPECT_EQ(storage, DType::kU8) << p.implementation;
      }
    }
    if (!vnni && storage == DType::kU8) EXPECT_GT(int8_kernels_without_vnni, 0);
    EXPECT_EQ(int8_ops, 5) << dtype_name(storage);
  }
}

TEST(LowerQdq, Int8ConvolutionPastTheFloatBoundRunsExactly) {
  // 3x3 over 256 channels with full-range random weights: max|src - zp| * sum|w| is far past 2^24.
  GraphBuilder b;
  ir::Value* x = b.input("x", {1, 256, 5, 5});
  const float s_in = 1.0f / 64;
  ir::Value* xd = b.qdq(x, s_in, 128, DType::kU8);
  ir::Value* y = b.qdq(b.qdq_conv(xd, s_in, 256, 4, 3, false), 1.0f / 4, 128, DType::kU8);
  b.finish({y});
  ir::Graph lowered = b.g.clone();
  HQP_ASSERT_OK(fuse_and_lower(lowered).status());
  ASSERT_EQ(count_kind(lowered, OpKind::QConv), 1);
  std::vector<Tensor> in = b.random_inputs();
  for (Tensor& t : in) {
    for (float& v : t.span<float>()) v *= 4.0f;  // the whole u8 range
  }
  const std::vector<Tensor> want = reference::run_reference(lowered, in).value();
  Session fast = Session::create(b.g).value();
  const std::vector<Tensor> got = fast.run(in).value();
  EXPECT_EQ(bitwise_mismatch(got[0], want[0]), std::nullopt);
  std::string impls;
  for (const NodePlanInfo& p : fast.plan_info()) impls += p.implementation + ";";
  if (!kernels::onednn::int8_kernels_exact_on_this_cpu()) {
    EXPECT_EQ(impls.find("via_f32"), std::string::npos) << impls;  // past its 2^24 bound
    EXPECT_NE(impls.find("conv_int8_acc__onednn"), std::string::npos) << impls;  // and past the doubled input's
  }
}

// x -> Q -> DQ along axis 1 (one scale per channel, one zero point): NNCF's per-channel activation.
ir::Value* qdq_per_channel(GraphBuilder& b, ir::Value* x, const std::vector<float>& scale, int32_t zp, DType storage) {
  const int64_t c = static_cast<int64_t>(scale.size());
  ir::Value* s = b.init("act_scales", Tensor::from_vector<float>({c}, scale));
  ir::Value* z = storage == DType::kU8
                     ? b.init("act_zps", Tensor::from_vector<uint8_t>({c}, std::vector<uint8_t>(static_cast<size_t>(c), static_cast<uint8_t>(zp))))
                     : b.init("act_zps", Tensor::from_vector<int8_t>({c}, std::vector<int8_t>(static_cast<size_t>(c), static_cast<int8_t>(zp))));
  ir::Value* q = b.op(OpKind::QuantizeLinear, {x, s, z}, ir::AxisAttrs{1, true});
  return b.op(OpKind::DequantizeLinear, {q, s, z}, ir::AxisAttrs{1, true});
}

// NNCF's placement (bench/make_nncf_qdq.py), power-of-two scales (exact fake-quant arithmetic):
//   x -> Q/DQ s8 -> conv + Relu -> Q/DQ u8 -> MaxPool (no Q after it: its readers read its float output)
//     -> conv 1x1 + Clip(0, 6) -> Q/DQ u8 per channel -> depthwise 3x3 -> Q/DQ s8 -> conv 1x1 -> Q/DQ s8
//     -> Add(., MaxPool output) -> Relu -> Q/DQ u8 (the Add mixes s8 and u8 operands)
//     -> GlobalAveragePool -> Q/DQ u8 -> Flatten (no Q after it) -> Gemm -> logits (f32)
// saturating_clip false: one channel's scale leaves Clip's upper bound inside its u8 range, so the
// per-channel clamp differs between channels and the pointwise conv keeps an f32 output.
struct NncfNet {
  GraphBuilder b;
  explicit NncfNet(bool saturating_clip) {
    ir::Value* x = b.input("x", {2, 6, 9, 9});
    const float s_in = pow2(-6), s1 = pow2(-3), s3 = pow2(-2), s5 = pow2(-4);
    ir::Value* xd = b.qdq(x, s_in, 0, DType::kS8);
    ir::Value* r1d = b.qdq(b.op(OpKind::Relu, {b.qdq_conv(xd, s_in, 6, 8, 3, true)}), s1, 0, DType::kU8);
    ir::PoolAttrs pool;
    pool.kernel_shape = {3, 3};
    pool.pads = {1, 1, 1, 1};
    ir::Value* mp = b.op(OpKind::MaxPool, {r1d}, pool);
    ir::Value* c2 = b.op(OpKind::Clip, {b.qdq_conv(mp, s1, 8, 16, 1, true)}, ir::ClipAttrs{0.0f, 6.0f});
    std::vector<float> sx;
    for (int c = 0; c < 16; ++c) sx.push_back(!saturating_clip && c == 5 ? pow2(-3) : pow2(c % 2 == 0 ? -6 : -7));
    ir::Value* c2d = qdq_per_channel(b, c2, sx, 0, DType::kU8);
    GraphBuilder::QWeight w = b.dq_weight({16, 1, 3, 3}, true);
    std::vector<float> acc;
    for (size_t c = 0; c < sx.size(); ++c) acc.push_back(sx[c] * w.scale[c]);
    ir::ConvAttrs dw;
    dw.pads = {1, 1, 1, 1};
    dw.group = 16;
    ir::Value* dwd = b.qdq(b.op(OpKind::Conv, {c2d, w.dq, b.dq_bias(1.0f, acc)}, dw), s3, 0, DType::kS8);
    ir::Value* pd = b.qdq(b.qdq_conv(dwd, s3, 16, 8, 1, true), s3, 0, DType::kS8);
    ir::Value* ad = b.qdq(b.op(OpKind::Relu, {b.op(OpKind::Add, {pd, mp})}), s3, 0, DType::kU8);
    ir::Value* gd = b.qdq(b.op(OpKind::GlobalAveragePool, {ad}), s5, 0, DType::kU8);
    ir::Value* f = b.op(OpKind::Flatten, {gd}, ir::FlattenAttrs{});
    GraphBuilder::QWeight fw = b.dq_weight({10, 8}, true);
    ir::GemmAttrs a;
    a.trans_b = 1;
    ir::Value* logits = b.g.add_value("logits");
    b.g.add_node(OpKind::Gemm, "fc", {f, fw.dq, b.dq_bias(s5, fw.scale)}, {logits}, a);
    b.finish({logits});
  }
};

TEST(LowerQdq, NncfPlacementRunsInt8BitExact) {
  for (bool saturating : {true, false}) {
    SCOPED_TRACE(saturating ? "Clip saturates every channel" : "one channel's Clip bound inside its range");
    NncfNet net(saturating);
    ir::Graph before = net.b.g.clone();
    Result<passes::LowerQdqStats> s = fuse_and_lower(net.b.g);
    HQP_ASSERT_OK(s.status());
    const ir::Graph& g = net.b.g;
    EXPECT_EQ(s->qconv, 4);
    EXPECT_EQ(s->qgemm, 1);
    EXPECT_EQ(s->qadd, 1);  // s8 + u8 -> u8: the conv's s8 output re-expressed as u8 (zero point + 128)
    EXPECT_EQ(s->qglobal_average_pool, 1);
    EXPECT_EQ(s->quantized_moves, 2);  // MaxPool and Flatten run on the INT8 tensor, a DQ after them
    EXPECT_EQ(s->float_outputs, saturating ? 1 : 2);  // the Gemm's logits (and the pointwise conv)
    for (OpKind k : {OpKind::Conv, OpKind::FusedConv, OpKind::Add, OpKind::Relu, OpKind::Gemm, OpKind::GlobalAveragePool,
                     OpKind::DequantizeLinear}) {
      EXPECT_EQ(count_kind(g, k), 0) << ir::op_name(k);
    }
    // The input's Q, and without a uniform clamp the standalone per-channel Q after the f32 conv.
    EXPECT_EQ(count_kind(g, OpKind::QuantizeLinear), saturating ? 1 : 2);
    int per_channel_inputs = 0, per_channel_outputs = 0;
    for (const auto& n : g.nodes()) {
      if (n->kind != OpKind::QConv) continue;
      if (n->input(0)->quant && n->input(0)->quant->axis) ++per_channel_inputs;
      if (n->output(0)->quant && n->output(0)->quant->axis) ++per_channel_outputs;
    }
    EXPECT_EQ(per_channel_inputs, 1);  // the depthwise conv
    EXPECT_EQ(per_channel_outputs, saturating ? 1 : 0);
    HQP_EXPECT_OK(ir::verify(g));
    std::vector<Tensor> in = net.b.random_inputs();
    for (Tensor& t : in) {
      for (float& v : t.span<float>()) v *= 2.0f;  // past the input grid: saturation too
    }
    expect_same_outputs(before, g, in, 0.0);
    // The fast runtime (oneDNN INT8 convolutions with the folded scales, the channels-last
    // per-channel quantizer) equals the reference of the unlowered graph bit for bit.
    Session fast = Session::create(before).value();
    const std::vector<Tensor> want = reference::run_reference(before, in).value();
    const std::vector<Tensor> got = fast.run(in).value();
    EXPECT_EQ(bitwise_mismatch(got[0], want[0]), std::nullopt);
    if (!saturating) {
      std::string impls;
      for (const NodePlanInfo& p : fast.plan_info()) impls += p.implementation + ";";
      EXPECT_NE(impls.find("quantize_linear_per_channel__x86"), std::string::npos) << impls;
    }
  }
}

// A per-channel output with one scale for all channels computes the per-tensor output's codes: the
// fold into the weight scales keeps the per-tensor multiplier's FP32 operations (s_x * s_w) / s_y.
TEST(LowerQdq, PerChannelOutputWithEqualScalesEqualsPerTensor) {
  Tensor codes[2];
  std::vector<Tensor> in;
  for (bool per_channel : {false, true}) {
    GraphBuilder b;  // same seed: the same weights and inputs in both graphs
    ir::Value* x = b.input("x", {2, 5, 7, 7});
    const float sx = 0.0173f, sy = 0.0291f;
    ir::Value* c = b.op(OpKind::Relu, {b.qdq_conv(b.qdq(x, sx, 0, DType::kS8), sx, 5, 12, 3, false)});
    ir::Value* yq = b.g.add_value("yq");
    ir::Value* ys = per_channel ? b.init("ys", Tensor::from_vector<float>({12}, std::vector<float>(12, sy)))
                                : b.init("ys", Tensor::scalar<float>(sy));
    ir::Value* yz = per_channel ? b.init("yz", Tensor::zeros(DType::kU8, {12}).value()) : b.init("yz", Tensor::scalar<uint8_t>(0));
    b.g.add_node(OpKind::QuantizeLinear, "q_out", {c, ys, yz}, {yq}, per_channel ? ir::AxisAttrs{1, true} : ir::AxisAttrs{});
    b.finish({yq});
    HQP_ASSERT_OK(fuse_and_lower(b.g).status());
    ASSERT_EQ(count_kind(b.g, OpKind::QConv), 1);
    ASSERT_EQ(count_kind(b.g, OpKind::QuantizeLinear), 1);  // the input's: the output Q is in the QConv
    if (in.empty()) {
      in = b.random_inputs();
      for (float& v : in[0].span<float>()) v *= 3.0f;
    }
    codes[per_channel ? 1 : 0] = reference::run_reference(b.g, in).value()[0];
    Session fast = Session::create(b.g).value();
    EXPECT_EQ(lsb_diff(fast.run(in).value()[0], codes[per_channel ? 1 : 0]).max_lsb, 0);
  }
  EXPECT_EQ(lsb_diff(codes[1], codes[0]).max_lsb, 0);
}

// A QConv that adds a residual Sum reads the Sum in its output's type, so its output is not
// re-expressed in the other 8-bit type for a mixed-type Add after it: that Add stays float, and the
// graph still runs (ONNX Runtime's placement of a conv + residual, then NNCF-like mixed operands).
TEST(LowerQdq, MixedTypeAddAfterAResidualConvStaysFloat) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 6, 7, 7});
  ir::Value* other = b.input("other", {2, 6, 7, 7});
  const float sx = 0.02f, sy = 0.05f;
  ir::Value* xd = b.qdq(x, sx, 0, DType::kS8);
  ir::Value* sum = b.qdq(x, 0.03f, 0, DType::kS8);
  ir::Value* yd = b.qdq(b.op(OpKind::Add, {b.qdq_conv(xd, sx, 6, 6, 3, false), sum}), sy, 0, DType::kS8);
  ir::Value* od = b.qdq(b.op(OpKind::Relu, {other}), 0.01f, 0, DType::kU8);
  ir::Value* out = b.g.add_value("out");  // the output's codes (u8)
  b.g.add_node(OpKind::QuantizeLinear, "q_out", {b.op(OpKind::Relu, {b.op(OpKind::Add, {yd, od})}),
                                                 b.init("os", Tensor::scalar<float>(0.06f)),
                                                 b.init("oz", Tensor::scalar<uint8_t>(0))}, {out}, ir::AxisAttrs{});
  b.finish({out});
  ir::Graph before = b.g.clone();
  Result<passes::LowerQdqStats> s = fuse_and_lower(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->qconv, 1);
  EXPECT_EQ(s->qadd, 0);
  HQP_EXPECT_OK(ir::verify(b.g));
  const std::vector<Tensor> in = b.random_inputs();
  expect_same_outputs(before, b.g, in, 0.0, kQdqOneLayerMaxLsb, kQdqOneLayerMaxMismatchFraction);
  Session fast = Session::create(before).value();
  const LsbDiff d = lsb_diff(fast.run(in).value()[0], reference::run_reference(b.g, in).value()[0]);
  EXPECT_EQ(d.max_lsb, 0);
}

// Per-channel Q -> DQ between float ops that nothing lowers (a conv's channels-last f32 output,
// then a Relu): the runtime's quantizer and the reference DequantizeLinear must apply each channel's
// parameters to that channel whatever the layout the tensor is held in.
TEST(LowerQdq, PerChannelQdqBetweenFloatOpsKeepsItsChannels) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 4, 6, 6});
  std::vector<float> scale;
  for (int c = 0; c < 24; ++c) scale.push_back(0.01f * static_cast<float>(1 + c));
  ir::Value* qd = qdq_per_channel(b, b.conv(x, 4, 24, 3), scale, 3, DType::kS8);
  b.finish({b.op(OpKind::Relu, {qd})});
  const std::vector<Tensor> in = b.random_inputs();
  const std::vector<Tensor> want = reference::run_reference(b.g, in).value();
  Session fast = Session::create(b.g).value();
  const std::vector<Tensor> got = fast.run(in).value();  // plans on the first run
  std::string impls;
  for (const NodePlanInfo& p : fast.plan_info()) impls += p.implementation + ";";
  EXPECT_NE(impls.find("quantize_linear_per_channel__x86"), std::string::npos) << impls;
  EXPECT_NE(impls.find("channels last"), std::string::npos) << impls;  // the conv writes NHWC
  // The conv itself runs on oneDNN (FP32 within tolerance), so compare per channel: each element must
  // lie on its own channel's grid and within one step of the reference.
  const Shape& shape = want[0].shape();
  const int64_t hw = shape[2] * shape[3];
  for (int64_t i = 0; i < want[0].numel(); ++i) {
    const int64_t c = (i / hw) % shape[1];
    const float s = scale[static_cast<size_t>(c)];
    const float g = got[0].data<float>()[i];
    const float steps = g / s;  // Relu(DQ(q)) = max(q - 3, 0) * s: a whole number of this channel's steps
    ASSERT_NEAR(steps, std::nearbyint(steps), 1e-3) << "element " << i << " channel " << c << " is off its grid";
    ASSERT_NEAR(g, want[0].data<float>()[i], s * 1.001f) << "element " << i << " channel " << c;
  }
}

// A squeeze-and-excitation product in NNCF's placement: the s8 activation times a u8 gate (a
// HardSigmoid's output quantized unsigned) -> Q s8. The gate's QuantizeLinear is re-expressed in s8
// (zero point - 128), so one QMul takes both, bit-equal to the unfused ops.
TEST(LowerQdq, MixedTypeGateProductBecomesQMul) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 8, 5, 5});
  ir::Value* gate_in = b.input("gate", {2, 8, 1, 1});
  ir::Value* xd = b.qdq(x, 0.0173f, 0, DType::kS8);
  ir::Value* gd = b.qdq(b.op(OpKind::HardSigmoid, {gate_in}, ir::HardSigmoidAttrs{1.0f / 6, 0.5f}), 1.0f / 255, 0, DType::kU8);
  ir::Value* y = b.qdq(b.op(OpKind::Mul, {xd, gd}), 0.0091f, 0, DType::kS8);
  b.finish({y});
  ir::Graph before = b.g.clone();
  Result<passes::LowerQdqStats> s = passes::lower_qdq(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->qmul, 1);
  EXPECT_EQ(count_kind(b.g, OpKind::QMul), 1);
  EXPECT_EQ(count_kind(b.g, OpKind::Mul), 0);
  for (const auto& n : b.g.nodes()) {
    if (n->kind == OpKind::QuantizeLinear) EXPECT_EQ(n->output(0)->dtype, DType::kS8) << n->name;
  }
  HQP_EXPECT_OK(ir::verify(b.g));
  std::vector<Tensor> in = b.random_inputs();
  for (float& v : in[1].span<float>()) v *= 5.0f;  // the whole gate range, saturating at 0 and 1
  expect_same_outputs(before, b.g, in, 0.0);
  Session fast = Session::create(before).value();
  EXPECT_EQ(bitwise_mismatch(fast.run(in).value()[0], reference::run_reference(before, in).value()[0]), std::nullopt);
}

}  // namespace
}  // namespace hqp::test
