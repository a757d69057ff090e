// `hqp compress`: the hybrid pipeline -- Fisher pruning gated on the *deployed* model, INT8
// post-training quantization, verification of the final INT8 model against the bound, and
// optionally the single-technique baselines at the same bound and fine-tuning budget. An
// orchestration layer over pruner::prune_model and quantizer::quantize_model.
//
// How the bound is spent on the final model: every pruning candidate is quantized (with the
// calibration settings of the final quantization, deterministic) and the gate compares *its INT8*
// val top-1 with the float original's; the final quantization runs with the accuracy-aware
// fallback (layers back to float) measured from the original's val top-1 as well. When even that
// misses the bound, the pruning is dropped and the quantized original (quant-only) is the result,
// so a model over budget is never returned.
//
// Hardware-aware: a latency table (pruner/latency_table.h) of the target engine -- the quantized
// original on the fast runtime for target int8, the float original for fp32 -- is measured once
// per model and drives the pruning cost (prune::CostKind::kLatency by default).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/batch_source.h"
#include "distributed/process_group.h"
#include "ir/graph.h"
#include "pruner/gated_pruning.h"
#include "quantizer/post_training.h"

namespace hqp::pipeline {

enum class Target : uint8_t { kInt8, kFp32 };
std::optional<Target> target_from_name(std::string_view name);  // "int8", "fp32"
std::string_view target_name(Target target);

struct CompressConfig {
  double max_drop = 1.0;           // val top-1 percentage points below the float original, > 0
  Target target = Target::kInt8;
  // Pruning settings (criterion, cost, step, fine-tuning, targets, time budget, seed, groups).
  // max_drop, deploy, latency_table, threads, checkpoint_dir and resume are set by the pipeline.
  pruner::PruneConfig prune;
  // Quantization settings (calibrator, placement, calibration samples). max_drop, keep_float,
  // reference_val_top1 and threads are set by the pipeline.
  quantizer::QuantizeConfig quant;
  bool baselines = false;          // also run quant-only, prune-only, l1 + quant, random + quant
  bool sensitivity = false;        // rank every layer's INT8 sensitivity on the final model (report)
  int threads = 1;
  int latency_runs = 50;           // timed runs per latency figure (per round)
  int latency_rounds = 5;          // alternating rounds of the final comparison; medians reported
  int table_runs = 100;            // profiled runs for the latency table
  std::string work_dir;            // checkpoints (prune runs, latency table); empty: none
  bool resume = false;             // continue the runs saved in work_dir
  // Data-parallel (nullptr: one process): train / calib / val / test are this rank's shards, and
  // quant.group / quant.calib_quota, prune.finetune.group are set alike by the caller. Accuracies
  // are over every rank's samples, latencies rank 0's (measured by it alone; the others' latency
  // figures are 0), so every rank takes the same decisions; only rank 0 writes the work dir.
  distributed::GroupPtr group;
};

// One model's figures. Accuracies are fractions; -1 when not measured.
struct ModelFigures {
  std::string name;                // "original", "quant-only", "prune-only", "l1+quant", "random+quant", "hybrid"
  bool int8 = false;
  double val_top1 = -1.0;
  double test_top1 = -1.0;
  double latency_ms = 0.0;         // median over rounds, fast runtime, batch 1, config.threads
  int64_t bytes = 0;               // ONNX file size
  int64_t macs = 0;                // at batch 1 (the float model's for INT8 models)
  int64_t params = 0;
  double seconds = 0.0;            // wall time spent producing it
  int64_t steps_kept = 0;          // pruning steps accepted
  std::vector<std::string> kept_float;  // INT8 models: layers left float
  bool within_bound = true;        // val drop <= max_drop
};

struct CompressProgress {
  std::string phase;               // "baseline", "quant-only", "latency table", "prune", "quantize", ...
  std::string detail;              // the sub-phase, e.g. "step 3 fine-tune"
  int64_t done = 0, total = 0;
};

struct CompressCallbacks {
  std::function<void(const CompressProgress&)> progress;
  std::function<void(const std::string&)> message;                   // one line per finished stage
  std::function<void(const std::string& run, const pruner::StepRecord&)> step;  // after each pruning attempt
};

struct CompressOutcome {
  ir::Graph model;                 // the result: QDQ INT8 (target int8) or pruned float (fp32)
  ModelFigures original, result;
  std::vector<ModelFigures> baselines;  // with config.baselines: quant-only, prune-only, l1+quant, random+quant
  std::vector<ir::Graph> baseline_models;  // with config.baselines: each baseline's model (QDQ INT8 or pruned float)
  pruner::PruneOutcome prune;      // the hybrid's pruning run (trajectory)
  std::optional<quantizer::QuantizeOutcome> quant_only;  // target int8
  std::optional<quantizer::QuantizeOutcome> quant;       // the final quantization (target int8)
  prune::LatencyTable latency_table;
  double table_estimate_ms = 0.0;  // the table's estimate of the original (deployed) latency
  std::map<std::string, int64_t> channels_before, channels_after;  // output channels per Conv / Gemm
  std::vector<std::string> layers;  // the original's Conv / Gemm nodes in graph order
  bool pruning_dropped = false;    // the final quantization missed the bound: quant-only returned
  double seconds = 0.0;
};

// The file name a baseline's model is written under in a report directory ("l1+quant" ->
// "l1-quant.onnx"): letters, digits and '-' only.
std::string baseline_file_name(const std::string& name);

// model: verified float classifier (first input f32 [N, C, H, W] with a dynamic batch dim, first
// output logits). train: shuffled, augmented training batches (importance, fine-tuning); calib:
// training batches in eval mode (calibration); val: the val split (every gate); test: the test
// split (reported only; may be null). Errors as prune_model / quantize_model, plus kInvalidArgument
// for a bad config.
Result<CompressOutcome> compress_model(const ir::Graph& model, data::BatchSource& train, data::BatchSource& calib,
                                       data::BatchSource& val, data::BatchSource* test, const CompressConfig& config,
                                       const CompressCallbacks& callbacks = {});

}  // namespace hqp::pipeline
