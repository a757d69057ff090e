// insert_qdq on small hand-built graphs: which tensors get Q/DQ, the weight / bias encodings, the
// residual (TensorRT-style) and data-movement patterns, what lower_qdq makes of the result, ONNX
// export + re-import, the fake-quant error, options and errors.
#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/tensor_compare.h"
#include "kernels/onednn/onednn_common.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "passes/pipeline.h"
#include "quant/insert_qdq.h"
#include "quant/quant_test_util.h"
#include "quant/quant_tolerances.h"
#include "reference/executor.h"
#include "runtime/session.h"

namespace hqp::test {
namespace {

using ir::OpKind;

constexpr int kCalibBatches = 3;

// x -> conv1 + BN + Relu -> depthwise conv + Relu -> MaxPool -> 1x1 conv3 -> GAP -> Flatten -> Gemm
struct ConvChain {
  NetBuilder b;
  ir::Value* r1 = nullptr;
  ir::Value* r2 = nullptr;
  ir::Value* pool = nullptr;
  ir::Value* gap = nullptr;
  ir::Value* flat = nullptr;
  ConvChain() {
    ir::Value* x = b.input("x", {2, 3, 16, 16});
    r1 = b.relu(b.batchnorm(b.conv(x, 3, 8, 3, 1, 1, "conv1"), 8));
    r2 = b.relu(b.conv(r1, 8, 8, 3, 1, 8, "dw"));
    pool = b.maxpool(r2);
    flat = b.global_pool_flatten(b.conv(pool, 8, 16, 1, 1, 1, "conv3"));
    gap = flat->producer()->input(0);
    b.finish({b.gemm(flat, 16, 10)});
  }
};

quant::CalibrationData calibration_for(const ir::Graph& g) {
  return random_calibration(ir::static_shape(*g.inputs()[0]->shape).value(), kCalibBatches, kCalibSeed);
}

std::vector<Tensor> eval_inputs(const ir::Graph& g) {
  std::mt19937 rng(kEvalSeed);
  return {normal_f32(ir::static_shape(*g.inputs()[0]->shape).value(), rng)};
}

Result<quant::QdqStats> quantize(ir::Graph& g, const quant::QdqOptions& options = {}) {
  return quant::insert_qdq(g, calibration_for(g), options);
}

// The QuantizeLinear reading `v` (its only reader after insert_qdq), or nullptr.
const ir::Node* quantize_of(const ir::Value* v) {
  if (v->uses().size() != 1) return nullptr;
  const ir::Node* n = v->uses()[0].node;
  return n->kind == OpKind::QuantizeLinear ? n : nullptr;
}

float scalar_of(const ir::Value* v) { return v->data.data<float>()[0]; }

// Every Conv / Gemm: DQ input, DQ(s8, per-axis, zero 0) weight, DQ(s32, scale s_x * s_w) bias.
void expect_quantized_compute(const ir::Graph& g, const ir::Node& n) {
  SCOPED_TRACE(n.name);
  const ir::Node* x = n.input(0)->producer();
  ASSERT_TRUE(x != nullptr && x->kind == OpKind::DequantizeLinear);
  const float sx = scalar_of(x->input(1));
  const ir::Node* w = n.input(1)->producer();
  ASSERT_TRUE(w != nullptr && w->kind == OpKind::DequantizeLinear);
  EXPECT_TRUE(w->attr<ir::AxisAttrs>().present);
  const int64_t axis = w->attr<ir::AxisAttrs>().axis;
  EXPECT_EQ(axis, n.kind == OpKind::Gemm && n.attr<ir::GemmAttrs>().trans_b == 0 ? 1 : 0);
  ASSERT_TRUE(w->input(0)->is_initializer());
  EXPECT_EQ(w->input(0)->dtype, DType::kS8);
  const Tensor& ws = w->input(1)->data;
  const Tensor& wz = w->input(2)->data;
  EXPECT_EQ(ws.numel(), w->input(0)->data.dim(axis));
  EXPECT_EQ(wz.dtype(), DType::kS8);
  for (int64_t i = 0; i < wz.numel(); ++i) EXPECT_EQ(wz.element_as_int64(i), 0);
  for (int8_t q : w->input(0)->data.span<int8_t>()) EXPECT_GE(q, -quant::kWeightQMax);
  ASSERT_TRUE(w->input(0)->quant.has_value());
  EXPECT_EQ(w->input(0)->quant->axis, axis);
  const ir::Node* b = n.input(2)->producer();
  ASSERT_TRUE(b != nullptr && b->kind == OpKind::DequantizeLinear);
  EXPECT_EQ(b->input(0)->dtype, DType::kS32);
  const Tensor& bs = b->input(1)->data;
  ASSERT_EQ(bs.numel(), ws.numel());
  for (int64_t c = 0; c < bs.numel(); ++c) EXPECT_EQ(bs.data<float>()[c], sx * ws.data<float>()[c]) << "channel " << c;
}

void expect_exports_and_reimports(const ir::Graph& g) {
  Result<std::string> bytes = onnx_io::export_model_bytes(g);
  HQP_ASSERT_OK(bytes.status());
  Result<ir::Graph> back = onnx_io::import_model_bytes(*bytes, "qdq");
  HQP_ASSERT_OK(back.status());
  EXPECT_EQ(back->nodes().size(), g.nodes().size());
  EXPECT_EQ(count_kind(*back, OpKind::QuantizeLinear), count_kind(g, OpKind::QuantizeLinear));
  EXPECT_EQ(count_kind(*back, OpKind::DequantizeLinear), count_kind(g, OpKind::DequantizeLinear));
  const std::vector<Tensor> in = eval_inputs(g);
  Result<std::vector<Tensor>> a = reference::run_reference(g, in);
  Result<std::vector<Tensor>> c = reference::run_reference(*back, in);
  HQP_ASSERT_OK(a.status());
  HQP_ASSERT_OK(c.status());
  for (size_t i = 0; i < a->size(); ++i) EXPECT_EQ(bitwise_mismatch((*c)[i], (*a)[i]), std::nullopt);
}

double logits_cosine(const ir::Graph& float_graph, const ir::Graph& qdq) {
  const std::vector<Tensor> in = eval_inputs(float_graph);
  Result<std::vector<Tensor>> f = reference::run_reference(float_graph, in);
  Result<std::vector<Tensor>> q = reference::run_reference(qdq, in);
  EXPECT_TRUE(f.ok() && q.ok());
  const double c = f.ok() && q.ok() ? cosine_similarity((*q)[0], (*f)[0]) : 0.0;
  std::printf("[ quant    ] fake-quant vs float: cosine %.6f\n", c);
  return c;
}

TEST(InsertQdq, ConvChainStructure) {
  ConvChain net;
  ir::Graph float_graph = net.b.g.clone();
  Result<quant::QdqStats> s = quantize(net.b.g);
  HQP_ASSERT_OK(s.status());
  const ir::Graph& g = net.b.g;
  EXPECT_EQ(s->batchnorms_folded, 1);
  EXPECT_EQ(s->quantized_convs, 3);
  EXPECT_EQ(s->quantized_gemms, 1);
  EXPECT_EQ(s->float_compute, 0);
  EXPECT_EQ(s->residual_adds, 0);
  EXPECT_EQ(s->calibration_batches, kCalibBatches);
  // Activations: x, r1 and the conv3 / Gemm inputs, plus MaxPool's and Flatten's inputs that share
  // their outputs' parameters.
  EXPECT_EQ(s->quantized_activations, 6);
  EXPECT_EQ(count_kind(g, OpKind::QuantizeLinear), 6);
  EXPECT_EQ(count_kind(g, OpKind::DequantizeLinear), 6 + 4 + 4);
  EXPECT_EQ(count_kind(g, OpKind::BatchNormalization), 0);
  for (const auto& n : g.nodes()) {
    if (n->kind == OpKind::Conv || n->kind == OpKind::Gemm) expect_quantized_compute(g, *n);
  }
  // Shared parameters across data movement: the same scale / zero-point initializers.
  for (auto [in, out] : {std::pair{net.r2, net.pool}, std::pair{net.gap, net.flat}}) {
    const ir::Node* qi = quantize_of(in);
    const ir::Node* qo = quantize_of(out);
    ASSERT_TRUE(qi != nullptr && qo != nullptr) << in->name << " / " << out->name;
    EXPECT_EQ(qi->input(1), qo->input(1));
    EXPECT_EQ(qi->input(2), qo->input(2));
  }
  // Post-Relu tensors: u8 with zero point 0.
  const ir::Node* q1 = quantize_of(net.r1);
  ASSERT_NE(q1, nullptr);
  EXPECT_EQ(q1->input(2)->data.dtype(), DType::kU8);
  EXPECT_EQ(q1->input(2)->data.element_as_int64(0), 0);
  EXPECT_EQ(q1->output(0)->quant->storage, DType::kU8);
  expect_exports_and_reimports(g);
  EXPECT_GE(logits_cosine(float_graph, g), kSmallNetMinCosine);
}

TEST(InsertQdq, ConvChainLowersCompletely) {
  ConvChain net;
  HQP_ASSERT_OK(quantize(net.b.g).status());
  ir::Graph& g = net.b.g;
  Result<passes::OptimizeReport> r = passes::optimize_for_runtime(g);
  HQP_ASSERT_OK(r.status());
  EXPECT_EQ(count_kind(g, OpKind::QConv), 3);
  EXPECT_EQ(count_kind(g, OpKind::QGemm), 1);
  EXPECT_EQ(count_kind(g, OpKind::Conv) + count_kind(g, OpKind::FusedConv) + count_kind(g, OpKind::Gemm), 0);
  // Left: Q of the input and Q after GlobalAveragePool (float). conv3 writes f32 straight into
  // GlobalAveragePool (nothing quantized reads it); MaxPool and Flatten run on u8.
  EXPECT_EQ(count_kind(g, OpKind::QuantizeLinear), 2);
  EXPECT_EQ(count_kind(g, OpKind::DequantizeLinear), 0);
  for (const auto& n : g.nodes()) {
    if (n->kind == OpKind::MaxPool || n->kind == OpKind::Flatten) {
      EXPECT_EQ(n->input(0)->dtype, DType::kU8) << n->name;
    }
  }
}

// stem -> [identity block: conv, conv + Add(., stem) + Relu] -> [downsample block: conv, conv,
// 1x1 stride-2 conv, Add] -> GAP -> Flatten -> Gemm
struct ResidualNet {
  NetBuilder b;
  ir::Value* stem = nullptr;
  ir::Value* main1 = nullptr;
  ir::Value* sum1 = nullptr;
  ir::Value* down2 = nullptr;
  ir::Value* main2 = nullptr;
  ir::Value* sum2 = nullptr;
  ResidualNet() {
    ir::Value* x = b.input("x", {1, 8, 12, 12});
    stem = b.relu(b.conv(x, 8, 8, 3, 1, 1, "stem"));
    main1 = b.conv(b.relu(b.conv(stem, 8, 8, 3, 1, 1, "b1_conv1")), 8, 8, 3, 1, 1, "b1_conv2");
    sum1 = b.relu(b.op(OpKind::Add, {main1, stem}));
    down2 = b.conv(sum1, 8, 16, 1, 2, 1, "b2_down");
    main2 = b.conv(b.relu(b.conv(sum1, 8, 16, 3, 2, 1, "b2_conv1")), 16, 16, 3, 1, 1, "b2_conv2");
    sum2 = b.op(OpKind::Add, {down2, main2});  // both operands are conv outputs; b2_conv2 comes later
    b.finish({b.gemm(b.global_pool_flatten(sum2), 16, 5)});
  }
};

TEST(InsertQdq, ResidualAddsFollowTheTensorRtStyle) {
  ResidualNet net;
  ir::Graph float_graph = net.b.g.clone();
  Result<quant::QdqStats> s = quantize(net.b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->residual_adds, 2);
  EXPECT_EQ(s->quantized_convs, 6);
  // The conv that takes the sum feeds the Add directly; the other operand and the output (after
  // the Relu) are quantized.
  for (const ir::Value* v : {net.main1, net.main2}) {
    ASSERT_EQ(v->uses().size(), 1u) << v->name;
    EXPECT_EQ(v->uses()[0].node->kind, OpKind::Add) << v->name;
  }
  for (const ir::Value* v : {net.stem, net.down2, net.sum1, net.sum2}) EXPECT_NE(quantize_of(v), nullptr) << v->name;
  expect_exports_and_reimports(net.b.g);
  EXPECT_GE(logits_cosine(float_graph, net.b.g), kSmallNetMinCosine);

  ir::Graph lowered = net.b.g.clone();
  HQP_ASSERT_OK(passes::optimize_for_runtime(lowered).status());
  EXPECT_EQ(count_kind(lowered, OpKind::QConv), 6);
  EXPECT_EQ(count_kind(lowered, OpKind::Add), 0);
  int with_sum = 0;
  for (const auto& n : lowered.nodes()) {
    if (n->kind != OpKind::QConv || n->input(3) == nullptr) continue;
    ++with_sum;
    EXPECT_EQ(n->input(3)->dtype, DType::kU8) << n->name;  // INT8 sum
    EXPECT_EQ(n->output(0)->dtype, DType::kU8) << n->name;
  }
  EXPECT_EQ(with_sum, 2);
}

// The fast runtime (oneDNN INT8 convs with residual sums, u8 MaxPool-free chain) against the
// integer reference kernels on the same lowered graph: bit-identical logits (the final QGemm writes
// f32 as (float)acc * multiplier in both).
TEST(InsertQdq, ResidualNetRunsBitExactOnTheFastRuntime) {
  ResidualNet net;
  HQP_ASSERT_OK(quantize(net.b.g).status());
  SessionOptions o;
  o.engine = Engine::kFast;
  Result<Session> fast = Session::create(net.b.g, o);
  o.engine = Engine::kReference;
  Result<Session> ref = Session::create(net.b.g, o);
  HQP_ASSERT_OK(fast.status());
  HQP_ASSERT_OK(ref.status());
  EXPECT_EQ(count_kind(fast->graph(), OpKind::QConv), 6);
  const std::vector<Tensor> in = eval_inputs(net.b.g);
  Result<std::vector<Tensor>> a = fast->run(in);
  Result<std::vector<Tensor>> b = ref->run(in);
  HQP_ASSERT_OK(a.status());
  HQP_ASSERT_OK(b.status());
  EXPECT_EQ(bitwise_mismatch((*a)[0], (*b)[0]), std::nullopt);
}

// ConvNeXt's block in small: conv -> Transpose to NHWC -> MatMul W1 [8, 16] + b1 -> GELU as opset-13
// exports write it (Div, Erf, Add, Mul, Mul) -> MatMul W2 [16, 8] + b2 -> Transpose back -> GAP ->
// Flatten -> Gemm.
struct ChannelsLastMlp {
  NetBuilder b;
  ir::Value* h1 = nullptr;    // MatMul 1 + bias
  ir::Value* gelu = nullptr;  // GELU's output
  std::vector<ir::Value*> gelu_inside;  // Div, Erf, Add, first Mul outputs
  ChannelsLastMlp() {
    ir::Value* x = b.input("x", {2, 3, 6, 6});
    ir::Value* c = b.conv(x, 3, 8, 3, 1, 1, "conv");
    ir::Value* t = b.op(OpKind::Transpose, {c}, ir::TransposeAttrs{{0, 2, 3, 1}});
    auto linear = [&](ir::Value* a, int64_t k, int64_t n, const std::string& name) {
      const float bound = 1.0f / std::sqrt(static_cast<float>(k));
      ir::Value* y = b.op(OpKind::MatMul, {a, b.init(name + "_w", b.uniform({k, n}, -bound, bound))}, ir::NoAttrs{}, name);
      return b.op(OpKind::Add, {b.init(name + "_b", b.uniform({n}, -0.2f, 0.2f)), y});  // bias first, as PyTorch
    };
    auto scalar = [&](const std::string& name, float v) { return b.init(name, Tensor::scalar<float>(v)); };
    h1 = linear(t, 8, 16, "fc1");
    ir::Value* div = b.op(OpKind::Div, {h1, scalar("sqrt2", std::sqrt(2.0f))});
    ir::Value* erf = b.op(OpKind::Erf, {div});
    ir::Value* add = b.op(OpKind::Add, {erf, scalar("one", 1.0f)});
    ir::Value* mul = b.op(OpKind::Mul, {h1, add});
    gelu = b.op(OpKind::Mul, {mul, scalar("half", 0.5f)});
    gelu_inside = {div, erf, add, mul};
    ir::Value* h2 = linear(gelu, 16, 8, "fc2");
    ir::Value* back = b.op(OpKind::Transpose, {h2}, ir::TransposeAttrs{{0, 3, 1, 2}});
    b.finish({b.gemm(b.global_pool_flatten(back), 8, 5)});
  }
};

// MatMuls by constants are quantized like Gemms (s8 weights per column, axis 1; in ONNX Runtime's
// placement the Q after the bias Add), no Q / DQ splits the decomposed GELU, and the runtime makes
// each MatMul + bias one QGemm over the [N, H, W] rows and the GELU one QLut -- bit-exact against
// the integer reference. TensorRT's placement (inputs only) gives f32-output QGemms and a float GELU.
class ChannelsLastMlpQdq : public ::testing::TestWithParam<quant::QdqStyle> {};

TEST_P(ChannelsLastMlpQdq, MatMulsQuantizeAndLowerToQGemm) {
  const bool ort = GetParam() == quant::QdqStyle::kOrt;
  ChannelsLastMlp net;
  ir::Graph float_graph = net.b.g.clone();
  quant::QdqOptions qo;
  qo.style = GetParam();
  Result<quant::QdqStats> s = quantize(net.b.g, qo);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->quantized_convs, 1);
  EXPECT_EQ(s->quantized_gemms, 3);  // two MatMuls and the head
  const ir::Graph& g = net.b.g;
  for (const auto& n : g.nodes()) {
    if (n->kind != OpKind::MatMul) continue;
    const ir::Node* w = n->input(1)->producer();
    ASSERT_TRUE(w != nullptr && w->kind == OpKind::DequantizeLinear) << n->name;
    EXPECT_EQ(w->attr<ir::AxisAttrs>().axis, 1) << n->name;
    EXPECT_EQ(w->input(0)->dtype, DType::kS8) << n->name;
    EXPECT_EQ(n->input(0)->producer()->kind, OpKind::DequantizeLinear) << n->name;
    // The bias Add follows it directly, its bias DQ(s32) at s_x * s_w[n] like a Gemm's.
    const ir::Node* add = n->output(0)->uses().at(0).node;
    ASSERT_EQ(add->kind, OpKind::Add) << n->name;
    const ir::Node* bias = add->input(0)->producer();
    ASSERT_TRUE(bias != nullptr && bias->kind == OpKind::DequantizeLinear) << n->name;
    EXPECT_EQ(bias->input(0)->dtype, DType::kS32) << n->name;
    const float sx = scalar_of(n->input(0)->producer()->input(1));
    const Tensor& ws = w->input(1)->data;
    const Tensor& bs = bias->input(1)->data;
    ASSERT_EQ(bs.numel(), ws.numel()) << n->name;
    for (int64_t c = 0; c < bs.numel(); ++c) EXPECT_EQ(bs.data<float>()[c], sx * ws.data<float>()[c]) << n->name;
  }
  EXPECT_EQ(quantize_of(net.h1) != nullptr, ort) << "Q after the bias Add (ONNX Runtime's placement only)";
  EXPECT_NE(quantize_of(net.gelu), nullptr) << "GELU's output feeds the next MatMul";
  for (const ir::Value* v : net.gelu_inside) EXPECT_EQ(quantize_of(v), nullptr) << v->name << " is inside the GELU";
  expect_exports_and_reimports(g);
  EXPECT_GE(logits_cosine(float_graph, g), kSmallNetMinCosine);

