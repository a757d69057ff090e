// Tests of passes::fold_constants: Shape of a statically shaped value folds through Gather /
// Unsqueeze / Concat into a constant Reshape target; symbolic shapes are left alone; folding never
// changes what the graph computes (checked by running the reference executor before and after).
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "ir/verifier.h"
#include "passes/fold_constants.h"
#include "reference/executor.h"

// Attribute structs are written with designated initializers; GCC 12 warns about the omitted
// (defaulted) members under -Wextra.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace hqp {
namespace {

using ir::Dims;
using ir::Graph;
using ir::Node;
using ir::OpKind;
using ir::Value;
using test::dims;

// x[B,8,2,2] -> Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])) -> [B,32] -> Gemm -> [B,3]
// The torch.flatten pattern of old PyTorch exports, followed by a linear layer.
Graph flatten_chain_graph(Dims x_dims) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, std::move(x_dims));
  Value* zero = g.add_initializer("zero", Tensor::scalar<int64_t>(0));
  Value* axes = g.add_initializer("axes", test::s64_vector({0}));
  Value* minus_one = g.add_initializer("minus_one", test::s64_vector({-1}));
  Value* w = g.add_initializer("fc.weight", test::iota_f32({3, 32}, 0.125f, -6.0f));
  Value* b = g.add_initializer("fc.bias", test::iota_f32({3}, 1.0f, -1.0f));
  Value* shape = g.add_value("shape");
  Value* dim0 = g.add_value("dim0");
  Value* dim0_1d = g.add_value("dim0_1d");
  Value* target = g.add_value("target");
  Value* flat = g.add_value("flat");
  Value* logits = g.add_value("logits");
  g.add_node(OpKind::Shape, "shape_node", {x}, {shape});
  g.add_node(OpKind::Gather, "gather", {shape, zero}, {dim0}, ir::AxisAttrs{.axis = 0});
  g.add_node(OpKind::Unsqueeze, "unsqueeze", {dim0, axes}, {dim0_1d});
  g.add_node(OpKind::Concat, "concat", {dim0_1d, minus_one}, {target}, ir::AxisAttrs{.axis = 0, .present = true});
  g.add_node(OpKind::Reshape, "reshape", {x, target}, {flat});
  g.add_node(OpKind::Gemm, "fc", {flat, w, b}, {logits}, ir::GemmAttrs{.trans_b = 1});
  g.add_output(logits);
  return g;
}

std::vector<std::string> node_names(const Graph& g) {
  std::vector<std::string> out;
  for (const auto& n : g.nodes()) out.push_back(n->name);
  return out;
}

std::vector<Tensor> run(const Graph& g, const std::vector<Tensor>& inputs) {
  Result<std::vector<Tensor>> r = reference::run_reference(g, inputs);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : std::vector<Tensor>{};
}

void expect_bit_identical(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].equals(b[i])) << "output " << i << ": " << shape_to_string(a[i].shape()) << " vs "
                                   << shape_to_string(b[i].shape());
  }
}

TEST(FoldConstants, StaticShapeChainBecomesAConstantReshapeTarget) {
  Graph g = flatten_chain_graph(dims({2, 8, 2, 2}));
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const Graph before = g.clone();

  Result<passes::FoldStats> stats = passes::fold_constants(g);
  HQP_ASSERT_OK(stats.status());
  EXPECT_EQ(stats->folded_nodes, 4);  // Shape, Gather, Unsqueeze, Concat
  EXPECT_EQ(node_names(g), (std::vector<std::string>{"reshape", "fc"}));

  const Node* reshape = g.find_node("reshape");
  ASSERT_NE(reshape, nullptr);
  const Value* target = reshape->input(1);
  ASSERT_TRUE(target->is_initializer());
  EXPECT_EQ(target->name, "target");
  EXPECT_TRUE(target->data.equals(test::s64_vector({2, -1})));
  EXPECT_EQ(test::shape_of(target), "[2]");
  EXPECT_EQ(test::shape_of(reshape->output(0)), "[2,32]");
  // The intermediate shape values and the now-unused constants are gone.
  for (const char* gone : {"shape", "dim0", "dim0_1d", "zero", "axes", "minus_one"}) {
    EXPECT_EQ(g.find_value(gone), nullptr) << gone;
  }
  HQP_EXPECT_OK(ir::verify(g));

  const std::vector<Tensor> in = {test::iota_f32({2, 8, 2, 2}, 0.25f, -4.0f)};
  const std::vector<Tensor> want = run(before, in);
  const std::vector<Tensor> got = run(g, in);
  expect_bit_identical(got, want);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].shape(), (Shape{2, 3}));
}

