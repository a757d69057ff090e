// Trainer: loss goes down with each optimizer, schedules, checkpoint/resume gives bit-identical
// weights, NaN loss stops and keeps the last good checkpoint, distillation runs, config errors.
#include <cmath>
#include <filesystem>

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/temp_dir.h"
#include "onnx/import.h"
#include "train/trainer.h"
#include "train/train_test_util.h"

namespace hqp::test {
namespace {

using train::OptimizerKind;
using train::TrainConfig;
using train::Trainer;

constexpr int64_t kSamples = 64;
constexpr int64_t kBatch = 16;
constexpr int kThreads = 2;

TrainConfig base_config() {
  TrainConfig c;
  c.epochs = 4;
  c.lr = 0.1;
  c.momentum = 0.9;
  c.weight_decay = 1e-4;
  c.schedule = train::ScheduleKind::kCosine;
  c.warmup_epochs = 0.5;
  c.seed = 42;
  c.threads = kThreads;
  return c;
}

std::unique_ptr<Trainer> make_trainer(const ir::Graph& g, const TrainConfig& c, const ir::Graph* teacher = nullptr) {
  auto t = Trainer::create(g, c, teacher);
  EXPECT_TRUE(t.ok()) << t.status().message();
  return std::move(t).value();
}

// A source that fails (like a crash) or yields NaN images from a given epoch on.
class FaultySource final : public data::BatchSource {
 public:
  enum class Fault { kError, kNaN };
  FaultySource(std::unique_ptr<data::BatchSource> inner, int64_t fault_epoch, Fault fault)
      : inner_(std::move(inner)), fault_epoch_(fault_epoch), fault_(fault) {}
  int64_t num_batches() const override { return inner_->num_batches(); }
  int64_t num_samples() const override { return inner_->num_samples(); }
  void start_epoch(int64_t epoch) override {
    epoch_ = epoch;
    inner_->start_epoch(epoch);
  }
  Result<std::optional<data::Batch>> next() override {
    if (epoch_ >= fault_epoch_ && fault_ == Fault::kError) {
      return make_error(StatusCode::kIoError, "simulated interruption at epoch {}", epoch_);
    }
    HQP_ASSIGN_OR_RETURN(std::optional<data::Batch> b, inner_->next());
    if (b && epoch_ >= fault_epoch_) {
      b->images = b->images.clone();
      b->images.data<float>()[0] = NAN;
    }
    return b;
  }

