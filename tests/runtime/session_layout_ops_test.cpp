// The data-movement ops of torchvision's ShuffleNetV2, DenseNet and Inception exports (Slice, Split,
// Pad, Expand): shape inference resolves the bounds exporters compute from Shape (Shape -> Gather
// -> Add -> Div -> Mul -> Slice), so the fast runtime plans them with static shapes, and the fast
// plan agrees with the reference executor.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/tensor_compare.h"
#include "ir/verifier.h"
#include "kernels/onednn/onednn_common.h"
#include "reference/executor.h"
#include "runtime/runtime_ops.h"
#include "runtime/session_test_util.h"
#include "runtime/session_tolerances.h"

namespace hqp::test {
namespace {

using ir::Graph;
using ir::OpKind;
using ir::Value;

Value* add(Graph& g, OpKind kind, const std::string& name, std::vector<Value*> ins, ir::Attrs attrs) {
  Value* out = g.add_value(name);
  g.add_node(kind, name, std::move(ins), {out}, std::move(attrs));
  return out;
}
Value* add(Graph& g, OpKind kind, const std::string& name, std::vector<Value*> ins) {
  return add(g, kind, name, std::move(ins), ir::default_attrs(kind));
}

void expect_fast_matches_reference(const Graph& g, const std::vector<Tensor>& inputs) {
  Result<std::vector<Tensor>> want = reference::run_reference(g, inputs);
  HQP_ASSERT_OK(want.status());
  for (int threads : {1, 2}) {
    Result<Session> s = Session::create(g, session_options(Engine::kFast, threads));
    HQP_ASSERT_OK(s.status());
    Result<std::vector<Tensor>> got = s->run(inputs);
    HQP_ASSERT_OK(got.status());
    ASSERT_EQ(got->size(), want->size());
    for (size_t i = 0; i < got->size(); ++i) {
      EXPECT_LE(max_relative_error((*got)[i], (*want)[i]), kSessionFastMaxRelErr) << "output " << i;
    }
  }
}

// ShuffleNetV2's channel split as PyTorch exports x.chunk(2, dim=1) at opset 13:
//   half = (Gather(Shape(x), 1) + 1) / 2;  a = Slice(x, 0, half * 1, axis 1);  b = Slice(x, half, 2 * half)
// then a conv on b, Concat, and the channel shuffle (Reshape -> Transpose -> Reshape).
TEST(SessionLayoutOps, ComputedSliceBoundsGiveStaticShapes) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({1, 8, 6, 6}));
  Value* shape = add(g, OpKind::Shape, "shape", {x}, ir::ShapeAttrs{});
  Value* c = add(g, OpKind::Gather, "c", {shape, g.add_initializer("one", s64_vector({1}))}, ir::AxisAttrs{0, true});
  Value* c1 = add(g, OpKind::Add, "c1", {c, g.add_initializer("plus1", s64_vector({1}))});
  Value* half = add(g, OpKind::Div, "half", {c1, g.add_initializer("two", s64_vector({2}))});
  Value* end_a = add(g, OpKind::Mul, "end_a", {half, g.add_initializer("times1", s64_vector({1}))});
  Value* end_b = add(g, OpKind::Mul, "end_b", {half, g.add_initializer("times2", s64_vector({2}))});
  Value* axis1 = g.add_initializer("axis1", s64_vector({1}));
  Value* a = add(g, OpKind::Slice, "a", {x, g.add_initializer("zero", s64_vector({0})), end_a, axis1});
  Value* b = add(g, OpKind::Slice, "b", {x, end_a, end_b, axis1});
  ir::ConvAttrs conv;
  conv.pads = {1, 1, 1, 1};
  Value* bc = add(g, OpKind::Conv, "conv", {b, g.add_initializer("w", random_f32({4, 4, 3, 3}, 3))}, conv);
  Value* cat = add(g, OpKind::Concat, "cat", {a, bc}, ir::AxisAttrs{1, true});
  Value* r1 = add(g, OpKind::Reshape, "r1", {cat, g.add_initializer("s1", s64_vector({1, 2, 4, 6, 6}))}, ir::ReshapeAttrs{});
  Value* t = add(g, OpKind::Transpose, "t", {r1}, ir::TransposeAttrs{{0, 2, 1, 3, 4}});
  Value* y = add(g, OpKind::Reshape, "y", {t, g.add_initializer("s2", s64_vector({1, -1, 6, 6}))}, ir::ReshapeAttrs{});
  g.add_output(y);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  ASSERT_TRUE(a->shape.has_value());
  EXPECT_EQ(ir::dims_to_string(*a->shape), ir::dims_to_string(dims({1, 4, 6, 6})));
  ASSERT_TRUE(y->shape.has_value());
  EXPECT_EQ(ir::dims_to_string(*y->shape), ir::dims_to_string(dims({1, 8, 6, 6})));
  expect_fast_matches_reference(g, {random_f32({1, 8, 6, 6}, 5)});
}

