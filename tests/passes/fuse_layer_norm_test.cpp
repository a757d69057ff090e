// fuse_layer_norm: PyTorch's op-by-op LayerNorm export (opset < 17) becomes one LayerNormalization
// with outputs equal up to float rounding; patterns whose pieces feed other nodes stay.
#include <gtest/gtest.h>

#include "passes/fuse_layer_norm.h"
#include "passes/pass_test_util.h"

namespace hqp::test {
namespace {

using ir::OpKind;

struct Decomposed {
  ir::Value* d = nullptr;  // x - mean
  ir::Value* y = nullptr;
};

// ReduceMean(x, axes) -> Sub -> Pow 2 -> ReduceMean -> Add eps -> Sqrt -> Div [-> Mul gamma -> Add beta]
Decomposed layer_norm(GraphBuilder& b, ir::Value* x, std::vector<int64_t> axes, Shape normalized, bool affine) {
  ir::ReduceAttrs r;
  r.axes = axes;
  ir::Value* mean = b.op(OpKind::ReduceMean, {x}, r);
  ir::Value* d = b.op(OpKind::Sub, {x, mean});
  ir::Value* p = b.op(OpKind::Pow, {d, b.init("two", Tensor::scalar<float>(2.0f))});
  ir::Value* v = b.op(OpKind::ReduceMean, {p}, r);
  ir::Value* ve = b.op(OpKind::Add, {v, b.init("eps", Tensor::scalar<float>(1e-6f))});
  ir::Value* y = b.op(OpKind::Div, {d, b.op(OpKind::Sqrt, {ve})});
  if (affine) {
    y = b.op(OpKind::Mul, {y, b.init("gamma", b.random_f32(normalized, 0.5f, 1.5f))});
    y = b.op(OpKind::Add, {y, b.init("beta", b.random_f32(normalized, -0.5f, 0.5f))});
  }
  return {d, y};
}

TEST(FuseLayerNorm, ChannelsLastAndMultiAxisPatternsFuse) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 5, 5, 16});
  ir::Value* a = layer_norm(b, x, {-1}, {16}, true).y;
  ir::Value* c = layer_norm(b, a, {2, 3}, {5, 16}, false).y;  // no affine part: Scale of ones
  b.finish({c});
  ir::Graph before = b.g.clone();
  Result<passes::FuseLayerNormStats> s = passes::fuse_layer_norm(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->fused, 2);
  EXPECT_EQ(count_kind(b.g, OpKind::LayerNormalization), 2);
  EXPECT_EQ(b.g.nodes().size(), 2u);
  HQP_EXPECT_OK(ir::verify(b.g));
  expect_same_outputs(before, b.g, b.random_inputs(), 1e-5);
}

TEST(FuseLayerNorm, SymbolicBatchFuses) {
  GraphBuilder b;
  ir::Value* x = b.g.add_input("x", DType::kF32, dims({"N", 3, 8}));  // as exporters write the batch
  b.finish({layer_norm(b, x, {-1}, {8}, true).y});
  Result<passes::FuseLayerNormStats> s = passes::fuse_layer_norm(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->fused, 1);
  HQP_EXPECT_OK(ir::verify(b.g));
}

TEST(FuseLayerNorm, LeavesPatternsWhosePiecesAreReadElsewhere) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 3, 8});
  Decomposed ln = layer_norm(b, x, {-1}, {8}, true);
  ir::Value* extra = b.op(OpKind::Relu, {ln.d});  // d feeds a third node
  b.finish({ln.y, extra});
  Result<passes::FuseLayerNormStats> s = passes::fuse_layer_norm(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->fused, 0);
  EXPECT_EQ(count_kind(b.g, OpKind::LayerNormalization), 0);
}

}  // namespace
}  // namespace hqp::test
