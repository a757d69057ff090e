// optimize_for_runtime: pass order and report on a small float network, and on the golden
// torchvision models when the build tree has them (HQP_GOLDEN_DIR; skipped otherwise).
#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "onnx/import.h"
#include "passes/pass_test_util.h"
#include "passes/pass_tolerances.h"
#include "passes/pipeline.h"

namespace hqp::test {
namespace {

using ir::OpKind;

TEST(OptimizeForRuntime, SmallNetworkEndsAsFusedOps) {
  GraphBuilder b;
  ir::Value* x = b.input("x", {2, 3, 10, 10});
  ir::Value* stem = b.op(OpKind::Relu, {b.batchnorm(b.conv(x, 3, 8, 3, 2, 1, false), 8)});
  ir::Value* h = b.op(OpKind::Relu, {b.batchnorm(b.conv(b.op(OpKind::Identity, {stem}), 8, 8, 3), 8)});
  ir::Value* tail = b.batchnorm(b.conv(h, 8, 8, 3), 8);
  ir::Value* block = b.op(OpKind::Relu, {b.op(OpKind::Add, {tail, stem})});
  ir::Value* f = b.op(OpKind::Flatten, {b.op(OpKind::GlobalAveragePool, {block})}, ir::FlattenAttrs{});
  ir::Value* logits = b.g.add_value("logits");
  ir::GemmAttrs a;
  a.trans_b = 1;
  ir::Value* d = b.op(OpKind::Dropout, {f});
  b.g.add_node(OpKind::Gemm, "fc", {d, b.init("w", b.random_f32({5, 8}, -1, 1)), b.init("c", b.random_f32({5}, -1, 1))},
               {logits}, a);
  b.finish({logits});
  ir::Graph before = b.g.clone();
  Result<passes::OptimizeReport> r = passes::optimize_for_runtime(b.g);
  HQP_ASSERT_OK(r.status());
  EXPECT_EQ(r->nodes_before, 15u);
  EXPECT_EQ(r->nodes_after, 6u);  // 3 FusedConv, GlobalAveragePool, Flatten, Gemm
  EXPECT_EQ(count_kind(b.g, OpKind::FusedConv), 3);
  ASSERT_EQ(r->passes.size(), 10u);  // skip_output_requantize is off by default
  EXPECT_EQ(r->passes[0].pass, "remove_identity");
  EXPECT_EQ(r->passes[0].rewrites, 2);
  EXPECT_EQ(r->passes[1].pass, "fold_pad");
  EXPECT_EQ(r->passes[1].rewrites, 0);  // no Pad
  EXPECT_EQ(r->passes[2].pass, "fuse_layer_norm");
  EXPECT_EQ(r->passes[2].rewrites, 0);
  EXPECT_EQ(r->passes[3].pass, "fuse_gelu");
  EXPECT_EQ(r->passes[3].rewrites, 0);
  EXPECT_EQ(r->passes[4].rewrites, 3);  // BatchNorms
  EXPECT_EQ(r->passes[5].pass, "fuse_matmul_bias");
  EXPECT_EQ(r->passes[5].rewrites, 0);  // no MatMul
  EXPECT_EQ(r->passes[6].rewrites, 2);  // stem and middle Relu
  EXPECT_EQ(r->passes[7].rewrites, 1);  // the residual Add + Relu
  EXPECT_NE(r->to_string().find("fold_batchnorm: 3 rewrites"), std::string::npos) << r->to_string();
  HQP_EXPECT_OK(ir::verify(b.g));
  expect_same_outputs(before, b.g, b.random_inputs(), kPipelineMaxRelErr);
}

// Golden models exported by tests/golden/make_golden.py into the build tree.
struct GoldenCase {
  std::string dir;
  std::filesystem::path model() const { return std::filesystem::path(HQP_GOLDEN_DIR) / dir / "model.onnx"; }
  std::filesystem::path input() const {
    return std::filesystem::path(HQP_GOLDEN_DIR) / dir / "test_data_set_0" / "input_0.pb";
  }
};

std::map<std::string, int> histogram(const ir::Graph& g) {
  std::map<std::string, int> h;
  for (const auto& n : g.nodes()) ++h[std::string(ir::op_name(n->kind))];
  return h;
}

std::string histogram_string(const ir::Graph& g) {
  std::string s;
  for (const auto& [op, n] : histogram(g)) s += fmt::format("{}{}={}", s.empty() ? "" : " ", op, n);
  return s;
}

// Imports, optimizes and compares outputs with the unoptimized graph on the golden input.
// allowed_ops: op types that may remain (empty: any); plain_convs: Convs left without post-ops
// (-1: any).
void check_golden(const GoldenCase& c, const std::set<std::string>& allowed_ops, int plain_convs) {
  if (!std::filesystem::exists(c.model())) GTEST_SKIP() << c.model() << " not generated";
  Result<ir::Graph> g = onnx_io::import_model_file(c.model().string());
  HQP_ASSERT_OK(g.status());
  Result<Tensor> input = onnx_io::read_tensor_file(c.input().string());
  HQP_ASSERT_OK(input.status());
  ir::Graph before = g->clone();
  Result<passes::OptimizeReport> r = passes::optimize_for_runtime(*g);
  HQP_ASSERT_OK(r.status());
  std::cout << c.dir << ": " << before.nodes().size() << " -> " << g->nodes().size() << " nodes\n  before: "
            << histogram_string(before) << "\n  after:  " << histogram_string(*g) << "\n"
            << r->to_string();
  HQP_EXPECT_OK(ir::verify(*g));
  if (!allowed_ops.empty()) {
    for (const auto& [op, n] : histogram(*g)) EXPECT_TRUE(allowed_ops.count(op)) << op << " left in " << c.dir;
  }
  if (plain_convs >= 0) {
    EXPECT_EQ(count_kind(*g, OpKind::Conv), plain_convs);
  }
  std::vector<Tensor> want = run_graph(before, {*input});
  std::vector<Tensor> got = run_graph(*g, {*input});
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(want.size(), 1u);
  const double err = max_relative_error(got[0], want[0]);
  std::cout << "  max relative error vs unoptimized: " << err << "\n";
  EXPECT_LE(err, kPipelineMaxRelErr);
}

// ResNet-18: the stem and every block's first conv take their Relu, every block tail its residual
// Add + Relu; only the three 1x1 downsample convs (bias, no activation) stay plain Convs.
const std::set<std::string> kResNetOps = {"FusedConv", "Conv", "MaxPool", "GlobalAveragePool", "Flatten", "Gemm"};

TEST(OptimizeForRuntimeGolden, ResNet18Opset17) {
  check_golden({"resnet18_op17"}, kResNetOps, 3);
}

TEST(OptimizeForRuntimeGolden, MobileNetV3SmallOpset17) { check_golden({"mobilenet_v3_small_op17"}, {}, -1); }

TEST(OptimizeForRuntimeGolden, ResNet18Opset13) {
  check_golden({"resnet18_op13"}, kResNetOps, 3);
}

TEST(OptimizeForRuntimeGolden, MobileNetV3SmallOpset13) { check_golden({"mobilenet_v3_small_op13"}, {}, -1); }

}  // namespace
}  // namespace hqp::test