// Split into unequal parts, reflect / edge / constant padding (a crop too), Expand of a per-channel
// vector, in one fast plan.
TEST(SessionLayoutOps, SplitPadExpandInAFastPlan) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({2, 6, 5, 5}));
  Value* p0 = g.add_value("p0");
  Value* p1 = g.add_value("p1");
  g.add_node(OpKind::Split, "split", {x, g.add_initializer("sizes", s64_vector({2, 4}))}, {p0, p1},
             ir::SplitAttrs{1, {}});
  Value* r = add(g, OpKind::Pad, "reflect", {p0, g.add_initializer("pr", s64_vector({0, 0, 2, 1, 0, 0, 1, 2}))},
                 ir::PadAttrs{ir::PadMode::kReflect, {}, {}});
  Value* e = add(g, OpKind::Pad, "edge", {p1, g.add_initializer("pe", s64_vector({0, 0, 1, 2, 0, 0, 2, 1}))},
                 ir::PadAttrs{ir::PadMode::kEdge, {}, {}});
  Value* cat = add(g, OpKind::Concat, "cat", {r, e}, ir::AxisAttrs{1, true});
  Value* crop = add(g, OpKind::Pad, "crop",
                    {cat, g.add_initializer("pc", s64_vector({0, 0, -1, 1, 0, 0, 1, -2})),
                     g.add_initializer("v", Tensor::scalar<float>(0.25f))},
                    ir::PadAttrs{});
  Value* bias = add(g, OpKind::Expand, "bias",
                    {g.add_initializer("b", random_f32({6, 1, 1}, 4)), g.add_initializer("bs", s64_vector({2, 1, 8, 1}))});
  Value* y = add(g, OpKind::Add, "y", {crop, bias});
  g.add_output(y);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  ASSERT_TRUE(y->shape.has_value());
  EXPECT_EQ(ir::dims_to_string(*y->shape), ir::dims_to_string(dims({2, 6, 8, 7})));
  expect_fast_matches_reference(g, {random_f32({2, 6, 5, 5}, 6)});
}

