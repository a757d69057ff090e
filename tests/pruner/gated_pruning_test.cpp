// The gated pruning loop on a small CNN and synthetic data labelled by the CNN itself (baseline val
// top-1 = 100 %): the bound holds on every kept step, rolled-back steps halve the step, targets
// stop the loop, a killed-and-resumed run equals the uninterrupted one, bad configs fail early.
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
#include "pruner/gated_pruning.h"
#include "train/torch_executor.h"

namespace hqp::test {
namespace {

using ir::OpKind;

ir::Graph make_model() {
  ir::Graph g = make_residual_cnn();
  EXPECT_TRUE(ir::verify_and_infer(g).ok());
  return g;
}

std::unique_ptr<data::TensorBatchSource> make_data(const ir::Graph& model, int64_t n, uint32_t seed, bool shuffle,
                                                   int64_t batch) {
  return make_self_labelled_data(model, n, seed, shuffle, batch);
}

pruner::PruneConfig base_config() {
  pruner::PruneConfig c;
  c.max_drop = 5.0;
  c.step = 0.2;
  c.min_step = 0.05;
  c.importance_batches = 2;
  c.finetune_steps = 4;
  c.finetune.lr = 0.01;
  c.latency_runs = 2;
  c.max_attempts = 4;
  c.threads = 1;
  return c;
}

double top1_of(const ir::Graph& g, data::BatchSource& val) {
  auto engine = eval::InferenceEngine::create(g, {}).value();
  return eval::evaluate_classifier(g, val, *engine).value().metrics.top1();
}

TEST(GatedPruning, BoundHoldsOnEveryKeptStep) {
  const ir::Graph model = make_model();
  auto train = make_data(model, 256, 1, true, 32);
  auto val = make_data(model, 200, 2, false, 50);
  pruner::PruneConfig c = base_config();
  auto out = pruner::prune_model(model, *train, *val, c);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_DOUBLE_EQ(out->baseline_val_top1, 1.0);
  ASSERT_FALSE(out->steps.empty());
  double last_kept_top1 = out->baseline_val_top1;
  double step = c.step;
  for (const pruner::StepRecord& r : out->steps) {
    EXPECT_DOUBLE_EQ(r.step, step) << "attempt " << r.attempt;
    if (r.accepted) {
      EXPECT_LE((out->baseline_val_top1 - r.val_top1) * 100.0, c.max_drop);
      EXPECT_GT(r.latency_ms, 0.0);
      last_kept_top1 = r.val_top1;
    } else {
      EXPECT_GT((out->baseline_val_top1 - r.val_top1) * 100.0, c.max_drop);
      step /= 2.0;  // a rolled-back step halves the next one
    }
    EXPECT_GT(r.channels_removed, 0);
  }
  EXPECT_DOUBLE_EQ(out->val_top1, last_kept_top1);
  // The returned model is what was validated, and it is smaller when a step was kept.
  EXPECT_DOUBLE_EQ(top1_of(out->model, *val), out->val_top1);
  const bool any_kept = std::any_of(out->steps.begin(), out->steps.end(), [](const auto& r) { return r.accepted; });
  ASSERT_TRUE(any_kept) << "no step kept: the test exercises nothing";
  EXPECT_LT(out->macs_after, out->macs_before);
  EXPECT_LT(out->params_after, out->params_before);
  EXPECT_EQ(ir::compute_stats(out->model).macs, out->macs_after);
  EXPECT_FALSE(out->stop_reason.empty());
}

TEST(GatedPruning, TightBoundRollsBackAndKeepsTheOriginal) {
  const ir::Graph model = make_model();
  auto train = make_data(model, 128, 3, true, 32);
  auto val = make_data(model, 200, 4, false, 50);
  pruner::PruneConfig c = base_config();
  c.max_drop = 1e-6;               // any changed prediction is too much
  c.criterion = prune::Criterion::kRandom;
  c.finetune_steps = 0;
  c.step = 0.8;
  c.min_step = 0.4;
  auto out = pruner::prune_model(model, *train, *val, c);
  ASSERT_TRUE(out.ok()) << out.status().message();
  // Removing 80 % of the MACs at random without fine-tuning flips predictions of a 100 %-fit model.
  ASSERT_GE(out->steps.size(), 1u);
  EXPECT_FALSE(out->steps[0].accepted);
  if (out->steps.size() > 1) EXPECT_DOUBLE_EQ(out->steps[1].step, 0.4);
  if (std::none_of(out->steps.begin(), out->steps.end(), [](const auto& r) { return r.accepted; })) {
    EXPECT_EQ(out->macs_after, out->macs_before);
    EXPECT_DOUBLE_EQ(out->val_top1, 1.0);
    EXPECT_NE(out->stop_reason.find("min-step"), std::string::npos) << out->stop_reason;
  }
}

TEST(GatedPruning, StopsAtTheMacsTarget) {
  const ir::Graph model = make_model();
  auto train = make_data(model, 128, 5, true, 32);
  auto val = make_data(model, 100, 6, false, 50);
  pruner::PruneConfig c = base_config();
  c.max_drop = 100.0;  // every step is kept
  c.criterion = prune::Criterion::kL1;
  c.target_macs = 0.7;
  c.step = 0.2;
  c.max_attempts = 20;
  auto out = pruner::prune_model(model, *train, *val, c);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_LE(static_cast<double>(out->macs_after), 0.7 * static_cast<double>(out->macs_before));
  // The last step is cut to the target, so the loop does not overshoot by a whole step.
  EXPECT_GT(static_cast<double>(out->macs_after), 0.5 * static_cast<double>(out->macs_before));
  EXPECT_NE(out->stop_reason.find("target"), std::string::npos) << out->stop_reason;
}

// Groups behind a Concat are pruned together in one step (their offsets shift as channels go).
TEST(GatedPruning, PrunesGroupsBehindAConcat) {
  ir::Graph model = make_concat_cnn();
  ASSERT_TRUE(ir::verify_and_infer(model).ok());
  auto train = make_data(model, 128, 7, true, 32);
  auto val = make_data(model, 100, 8, false, 50);
  pruner::PruneConfig c = base_config();
  c.max_drop = 100.0;  // every step is kept
  c.target_macs = 0.5;
  c.step = 0.3;
  c.max_attempts = 10;
  auto out = pruner::prune_model(model, *train, *val, c);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_LE(static_cast<double>(out->macs_after), 0.5 * static_cast<double>(out->macs_before));
  const ir::Node* conv = out->model.find_node("c");
  ASSERT_NE(conv, nullptr);
  const int64_t cat_width = conv->input(1)->data.dim(1);
  const int64_t parts = out->model.find_node("b1")->input(1)->data.dim(0) +
                        out->model.find_node("b2")->input(1)->data.dim(0) +
                        out->model.find_node("a")->input(1)->data.dim(0);
  EXPECT_EQ(cat_width, parts) << "the consumer reads exactly what the Concat's inputs still hold";
  EXPECT_LT(cat_width, 18);
  EXPECT_DOUBLE_EQ(top1_of(out->model, *val), out->val_top1);
}

// With remove_blocks, a residual branch whose channels all go leaves the graph: the loop's surgery,
// fine-tuning (libtorch), validation and latency all run on the collapsed model.
TEST(GatedPruning, RemoveBlocksTakesAWholeResidualBranch) {
  Net n;
  ir::Value* x = n.input({1, 1, 8, 8});
  ir::Value* t = n.bn(n.conv(x, 1, 8, "stem"), 8, "stem_bn");
  ir::Value* e = n.unary(OpKind::Relu, n.conv(t, 8, 16, "expand"), "expand_relu");
  ir::Value* p = n.bn(n.conv(e, 16, 8, "proj"), 8, "proj_bn");
  n.head(n.unary(OpKind::Relu, n.binary(OpKind::Add, t, p, "add"), "add_relu"), 8, 4);
  ASSERT_TRUE(ir::verify_and_infer(n.g).ok());
  const ir::Graph model = std::move(n.g);
  auto train = make_data(model, 128, 9, true, 32);
  auto val = make_data(model, 100, 10, false, 50);
  pruner::PruneConfig c = base_config();
  c.max_drop = 100.0;              // every step is kept
  c.groups.ignore = {"stem"};      // only the branch's 16 channels may go
  c.groups.remove_blocks = true;
  c.target_macs = 0.05;
  c.step = 0.6;
  c.max_attempts = 10;
  auto out = pruner::prune_model(model, *train, *val, c);
  ASSERT_TRUE(out.ok()) << out.status().message();
  for (const char* gone : {"expand", "expand_relu", "proj", "proj_bn", "add"}) {
    EXPECT_EQ(out->model.find_node(gone), nullptr) << gone << " should be gone with its block";
  }
  EXPECT_NE(out->model.find_node("stem"), nullptr);
  EXPECT_LT(out->macs_after, out->macs_before / 2);
  EXPECT_DOUBLE_EQ(top1_of(out->model, *val), out->val_top1);
}

TEST(GatedPruning, ResumedRunEqualsUninterrupted) {
  const ir::Graph model = make_model();
  TempDir tmp;
  auto run = [&](const std::string& dir, int64_t attempts, bool resume) {
    auto train = make_data(model, 256, 7, true, 32);
    auto val = make_data(model, 100, 8, false, 50);
    pruner::PruneConfig c = base_config();
    c.max_attempts = attempts;
    c.checkpoint_dir = dir;
    c.resume = resume;
    return pruner::prune_model(model, *train, *val, c);
  };
  const std::string a = (tmp.path() / "a").string(), b = (tmp.path() / "b").string();
  auto full = run(a, 4, false);
  ASSERT_TRUE(full.ok()) << full.status().message();
  auto first = run(b, 2, false);  // "killed" after two attempts
  ASSERT_TRUE(first.ok()) << first.status().message();
  // The finished two-attempt run is resumed with a larger attempt limit.
  auto resumed = run(b, 4, true);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  ASSERT_EQ(resumed->steps.size(), full->steps.size());
  EXPECT_LT(full->macs_after, full->macs_before);  // something was pruned after the "kill"
  EXPECT_LT(full->macs_after, first->macs_after);
  for (size_t i = 0; i < full->steps.size(); ++i) {
    EXPECT_EQ(resumed->steps[i].accepted, full->steps[i].accepted) << i;
    EXPECT_EQ(resumed->steps[i].macs, full->steps[i].macs) << i;
    EXPECT_DOUBLE_EQ(resumed->steps[i].val_top1, full->steps[i].val_top1) << i;
    EXPECT_EQ(resumed->steps[i].channels, full->steps[i].channels) << i;
  }
  EXPECT_EQ(resumed->macs_after, full->macs_after);
  for (const auto& v : full->model.initializers()) {
    const ir::Value* w = resumed->model.find_value(v->name);
    ASSERT_NE(w, nullptr) << v->name;
    ASSERT_EQ(w->data.nbytes(), v->data.nbytes()) << v->name;
    EXPECT_EQ(std::memcmp(w->data.raw_data(), v->data.raw_data(), static_cast<size_t>(v->data.nbytes())), 0) << v->name;
  }
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(b) / pruner::kPruneStateFile));
}

