// pipeline::compress_model on a small residual CNN and synthetic data labelled by the CNN itself:
// the final INT8 model meets the bound measured from the original, the pruning gate validated the
// quantized candidates (the float ones are recorded beside them), fp32 target, baselines at the
// same bound, a killed-and-resumed run equals the uninterrupted one, bad configs fail early.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/prune_test_net.h"
#include "common/self_labelled_data.h"
#include "common/temp_dir.h"
#include "eval/engine.h"
#include "eval/evaluate.h"
#include "ir/model_stats.h"
#include "ir/verifier.h"
#include "pipeline/compress.h"

namespace hqp::test {
namespace {

struct Data {
  std::unique_ptr<data::TensorBatchSource> train, calib, val, test;
};

Data make_sources(const ir::Graph& model, uint32_t seed) {
  Data d;
  d.train = make_self_labelled_data(model, 256, seed, true, 32);
  d.calib = make_self_labelled_data(model, 128, seed + 1, false, 32);
  d.val = make_self_labelled_data(model, 200, seed + 2, false, 50);
  d.test = make_self_labelled_data(model, 200, seed + 3, false, 50);
  return d;
}

pipeline::CompressConfig base_config() {
  pipeline::CompressConfig c;
  c.max_drop = 5.0;
  c.prune.step = 0.2;
  c.prune.min_step = 0.05;
  c.prune.importance_batches = 2;
  c.prune.finetune_steps = 4;
  c.prune.finetune.lr = 0.01;
  c.prune.max_attempts = 3;
  c.prune.cost = prune::CostKind::kLatency;
  c.quant.calib_samples = 64;
  c.latency_runs = 2;
  c.latency_rounds = 1;
  c.table_runs = 3;
  return c;
}

ir::Graph model() {
  ir::Graph g = make_residual_cnn();
  EXPECT_TRUE(ir::verify_and_infer(g).ok());
  return g;
}

double top1_of(const ir::Graph& g, data::BatchSource& src) {
  auto engine = eval::InferenceEngine::create(g, {}).value();
  return eval::evaluate_classifier(g, src, *engine).value().metrics.top1();
}

int count_ops(const ir::Graph& g, ir::OpKind kind) {
  return static_cast<int>(std::count_if(g.nodes().begin(), g.nodes().end(), [&](const auto& n) { return n->kind == kind; }));
}

TEST(Compress, FinalInt8ModelMeetsTheBoundFromTheOriginal) {
  const ir::Graph m = model();
  Data d = make_sources(m, 11);
  const pipeline::CompressConfig c = base_config();
  auto out = pipeline::compress_model(m, *d.train, *d.calib, *d.val, d.test.get(), c);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_DOUBLE_EQ(out->original.val_top1, 1.0);
  EXPECT_TRUE(out->result.int8);
  EXPECT_GT(count_ops(out->model, ir::OpKind::QuantizeLinear), 0);
  // What the outcome reports is what the returned model measures (fast runtime, INT8).
  EXPECT_DOUBLE_EQ(top1_of(out->model, *d.val), out->result.val_top1);
  EXPECT_LE((out->original.val_top1 - out->result.val_top1) * 100.0, c.max_drop + 1e-9);
  EXPECT_TRUE(out->result.within_bound);
  EXPECT_GE(out->result.test_top1, 0.0);
  EXPECT_GT(out->result.latency_ms, 0.0);
  EXPECT_GT(out->original.latency_ms, 0.0);
  EXPECT_LT(out->result.bytes, out->original.bytes);
  ASSERT_FALSE(out->prune.steps.empty());
  // Every gate saw the quantized candidate: its INT8 val top-1 decided, the float one is recorded.
  bool kept = false;
  for (const pruner::StepRecord& r : out->prune.steps) {
    EXPECT_GE(r.float_val_top1, 0.0) << "attempt " << r.attempt;
    if (r.accepted) {
      kept = true;
      EXPECT_LE((out->original.val_top1 - r.val_top1) * 100.0, c.max_drop + 1e-9);
    } else {
      EXPECT_GT((out->original.val_top1 - r.val_top1) * 100.0, c.max_drop);
    }
  }
  ASSERT_TRUE(kept) << "no pruning step kept: the test exercises nothing";
  EXPECT_LT(out->result.macs, out->original.macs);
  // The hardware-aware cost: a table of the quantized original, covering the convs.
  EXPECT_FALSE(out->latency_table.empty());
  EXPECT_TRUE(out->latency_table.count("b") == 1) << "conv 'b' missing from the latency table";
  EXPECT_GT(out->table_estimate_ms, 0.0);
  // Channels per layer before / after for the report.
  ASSERT_EQ(out->channels_before.count("b"), 1u);
  ASSERT_EQ(out->channels_after.count("b"), 1u);
  EXPECT_LE(out->channels_after.at("b"), out->channels_before.at("b"));
  EXPECT_TRUE(out->baselines.empty());
}

TEST(Compress, Fp32TargetReturnsThePrunedFloatModel) {
  const ir::Graph m = model();
  Data d = make_sources(m, 21);
  pipeline::CompressConfig c = base_config();
  c.target = pipeline::Target::kFp32;
  auto out = pipeline::compress_model(m, *d.train, *d.calib, *d.val, nullptr, c);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_FALSE(out->result.int8);
  EXPECT_EQ(count_ops(out->model, ir::OpKind::QuantizeLinear), 0);
  EXPECT_FALSE(out->quant.has_value());
  EXPECT_DOUBLE_EQ(top1_of(out->model, *d.val), out->result.val_top1);
  EXPECT_LE((out->original.val_top1 - out->result.val_top1) * 100.0, c.max_drop + 1e-9);
  EXPECT_LT(out->result.test_top1, 0.0);  // no test source: not measured
  for (const pruner::StepRecord& r : out->prune.steps) EXPECT_LT(r.float_val_top1, 0.0);
}

TEST(Compress, BaselinesRunAtTheSameBound) {
  const ir::Graph m = model();
  Data d = make_sources(m, 31);
  pipeline::CompressConfig c = base_config();
  c.prune.max_attempts = 2;
  c.baselines = true;
  auto out = pipeline::compress_model(m, *d.train, *d.calib, *d.val, d.test.get(), c);
  ASSERT_TRUE(out.ok()) << out.status().message();
  std::vector<std::string> names;
  for (const pipeline::ModelFigures& f : out->baselines) {
    names.push_back(f.name);
    EXPECT_TRUE(f.within_bound) << f.name;
    EXPECT_LE((out->original.val_top1 - f.val_top1) * 100.0, c.max_drop + 1e-9) << f.name;
    EXPECT_GT(f.latency_ms, 0.0) << f.name;
    EXPECT_GE(f.test_top1, 0.0) << f.name;
    EXPECT_GT(f.bytes, 0) << f.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"quant-only", "prune-only", "l1+quant", "random+quant"}));
  EXPECT_TRUE(out->baselines[0].int8);
  EXPECT_EQ(out->baselines[0].macs, out->original.macs);
  EXPECT_FALSE(out->baselines[1].int8);
  EXPECT_TRUE(out->baselines[2].int8);
  EXPECT_TRUE(out->baselines[3].int8);
  // Each baseline's model is the one its figures describe.
  ASSERT_EQ(out->baseline_models.size(), out->baselines.size());
  for (size_t i = 0; i < out->baselines.size(); ++i) {
    EXPECT_DOUBLE_EQ(top1_of(out->baseline_models[i], *d.val), out->baselines[i].val_top1) << out->baselines[i].name;
  }
  EXPECT_EQ(ir::compute_stats(out->baseline_models[1]).macs, out->baselines[1].macs);
  EXPECT_EQ(pipeline::baseline_file_name("l1+quant"), "l1-quant.onnx");
}

