// hqp_eval: the three inference engines agree on one graph, evaluate_classifier counts exactly what
// hand-computed metrics say (including the zero-padded last batch of a static-batch model), and
// measure_latency times exactly the runs it was asked for.
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/tensor_compare.h"
#include "data/batch_source.h"
#include "eval/engine.h"
#include "eval/evaluate.h"
#include "eval/latency.h"
#include "ir/verifier.h"

namespace hqp::test {
namespace {

using ir::Graph;
using ir::OpKind;
using ir::Value;

constexpr int64_t kClasses = 4;

// images [B, kClasses, 1, 1] -> Flatten -> logits [B, kClasses]: the logits are the images, so a
// test picks every prediction. `batch` <= 0: a symbolic batch dim.
Graph identity_classifier(int64_t batch) {
  Graph g;
  Value* x = batch > 0 ? g.add_input("x", DType::kF32, dims({batch, kClasses, 1, 1}))
                       : g.add_input("x", DType::kF32, dims({"N", kClasses, 1, 1}));
  Value* y = g.add_value("logits");
  g.add_node(OpKind::Flatten, "flatten", {x}, {y}, ir::FlattenAttrs{});
  g.add_output(y);
  return g;
}

// A small conv net with weights, for comparing engines: x [N,2,6,6] -> Conv(3x3, pad 1) -> Relu
// -> GlobalAveragePool -> Flatten -> Gemm -> [N, 3].
Graph small_net() {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({"N", 2, 6, 6}));
  Value* w = g.add_initializer("w", iota_f32({4, 2, 3, 3}, 0.01f, -0.3f));
  Value* b = g.add_initializer("b", iota_f32({4}, 0.1f, -0.2f));
  Value* fw = g.add_initializer("fw", iota_f32({3, 4}, 0.05f, -0.25f));
  Value* c = g.add_value("c");
  Value* r = g.add_value("r");
  Value* p = g.add_value("p");
  Value* f = g.add_value("f");
  Value* y = g.add_value("y");
  ir::ConvAttrs pad1;
  pad1.pads = {1, 1, 1, 1};
  g.add_node(OpKind::Conv, "conv", {x, w, b}, {c}, pad1);
  g.add_node(OpKind::Relu, "relu", {c}, {r});
  g.add_node(OpKind::GlobalAveragePool, "gap", {r}, {p});
  g.add_node(OpKind::Flatten, "flatten", {p}, {f}, ir::FlattenAttrs{});
  ir::GemmAttrs gemm;
  gemm.trans_b = 1;
  g.add_node(OpKind::Gemm, "fc", {f, fw}, {y}, gemm);
  g.add_output(y);
  return g;
}

constexpr eval::EngineKind kEngines[] = {eval::EngineKind::kReference, eval::EngineKind::kFast,
                                         eval::EngineKind::kTorch};

Result<std::unique_ptr<eval::InferenceEngine>> one_thread_engine(const Graph& g, eval::EngineKind kind) {
  eval::EngineOptions o;
  o.kind = kind;
  o.threads = 1;
  return eval::InferenceEngine::create(g, o);
}

TEST(InferenceEngine, FastRefAndTorchAgree) {
  Graph g = small_net();
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<Tensor> inputs = {iota_f32({2, 2, 6, 6}, 0.013f, -0.9f)};
  std::vector<Tensor> outputs;
  for (eval::EngineKind kind : kEngines) {
    Result<std::unique_ptr<eval::InferenceEngine>> e = one_thread_engine(g, kind);
    HQP_ASSERT_OK(e.status());
    EXPECT_EQ((*e)->session() != nullptr, kind == eval::EngineKind::kFast) << eval::engine_name(kind);
    Result<std::vector<Tensor>> out = (*e)->run(inputs);
    HQP_ASSERT_OK(out.status());
    outputs.push_back((*out)[0]);
  }
  EXPECT_LE(max_relative_error(outputs[1], outputs[0]), 1e-5) << "fast vs ref";
  EXPECT_LE(max_relative_error(outputs[2], outputs[0]), 1e-5) << "torch vs ref";
}

TEST(InferenceEngine, EveryEngineRefusesNonFiniteInputsAlike) {
  // Issue 9: the fast engine returned finite logits for a NaN input, the reference NaN; now all
  // three refuse it with one message (the libtorch engine included).
  Graph g = small_net();
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  Tensor x = iota_f32({2, 2, 6, 6}, 0.013f, -0.9f);
  x.data<float>()[77] = std::numeric_limits<float>::quiet_NaN();
  const std::vector<Tensor> inputs = {x};
  const std::string name = g.inputs()[0]->name;
  for (eval::EngineKind kind : kEngines) {
    Result<std::unique_ptr<eval::InferenceEngine>> e = one_thread_engine(g, kind);
    HQP_ASSERT_OK(e.status());
    Result<std::vector<Tensor>> out = (*e)->run(inputs);
    ASSERT_FALSE(out.ok()) << eval::engine_name(kind);
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(out.status().message().find("input '" + name + "' holds NaN at element 77"), std::string::npos)
        << eval::engine_name(kind) << ": " << out.status().message();
  }
}

TEST(InferenceEngine, NamesRoundTrip) {
  for (eval::EngineKind kind : {eval::EngineKind::kReference, eval::EngineKind::kFast, eval::EngineKind::kTorch}) {
    EXPECT_EQ(eval::engine_from_name(eval::engine_name(kind)), kind);
  }
  EXPECT_FALSE(eval::engine_from_name("onnxruntime").has_value());
}

// Ten samples; the image of sample i puts its largest logit on class i % kClasses, and its label is
// that class for even i and (class + 1) % kClasses for odd i: top-1 hits exactly the even samples.
struct TenSamples {
  Tensor images;
  Tensor labels;
  TenSamples() {
    images = Tensor::zeros(DType::kF32, {10, kClasses, 1, 1}).value();
    labels = Tensor::zeros(DType::kS64, {10}).value();
    for (int64_t i = 0; i < 10; ++i) {
      const int64_t cls = i % kClasses;
      for (int64_t k = 0; k < kClasses; ++k) images.data<float>()[i * kClasses + k] = k == cls ? 2.0f : 0.0f;
      labels.data<int64_t>()[i] = i % 2 == 0 ? cls : (cls + 1) % kClasses;
    }
  }
};

void expect_ten_sample_metrics(const metrics::ClassificationMetrics& m) {
  EXPECT_EQ(m.samples(), 10);
  EXPECT_DOUBLE_EQ(m.top1(), 0.5);
  EXPECT_DOUBLE_EQ(m.top5(), 1.0);  // 4 classes: every label is in the top 5
  // Cross-entropy: hit = log(3 + e^2) - 2, miss = log(3 + e^2) - 0.
  const double z = std::log(3.0 + std::exp(2.0));
  EXPECT_NEAR(m.loss(), 0.5 * (z - 2.0) + 0.5 * z, 1e-6);
  ASSERT_EQ(m.num_classes(), kClasses);
  int64_t total = 0, correct = 0;
  for (int64_t c = 0; c < kClasses; ++c) {
    total += m.class_samples()[static_cast<size_t>(c)];
    correct += m.class_correct()[static_cast<size_t>(c)];
  }
  EXPECT_EQ(total, 10);
  EXPECT_EQ(correct, 5);
}

TEST(EvaluateClassifier, CountsHandComputedMetricsOnEveryEngine) {
  Graph g = identity_classifier(0);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  for (eval::EngineKind kind : {eval::EngineKind::kReference, eval::EngineKind::kFast, eval::EngineKind::kTorch}) {
    TenSamples s;
    auto source = data::TensorBatchSource::create(s.images, s.labels, 3, /*shuffle=*/false, 0);
    HQP_ASSERT_OK(source.status());
    eval::EngineOptions o;
    o.kind = kind;
    auto engine = eval::InferenceEngine::create(g, o);
    HQP_ASSERT_OK(engine.status());
    eval::EvaluateOptions eo;
    eo.num_classes = kClasses;
    int64_t calls = 0;
    Result<eval::ClassificationReport> r =
        eval::evaluate_classifier(g, **source, **engine, eo, [&](const eval::EvalProgress& p) {
          ++calls;
          EXPECT_EQ(p.steps, 4);
        });
    HQP_ASSERT_OK(r.status());
    EXPECT_EQ(calls, 4) << "one progress call per batch (3+3+3+1)";
    expect_ten_sample_metrics(r->metrics);
  }
}

TEST(EvaluateClassifier, StaticBatchModelGetsThePaddedLastBatchAndCountsOnlyRealRows) {
  Graph g = identity_classifier(4);  // static batch 4: batches of 4, 4, then 2 real + 2 zero rows
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  TenSamples s;
  auto source = data::TensorBatchSource::create(s.images, s.labels, 4, false, 0);
  HQP_ASSERT_OK(source.status());
  auto engine = eval::InferenceEngine::create(g, eval::EngineOptions{});
  HQP_ASSERT_OK(engine.status());
  eval::EvaluateOptions eo;
  eo.num_classes = kClasses;
  Result<eval::ClassificationReport> r = eval::evaluate_classifier(g, **source, **engine, eo);
  HQP_ASSERT_OK(r.status());
  expect_ten_sample_metrics(r->metrics);
}

TEST(EvaluateClassifier, RejectsLabelsWithoutALogit) {
  Graph g = identity_classifier(0);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  TenSamples s;
  s.labels.data<int64_t>()[7] = kClasses;  // no logit for class 4
  auto source = data::TensorBatchSource::create(s.images, s.labels, 5, false, 0);
  HQP_ASSERT_OK(source.status());
  auto engine = eval::InferenceEngine::create(g, eval::EngineOptions{});
  HQP_ASSERT_OK(engine.status());
  Result<eval::ClassificationReport> r = eval::evaluate_classifier(g, **source, **engine);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("label 4"), std::string::npos) << r.status().message();
}

TEST(MeasureLatency, TimesExactlyTheRequestedRuns) {
  int calls = 0, calls_at_warmup_end = -1;
  Result<metrics::LatencyStats> st = eval::measure_latency(
      [&]() -> Status {
        ++calls;
        return Status();
      },
      3, 5, [&] { calls_at_warmup_end = calls; });
  HQP_ASSERT_OK(st.status());
  EXPECT_EQ(calls, 8);
  EXPECT_EQ(calls_at_warmup_end, 3);
  EXPECT_EQ(st->runs, 5);
  EXPECT_LE(st->min_ms, st->median_ms);
  EXPECT_LE(st->median_ms, st->p90_ms);
}

TEST(MeasureLatency, StopsAtTheFirstFailureAndRejectsBadCounts) {
  int calls = 0;
  Result<metrics::LatencyStats> st = eval::measure_latency(
      [&]() -> Status { return ++calls == 2 ? Status(StatusCode::kInternal, "boom") : Status(); }, 1, 5);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().message(), "boom");
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(eval::measure_latency([] { return Status(); }, 0, 0).ok());
  EXPECT_FALSE(eval::measure_latency([] { return Status(); }, -1, 1).ok());
}

}  // namespace
}  // namespace hqp::test
