// fuse_matmul_bias: a MatMul by a constant matrix and the bias Add after it become one FusedGemm
// over the rows of A (rank > 2 allowed), which then takes the GELU after it; the fast runtime runs
// the result as one oneDNN inner product per Linear.
#include <gtest/gtest.h>

#include "common/tensor_compare.h"
#include "passes/fuse_matmul_bias.h"
#include "passes/pass_test_util.h"
#include "passes/pass_tolerances.h"
#include "passes/pipeline.h"
#include "reference/executor.h"
#include "runtime/session.h"

namespace hqp::test {
namespace {

using ir::OpKind;

// ConvNeXt's pointwise MLP on channels-last activations: Linear (bias on the right of the Add),
// GELU, Linear (bias [1, 1, 1, C] on the left).
TEST(FuseMatMulBias, LinearLayersOnRank4ActivationsFuse) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 5, 5, 16});
  ir::Value* h = b.op(OpKind::MatMul, {x, b.init("w1", b.random_f32({16, 32}, -0.3f, 0.3f))});
  h = b.op(OpKind::Add, {h, b.init("b1", b.random_f32({32}, -0.1f, 0.1f))});
  h = b.op(OpKind::Gelu, {h});
  ir::Value* y = b.op(OpKind::MatMul, {h, b.init("w2", b.random_f32({32, 16}, -0.3f, 0.3f))});
  y = b.op(OpKind::Add, {b.init("b2", b.random_f32({1, 1, 1, 16}, -0.1f, 0.1f)), y});
  b.finish({y});
  ir::Graph before = b.g.clone();
  Result<passes::FuseMatMulBiasStats> s = passes::fuse_matmul_bias(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->fused, 2);
  EXPECT_EQ(s->with_bias, 2);
  EXPECT_EQ(count_kind(b.g, OpKind::FusedGemm), 2);
  EXPECT_EQ(count_kind(b.g, OpKind::Add), 0);
  ASSERT_TRUE(b.g.outputs()[0]->shape.has_value());
  EXPECT_EQ(ir::dims_to_string(*b.g.outputs()[0]->shape), "[2,5,5,16]");
  const std::vector<Tensor> in = b.random_inputs();
  expect_same_outputs(before, b.g, in, kPipelineMaxRelErr);

  // The whole pipeline: the GELU joins the first FusedGemm; the fast plan is two inner products.
  ir::Graph optimized = before.clone();
  HQP_ASSERT_OK(passes::optimize_for_runtime(optimized).status());
  EXPECT_EQ(count_kind(optimized, OpKind::FusedGemm), 2);
  EXPECT_EQ(count_kind(optimized, OpKind::Gelu), 0);
  EXPECT_EQ(optimized.nodes().size(), 2u);
  Session fast = Session::create(before).value();
  const std::vector<Tensor> got = fast.run(in).value();
  const std::vector<Tensor> want = reference::run_reference(before, in).value();
  EXPECT_LE(max_relative_error(got[0], want[0]), 1e-5);
  ASSERT_EQ(fast.plan_info().size(), 2u);
  for (const NodePlanInfo& p : fast.plan_info()) {
    EXPECT_EQ(p.implementation.rfind("gemm_f32__onednn", 0), 0u) << p.node << ": " << p.implementation;
  }
}

// What stays: a bias that broadcasts y to a higher rank or along another axis, a computed bias, a
// MatMul whose output is read twice (the Add is not its only reader: only the MatMul fuses), a
// computed B, a 1-D A.
TEST(FuseMatMulBias, LeavesWhatIsNotABias) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {3, 8});
  ir::Value* w = b.init("w", b.random_f32({8, 4}, -1, 1));
  ir::Value* wide = b.op(OpKind::Add, {b.op(OpKind::MatMul, {x, w}), b.init("b3", b.random_f32({2, 1, 4}, -1, 1))});
  ir::Value* col = b.op(OpKind::Add, {b.op(OpKind::MatMul, {x, w}), b.init("bc", b.random_f32({3, 1}, -1, 1))});
  ir::Value* m = b.op(OpKind::MatMul, {x, w});
  ir::Value* computed = b.op(OpKind::Add, {m, b.op(OpKind::Relu, {b.input("z", {4})})});
  ir::Value* twice = b.op(OpKind::Mul, {m, m});
  ir::Value* dyn = b.op(OpKind::MatMul, {x, b.input("wx", {8, 4})});
  ir::Value* vec = b.op(OpKind::MatMul, {b.input("v", {8}), w});
  b.finish({wide, col, computed, twice, dyn, vec});
  ir::Graph before = b.g.clone();
  Result<passes::FuseMatMulBiasStats> s = passes::fuse_matmul_bias(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->with_bias, 0);
  EXPECT_EQ(s->fused, 3);  // the MatMuls under `wide`, `col` and `computed` / `twice`, each alone
  EXPECT_EQ(count_kind(b.g, OpKind::MatMul), 2);
  EXPECT_EQ(count_kind(b.g, OpKind::Add), 3);
  expect_same_outputs(before, b.g, b.random_inputs(), kPipelineMaxRelErr);
}

}  // namespace
}  // namespace hqp::test