  SessionOptions o;
  o.engine = Engine::kFast;
  Result<Session> fast = Session::create(g, o);
  o.engine = Engine::kReference;
  Result<Session> ref = Session::create(g, o);
  HQP_ASSERT_OK(fast.status());
  HQP_ASSERT_OK(ref.status());
  EXPECT_EQ(count_kind(fast->graph(), OpKind::QGemm), 3);
  EXPECT_EQ(count_kind(fast->graph(), OpKind::QLut), ort ? 1 : 0);
  EXPECT_EQ(count_kind(fast->graph(), OpKind::MatMul) + count_kind(fast->graph(), OpKind::FusedGemm), 0);
  for (const auto& n : fast->graph().nodes()) {
    if (n->kind == OpKind::QGemm && n->input(0)->shape && n->input(0)->shape->size() == 4) {
      EXPECT_EQ(n->output(0)->dtype, ort ? DType::kU8 : DType::kF32) << n->name;
    }
  }
  const std::vector<Tensor> in = eval_inputs(g);
  Result<std::vector<Tensor>> a = fast->run(in);
  Result<std::vector<Tensor>> r = ref->run(in);
  HQP_ASSERT_OK(a.status());
  HQP_ASSERT_OK(r.status());
  EXPECT_EQ(bitwise_mismatch((*a)[0], (*r)[0]), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(Styles, ChannelsLastMlpQdq, ::testing::Values(quant::QdqStyle::kOrt, quant::QdqStyle::kTrt),
                         [](const auto& info) { return std::string(quant::qdq_style_name(info.param)); });

TEST(InsertQdq, S8SymmetricActivations) {
  ConvChain net;
  quant::QdqOptions o;
  o.activations = quant::ActivationScheme::kS8Symmetric;
  Result<quant::QdqStats> s = quantize(net.b.g, o);
  HQP_ASSERT_OK(s.status());
  // The reference MaxPool has no s8 kernel: its input is not quantized (it could not run on INT8).
  EXPECT_EQ(s->quantized_activations, 5);
  EXPECT_EQ(quantize_of(net.r2), nullptr);
  for (const auto& n : net.b.g.nodes()) {
    if (n->kind != OpKind::QuantizeLinear) continue;
    EXPECT_EQ(n->input(2)->data.dtype(), DType::kS8) << n->name;
    EXPECT_EQ(n->input(2)->data.element_as_int64(0), 0) << n->name;
  }
  expect_exports_and_reimports(net.b.g);
  ir::Graph lowered = net.b.g.clone();
  HQP_ASSERT_OK(passes::optimize_for_runtime(lowered).status());
  EXPECT_EQ(count_kind(lowered, OpKind::QConv), 3);
  EXPECT_EQ(count_kind(lowered, OpKind::QGemm), 1);
}

TEST(InsertQdq, KeepFloatLeavesANodeAndItsInputFloat) {
  ConvChain net;
  quant::QdqOptions o;
  o.keep_float = {"conv3"};
  Result<quant::QdqStats> s = quantize(net.b.g, o);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->quantized_convs, 2);
  EXPECT_EQ(s->float_compute, 1);
  const ir::Node* conv3 = net.b.g.find_node("conv3");
  ASSERT_NE(conv3, nullptr);
  EXPECT_TRUE(conv3->input(1)->is_initializer());
  EXPECT_EQ(conv3->input(1)->dtype, DType::kF32);
  EXPECT_EQ(quantize_of(net.pool), nullptr);  // read by nothing quantized
  EXPECT_EQ(s->quantized_activations, 4);
  expect_exports_and_reimports(net.b.g);
}

TEST(InsertQdq, GemmWithoutTransposeAndGraphOutputsStayFloat) {
  NetBuilder b;
  ir::Value* x = b.input("x", {4, 12});
  ir::Value* h = b.relu(b.gemm(x, 12, 6, /*trans_b=*/false));
  b.finish({h, b.gemm(h, 6, 3)});  // h is a graph output and a quantized Gemm's input
  Result<quant::QdqStats> s = quantize(b.g);
  HQP_ASSERT_OK(s.status());
  EXPECT_EQ(s->quantized_gemms, 2);
  for (const auto& n : b.g.nodes()) {
    if (n->kind == OpKind::Gemm) expect_quantized_compute(b.g, *n);
  }
  EXPECT_EQ(b.g.outputs()[0], h);  // still the float Relu output
  EXPECT_EQ(h->producer()->kind, OpKind::Relu);
  expect_exports_and_reimports(b.g);
  ir::Graph lowered = b.g.clone();
  HQP_ASSERT_OK(passes::optimize_for_runtime(lowered).status());
  EXPECT_EQ(count_kind(lowered, OpKind::QGemm), 2);
}

TEST(InsertQdq, RejectsOldOpsetsQuantizedGraphsAndBadCalibration) {
  {
    ConvChain net;
    net.b.g.info.opset_imports = {{"", 12}};
    Result<quant::QdqStats> s = quantize(net.b.g);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(s.status().message().find("opset=12, expected >= 13"), std::string::npos) << s.status().message();
  }
  {
    ConvChain net;
    HQP_ASSERT_OK(quantize(net.b.g).status());
    Result<quant::QdqStats> again = quantize(net.b.g);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(again.status().message().find("QuantizeLinear"), std::string::npos) << again.status().message();
  }
  {
    ConvChain net;
    Result<quant::QdqStats> s = quant::insert_qdq(net.b.g, quant::CalibrationData{});
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find("no calibration batches"), std::string::npos) << s.status().message();
  }
  {
    ConvChain net;
    Result<quant::QdqStats> s = quant::insert_qdq(net.b.g, random_calibration({2, 3, 15, 16}, 1, kCalibSeed));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find("cannot calibrate on batch 0"), std::string::npos) << s.status().message();
  }
}

}  // namespace
}  // namespace hqp::test