// Bad arguments are refused with the node named, not run: a zero step, sizes that do not sum to
// the axis, a reflect pad of an empty axis, an Expand to an incompatible shape.
TEST(SessionLayoutOps, BadArgumentsAreErrors) {
  auto fails = [](OpKind kind, std::vector<Tensor> consts, ir::Attrs attrs, size_t outputs, const std::string& want) {
    Graph g;
    Value* x = g.add_input("x", DType::kF32, dims({2, 6, 5}));
    std::vector<Value*> ins = {x};
    for (size_t i = 0; i < consts.size(); ++i) ins.push_back(g.add_initializer("c" + std::to_string(i), consts[i]));
    std::vector<Value*> outs;
    for (size_t i = 0; i < outputs; ++i) outs.push_back(g.add_value("y" + std::to_string(i)));
    g.add_node(kind, "bad", ins, outs, std::move(attrs));
    for (Value* o : outs) g.add_output(o);
    Status s = ir::verify_and_infer(g);
    EXPECT_FALSE(s.ok()) << want;
    EXPECT_NE(s.message().find("'bad'"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(want), std::string::npos) << s.message();
  };
  fails(OpKind::Slice, {s64_vector({0}), s64_vector({3}), s64_vector({1}), s64_vector({0})}, ir::SliceAttrs{}, 1,
        "step");
  fails(OpKind::Slice, {s64_vector({0}), s64_vector({3}), s64_vector({3})}, ir::SliceAttrs{}, 1, "slice axis");
  fails(OpKind::Split, {s64_vector({2, 3})}, ir::SplitAttrs{1, {}}, 2, "sum to 5");
  fails(OpKind::Split, {}, ir::SplitAttrs{2, {}}, 2, "equal parts");
  fails(OpKind::Pad, {s64_vector({0, 0, 1, 0})}, ir::PadAttrs{}, 1, "pads has 4 entries");
  fails(OpKind::Pad, {s64_vector({0, 0, -4, 0, 0, -4})}, ir::PadAttrs{}, 1, "negative size");
  fails(OpKind::Expand, {s64_vector({3, 1, 1})}, ir::NoAttrs{}, 1, "broadcast");
}

// ConvNeXt's block: a conv (channels-last in the fast plan), Transpose to [N, H, W, C], a MatMul on
// the last axis, Transpose back, a conv. The Transposes run as strided copies from the layout their
// input has; where the input is channels-last, the permute to [N, H, W, C] is one memcpy and no
// layout reorder runs for it. Plus a Transpose that moves data (NCHW input, perm 0 1 3 2).
TEST(SessionLayoutOps, TransposesRunAsStridedCopies) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({1, 8, 6, 5}));
  ir::ConvAttrs conv;
  conv.pads = {1, 1, 1, 1};
  Value* c1 = add(g, OpKind::Conv, "conv1", {x, g.add_initializer("w1", random_f32({16, 8, 3, 3}, 3))}, conv);
  Value* t1 = add(g, OpKind::Transpose, "to_last", {c1}, ir::TransposeAttrs{{0, 2, 3, 1}});
  Value* m = add(g, OpKind::MatMul, "mm", {t1, g.add_initializer("wm", random_f32({16, 16}, 4))});
  Value* t2 = add(g, OpKind::Transpose, "to_first", {m}, ir::TransposeAttrs{{0, 3, 1, 2}});
  Value* c2 = add(g, OpKind::Conv, "conv2", {t2, g.add_initializer("w2", random_f32({8, 16, 3, 3}, 5))}, conv);
  Value* y = add(g, OpKind::Transpose, "swap_hw", {c2}, ir::TransposeAttrs{{0, 1, 3, 2}});
  Value* z = add(g, OpKind::Transpose, "reverse", {x}, ir::TransposeAttrs{});
  g.add_output(y);
  g.add_output(z);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  expect_fast_matches_reference(g, {random_f32({1, 8, 6, 5}, 6)});

  Result<Session> s = Session::create(g, session_options(Engine::kFast, 1));
  HQP_ASSERT_OK(s.status());
  const std::vector<Tensor> inputs = {random_f32({1, 8, 6, 5}, 6)};
  HQP_ASSERT_OK(s->run(inputs).status());  // plans on the first run
  int transposes = 0;
  for (const NodePlanInfo& n : s->plan_info()) {
    if (n.op != "Transpose") continue;
    ++transposes;
    EXPECT_NE(n.implementation.find("strided_copy__onednn"), std::string::npos) << n.node << ": " << n.implementation;
    if (n.node == "to_last" || n.node == "to_first") {
      EXPECT_NE(n.implementation.find("memcpy"), std::string::npos) << n.node << ": " << n.implementation;
    }
  }
  EXPECT_EQ(transposes, 4);
}

