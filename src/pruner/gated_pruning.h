// The gated pruning loop of `hqp prune`: step by step, score every channel group on fresh training
// batches (Fisher by default), remove the lowest-ranked channels worth a fraction of the current
// MACs, fine-tune briefly, validate on the fast runtime, and keep the step only when the val top-1
// drop stays within the bound -- otherwise roll it back and halve the step. Stops at a target
// (MACs or measured speedup), at the minimum step or at the time budget. Every attempt is
// checkpointed (accepted models as ONNX), and a resumed run reproduces the uninterrupted one:
// each attempt's data and seeds depend only on its number.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/batch_source.h"
#include "ir/graph.h"
#include "prune/channel_groups.h"
#include "prune/importance.h"
#include "prune/selection.h"
#include "train/trainer.h"

namespace hqp::pruner {

// What a pruning candidate becomes when deployed (PruneConfig::deploy), e.g. its INT8 quantization.
struct Deployed {
  ir::Graph model;               // validated and timed in place of the float candidate
  double val_top1 = -1.0;        // its val top-1 when the hook measured it (< 0: the pruner measures)
  double float_val_top1 = -1.0;  // the float candidate's val top-1 when the hook measured it
};
using DeployFn = std::function<Result<Deployed>(const ir::Graph& candidate)>;

struct PruneConfig {
  double max_drop = 1.0;        // val top-1 percentage points below the original, > 0
  prune::Criterion criterion = prune::Criterion::kFisher;
  prune::CostKind cost = prune::CostKind::kMacs;  // ranking normalization
  // cost == kLatency: measured ms per unit of work of each node (pruner/latency_table.h); each step
  // then removes `step` of the table's estimated latency (or `step` of the MACs, whichever first).
  prune::LatencyTable latency_table;
  // When set, the gate validates deploy(candidate) (and latency times it) instead of the float
  // candidate, against the float original's val top-1: the bound holds on what is deployed.
  // Must be deterministic for --resume to reproduce a run.
  DeployFn deploy;
  // Data-parallel (nullptr: one process): `train` and `val` are this rank's shards
  // (data::LoaderOptions num_shards / shard); Fisher / Taylor sums and val counts are all-reduced
  // and rank 0's latencies (measured by rank 0 alone) and clock broadcast, so every rank takes the
  // same decisions; the fine-tuning trains on the group; only rank 0 writes the checkpoint.
  // `deploy` must then give the same result on every rank (quantize_model on the same group).
  distributed::GroupPtr group;
  double step = 0.1;            // fraction of the current MACs one step removes, (0, 1)
  double min_step = 0.0125;     // stop once a halved step falls below this
  int64_t importance_batches = 8;  // training batches per importance estimate (gradient criteria)
  int64_t finetune_steps = 200;    // training batches of fine-tuning after each step (0: none)
  bool kd = false;                 // fine-tune with distillation from the original model
  double target_macs = 0.0;        // stop at MACs <= target_macs x original (0: no target)
  double target_speedup = 0.0;     // stop at measured latency speedup >= this (0: no target)
  double time_budget_s = 0.0;      // stop before starting an attempt past this wall time (0: none)
  int64_t max_attempts = 1000;
  prune::GroupOptions groups;
  // Fine-tuning (lr, momentum, weight decay, label smoothing, distillation, bf16); epochs, seed,
  // threads, checkpoint_dir and warm-up are set per attempt.
  train::TrainConfig finetune;
  int threads = 1;        // libtorch and fast-runtime threads
  int latency_runs = 30;  // timed runs (batch 1, fast runtime FP32) per latency measurement
  uint64_t seed = 0;
  std::string checkpoint_dir;  // empty: no checkpoints
  bool resume = false;         // continue the run saved in checkpoint_dir
};

struct StepRecord {
  int64_t attempt = 0;       // 0-based
  bool accepted = false;
  double step = 0.0;         // fraction of MACs this attempt aimed to remove
  int64_t channels_removed = 0;
  int64_t macs = 0;          // of the candidate, at batch 1
  int64_t params = 0;
  double val_top1 = 0.0;     // of the candidate after fine-tuning (deployed, with deploy), fraction
  double float_val_top1 = -1.0;  // with deploy: the float candidate's, when the hook measured it
  double latency_ms = 0.0;   // median, fast runtime batch 1 (FP32, or the deployed model; accepted steps only)
  double seconds = 0.0;      // wall time of the attempt
  std::map<std::string, int64_t> channels;  // output channels per Conv/Gemm of the candidate
};

struct PruneOutcome {
  ir::Graph model;            // the last accepted model (the original when nothing was accepted)
  double baseline_val_top1 = 0.0;
  double val_top1 = 0.0;
  int64_t macs_before = 0, macs_after = 0;
  int64_t params_before = 0, params_after = 0;
  double latency_before_ms = 0.0, latency_after_ms = 0.0;
  std::vector<StepRecord> steps;
  std::string stop_reason;
  double seconds = 0.0;       // wall time of the whole run (including resumed parts)
};

struct PruneProgress {
  enum class Phase : uint8_t { kBaseline, kImportance, kFinetune, kValidate, kLatency };
  Phase phase = Phase::kBaseline;
  int64_t attempt = 0;
  int64_t done = 0;   // batches (or runs) done in this phase
  int64_t total = 0;
};
std::string_view phase_name(PruneProgress::Phase phase);

struct PruneCallbacks {
  std::function<void(const PruneProgress&)> progress;  // within phases
  std::function<void(const StepRecord&)> step;          // after every attempt
};

// model: verified float classifier (first input f32 [N, C, H, W], first output logits [N, K]).
// train: shuffled training batches (augmented as in training); val: the val split in eval mode.
// kInvalidArgument for bad config values, an unprunable model or an unreadable / mismatching
// checkpoint; kFailedPrecondition when a target is already met.
Result<PruneOutcome> prune_model(const ir::Graph& model, data::BatchSource& train, data::BatchSource& val,
                                 const PruneConfig& config, const PruneCallbacks& callbacks = {});

// Output channels of every Conv / Gemm of a verified graph, by node name (the trajectory's record).
std::map<std::string, int64_t> layer_channels(const ir::Graph& graph);

// Checkpoint layout in PruneConfig::checkpoint_dir (each file written atomically, the index last):
//   prune-state.json   {"format":"hqp-prune-checkpoint","version":1,"config":{...},"attempts_done":A,
//                       "step":F,"model":"model-aNNNN.onnx"|"","baseline":{...},"steps":[...]}
//   model-aNNNN.onnx   the model accepted at attempt NNNN
inline constexpr const char* kPruneStateFile = "prune-state.json";

}  // namespace hqp::pruner