 private:
  std::unique_ptr<data::BatchSource> inner_;
  int64_t fault_epoch_;
  Fault fault_;
  int64_t epoch_ = 0;
};

void expect_same_weights(const ir::Graph& a, const ir::Graph& b) {
  int compared = 0;
  for (const ir::Value* v : a.initializers()) {
    const ir::Value* w = b.find_value(v->name);
    ASSERT_NE(w, nullptr) << v->name;
    EXPECT_TRUE(v->data.equals(w->data)) << v->name << " differs";
    ++compared;
  }
  EXPECT_GT(compared, 0);
}

struct OptimizerCase {
  const char* name;
  OptimizerKind kind;
  bool nesterov;
  double lr;
  train::ScheduleKind schedule;
  bool bf16 = false;  // mixed precision (bf16 autocast forward)
};

class TrainerOptimizerTest : public ::testing::TestWithParam<OptimizerCase> {};

TEST_P(TrainerOptimizerTest, LossDecreasesAndAccuracyRises) {
  const OptimizerCase& oc = GetParam();
  ir::Graph g = tiny_classifier();
  TrainConfig c = base_config();
  c.optimizer = oc.kind;
  c.nesterov = oc.nesterov;
  c.lr = oc.lr;
  c.schedule = oc.schedule;
  c.label_smoothing = 0.05;
  c.bf16 = oc.bf16;
  auto trainer = make_trainer(g, c);
  const SyntheticData train_data = synthetic_data(kSamples, 1);
  const SyntheticData val_data = synthetic_data(32, 2);
  auto train_src = batches(train_data, kBatch, true, 7);
  auto val_src = batches(val_data, kBatch, false, 0);
  auto before = trainer->evaluate(*val_src);
  ASSERT_TRUE(before.ok()) << before.status().message();
  int progress_calls = 0, epoch_ends = 0;
  auto records = trainer->fit(*train_src, val_src.get(), [&](const train::Progress& p) {
    ++progress_calls;
    if (p.epoch_done && p.phase == train::Progress::Phase::kTrain) ++epoch_ends;
  });
  ASSERT_TRUE(records.ok()) << records.status().message();
  ASSERT_EQ(records->size(), 4u);
  EXPECT_EQ(epoch_ends, 4);
  EXPECT_GT(progress_calls, 4);
  EXPECT_LT(records->back().train_loss, records->front().train_loss);
  ASSERT_TRUE(records->back().val.has_value());
  EXPECT_LT(records->back().val->loss, before->loss);
  EXPECT_GE(records->back().val->top1, 0.9);
  EXPECT_EQ(records->back().val->samples, 32);
  EXPECT_EQ(records->back().val->top5, 1.0);  // 2 classes
  // The trained model exports and reproduces the trainer's evaluation.
  auto model = trainer->model();
  ASSERT_TRUE(model.ok());
  EXPECT_FALSE(model->find_value("conv.weight")->data.equals(g.find_value("conv.weight")->data));
  EXPECT_EQ(model->find_value("conv.weight")->data.dtype(), DType::kF32);
  // Autocast is scoped to the training forward passes.
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
}

INSTANTIATE_TEST_SUITE_P(
    Optimizers, TrainerOptimizerTest,
    ::testing::Values(OptimizerCase{"sgd_momentum_cosine", OptimizerKind::kSgd, false, 0.1, train::ScheduleKind::kCosine},
                      OptimizerCase{"sgd_nesterov_step", OptimizerKind::kSgd, true, 0.1, train::ScheduleKind::kStep},
                      OptimizerCase{"sgd_onecycle", OptimizerKind::kSgd, false, 0.2, train::ScheduleKind::kOneCycle},
                      OptimizerCase{"adamw_cosine", OptimizerKind::kAdamW, false, 0.02, train::ScheduleKind::kCosine},
                      OptimizerCase{"sgd_cosine_bf16", OptimizerKind::kSgd, false, 0.1, train::ScheduleKind::kCosine, true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(TrainerTest, WeightDecaySkipsNormParamsAndBiases) {
  // Zero images make every gradient but the classifier bias vanish: only decay moves weights.
  ir::Graph g = tiny_classifier();
  TrainConfig c = base_config();
  c.epochs = 1;
  c.momentum = 0.0;
  c.weight_decay = 0.5;
  c.schedule = train::ScheduleKind::kConstant;
  c.warmup_epochs = 0;
  auto trainer = make_trainer(g, c);
  SyntheticData d{full_f32({16, 1, 8, 8}, 0.0f), Tensor::from_vector<int64_t>({16}, std::vector<int64_t>(16, 0))};
  // Zero images: conv output = bias, BN sees a constant batch -> zero gradients into conv.weight.
  auto src = batches(d, 16, false, 0);
  ASSERT_TRUE(trainer->fit(*src).ok());
  auto m = trainer->model();
  ASSERT_TRUE(m.ok());
  const Tensor& w0 = g.find_value("conv.weight")->data;
  const Tensor& w1 = m->find_value("conv.weight")->data;
  for (int64_t i = 0; i < w0.numel(); ++i) {
    EXPECT_NEAR(w1.data<float>()[i], w0.data<float>()[i] * (1.0f - 0.1f * 0.5f), 1e-6) << i;
  }
  // BN weight: gradient is zero up to rounding (normalized constant = 0; channels-last BN sums in
  // another order, so x - mean can be 1 ulp off), no decay -> unchanged. Decay would move it 5 %.
  const Tensor& b0 = g.find_value("bn.weight")->data;
  const Tensor& b1 = m->find_value("bn.weight")->data;
  for (int64_t i = 0; i < b0.numel(); ++i) EXPECT_NEAR(b1.data<float>()[i], b0.data<float>()[i], 1e-6) << i;
}

struct ResumeCase {
  const char* name;
  OptimizerKind kind;
};

class TrainerResumeTest : public ::testing::TestWithParam<ResumeCase> {};

TEST_P(TrainerResumeTest, ResumeGivesIdenticalWeights) {
  ir::Graph g = tiny_classifier();
  TrainConfig c = base_config();
  c.epochs = 3;
  c.optimizer = GetParam().kind;
  c.nesterov = GetParam().kind == OptimizerKind::kSgd;
  c.lr = GetParam().kind == OptimizerKind::kSgd ? 0.1 : 0.01;
  const SyntheticData data = synthetic_data(kSamples, 3);

  TempDir full_dir, split_dir;
  c.checkpoint_dir = full_dir.path().string();
  auto full = make_trainer(g, c);
  auto src = batches(data, kBatch, true, 11);
  ASSERT_TRUE(full->fit(*src).ok());

  // Interrupted after epoch 1 (the source fails in epoch 2), then resumed in a new trainer.
  c.checkpoint_dir = split_dir.path().string();
  {
    auto first = make_trainer(g, c);
    FaultySource faulty(batches(data, kBatch, true, 11), 1, FaultySource::Fault::kError);
    auto r = first->fit(faulty);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(is_error(r.status(), StatusCode::kIoError, "simulated interruption"));
  }
  auto resumed = Trainer::resume(split_dir.path().string(), c);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  EXPECT_EQ((*resumed)->epochs_done(), 1);
  auto src2 = batches(data, kBatch, true, 11);
  auto records = (*resumed)->fit(*src2);
  ASSERT_TRUE(records.ok()) << records.status().message();
  EXPECT_EQ(records->size(), 2u);
  EXPECT_EQ((*resumed)->history().size(), 3u);

  auto a = full->model();
  auto b = (*resumed)->model();
  ASSERT_TRUE(a.ok() && b.ok());
  expect_same_weights(*a, *b);
  EXPECT_EQ(full->history().back().train_loss, (*resumed)->history().back().train_loss);
  // The final checkpoints agree too, and only the last epoch's files remain.
  auto ca = onnx_io::import_model_file(full_dir.file("model-e0003.onnx"));
  ASSERT_TRUE(ca.ok()) << ca.status().message();
  expect_same_weights(*a, *ca);
  EXPECT_EQ(split_dir.list(), (std::vector<std::string>{"checkpoint.json", "model-e0003.onnx", "state-e0003.pt"}));
}

INSTANTIATE_TEST_SUITE_P(Optimizers, TrainerResumeTest,
                         ::testing::Values(ResumeCase{"sgd_nesterov", OptimizerKind::kSgd},
                                           ResumeCase{"adamw", OptimizerKind::kAdamW}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(TrainerTest, SameSeedSameWeights) {
  ir::Graph g = tiny_classifier();
  TrainConfig c = base_config();
  c.epochs = 2;
  const SyntheticData data = synthetic_data(kSamples, 3);
  auto a = make_trainer(g, c);
  auto b = make_trainer(g, c);
  auto sa = batches(data, kBatch, true, 5);
  auto sb = batches(data, kBatch, true, 5);
  ASSERT_TRUE(a->fit(*sa).ok());
  ASSERT_TRUE(b->fit(*sb).ok());
  expect_same_weights(*a->model(), *b->model());
}

TEST(TrainerTest, NanLossStopsAndKeepsLastGoodCheckpoint) {
  ir::Graph g = tiny_classifier();
  TrainConfig c = base_config();
  c.epochs = 3;
  TempDir dir;
  c.checkpoint_dir = dir.path().string();
  auto trainer = make_trainer(g, c);
  FaultySource nan_source(batches(synthetic_data(kSamples, 3), kBatch, true, 11), 1, FaultySource::Fault::kNaN);
  auto r = trainer->fit(nan_source);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(is_error(r.status(), StatusCode::kInvalidArgument, "loss is nan at epoch 2 step 1"));
  EXPECT_NE(r.status().message().find("model-e0001.onnx"), std::string::npos) << r.status().message();
  EXPECT_EQ(dir.list(), (std::vector<std::string>{"checkpoint.json", "model-e0001.onnx", "state-e0001.pt"}));
  auto resumed = Trainer::resume(dir.path().string(), c);
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  EXPECT_EQ((*resumed)->epochs_done(), 1);
  auto m = (*resumed)->model();
  ASSERT_TRUE(m.ok());
  for (const ir::Value* v : m->initializers()) {
    for (float x : v->data.span<float>()) ASSERT_TRUE(std::isfinite(x)) << v->name;
  }
}

TEST(TrainerTest, DistillationFromTeacherTrains) {
  ir::Graph g = tiny_classifier(1);
  TrainConfig c = base_config();
  c.epochs = 3;
  const SyntheticData data = synthetic_data(kSamples, 4);
  auto teacher_trainer = make_trainer(g, c);
  auto src = batches(data, kBatch, true, 2);
  ASSERT_TRUE(teacher_trainer->fit(*src).ok());
  auto teacher = teacher_trainer->model();
  ASSERT_TRUE(teacher.ok());


  c.distill_alpha = 0.5;
  c.distill_temperature = 2.0;
  c.epochs = 4;
  ir::Graph student = tiny_classifier(2);
  auto trainer = make_trainer(student, c, &*teacher);
  auto val = batches(synthetic_data(32, 5), kBatch, false, 0);
  auto records = trainer->fit(*src, val.get());
  ASSERT_TRUE(records.ok()) << records.status().message();
  EXPECT_LT(records->back().train_loss, records->front().train_loss);
  EXPECT_GE(records->back().val->top1, 0.9);

  // alpha = 0 is plain cross-entropy: the teacher changes nothing, bit for bit.
  c.distill_alpha = 0.0;
  auto with_teacher = make_trainer(student, c, &*teacher);
  auto without = make_trainer(student, c);
  ASSERT_TRUE(with_teacher->fit(*src).ok());
  ASSERT_TRUE(without->fit(*src).ok());
  expect_same_weights(*with_teacher->model(), *without->model());
}

TEST(TrainerTest, ResumeErrors) {
  TempDir dir;
  TrainConfig c = base_config();
  auto missing = Trainer::resume(dir.file("nope"), c);
  EXPECT_TRUE(is_error(missing.status(), StatusCode::kNotFound, "checkpoint.json"));
  ASSERT_TRUE(write_file(dir.file("checkpoint.json"), "{\"format\": \"something else\", \"version\": 1}"));
  auto wrong = Trainer::resume(dir.path().string(), c);
  EXPECT_TRUE(is_error(wrong.status(), StatusCode::kParseError, "not an hqp checkpoint"));
  ASSERT_TRUE(write_file(dir.file("checkpoint.json"), "{ truncated"));
  auto broken = Trainer::resume(dir.path().string(), c);
  EXPECT_TRUE(is_error(broken.status(), StatusCode::kParseError, "checkpoint.json"));
}

TEST(TrainerTest, ConfigErrors) {
  ir::Graph g = tiny_classifier();
  TrainConfig c = base_config();
  c.nesterov = true;
  c.momentum = 0.0;
  EXPECT_TRUE(is_error(Trainer::create(g, c).status(), StatusCode::kInvalidArgument, "momentum=0"));
  c = base_config();
  c.label_smoothing = 1.0;
  EXPECT_TRUE(is_error(Trainer::create(g, c).status(), StatusCode::kInvalidArgument, "label_smoothing=1"));
  c = base_config();
  c.lr = 0.0;
  EXPECT_TRUE(is_error(Trainer::create(g, c).status(), StatusCode::kInvalidArgument, "lr=0"));
}

TEST(ScheduleTest, WarmupCosineStepOneCycle) {
  train::ScheduleConfig s;
  s.base_lr = 1.0;
  s.warmup_steps = 10;
  s.kind = train::ScheduleKind::kCosine;
  EXPECT_DOUBLE_EQ(train::learning_rate(s, 0, 110), 0.0);
  EXPECT_DOUBLE_EQ(train::learning_rate(s, 5, 110), 0.5);
  EXPECT_DOUBLE_EQ(train::learning_rate(s, 10, 110), 1.0);
  EXPECT_NEAR(train::learning_rate(s, 60, 110), 0.5, 1e-12);
  EXPECT_NEAR(train::learning_rate(s, 109, 110), 0.0, 1e-3);
  s.kind = train::ScheduleKind::kStep;
  s.step_size = 30;
  s.gamma = 0.1;
  EXPECT_DOUBLE_EQ(train::learning_rate(s, 39, 110), 1.0);
  EXPECT_NEAR(train::learning_rate(s, 40, 110), 0.1, 1e-15);
  EXPECT_NEAR(train::learning_rate(s, 100, 110), 0.001, 1e-15);
  s.kind = train::ScheduleKind::kOneCycle;
  s.warmup_steps = 0;  // 30 % rise
  EXPECT_NEAR(train::learning_rate(s, 0, 100), 1.0 / train::kOneCycleDivFactor, 1e-12);
  EXPECT_NEAR(train::learning_rate(s, 30, 100), 1.0, 1e-12);
  EXPECT_NEAR(train::learning_rate(s, 99, 100), 1.0 / train::kOneCycleFinalDiv, 1e-12);
  s.kind = train::ScheduleKind::kConstant;
  EXPECT_DOUBLE_EQ(train::learning_rate(s, 50, 100), 1.0);
  EXPECT_EQ(train::schedule_from_name("onecycle"), train::ScheduleKind::kOneCycle);
  EXPECT_FALSE(train::schedule_from_name("linear").has_value());
}

}  // namespace
}  // namespace hqp::test
