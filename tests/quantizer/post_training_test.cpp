// quantize_model on small hand-built classifiers labelled by their own float argmax (float val
// top-1 = 100 %): the INT8 val top-1 it reports is what the fast runtime measures on the returned
// (and exported, re-imported) model; the statistics it gathers on the fast runtime equal the
// reference executor's min / max; the fallback search returns a deliberately broken layer -- and
// only it -- to float; bad configs are errors.
#include <algorithm>
#include <cmath>
#include <memory>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/prune_test_net.h"
#include "common/temp_dir.h"
#include "data/batch_source.h"
#include "eval/engine.h"
#include "eval/evaluate.h"
#include "ir/verifier.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "quant/calibrate.h"
#include "ir/rewrite.h"
#include "reference/executor.h"
#include "quantizer/post_training.h"
#include "runtime/session.h"

namespace hqp::test {
namespace {

using ir::OpKind;

constexpr int64_t kClasses = 4;

// x [N,1,8,8] -> conv a 12 -> bn -> relu -> conv b 16 -> bn -> relu -> (+ conv c 16) -> relu -> GAP -> fc
ir::Graph residual_model() {
  Net n;
  ir::Value* x = n.input({1, 1, 8, 8});
  ir::Value* a = n.unary(OpKind::Relu, n.bn(n.conv(x, 1, 12, "a"), 12, "a_bn"), "a_relu");
  ir::Value* b = n.unary(OpKind::Relu, n.bn(n.conv(a, 12, 16, "b"), 16, "b_bn"), "b_relu");
  ir::Value* c = n.bn(n.conv(b, 16, 16, "c"), 16, "c_bn");
  ir::Value* s = n.unary(OpKind::Relu, n.binary(OpKind::Add, b, c, "add"), "add_relu");
  n.head(s, 16, kClasses);
  EXPECT_TRUE(ir::verify_and_infer(n.g).ok());
  return std::move(n.g);
}

// x -> conv a 8 -> relu -> conv b 8 -> relu -> GAP -> fc, with b's weights on input channel 0
// multiplied by 1000 and a's output channel 0 divided by 1000: the same function, but b's weight
// scales are set by that one input channel, so INT8 rounds b's other weights to 0.
ir::Graph broken_layer_model() {
  Net n;
  ir::Value* x = n.input({1, 1, 8, 8});
  ir::Value* a = n.unary(OpKind::Relu, n.conv(x, 1, 8, "a"), "a_relu");
  ir::Value* b = n.unary(OpKind::Relu, n.conv(a, 8, 8, "b"), "b_relu");
  n.head(b, 8, kClasses);
  EXPECT_TRUE(ir::verify_and_infer(n.g).ok());
  Tensor aw = n.g.find_value("a.w")->data.clone();
  Tensor ab = n.g.find_value("a.b")->data.clone();
  Tensor bw = n.g.find_value("b.w")->data.clone();
  for (int64_t i = 0; i < 9; ++i) aw.data<float>()[i] /= 1000.0f;  // a's output channel 0
  ab.data<float>()[0] /= 1000.0f;
  for (int64_t o = 0; o < 8; ++o) {
    for (int64_t i = 0; i < 9; ++i) bw.data<float>()[o * 8 * 9 + i] *= 1000.0f;  // b's input channel 0
  }
  n.g.find_value("a.w")->data = aw;
  n.g.find_value("a.b")->data = ab;
  n.g.find_value("b.w")->data = bw;
  return std::move(n.g);
}

// Random images labelled by the model's own argmax (fast runtime, FP32).
std::unique_ptr<data::TensorBatchSource> labelled(const ir::Graph& model, int64_t n, uint32_t seed, int64_t batch) {
  Tensor x = random_tensor({n, 1, 8, 8}, seed, 1.0f);
  Session s = Session::create(model).value();
  const Tensor in[] = {x};
  Tensor logits = s.run(in).value()[0];
  Tensor labels = Tensor::zeros(DType::kS64, {n}).value();
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data<float>() + i * kClasses;
    labels.data<int64_t>()[i] = std::max_element(row, row + kClasses) - row;
  }
  return data::TensorBatchSource::create(x, labels, batch, false, seed).value();
}

double fast_top1(const ir::Graph& g, data::BatchSource& val) {
  auto engine = eval::InferenceEngine::create(g, {}).value();
  return eval::evaluate_classifier(g, val, *engine).value().metrics.top1();
}

TEST(QuantizeModel, ReportedInt8AccuracyIsTheRuntimesOnTheWrittenModel) {
  const ir::Graph model = residual_model();
  auto calib = labelled(model, 96, 11, 32);
  auto val = labelled(model, 400, 12, 64);
  for (quant::QdqStyle style : {quant::QdqStyle::kOrt, quant::QdqStyle::kTrt}) {
    for (quant::Calibrator c : {quant::Calibrator::kMinMax, quant::Calibrator::kEntropy}) {
      quantizer::QuantizeConfig config;
      config.style = style;
      config.calibrator.method = c;
      config.calib_samples = 80;  // 2.5 batches: the third is cut
      Result<quantizer::QuantizeOutcome> r = quantizer::quantize_model(model, *calib, *val, config);
      HQP_ASSERT_OK(r.status());
      EXPECT_EQ(r->calib_samples, 80);
      EXPECT_DOUBLE_EQ(r->float_val_top1, 1.0);
      EXPECT_GT(r->int8_val_top1, 0.8) << quant::qdq_style_name(style);
      EXPECT_EQ(r->stats.quantized_convs, 3);
      EXPECT_EQ(r->stats.quantized_gemms, 1);
      EXPECT_TRUE(r->kept_float.empty());
      EXPECT_DOUBLE_EQ(fast_top1(r->model, *val), r->int8_val_top1);
      // Export and re-import: the file measures the same.
      TempDir tmp;
      const std::string path = tmp.file("q.onnx");
      HQP_ASSERT_OK(onnx_io::export_model_file(r->model, path));
      Result<ir::Graph> back = onnx_io::import_model_file(path);
      HQP_ASSERT_OK(back.status());
      EXPECT_DOUBLE_EQ(fast_top1(*back, *val), r->int8_val_top1);
    }
  }
}

TEST(QuantizeModel, FastRuntimeStatisticsEqualTheReferenceMinMax) {
  ir::Graph g = residual_model();
  HQP_ASSERT_OK(quant::prepare_for_quantization(g).status());
  auto calib = labelled(g, 64, 3, 32);
  int64_t used = 0;
  Result<quant::ActivationStatistics> stats = quantizer::collect_statistics(g, *calib, 64, false, 1, {}, &used);
  HQP_ASSERT_OK(stats.status());
  EXPECT_EQ(used, 64);
  quant::CalibrationData data;
  calib->start_epoch(0);
  while (auto b = calib->next().value()) data.batches.push_back({b->images});
  Result<quant::RangeMap> ref = quant::calibrate_min_max(g, data);
  HQP_ASSERT_OK(ref.status());
  for (const auto& [name, range] : *ref) {
    const quant::TensorStatistics* s = stats->find(name);
    ASSERT_NE(s, nullptr) << name;
    const float tol = 1e-4f * std::max(1.0f, std::max(std::fabs(range.min), std::fabs(range.max)));
    EXPECT_NEAR(s->range.min, range.min, tol) << name;
    EXPECT_NEAR(s->range.max, range.max, tol) << name;
  }
}

TEST(QuantizeModel, FallbackReturnsTheBrokenLayerToFloat) {
  const ir::Graph model = broken_layer_model();
  auto calib = labelled(model, 128, 21, 64);
  auto val = labelled(model, 600, 22, 100);
  quantizer::QuantizeConfig config;
  config.style = quant::QdqStyle::kTrt;
  config.max_drop = 2.0;
  Result<quantizer::QuantizeOutcome> r = quantizer::quantize_model(model, *calib, *val, config);
  HQP_ASSERT_OK(r.status());
  EXPECT_GT((r->float_val_top1 - r->all_int8_val_top1) * 100.0, 2.0) << "the broken layer should cost accuracy";
  ASSERT_FALSE(r->sensitivity.empty());
  EXPECT_EQ(r->sensitivity.front().node, "b");
  for (size_t i = 1; i < r->sensitivity.size(); ++i) {
    EXPECT_GE(r->sensitivity[i - 1].gain_pp, r->sensitivity[i].gain_pp);
  }
  EXPECT_TRUE(r->bound_met);
  EXPECT_EQ(r->kept_float, (std::vector<std::string>{"b"}));
  EXPECT_LE((r->float_val_top1 - r->int8_val_top1) * 100.0, 2.0 + 1e-9);
  EXPECT_EQ(r->stats.float_compute, 1);
  EXPECT_DOUBLE_EQ(fast_top1(r->model, *val), r->int8_val_top1);
}

TEST(QuantizeModel, BiasCorrectionRemovesTheMeanShiftOfWeightQuantization) {
  // x [N,4,6,6] (mean 0.7 + noise) -> 1x1 conv 5 (no padding): E[W x + b] = W E[x] + b exactly, so
  // after correction the QDQ-weight conv on float inputs has the float conv's output mean.
  Net n;
  ir::Value* x = n.g.add_input("x", DType::kF32, dims({"N", 4, 6, 6}));
  ir::Value* w = n.g.add_initializer("w", random_tensor({5, 4, 1, 1}, 7, 0.9f));
  ir::Value* bias = n.g.add_initializer("b", random_tensor({5}, 8));
  ir::Value* y = n.g.add_value("y");
  n.g.add_node(OpKind::Conv, "conv", {x, w, bias}, {y}, ir::ConvAttrs{});
  n.g.add_output(y);
  HQP_ASSERT_OK(ir::verify_and_infer(n.g));
  Tensor images = random_tensor({64, 4, 6, 6}, 9, 0.3f);
  for (float& v : images.span<float>()) v += 0.7f;
  auto src = data::TensorBatchSource::create(images, Tensor::zeros(DType::kS64, {64}).value(), 32, false, 1).value();
  quant::RangeMap ranges;
  ranges["x"] = quant::ValueRange{0.0f, 1.2f};
  quant::QdqOptions o;
  o.per_channel_weights = false;  // coarse weights: a visible shift
  ir::Graph qdq = n.g.clone();
  HQP_ASSERT_OK(quant::insert_qdq_with_ranges(qdq, ranges, o).status());
  ir::Graph corrected = n.g.clone();
  Result<int> r = quantizer::correct_biases(corrected, qdq, {"conv"}, *src, 64, 1);
  HQP_ASSERT_OK(r.status());
  EXPECT_EQ(*r, 1);
  // The corrected float bias with the QDQ graph's dequantized weights, on float inputs.
  const ir::Node* qconv = qdq.find_node("conv");
  ir::Graph check = corrected.clone();
  const ir::Node* dq = qconv->input(1)->producer();
  ASSERT_EQ(dq->kind, OpKind::DequantizeLinear);
  // Dequantize the weights by hand: q * scale (zero point 0).
  const Tensor& q = *ir::constant_of(dq->input(0));
  const Tensor& sc = *ir::constant_of(dq->input(1));
  Tensor wdq = Tensor::zeros(DType::kF32, q.shape()).value();
  for (int64_t i = 0; i < q.numel(); ++i) wdq.data<float>()[i] = static_cast<float>(q.element_as_int64(i)) * sc.data<float>()[i / 4];
  check.set_input(check.find_node("conv"), 1, check.add_initializer("wdq", wdq));
  const auto channel_means = [&](const ir::Graph& g) {
    const Tensor in[] = {images};
    Tensor out = reference::run_reference(g, in).value()[0];
    std::vector<double> m(5, 0.0);
    for (int64_t i = 0; i < out.numel(); ++i) m[static_cast<size_t>((i / 36) % 5)] += out.data<float>()[i];
    for (double& v : m) v /= 64.0 * 36.0;
    return m;
  };
  const std::vector<double> want = channel_means(n.g);
  const std::vector<double> got = channel_means(check);
  ir::Graph uncorrected = n.g.clone();
  uncorrected.set_input(uncorrected.find_node("conv"), 1, uncorrected.add_initializer("wdq", wdq));
  const std::vector<double> before = channel_means(uncorrected);
  double shift_before = 0.0;
  for (int c = 0; c < 5; ++c) {
    EXPECT_NEAR(got[static_cast<size_t>(c)], want[static_cast<size_t>(c)], 1e-4) << c;
    shift_before = std::max(shift_before, std::fabs(before[static_cast<size_t>(c)] - want[static_cast<size_t>(c)]));
  }
  EXPECT_GT(shift_before, 1e-3) << "the test needs a visible shift to correct";
}

TEST(QuantizeModel, CleAndBiasCorrectionRunEndToEnd) {
  const ir::Graph model = residual_model();
  auto calib = labelled(model, 64, 31, 32);
  auto val = labelled(model, 300, 32, 100);
  quantizer::QuantizeConfig config;
  config.cle = true;
  config.bias_correction = true;
  Result<quantizer::QuantizeOutcome> r = quantizer::quantize_model(model, *calib, *val, config);
  HQP_ASSERT_OK(r.status());
  EXPECT_EQ(r->cle_pairs, 1);         // a -> relu -> b (b -> c feeds the residual Add too)
  EXPECT_EQ(r->biases_corrected, 4);  // a, b, c, fc
  EXPECT_GT(r->int8_val_top1, 0.8);
  EXPECT_DOUBLE_EQ(fast_top1(r->model, *val), r->int8_val_top1);
}

TEST(QuantizeModel, BadConfigsAreErrors) {
  const ir::Graph model = residual_model();
  auto calib = labelled(model, 32, 1, 32);
  auto val = labelled(model, 32, 2, 32);
  quantizer::QuantizeConfig c;
  c.calib_samples = 0;
  Result<quantizer::QuantizeOutcome> r = quantizer::quantize_model(model, *calib, *val, c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("calibration samples 0"), std::string::npos) << r.status().message();
  c = {};
  c.keep_float = {"nope"};
  r = quantizer::quantize_model(model, *calib, *val, c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no such node"), std::string::npos) << r.status().message();
  c.keep_float = {"a_relu"};
  r = quantizer::quantize_model(model, *calib, *val, c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is Relu, not a Conv / Gemm"), std::string::npos) << r.status().message();
  c = {};
  c.calibrator.method = quant::Calibrator::kPercentile;
  c.calibrator.percentile = 10.0;
  EXPECT_FALSE(quantizer::quantize_model(model, *calib, *val, c).ok());
  ir::Graph old = model.clone();
  old.info.opset_imports = {{"", 11}};
  r = quantizer::quantize_model(old, *calib, *val, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("opset"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace hqp::test