// DenseNet's dense layer: Concat of two conv outputs, a BatchNorm no conv can absorb (a ReLU
// follows it), ReLU, conv. The Concat joins the channels-last conv outputs where they lie and the
// BatchNorm runs on oneDNN: no layout reorder anywhere in the plan. Plus a Concat along a spatial
// axis of channels-last tensors (outer = N, inner = W * C in memory).
TEST(SessionLayoutOps, ConcatAndBatchNormStayChannelsLast) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({1, 6, 7, 7}));
  ir::ConvAttrs conv;
  conv.pads = {1, 1, 1, 1};
  Value* a = add(g, OpKind::Conv, "conv_a", {x, g.add_initializer("wa", random_f32({8, 6, 3, 3}, 3))}, conv);
  Value* b = add(g, OpKind::Conv, "conv_b", {x, g.add_initializer("wb", random_f32({5, 6, 3, 3}, 4))}, conv);
  Value* cat = add(g, OpKind::Concat, "cat", {a, b}, ir::AxisAttrs{1, true});
  Tensor var = random_f32({13}, 8);
  for (int64_t i = 0; i < var.numel(); ++i) var.data<float>()[i] = std::fabs(var.data<float>()[i]) + 0.5f;
  Value* bn = add(g, OpKind::BatchNormalization, "bn",
                  {cat, g.add_initializer("scale", random_f32({13}, 5)), g.add_initializer("bias", random_f32({13}, 6)),
                   g.add_initializer("mean", random_f32({13}, 7)), g.add_initializer("var", var)});
  Value* r = add(g, OpKind::Relu, "relu", {bn});
  Value* y = add(g, OpKind::Conv, "conv_c", {r, g.add_initializer("wc", random_f32({4, 13, 3, 3}, 9))}, conv);
  Value* tall = add(g, OpKind::Concat, "hcat", {a, a}, ir::AxisAttrs{2, true});
  Value* z = add(g, OpKind::Conv, "conv_d", {tall, g.add_initializer("wd", random_f32({3, 8, 3, 3}, 11))}, conv);
  g.add_output(y);
  g.add_output(z);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<Tensor> inputs = {random_f32({1, 6, 7, 7}, 10)};
  expect_fast_matches_reference(g, inputs);

  Result<Session> s = Session::create(g, session_options(Engine::kFast, 1));
  HQP_ASSERT_OK(s.status());
  HQP_ASSERT_OK(s->run(inputs).status());
  std::string steps;
  for (const NodePlanInfo& n : s->plan_info()) {
    steps += n.node + " ";
    if (n.op == "Concat") EXPECT_EQ(n.implementation, "concat__any_layout") << n.node;
    if (n.node == "bn") EXPECT_EQ(n.implementation.rfind("batch_norm_f32__onednn", 0), 0u) << n.implementation;
    if (n.op == "Conv") EXPECT_EQ(n.implementation.rfind("conv_f32__onednn", 0), 0u) << n.implementation;
  }
  EXPECT_EQ(steps, "conv_a conv_b cat bn relu conv_c hcat conv_d ");  // no reorder step
}

