// fold_pad: zero Pads fold into the next Conv / AveragePool window (PyTorch's padded average
// pooling, TensorFlow's explicit conv padding) with unchanged outputs; other Pads stay.
#include <gtest/gtest.h>

#include "passes/fold_pad.h"
#include "passes/pass_test_util.h"

namespace hqp::test {
namespace {

using ir::OpKind;

ir::PoolAttrs avg_pool(int64_t k, int64_t stride, int64_t count_include_pad, std::vector<int64_t> pads = {}) {
  ir::PoolAttrs a;
  a.kernel_shape = {k, k};
  a.strides = {stride, stride};
  a.pads = std::move(pads);
  a.count_include_pad = count_include_pad;
  return a;
}

TEST(FoldPad, IntoAveragePoolAndConvAndZeroPadRemoved) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 3, 7, 6});
  // PyTorch's avg_pool2d(3, stride 1, padding 1): Pad + AveragePool without pads.
  ir::Value* p1 = b.op(OpKind::Pad, {x, b.init("pads1", s64_vector({0, 0, 1, 1, 0, 0, 1, 1}))}, ir::PadAttrs{});
  ir::Value* a1 = b.op(OpKind::AveragePool, {p1}, avg_pool(3, 1, 0));
  // Asymmetric Pad (with an explicit zero value) into a strided conv that has pads of its own.
  ir::Value* p2 = b.op(OpKind::Pad,
                       {a1, b.init("pads2", s64_vector({0, 0, 0, 2, 0, 0, 1, 0})), b.init("zero", Tensor::scalar<float>(0))},
                       ir::PadAttrs{});
  ir::ConvAttrs conv;
  conv.strides = {2, 2};
  conv.pads = {1, 0, 0, 1};
  ir::Value* c = b.op(OpKind::Conv, {p2, b.init("w", b.random_f32({4, 3, 3, 3}, -1, 1))}, conv);
  // DenseNet's transitions: a Pad of nothing.
  ir::Value* p3 = b.op(OpKind::Pad, {c, b.init("pads3", s64_vector({0, 0, 0, 0, 0, 0, 0, 0}))}, ir::PadAttrs{});
  ir::Value* y = b.op(OpKind::AveragePool, {p3}, avg_pool(2, 2, 0));
  b.finish({y});
  ir::Graph before = b.g.clone();
  Result<passes::FoldPadStats> s = passes::fold_pad(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->into_avg_pool, 1);
  EXPECT_EQ(s->into_conv, 1);
  EXPECT_EQ(s->removed, 1);
  EXPECT_EQ(count_kind(b.g, OpKind::Pad), 0);
  HQP_EXPECT_OK(ir::verify(b.g));
  expect_same_outputs(before, b.g, b.random_inputs(), 1e-6);
}

TEST(FoldPad, KeepsPadsThatDoNotFold) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {1, 2, 6, 6});
  // Reflect padding; a non-zero value; a channel pad; a pool that excludes its own padding; MaxPool.
  ir::Value* r = b.op(OpKind::Pad, {x, b.init("p", s64_vector({0, 0, 1, 1, 0, 0, 1, 1}))},
                      ir::PadAttrs{ir::PadMode::kReflect, {}, {}});
  ir::Value* ra = b.op(OpKind::AveragePool, {r}, avg_pool(3, 1, 0));
  ir::Value* v = b.op(OpKind::Pad, {ra, b.init("p", s64_vector({0, 0, 1, 1, 0, 0, 1, 1})), b.init("v", Tensor::scalar<float>(1))},
                      ir::PadAttrs{});
  ir::Value* va = b.op(OpKind::AveragePool, {v}, avg_pool(3, 1, 0));
  ir::Value* ch = b.op(OpKind::Pad, {va, b.init("p", s64_vector({0, 1, 0, 0, 0, 1, 0, 0}))}, ir::PadAttrs{});
  ir::Value* cha = b.op(OpKind::AveragePool, {ch}, avg_pool(3, 1, 0));
  ir::Value* e = b.op(OpKind::Pad, {cha, b.init("p", s64_vector({0, 0, 1, 1, 0, 0, 1, 1}))}, ir::PadAttrs{});
  ir::Value* ea = b.op(OpKind::AveragePool, {e}, avg_pool(3, 1, 0, {1, 1, 1, 1}));
  ir::Value* m = b.op(OpKind::Pad, {ea, b.init("p", s64_vector({0, 0, 1, 1, 0, 0, 1, 1}))}, ir::PadAttrs{});
  ir::PoolAttrs mp = avg_pool(3, 1, 0);
  ir::Value* y = b.op(OpKind::MaxPool, {m}, mp);
  b.finish({y});
  ir::Graph before = b.g.clone();
  Result<passes::FoldPadStats> s = passes::fold_pad(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->into_avg_pool + s->into_conv + s->removed, 0);
  EXPECT_EQ(count_kind(b.g, OpKind::Pad), 5);
  expect_same_outputs(before, b.g, b.random_inputs(), 0.0);
}

}  // namespace
}  // namespace hqp::test