TEST(FoldConstants, SymbolicBatchIsLeftAlone) {
  Graph g = flatten_chain_graph(dims({"batch", 8, 2, 2}));
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<std::string> names_before = node_names(g);
  const Graph before = g.clone();

  Result<passes::FoldStats> stats = passes::fold_constants(g);
  HQP_ASSERT_OK(stats.status());
  EXPECT_EQ(stats->folded_nodes, 0);
  EXPECT_EQ(node_names(g), names_before);
  EXPECT_FALSE(g.find_value("shape")->is_initializer());
  EXPECT_FALSE(g.find_value("target")->is_initializer());
  // Inference still resolves the Reshape through the symbolic chain.
  EXPECT_EQ(test::shape_of(g.find_value("flat")), "[batch,32]");
  EXPECT_EQ(test::shape_of(g.find_value("logits")), "[batch,3]");

  for (int64_t batch : {1, 3}) {
    const std::vector<Tensor> in = {test::iota_f32({batch, 8, 2, 2}, 0.5f, -7.0f)};
    const std::vector<Tensor> got = run(g, in);
    expect_bit_identical(got, run(before, in));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].shape(), (Shape{batch, 3}));
  }
}

// A weight computed from initializers (w * scale) folds into one initializer under the Mul's
// output name, and the inputs it no longer needs are removed.
TEST(FoldConstants, ArithmeticOnInitializersFolds) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({"batch", 2, 3, 3}));
  Value* w = g.add_initializer("w", test::iota_f32({4, 2, 1, 1}, 1.0f));
  Value* scale = g.add_initializer("scale", test::full_f32({4, 1, 1, 1}, 0.5f));
  Value* ws = g.add_value("w_scaled");
  Value* y = g.add_value("y");
  g.add_node(OpKind::Mul, "scale_w", {w, scale}, {ws});
  g.add_node(OpKind::Conv, "conv", {x, ws}, {y});
  g.add_output(y);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const Graph before = g.clone();

  Result<passes::FoldStats> stats = passes::fold_constants(g);
  HQP_ASSERT_OK(stats.status());
  EXPECT_EQ(stats->folded_nodes, 1);
  EXPECT_EQ(node_names(g), (std::vector<std::string>{"conv"}));
  const Value* folded = g.find_node("conv")->input(1);
  ASSERT_TRUE(folded->is_initializer());
  EXPECT_EQ(folded->name, "w_scaled");
  EXPECT_TRUE(folded->data.equals(test::iota_f32({4, 2, 1, 1}, 0.5f)));
  EXPECT_EQ(g.find_value("scale"), nullptr);
  EXPECT_EQ(g.find_value("w"), nullptr);

  const std::vector<Tensor> in = {test::iota_f32({2, 2, 3, 3}, 1.0f, -9.0f)};
  expect_bit_identical(run(g, in), run(before, in));
}

TEST(FoldConstants, ConstantGraphOutputKeepsItsName) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({2, 5}));
  Value* shape = g.add_value("x_shape");
  Value* y = g.add_value("y");
  g.add_node(OpKind::Shape, "shape", {x}, {shape});
  g.add_node(OpKind::Relu, "relu", {x}, {y});
  g.add_output(shape);
  g.add_output(y);
  HQP_ASSERT_OK(ir::verify_and_infer(g));

  Result<passes::FoldStats> stats = passes::fold_constants(g);
  HQP_ASSERT_OK(stats.status());
  EXPECT_EQ(stats->folded_nodes, 1);
  ASSERT_EQ(g.outputs().size(), 2u);
  EXPECT_EQ(g.outputs()[0]->name, "x_shape");
  EXPECT_TRUE(g.outputs()[0]->is_initializer());

  const std::vector<Tensor> got = run(g, {test::iota_f32({2, 5})});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].equals(test::s64_vector({2, 5})));
}

TEST(FoldConstants, LargeResultsAreNotFolded) {
  // 300k floats = 1.2 MB, above the pass's 1 MiB limit on folded values.
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({300000}));
  Value* a = g.add_initializer("a", test::full_f32({300000}, 1.0f));
  Value* b = g.add_initializer("b", test::full_f32({300000}, 2.0f));
  Value* ab = g.add_value("ab");
  Value* y = g.add_value("y");
  g.add_node(OpKind::Add, "add_consts", {a, b}, {ab});
  g.add_node(OpKind::Add, "add_x", {x, ab}, {y});
  g.add_output(y);
  Result<passes::FoldStats> stats = passes::fold_constants(g);
  HQP_ASSERT_OK(stats.status());
  EXPECT_EQ(stats->folded_nodes, 0);
  EXPECT_EQ(node_names(g), (std::vector<std::string>{"add_consts", "add_x"}));
}

}  // namespace
}  // namespace hqp
