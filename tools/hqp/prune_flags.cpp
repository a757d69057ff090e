// Shared pruning flags of `hqp prune` and `hqp compress`.
#include "prune_flags.h"

#include <algorithm>

#include <fmt/format.h>

#include "validators.h"

namespace hqp::cli {

void add_prune_flags(CLI::App* sub, PruneFlags& f, const std::string& cost_help) {
  sub->add_option("--criterion", f.criterion, "Channel importance: fisher, taylor, l1, l2, bn_scale, random")
      ->check(CLI::IsMember({"fisher", "taylor", "l1", "l2", "bn_scale", "random"}))
      ->capture_default_str();
  sub->add_option("--cost", f.cost, cost_help)->check(CLI::IsMember({"none", "macs", "params", "latency"}))->capture_default_str();
  sub->add_option("--step", f.step, "Fraction of the current cost (MACs, or estimated latency) one step removes")
      ->check(CLI::Range(0.0001, 0.9))
      ->capture_default_str();
  sub->add_option("--min-step", f.min_step, "Stop once the halved step falls below this")
      ->check(positive())
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
  sub->add_option("--finetune-steps", f.finetune_steps, "Training batches of fine-tuning after each step")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30))
      ->capture_default_str();
  sub->add_option("--importance-batches", f.importance_batches, "Training batches per importance estimate")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  sub->add_flag("--kd", f.kd, "Fine-tune with knowledge distillation from the original model");
  sub->add_option("--lr", f.lr, "Fine-tuning learning rate (SGD, momentum 0.9, cosine per step)")
      ->check(CLI::Range(1e-9, 10.0))
      ->capture_default_str();
  sub->add_option("--weight-decay", f.weight_decay, "Fine-tuning weight decay")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  sub->add_option("--precision", f.precision, "Fine-tuning precision: fp32, or bf16 autocast (faster on AVX-512 BF16)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  sub->add_option("--batch-size", f.batch_size, "Training batch size (importance and fine-tuning)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  sub->add_option("--target-macs", f.target_macs, "Stop at this fraction of the original MACs")->check(CLI::Range(0.001, 0.999));
  sub->add_option("--target-speedup", f.target_speedup, "Stop at this measured latency speedup (fast runtime, batch 1)")
      ->check(CLI::Range(1.001, 1000.0));
  sub->add_option("--time-budget", f.time_budget_min, "Start no pruning step after this many minutes (0: none)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  sub->add_option("--ignore", f.ignore, "Node whose groups are never pruned (repeatable)");
  sub->add_option("--min-channels", f.min_channels, "Channels every group keeps")
      ->check(CLI::Range(int64_t{1}, int64_t{65536}))
      ->capture_default_str();
  sub->add_option("--round-to", f.round_to, "Kept channel counts stay multiples of N")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  sub->add_flag("--remove-blocks,!--keep-blocks", f.remove_blocks,
                fmt::format("Let a group lose its last channel where that removes a whole block (a residual branch, "
                            "an SE block): the block becomes a per-channel constant absorbed into its neighbours "
                            "(--keep-blocks: never; default here: {})",
                            f.remove_blocks ? "remove" : "keep"));
  sub->add_option("--seed", f.seed, "Seed of data order, augmentation, calibration subset and random scores")->capture_default_str();
}

Result<pruner::PruneConfig> prune_config(const PruneFlags& f, const std::string& verb) {
  if (f.target_macs && f.target_speedup) {
    return make_error(StatusCode::kInvalidArgument, "cannot {}: give --target-macs or --target-speedup, not both", verb);
  }
  pruner::PruneConfig c;
  c.criterion = *prune::criterion_from_name(f.criterion);
  c.cost = *prune::cost_from_name(f.cost);
  c.step = f.step;
  c.min_step = std::min(f.min_step, f.step);
  c.importance_batches = f.importance_batches;
  c.finetune_steps = f.finetune_steps;
  c.kd = f.kd;
  c.target_macs = f.target_macs.value_or(0.0);
  c.target_speedup = f.target_speedup.value_or(0.0);
  c.time_budget_s = f.time_budget_min * 60.0;
  c.groups.ignore = f.ignore;
  c.groups.min_channels = f.min_channels;
  c.groups.round_to = f.round_to;
  c.groups.remove_blocks = f.remove_blocks;
  c.finetune.lr = f.lr;
  c.finetune.weight_decay = f.weight_decay;
  c.finetune.momentum = 0.9;
  c.finetune.schedule = train::ScheduleKind::kCosine;
  c.finetune.progress_every = 1;
  c.finetune.bf16 = f.precision == "bf16";
  c.seed = f.seed;
  return c;
}

}  // namespace hqp::cli