// FP32 convolution chains on blocked (nChw8c) activations: a residual conv pair, max pooling, a 1x1
// and a depthwise conv, an SE gate ([N, C, 1, 1] broadcast), a spatial gate ([N, 1, H, W]: not
// blockable, so that Mul runs channels-last), a conv with 12 outputs (not blockable), a channel
// Concat of blocked tensors and a Transpose of it. Both layouts agree with the reference, and the
// blocked plan really holds blocked tensors (a conv reports nchw8c).
TEST(SessionLayoutOps, BlockedConvChainsMatchTheReference) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({2, 8, 10, 10}));
  ir::ConvAttrs same;
  same.pads = {1, 1, 1, 1};
  Value* c1 = add(g, OpKind::Conv, "c1", {x, g.add_initializer("w1", random_f32({16, 8, 3, 3}, 1)),
                                          g.add_initializer("b1", random_f32({16}, 2))}, same);
  Value* r1 = add(g, OpKind::Relu, "r1", {c1});
  Value* c2 = add(g, OpKind::Conv, "c2", {r1, g.add_initializer("w2", random_f32({16, 16, 3, 3}, 3))}, same);
  Value* res = add(g, OpKind::Add, "res", {c2, r1});
  ir::PoolAttrs pool;
  pool.kernel_shape = {2, 2};
  pool.strides = {2, 2};
  Value* mp = add(g, OpKind::MaxPool, "mp", {res}, pool);
  Value* c3 = add(g, OpKind::Conv, "c3", {mp, g.add_initializer("w3", random_f32({24, 16, 1, 1}, 4))}, ir::ConvAttrs{});
  ir::ConvAttrs dw = same;
  dw.group = 24;
  Value* d = add(g, OpKind::Conv, "dw", {c3, g.add_initializer("wd", random_f32({24, 1, 3, 3}, 5))}, dw);
  Value* gap = add(g, OpKind::GlobalAveragePool, "gap", {d});
  Value* gate = add(g, OpKind::Sigmoid, "gate", {gap});
  Value* se = add(g, OpKind::Mul, "se", {d, gate});
  Value* sm = add(g, OpKind::Conv, "sm", {se, g.add_initializer("ws", random_f32({1, 24, 1, 1}, 6))}, ir::ConvAttrs{});
  Value* sg = add(g, OpKind::Sigmoid, "sg", {sm});
  Value* spatial = add(g, OpKind::Mul, "spatial", {se, sg});
  Value* c4 = add(g, OpKind::Conv, "c4", {se, g.add_initializer("w4", random_f32({12, 24, 3, 3}, 7))}, same);
  Value* cat = add(g, OpKind::Concat, "cat", {d, c3, se}, ir::AxisAttrs{1, true});
  Value* t = add(g, OpKind::Transpose, "t", {cat}, ir::TransposeAttrs{{0, 2, 3, 1}});
  // DenseNet's Concat -> BatchNorm -> ReLU -> conv, blocked throughout.
  Tensor var = random_f32({72}, 12);
  for (int64_t i = 0; i < var.numel(); ++i) var.data<float>()[i] = std::fabs(var.data<float>()[i]) + 0.5f;
  Value* bn = add(g, OpKind::BatchNormalization, "bn",
                  {cat, g.add_initializer("bn_s", random_f32({72}, 13)), g.add_initializer("bn_b", random_f32({72}, 14)),
                   g.add_initializer("bn_m", random_f32({72}, 15)), g.add_initializer("bn_v", var)});
  Value* bnr = add(g, OpKind::Relu, "bnr", {bn});
  Value* c5 = add(g, OpKind::Conv, "c5", {bnr, g.add_initializer("w5", random_f32({16, 72, 3, 3}, 16))}, same);
  // A first conv: a 3-channel image in (kNchw), blocked out, then a blocked 3x3 conv.
  Value* img = g.add_input("img", DType::kF32, dims({2, 3, 9, 9}));
  ir::ConvAttrs stem = same;
  stem.strides = {2, 2};
  Value* s1 = add(g, OpKind::Conv, "stem", {img, g.add_initializer("wst", random_f32({8, 3, 3, 3}, 9))}, stem);
  Value* s2 = add(g, OpKind::Conv, "after_stem", {s1, g.add_initializer("wa", random_f32({8, 8, 3, 3}, 10))}, same);
  for (Value* v : {spatial, c4, cat, t, s2, c5}) g.add_output(v);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<Tensor> inputs = {random_f32({2, 8, 10, 10}, 8), random_f32({2, 3, 9, 9}, 11)};
  Result<std::vector<Tensor>> want = reference::run_reference(g, inputs);
  HQP_ASSERT_OK(want.status());
  for (const F32Layout layout : {F32Layout::kNchw8c, F32Layout::kNhwc, F32Layout::kAuto}) {
    for (int threads : {1, 2}) {
      SessionOptions o = session_options(Engine::kFast, threads);
      o.f32_layout = layout;
      Result<Session> s = Session::create(g, o);
      HQP_ASSERT_OK(s.status());
      Result<std::vector<Tensor>> got = s->run(inputs);
      HQP_ASSERT_OK(got.status());
      ASSERT_EQ(got->size(), want->size());
      for (size_t i = 0; i < got->size(); ++i) {
        EXPECT_LE(max_relative_error((*got)[i], (*want)[i]), kSessionFastMaxRelErr)
            << "output " << i << ", layout " << static_cast<int>(layout) << ", " << threads << " threads";
      }
      int blocked = 0;
      for (const NodePlanInfo& n : s->plan_info()) {
        if (n.implementation.find("nchw8c") != std::string::npos) ++blocked;
        if (n.node == "c4") EXPECT_EQ(n.implementation.find("nchw8c"), std::string::npos) << "12 output channels";
        if (n.node == "stem" && layout == F32Layout::kNchw8c) {
          EXPECT_NE(n.implementation.find("nchw -> nchw8c"), std::string::npos) << n.implementation;
        }
      }
      if (layout == F32Layout::kNchw8c) EXPECT_GE(blocked, 6) << "c2, c3, dw, stem, after_stem and c5 run blocked";
      if (layout == F32Layout::kNhwc) EXPECT_EQ(blocked, 0);
    }
  }
}