TEST(Compress, ResumedRunEqualsUninterrupted) {
  const ir::Graph m = model();
  TempDir tmp;
  // MAC cost: a measured latency table differs from run to run (noise), so two independent runs
  // rank differently; a resumed run reuses its own table (checked below).
  auto run = [&](const std::string& dir, int64_t attempts, bool resume, prune::CostKind cost = prune::CostKind::kMacs) {
    Data d = make_sources(m, 41);
    pipeline::CompressConfig c = base_config();
    c.prune.cost = cost;
    c.prune.max_attempts = attempts;
    c.work_dir = dir;
    c.resume = resume;
    return pipeline::compress_model(m, *d.train, *d.calib, *d.val, nullptr, c);
  };
  const std::string a = (tmp.path() / "a").string(), b = (tmp.path() / "b").string();
  auto full = run(a, 4, false);
  ASSERT_TRUE(full.ok()) << full.status().message();
  auto first = run(b, 2, false);  // "killed" after two pruning attempts
  ASSERT_TRUE(first.ok()) << first.status().message();
  auto resumed = run(b, 4, true);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  ASSERT_EQ(resumed->prune.steps.size(), full->prune.steps.size());
  for (size_t i = 0; i < full->prune.steps.size(); ++i) {
    EXPECT_EQ(resumed->prune.steps[i].accepted, full->prune.steps[i].accepted) << i;
    EXPECT_EQ(resumed->prune.steps[i].channels, full->prune.steps[i].channels) << i;
    EXPECT_DOUBLE_EQ(resumed->prune.steps[i].val_top1, full->prune.steps[i].val_top1) << i;
  }
  EXPECT_DOUBLE_EQ(resumed->result.val_top1, full->result.val_top1);
  EXPECT_LT(full->result.macs, first->result.macs) << "nothing was pruned after the \"kill\"";
  // The same final INT8 model, tensor for tensor.
  ASSERT_EQ(resumed->model.initializers().size(), full->model.initializers().size());
  for (const auto& v : full->model.initializers()) {
    const ir::Value* w = resumed->model.find_value(v->name);
    ASSERT_NE(w, nullptr) << v->name;
    ASSERT_EQ(w->data.nbytes(), v->data.nbytes()) << v->name;
    EXPECT_EQ(std::memcmp(w->data.raw_data(), v->data.raw_data(), static_cast<size_t>(v->data.nbytes())), 0) << v->name;
  }
  // With the latency cost, the resumed run reuses the table saved in the work dir.
  const std::string l = (tmp.path() / "l").string();
  auto lat_first = run(l, 1, false, prune::CostKind::kLatency);
  ASSERT_TRUE(lat_first.ok()) << lat_first.status().message();
  auto lat_resumed = run(l, 2, true, prune::CostKind::kLatency);
  ASSERT_TRUE(lat_resumed.ok()) << lat_resumed.status().message();
  ASSERT_FALSE(lat_first->latency_table.empty());
  EXPECT_EQ(lat_resumed->latency_table, lat_first->latency_table);
}

TEST(Compress, BadConfigsFailBeforeWork) {
  const ir::Graph m = model();
  Data d = make_sources(m, 51);
  auto expect_error = [&](pipeline::CompressConfig c, const std::string& what) {
    auto out = pipeline::compress_model(m, *d.train, *d.calib, *d.val, nullptr, c);
    ASSERT_FALSE(out.ok()) << what;
    EXPECT_NE(out.status().message().find(what), std::string::npos) << out.status().message();
  };
  pipeline::CompressConfig c = base_config();
  c.max_drop = 0.0;
  expect_error(c, "--max-drop");
  c = base_config();
  c.resume = true;
  expect_error(c, "--resume");
  c = base_config();
  c.threads = 0;
  expect_error(c, "--threads");
}

}  // namespace
}  // namespace hqp::test