namespace hqp::test {
namespace {

// Ranges are keyed by value name, so they stay valid for a clone of the calibrated graph (the
// quantization loop calibrates once and quantizes candidate copies).
TEST(Calibration, RangesSurviveClone) {
  ConvChain net;
  const ir::Graph& g = net.b.g;
  Result<quant::RangeMap> ranges = quant::calibrate_min_max(g, calibration_for(g));
  ASSERT_TRUE(ranges.ok()) << ranges.status().message();
  const ir::Graph copy = g.clone();
  int found = 0;
  for (const auto& n : copy.nodes()) {
    for (const ir::Value* v : n->outputs()) {
      if (v == nullptr || v->dtype != DType::kF32) continue;
      auto it = ranges->find(v->name);
      ASSERT_NE(it, ranges->end()) << v->name;
      EXPECT_FALSE(it->second.empty()) << v->name;
      ++found;
    }
  }
  EXPECT_GT(found, 5);
  EXPECT_NE(ranges->find(copy.inputs()[0]->name), ranges->end()) << "graph inputs are calibrated too";
}

}  // namespace
}  // namespace hqp::test

namespace hqp::test {
namespace {

// ResidualNet with a symbolic batch: one fast session compiles a plan per batch size.
struct DynamicResidualNet {
  NetBuilder b;
  DynamicResidualNet() {
    ir::Value* x = b.g.add_input("x", DType::kF32, dims({"N", 8, 12, 12}));
    ir::Value* stem = b.relu(b.conv(x, 8, 8, 3, 1, 1, "stem"));
    ir::Value* main1 = b.conv(b.relu(b.conv(stem, 8, 8, 3, 1, 1, "b1_conv1")), 8, 8, 3, 1, 1, "b1_conv2");
    ir::Value* sum1 = b.relu(b.op(OpKind::Add, {main1, stem}));
    b.finish({b.gemm(b.global_pool_flatten(sum1), 8, 5)});
  }
};

// The fast runtime releases the graph copy of INT8 weights and biases its kernels packed, and
// unpacks them (undoing the zero-point folding of the bias) for each new batch size: every plan
// stays bit-exact against the reference executor.
TEST(InsertQdq, ReleasedInt8WeightsAreRestoredBitExactForNewBatchSizes) {
  DynamicResidualNet net;
  HQP_ASSERT_OK(quant::insert_qdq(net.b.g, random_calibration({2, 8, 12, 12}, kCalibBatches, kCalibSeed), {}).status());
  SessionOptions o;
  o.engine = Engine::kFast;
  Result<Session> fast = Session::create(net.b.g, o);
  o.engine = Engine::kReference;  // the same lowered INT8 graph on the integer reference kernels
  Result<Session> ref = Session::create(net.b.g, o);
  HQP_ASSERT_OK(fast.status());
  HQP_ASSERT_OK(ref.status());
  std::mt19937 rng(kEvalSeed);
  bool checked_release = false;
  for (int64_t batch : {1, 3, 2, 1}) {
    const std::vector<Tensor> in = {normal_f32({batch, 8, 12, 12}, rng)};
    Result<std::vector<Tensor>> a = fast->run(in);
    Result<std::vector<Tensor>> want = ref->run(in);
    HQP_ASSERT_OK(a.status());
    HQP_ASSERT_OK(want.status());
    EXPECT_EQ(bitwise_mismatch((*a)[0], (*want)[0]), std::nullopt) << "batch " << batch;
    if (checked_release) continue;
    checked_release = true;
    int released = 0, packed_int8 = 0;
    for (const NodePlanInfo& n : fast->plan_info()) {
      packed_int8 += n.implementation.find("s8__onednn") != std::string::npos ? 1 : 0;
    }
    // A released weight keeps its value (name, dtype, shape) but no data. Kernels whose packing
    // adds compensation terms (an asymmetric source reading padding) keep the graph copy.
    for (const auto& n : fast->graph().nodes()) {
      if (n->kind == OpKind::QConv || n->kind == OpKind::QGemm) released += n->input(1)->data.defined() ? 0 : 1;
    }
    if (!kernels::onednn::int8_kernels_exact_on_this_cpu()) {
      // No VNNI: oneDNN's INT8 convolutions run on halved weights (exact_without_vnni), a packing
      // that cannot give the weights back, so the graph keeps its copy; the outputs still match.
      EXPECT_EQ(released, 0);
      continue;
    }
    ASSERT_GT(packed_int8, 0) << "the INT8 convolutions run on oneDNN";
    EXPECT_GT(released, 0) << "packed INT8 weights are released from the graph";
  }
  EXPECT_EQ(fast->plan_count(), 3);
}

}  // namespace
}  // namespace hqp::test
