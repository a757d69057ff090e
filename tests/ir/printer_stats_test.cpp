// Tests of the IR text dump (ir::dump, format_attrs, format_value_type) and of model statistics
// (ir::compute_stats: parameters and MACs at batch 1) on hand-built graphs with hand-computed values.
#include <string>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "ir/model_stats.h"
#include "ir/printer.h"
#include "ir/verifier.h"

// Attribute structs are written with designated initializers; GCC 12 warns about the omitted
// (defaulted) members under -Wextra.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace hqp::ir {
namespace {

using test::dims;

// x[batch,3,8,8] -> Conv(8, 3x3, s2, p1) -> Relu -> Clip(_, max) -> out
struct PrintedGraph {
  Graph g;
  PrintedGraph() {
    Value* x = g.add_input("x", DType::kF32, dims({"batch", 3, 8, 8}));
    Value* w = g.add_initializer("w", test::full_f32({8, 3, 3, 3}, 0.0f));
    Value* b = g.add_initializer("b", test::full_f32({8}, 0.0f));
    Value* maxv = g.add_initializer("six", Tensor::scalar<float>(6.0f));
    Value* y = g.add_value("y");
    Value* z = g.add_value("z");
    Value* out = g.add_value("out");
    g.add_node(OpKind::Conv, "conv1", {x, w, b}, {y}, ConvAttrs{.strides = {2, 2}, .pads = {1, 1, 1, 1}});
    g.add_node(OpKind::Relu, "act", {y}, {z});
    g.add_node(OpKind::Clip, "clip", {z, nullptr, maxv}, {out});
    g.add_output(out);
  }
};

TEST(Printer, DumpOfAnInferredGraph) {
  PrintedGraph p;
  HQP_ASSERT_OK(verify_and_infer(p.g));
  const std::string want =
      "graph 'hqp' opset=17 ir_version=8\n"
      "  input  x: f32[batch,3,8,8]\n"
      "  init   w: f32[8,3,3,3]\n"
      "  init   b: f32[8]\n"
      "  init   six: f32[]\n"
      "  %y: f32[batch,8,4,4] = Conv(%x, %w, %b) {strides=[2,2], pads=[1,1,1,1]}  # conv1\n"
      "  %z: f32[batch,8,4,4] = Relu(%y)  # act\n"
      "  %out: f32[batch,8,4,4] = Clip(%z, _, %six)  # clip\n"
      "  output out: f32[batch,8,4,4]\n";
  EXPECT_EQ(dump(p.g), want);
}

TEST(Printer, DumpWithoutInitializersCountsThem) {
  PrintedGraph p;
  const std::string d = dump(p.g, /*with_initializers=*/false);
  EXPECT_NE(d.find("  (3 initializers)\n"), std::string::npos) << d;
  EXPECT_EQ(d.find("init "), std::string::npos) << d;
}

TEST(Printer, DumpBeforeInferenceShowsUnknownRanks) {
  PrintedGraph p;
  const std::string d = dump(p.g);
  EXPECT_NE(d.find("  %z: undefined[?] = Relu(%y)  # act\n"), std::string::npos) << d;
}

TEST(Printer, DumpListsNodesInTopologicalOrder) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({2}));
  Value* a = g.add_value("a");
  Value* b = g.add_value("b");
  g.add_node(OpKind::Relu, "second", {a}, {b});
  g.add_node(OpKind::Sigmoid, "first", {x}, {a});
  g.add_output(b);
  const std::string d = dump(g);
  const size_t first = d.find("# first");
  const size_t second = d.find("# second");
  ASSERT_NE(first, std::string::npos) << d;
  ASSERT_NE(second, std::string::npos) << d;
  EXPECT_LT(first, second) << d;
}

