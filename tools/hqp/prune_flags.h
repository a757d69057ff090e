// The pruning-loop flags `hqp prune` and `hqp compress` share (criterion, cost, step, fine-tuning,
// targets, time budget, seed, groups): registered on a subcommand in one place and turned into a
// pruner::PruneConfig in one place, so that the two commands cannot drift apart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "pruner/gated_pruning.h"

namespace hqp::cli {

struct PruneFlags {
  std::string criterion = "fisher";
  std::string cost = "macs";
  double step = 0.1;
  double min_step = 0.0125;
  int64_t finetune_steps = 200;
  int64_t importance_batches = 8;
  bool kd = false;
  double lr = 0.01;
  double weight_decay = 5e-5;
  std::string precision = "fp32";
  int64_t batch_size = 64;
  std::optional<double> target_macs;
  std::optional<double> target_speedup;
  double time_budget_min = 0.0;
  std::vector<std::string> ignore;
  int64_t min_channels = 1;
  int64_t round_to = 1;
  bool remove_blocks = false;
  uint64_t seed = 0;
};

// Registers --criterion, --cost (its default and help from `flags.cost` / `cost_help`), --step,
// --min-step, --finetune-steps, --importance-batches, --kd, --lr, --weight-decay, --precision,
// --batch-size, --target-macs, --target-speedup, --time-budget, --ignore, --min-channels,
// --round-to, --remove-blocks / --keep-blocks (default: flags.remove_blocks), --seed.
void add_prune_flags(CLI::App* sub, PruneFlags& flags, const std::string& cost_help);

// kInvalidArgument when --target-macs and --target-speedup are both given (`verb`: "prune").
Result<pruner::PruneConfig> prune_config(const PruneFlags& flags, const std::string& verb);

}  // namespace hqp::cli
