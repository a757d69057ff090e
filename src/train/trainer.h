// Trainer: supervised training of an IR classifier on libtorch (TorchExecutor): SGD (momentum,
// Nesterov) or AdamW with weight decay on weights only (never BN params or biases), warm-up +
// cosine / one-cycle / step schedules, label smoothing, knowledge distillation from a teacher
// graph, validation and a checkpoint each epoch, bit-identical resume, NaN stop. Seeded: the same
// config, data and thread count give the same weights. This header does not include libtorch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"
#include "data/batch_source.h"
#include "distributed/process_group.h"
#include "train/schedule.h"
#include "train/torch_executor.h"

namespace hqp::train {

enum class OptimizerKind : uint8_t { kSgd, kAdamW };
std::optional<OptimizerKind> optimizer_from_name(std::string_view name);  // "sgd", "adamw"
std::string_view optimizer_name(OptimizerKind kind);

struct TrainConfig {
  int64_t epochs = 1;
  OptimizerKind optimizer = OptimizerKind::kSgd;
  double lr = 0.1;
  double momentum = 0.9;  // SGD
  bool nesterov = false;  // SGD (requires momentum > 0)
  double weight_decay = 5e-4;  // SGD: L2 on the gradient; AdamW: decoupled. kWeight params only.
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;

  ScheduleKind schedule = ScheduleKind::kCosine;
  double warmup_epochs = 0.0;  // linear warm-up (fractions of an epoch allowed); one-cycle: its rise
  double min_lr = 0.0;         // cosine floor
  int64_t step_epochs = 30;    // step schedule: epochs per decay
  double step_gamma = 0.1;

  double label_smoothing = 0.0;  // in [0, 1)
  // With a teacher: loss = (1 - alpha)·CE(student, labels) + alpha·T²·KL(softmax(t/T) || softmax(s/T)).
  double distill_alpha = 0.5;
  double distill_temperature = 4.0;

  // Mixed precision: forward passes (student and teacher) under libtorch's CPU autocast to
  // bfloat16 -- convolutions and matrix products in bf16 (oneDNN; 2x faster ResNet-18 training on
  // CPUs with AVX-512 BF16), weights, optimizer state, loss and gradients' accumulation in f32.
  // Validation and evaluate() stay f32.
  bool bf16 = false;

  uint64_t seed = 0;   // seeds this trainer's own torch generator (Dropout); data order is the BatchSource's
  int threads = 0;     // torch::set_num_threads when > 0
  std::string checkpoint_dir;  // empty: no checkpoints
  int64_t progress_every = 10;  // steps between progress callbacks (and one at each epoch end)

  // Data-parallel training (nullptr: this process alone). Every rank builds the trainer from the
  // same model and config and feeds its shard of each global batch (data::LoaderOptions
  // num_shards / shard); create() broadcasts rank 0's weights and buffers, each step's gradients
  // are summed over ranks with each rank's loss weighted rows / global rows (GradientSync:
  // bucketed, overlapping backward), so K steps of R ranks × batch B give the weights of one
  // process × batch R·B up to float reduction order -- BatchNorm aside: its batch statistics are
  // per rank unless sync_bn. Rank 0's BN running statistics are broadcast after each epoch.
  // Epoch records and evaluate() report the whole global batch / data set. Only rank 0 writes
  // checkpoints (checkpoint_dir); resume() reads them on every rank.
  distributed::GroupPtr group;
  bool sync_bn = false;  // with group: BatchNorm mean / variance over the global batch
};

struct EvalResult {
  double loss = 0.0;  // mean cross-entropy (no label smoothing)
  double top1 = 0.0;  // fraction in [0, 1]
  double top5 = 0.0;
  int64_t samples = 0;
  double samples_per_s = 0.0;
  std::vector<int64_t> class_samples;  // [classes]: samples per label (metrics::ClassificationMetrics)
  std::vector<int64_t> class_correct;  // [classes]: top-1 hits per label
};

struct EpochRecord {
  int64_t epoch = 0;  // 0-based
  double train_loss = 0.0;
  double train_top1 = 0.0;
  double lr = 0.0;  // at the last step of the epoch
  double seconds = 0.0;
  std::optional<EvalResult> val;
};

struct Progress {
  enum class Phase : uint8_t { kTrain, kValidate };
  Phase phase = Phase::kTrain;
  int64_t epoch = 0;   // 0-based
  int64_t epochs = 0;
  int64_t step = 0;    // batches done in this phase of this epoch
  int64_t steps = 0;   // batches in this phase of this epoch
  double loss = 0.0;   // running mean over the epoch so far
  double top1 = 0.0;   // running accuracy over the epoch so far
  double lr = 0.0;
  double samples_per_s = 0.0;
  double eta_s = 0.0;  // of this phase
  bool epoch_done = false;
};
using ProgressCallback = std::function<void(const Progress&)>;

// Checkpoint layout in TrainConfig::checkpoint_dir, rewritten after every epoch (each file written
// to a temporary name and renamed; checkpoint.json last, so it always names a complete set):
//   checkpoint.json        {"format":"hqp-train-checkpoint","version":1,"epochs_done":E,"global_step":S,
//                           "optimizer":"sgd","world_size":W,"model":"model-eNNNN.onnx","state":"state-eNNNN.pt",
//                           "history":[...]}   (resume() requires the same world size; absent = 1)
//   model-eNNNN.onnx       the model after E epochs (weights and BN running stats written back)
//   state-eNNNN.pt         torch archive: "optimizer" (momentum / Adam moments), "rng" (the trainer's generator)
inline constexpr const char* kCheckpointIndex = "checkpoint.json";

class Trainer {
 public:
  // model: verified graph whose first input is f32 [N, C, H, W] and first output logits [N, K].
  // teacher (optional, copied): same input and classes; run in eval mode without gradients.
  static Result<std::unique_ptr<Trainer>> create(const ir::Graph& model, const TrainConfig& config,
                                                 const ir::Graph* teacher = nullptr);
  // Continues the run saved in `checkpoint_dir` (model, optimizer state, RNG, epoch, history):
  // fit() then trains epochs [epochs_done, config.epochs) and yields the weights an uninterrupted
  // run would have (same config, data and thread count). kNotFound / kParseError on a missing or
  // damaged checkpoint; kInvalidArgument when its optimizer differs from config's.
  static Result<std::unique_ptr<Trainer>> resume(const std::string& checkpoint_dir, const TrainConfig& config,
                                                 const ir::Graph* teacher = nullptr);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains the remaining epochs; validates on `val` after each epoch when given; checkpoints each
  // epoch when checkpoint_dir is set. A non-finite loss stops with kInvalidArgument naming the
  // epoch and step; the last checkpoint (previous epoch) stays intact and the in-memory weights
  // are not to be used. Returns the records of the epochs run by this call.
  Result<std::vector<EpochRecord>> fit(data::BatchSource& train, data::BatchSource* val = nullptr,
                                       const ProgressCallback& progress = {});
  // Eval-mode pass over `data` (no gradients, no BN updates).
  Result<EvalResult> evaluate(data::BatchSource& data, const ProgressCallback& progress = {});

  // A copy of the model graph with the current weights and running stats written back.
  Result<ir::Graph> model() const;
  int64_t epochs_done() const;
  const std::vector<EpochRecord>& history() const;
  TorchExecutor& executor();

  struct State;

 private:
  explicit Trainer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hqp::train