TEST(Printer, FormatAttrs) {
  EXPECT_EQ(format_attrs(NoAttrs{}), "");
  EXPECT_EQ(format_attrs(ConvAttrs{}), "");
  EXPECT_EQ(format_attrs(ConvAttrs{.kernel_shape = {3, 3}, .dilations = {2, 2}, .group = 4,
                                   .auto_pad = AutoPad::kSameLower}),
            "kernel_shape=[3,3], dilations=[2,2], group=4, auto_pad=SAME_LOWER");
  EXPECT_EQ(format_attrs(PoolAttrs{.kernel_shape = {3, 3}, .strides = {2, 2}, .ceil_mode = 1}),
            "kernel_shape=[3,3], strides=[2,2], ceil_mode=1");
  EXPECT_EQ(format_attrs(GemmAttrs{.alpha = 0.5f, .trans_b = 1}), "alpha=0.5, transB=1");
  EXPECT_EQ(format_attrs(FlattenAttrs{}), "axis=1");
  EXPECT_EQ(format_attrs(SoftmaxAttrs{}), "axis=-1");
  EXPECT_EQ(format_attrs(AxisAttrs{.axis = 0, .present = false}), "");
  EXPECT_EQ(format_attrs(AxisAttrs{.axis = 0, .present = true}), "axis=0");
  EXPECT_EQ(format_attrs(AxesAttrs{.axes = std::vector<int64_t>{2, 3}}), "axes=[2,3]");
  EXPECT_EQ(format_attrs(ClipAttrs{.min = 0.0f, .max = 6.0f}), "min=0, max=6");
  EXPECT_EQ(format_attrs(ReshapeAttrs{.allowzero = 1}), "allowzero=1");
  EXPECT_EQ(format_attrs(TransposeAttrs{.perm = {0, 2, 3, 1}}), "perm=[0,2,3,1]");
  EXPECT_EQ(format_attrs(ConstantAttrs{.value = test::s64_vector({1, -1})}), "value=s64[2]");
  EXPECT_EQ(format_attrs(ConstantAttrs{.value = test::full_f32({2, 3}, 1.0f)}), "value=f32[2,3]");
}

TEST(Printer, FormatValueTypeWithQuantization) {
  Graph g;
  Value* v = g.add_input("q", DType::kU8, dims({"batch", 16}));
  v->quant = QuantParams{{0.25f}, {128}, std::nullopt, DType::kU8};
  EXPECT_EQ(format_value_type(*v), "u8[batch,16] quant(scale=0.25, zp=128)");
  v->quant = QuantParams{std::vector<float>(16, 0.5f), std::vector<int32_t>(16, 0), int64_t{1}, DType::kS8};
  EXPECT_EQ(format_value_type(*v), "u8[batch,16] quant(per-axis 1, 16 scales)");
  Value* unknown = g.add_value("u");
  EXPECT_EQ(format_value_type(*unknown), "undefined[?]");
}