// kNchw8c holds only tensors with C % 8 == 0 (no padding, so every layout has the same size): a
// reorder of any other tensor to or from it is refused instead of overrunning a buffer.
TEST(SessionLayoutOps, BlockedReorderNeedsWholeChannelBlocks) {
  using runtime::Layout;
  const runtime::SlotInfo twelve{DType::kF32, {1, 12, 4, 4}, Layout::kNchw};
  Result<std::unique_ptr<runtime::RuntimeOp>> bad = runtime::make_reorder(twelve, Layout::kNchw8c);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("C % 8 != 0"), std::string::npos) << bad.status().message();
  EXPECT_TRUE(runtime::make_reorder(twelve, Layout::kNhwc).ok());
  const runtime::SlotInfo sixteen{DType::kF32, {1, 16, 4, 4}, Layout::kNchw8c};
  EXPECT_TRUE(runtime::make_reorder(sixteen, Layout::kNhwc).ok());
  EXPECT_TRUE(runtime::blockable({2, 16, 3, 3}));
  EXPECT_FALSE(runtime::blockable({2, 12, 3, 3}));
  EXPECT_FALSE(runtime::blockable({2, 16}));
}

// f32_layout kAuto: blocked only on CPUs where oneDNN's AVX2 convolutions prefer it, and only for
// graphs without grouped / depthwise convs whose spatial convs do at least half the conv MACs.
TEST(SessionLayoutOps, AutoLayoutBlocksOnlySpatialDenseConvChains) {
  auto chain = [](int64_t kernel, int64_t group) {
    Graph g;
    Value* x = g.add_input("x", DType::kF32, dims({1, 16, 12, 12}));
    ir::ConvAttrs a;
    const int64_t pad = kernel / 2;
    a.pads = {pad, pad, pad, pad};
    Value* c1 = add(g, OpKind::Conv, "c1", {x, g.add_initializer("w1", random_f32({16, 16, kernel, kernel}, 1))}, a);
    ir::ConvAttrs b = a;
    b.group = group;
    Value* c2 = add(g, OpKind::Conv, "c2", {c1, g.add_initializer("w2", random_f32({16, 16 / group, kernel, kernel}, 2))}, b);
    Value* c3 = add(g, OpKind::Conv, "c3", {c2, g.add_initializer("w3", random_f32({16, 16, kernel, kernel}, 3))}, a);
    g.add_output(c3);
    return g;
  };
  struct Case {
    int64_t kernel, group;
    bool blocked_on_avx2;
  };
  for (const Case& c : {Case{3, 1, true}, Case{1, 1, false}, Case{3, 16, false}}) {
    Graph g = chain(c.kernel, c.group);
    HQP_ASSERT_OK(ir::verify_and_infer(g));
    Result<Session> s = Session::create(g, session_options(Engine::kFast, 1));
    HQP_ASSERT_OK(s.status());
    const std::vector<Tensor> inputs = {random_f32({1, 16, 12, 12}, 4)};
    HQP_ASSERT_OK(s->run(inputs).status());
    int blocked = 0;
    for (const NodePlanInfo& n : s->plan_info()) blocked += n.implementation.find("nchw8c") != std::string::npos;
    const bool want = c.blocked_on_avx2 && kernels::onednn::blocked_f32_layout_preferred();
    EXPECT_EQ(blocked > 0, want) << "kernel " << c.kernel << ", group " << c.group;
  }
}

}  // namespace
}  // namespace hqp::test