TEST(GatedPruning, BadConfigsFailBeforeWork) {
  const ir::Graph model = make_model();
  auto train = make_data(model, 64, 9, true, 32);
  auto val = make_data(model, 64, 10, false, 32);
  auto expect_error = [&](pruner::PruneConfig c, const std::string& needle) {
    auto out = pruner::prune_model(model, *train, *val, c);
    ASSERT_FALSE(out.ok()) << needle;
    EXPECT_NE(out.status().message().find(needle), std::string::npos) << out.status().message();
  };
  pruner::PruneConfig c = base_config();
  c.max_drop = 0.0;
  expect_error(c, "--max-drop");
  c = base_config();
  c.step = 1.5;
  expect_error(c, "--step");
  c = base_config();
  c.resume = true;
  expect_error(c, "--resume");
  TempDir tmp;
  c = base_config();
  c.resume = true;
  c.checkpoint_dir = (tmp.path() / "none").string();
  expect_error(c, "cannot resume pruning");
  // A checkpoint written with another criterion is refused, naming the difference.
  c = base_config();
  c.checkpoint_dir = (tmp.path() / "ck").string();
  c.max_attempts = 1;
  ASSERT_TRUE(pruner::prune_model(model, *train, *val, c).ok());
  c.resume = true;
  c.criterion = prune::Criterion::kTaylor;
  expect_error(c, "criterion");
  // Nothing prunable: every group ignored.
  c = base_config();
  c.groups.ignore = {"a", "b", "c", "fc"};
  expect_error(c, "no channel group");
}

}  // namespace
}  // namespace hqp::test