// ---------------------------------------------------------------------------------------------
// compute_stats on a hand-built conv + gemm classifier. MACs at batch 1:
//   conv1  Conv 3->8, 3x3, s2, p1, 8x8 -> 4x4:  OC*OH*OW*(IC/G)*KH*KW = 8*4*4*3*3*3 = 3456
//   dw     Conv depthwise 8, 3x3, p1, 4x4:       8*4*4*(8/8)*3*3       = 1152
//   fc     Gemm [1,128] x [128,10]^T:            M*N*K = 1*10*128      = 1280
// Params (float initializers): conv1 8*27 + 8 = 224, dw 8*9 = 72, fc 10*128 + 10 = 1290; the s64
// reshape target does not count.
TEST(ModelStats, ConvGemmClassifierByHand) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({"batch", 3, 8, 8}));
  Value* w1 = g.add_initializer("w1", test::full_f32({8, 3, 3, 3}, 0.1f));
  Value* b1 = g.add_initializer("b1", test::full_f32({8}, 0.0f));
  Value* wdw = g.add_initializer("wdw", test::full_f32({8, 1, 3, 3}, 0.1f));
  Value* target = g.add_initializer("target", test::s64_vector({0, -1}));
  Value* wfc = g.add_initializer("wfc", test::full_f32({10, 128}, 0.1f));
  Value* bfc = g.add_initializer("bfc", test::full_f32({10}, 0.0f));
  Value* y1 = g.add_value("y1");
  Value* y2 = g.add_value("y2");
  Value* y3 = g.add_value("y3");
  Value* flat = g.add_value("flat");
  Value* logits = g.add_value("logits");
  g.add_node(OpKind::Conv, "conv1", {x, w1, b1}, {y1}, ConvAttrs{.strides = {2, 2}, .pads = {1, 1, 1, 1}});
  g.add_node(OpKind::Conv, "dw", {y1, wdw}, {y2}, ConvAttrs{.pads = {1, 1, 1, 1}, .group = 8});
  g.add_node(OpKind::Relu, "relu", {y2}, {y3});
  g.add_node(OpKind::Reshape, "flatten", {y3, target}, {flat});
  g.add_node(OpKind::Gemm, "fc", {flat, wfc, bfc}, {logits}, GemmAttrs{.trans_b = 1});
  g.add_output(logits);
  HQP_ASSERT_OK(verify_and_infer(g));
  ASSERT_EQ(test::shape_of(flat), "[batch,128]");

  const ModelStats s = compute_stats(g);
  EXPECT_EQ(s.nodes, 5);
  EXPECT_EQ(s.params, 224 + 72 + 1290);
  EXPECT_EQ(s.macs, 3456 + 1152 + 1280);
  EXPECT_EQ(s.op_counts, (std::map<std::string, int64_t>{{"Conv", 2}, {"Gemm", 1}, {"Relu", 1}, {"Reshape", 1}}));
  ASSERT_EQ(s.layers.size(), 5u);
  const struct {
    const char* name;
    const char* op;
    const char* shape;
    int64_t params;
    int64_t macs;
  } want[] = {
      {"conv1", "Conv", "[batch,8,4,4]", 224, 3456}, {"dw", "Conv", "[batch,8,4,4]", 72, 1152},
      {"relu", "Relu", "[batch,8,4,4]", 0, 0},       {"flatten", "Reshape", "[batch,128]", 0, 0},
      {"fc", "Gemm", "[batch,10]", 1290, 1280},
  };
  for (size_t i = 0; i < s.layers.size(); ++i) {
    SCOPED_TRACE(want[i].name);
    EXPECT_EQ(s.layers[i].name, want[i].name);
    EXPECT_EQ(s.layers[i].op, want[i].op);
    EXPECT_EQ(s.layers[i].output_shape, want[i].shape);
    EXPECT_EQ(s.layers[i].params, want[i].params);
    EXPECT_EQ(s.layers[i].macs, want[i].macs);
  }
}

// Gemm with transA: K comes from A's first dim. MatMul: batch dims (symbolic) count as 1.
TEST(ModelStats, GemmTransAAndMatMul) {
  Graph g;
  Value* a = g.add_input("a", DType::kF32, dims({64, "batch"}));
  Value* w = g.add_initializer("w", test::full_f32({64, 16}, 0.0f));
  Value* h = g.add_value("h");
  g.add_node(OpKind::Gemm, "g", {a, w}, {h}, GemmAttrs{.trans_a = 1});  // [batch,16], K = 64
  Value* m = g.add_input("m", DType::kF32, dims({"batch", 3, 5, 7}));
  Value* wm = g.add_initializer("wm", test::full_f32({7, 2}, 0.0f));
  Value* o = g.add_value("o");
  g.add_node(OpKind::MatMul, "mm", {m, wm}, {o});  // [batch,3,5,2], K = 7
  g.add_output(h);
  g.add_output(o);
  HQP_ASSERT_OK(verify_and_infer(g));
  const ModelStats s = compute_stats(g);
  ASSERT_EQ(s.layers.size(), 2u);
  EXPECT_EQ(s.layers[0].macs, 1 * 16 * 64);
  EXPECT_EQ(s.layers[1].macs, 3 * 5 * 2 * 7);
  EXPECT_EQ(s.macs, 1 * 16 * 64 + 3 * 5 * 2 * 7);
  EXPECT_EQ(s.params, 64 * 16 + 7 * 2);
}

}  // namespace
}  // namespace hqp::ir
