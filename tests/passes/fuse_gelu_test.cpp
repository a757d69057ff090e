// fuse_gelu: PyTorch's op-by-op GELU export becomes one Gelu whose reference kernel equals the
// unfused graph bit for bit; the fast runtime runs it on oneDNN's eltwise within float tolerance.
#include <gtest/gtest.h>

#include "common/tensor_compare.h"
#include "kernels/ref/elementwise.h"
#include "passes/fuse_gelu.h"
#include "passes/pass_test_util.h"
#include "reference/executor.h"
#include "runtime/session.h"

namespace hqp::test {
namespace {

using ir::OpKind;

// (x * (Erf(x / sqrt2) + 1)) * 0.5, with the operand orders `swap` flips.
ir::Value* gelu(GraphBuilder& b, ir::Value* x, float sqrt2, bool swap) {
  ir::Value* d = b.op(OpKind::Div, {x, b.init("sqrt2", Tensor::scalar<float>(sqrt2))});
  ir::Value* e = b.op(OpKind::Erf, {d});
  ir::Value* one = b.init("one", Tensor::scalar<float>(1.0f));
  ir::Value* a = b.op(OpKind::Add, swap ? std::vector<ir::Value*>{one, e} : std::vector<ir::Value*>{e, one});
  ir::Value* m = b.op(OpKind::Mul, swap ? std::vector<ir::Value*>{a, x} : std::vector<ir::Value*>{x, a});
  ir::Value* half = b.init("half", Tensor::scalar<float>(0.5f));
  return b.op(OpKind::Mul, swap ? std::vector<ir::Value*>{half, m} : std::vector<ir::Value*>{m, half});
}

TEST(FuseGelu, BothOperandOrdersFuseBitExact) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 7, 7, 24});
  ir::Value* y = gelu(b, gelu(b, x, kernels::kGeluSqrt2, false), kernels::kGeluSqrt2, true);
  b.finish({y});
  ir::Graph before = b.g.clone();
  Result<passes::FuseGeluStats> s = passes::fuse_gelu(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->fused, 2);
  EXPECT_EQ(count_kind(b.g, OpKind::Gelu), 2);
  EXPECT_EQ(b.g.nodes().size(), 2u);
  std::vector<Tensor> in = b.random_inputs();
  for (Tensor& t : in) {
    for (float& v : t.span<float>()) v *= 4.0f;
  }
  expect_same_outputs(before, b.g, in, 0.0);
  // The fast runtime (oneDNN gelu_erf) agrees within float tolerance.
  Session fast = Session::create(before).value();
  const std::vector<Tensor> got = fast.run(in).value();
  const std::vector<Tensor> want = reference::run_reference(before, in).value();
  EXPECT_LE(max_relative_error(got[0], want[0]), 1e-5);
  std::string impls;
  for (const NodePlanInfo& p : fast.plan_info()) impls += p.implementation + ";";
  EXPECT_NE(impls.find("gelu_erf_f32__onednn"), std::string::npos) << impls;
}

TEST(FuseGelu, OtherConstantsStay) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {3, 5});
  b.finish({gelu(b, x, 1.4142f, false)});  // not float(sqrt(2))
  Result<passes::FuseGeluStats> s = passes::fuse_gelu(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->fused, 0);
  EXPECT_EQ(count_kind(b.g, OpKind::Erf), 1);
}

}  // namespace
}  // namespace hqp::test
