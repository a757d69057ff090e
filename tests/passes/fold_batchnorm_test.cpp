// fold_batchnorm: BN into Conv / Gemm weights, equivalence within kFoldBatchNormMaxRelErr,
// originals untouched, and the cases that must not fold.
#include <gtest/gtest.h>

#include "passes/fold_batchnorm.h"
#include "passes/pass_test_util.h"
#include "passes/pass_tolerances.h"

namespace hqp::test {
namespace {

using ir::OpKind;

TEST(FoldBatchNorm, FoldsIntoConvWithAndWithoutBiasAndDepthwise) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 3, 9, 7});
  ir::Value* a = b.op(OpKind::Relu, {b.batchnorm(b.conv(x, 3, 8, 3), 8)});
  ir::Value* d = b.batchnorm(b.conv(a, 8, 8, 3, 2, 8, /*bias=*/false), 8);   // depthwise, stride 2
  ir::Value* y = b.g.add_value("y");
  b.g.add_node(OpKind::BatchNormalization, "bn_out", {b.conv(d, 8, 5, 1), b.init("g", b.random_f32({5}, 0.5f, 1.5f)),
               b.init("be", b.random_f32({5}, -1, 1)), b.init("m", b.random_f32({5}, -1, 1)),
               b.init("v", b.random_f32({5}, 0.1f, 3.0f))}, {y});
  b.finish({y});
  ir::Graph before = b.g.clone();
  // Deep copies of every initializer, to check the pass never wrote into shared storage.
  std::vector<Tensor> originals;
  for (const ir::Value* v : before.initializers()) originals.push_back(v->data.clone());
  Result<passes::FoldBatchNormStats> s = passes::fold_batchnorm(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->folded_into_conv, 3);
  EXPECT_EQ(count_kind(b.g, OpKind::BatchNormalization), 0);
  EXPECT_EQ(count_kind(b.g, OpKind::Conv), 3);
  EXPECT_EQ(b.g.outputs()[0]->name, "y");
  HQP_EXPECT_OK(ir::verify(b.g));
  expect_same_outputs(before, b.g, b.random_inputs(), kFoldBatchNormMaxRelErr);
  const std::vector<ir::Value*> inits = before.initializers();
  for (size_t i = 0; i < inits.size(); ++i) EXPECT_TRUE(inits[i]->data.equals(originals[i])) << inits[i]->name;
}

TEST(FoldBatchNorm, FoldsIntoGemmBothWeightLayouts) {
  for (int64_t trans_b : {0, 1}) {
    GraphBuilder b;
    ir::Value* x = b.input("x", {4, 6});
    ir::GemmAttrs a;
    a.trans_b = trans_b;
    a.beta = 0.5f;
    Shape w_shape = trans_b ? Shape{5, 6} : Shape{6, 5};
    ir::Value* g = b.op(OpKind::Gemm, {x, b.init("w", b.random_f32(w_shape, -1, 1)), b.init("c", b.random_f32({5}, -1, 1))}, a);
    b.finish({b.batchnorm(g, 5)});
    ir::Graph before = b.g.clone();
    Result<passes::FoldBatchNormStats> s = passes::fold_batchnorm(b.g);
    HQP_ASSERT_OK(s.status());
    EXPECT_EQ(s->folded_into_gemm, 1) << "trans_b=" << trans_b;
    EXPECT_EQ(count_kind(b.g, OpKind::BatchNormalization), 0);
    expect_same_outputs(before, b.g, b.random_inputs(), kFoldBatchNormMaxRelErr);
  }
}

TEST(FoldBatchNorm, DoesNotFoldSharedConvOutputOrStandaloneBn) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {1, 3, 6, 6});
  ir::Value* c = b.conv(x, 3, 4, 3);
  ir::Value* bn = b.batchnorm(c, 4);        // c also read by the Relu below: no fold
  ir::Value* r = b.op(OpKind::Relu, {c});
  ir::Value* standalone = b.batchnorm(x, 3);  // no conv before it
  b.finish({bn, r, standalone});
  ir::Graph before = b.g.clone();
  Result<passes::FoldBatchNormStats> s = passes::fold_batchnorm(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->folded_into_conv, 0);
  EXPECT_EQ(count_kind(b.g, OpKind::BatchNormalization), 2);
  expect_same_outputs(before, b.g, b.random_inputs(), 0.0);
}

TEST(FoldBatchNorm, DoesNotFoldWhenConvOutputIsAGraphOutput) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {1, 3, 6, 6});
  ir::Value* c = b.conv(x, 3, 4, 3);
  b.finish({c, b.batchnorm(c, 4)});
  HQP_ASSERT_OK(passes::fold_batchnorm(b.g).status());
  EXPECT_EQ(count_kind(b.g, OpKind::BatchNormalization), 1);
}

}  // namespace
}  // namespace hqp::test
