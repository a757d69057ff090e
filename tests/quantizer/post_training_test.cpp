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
