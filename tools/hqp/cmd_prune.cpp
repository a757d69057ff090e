// `hqp prune MODEL.onnx --data DATASET -o OUT.onnx [--max-drop PP] [--criterion C] [--cost C]
// [--step F] [--finetune-steps N] [--kd] [--target-macs F | --target-speedup X] [--round-to N]
// [--ignore NODE]... [--time-budget MIN] [--threads T] [--resume] [--report R.json] [--json]`:
// Fisher-guided structured pruning under an accuracy bound (pruner::prune_model), and
// `hqp prune MODEL.onnx --groups`: the channel-dependency groups it works on -- which channels must
// go together, which node tensors each group slices, and why a blocked group cannot be pruned.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "print.h"
#include "core/json_text.h"
#include "commands.h"
#include "core/file_io.h"
#include "data/loader.h"
#include "data_flags.h"
#include "dist_flags.h"
#include "eval/evaluate.h"
#include "ir/model_stats.h"
#include "modeldata/metadata.h"
#include "modeldata/splits.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "output_path.h"
#include "measure.h"
#include "progress.h"
#include "prune_flags.h"
#include "prune/channel_groups.h"
#include "pruner/gated_pruning.h"
#include "pruner/latency_table.h"
#include "validators.h"

namespace hqp::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct PruneOptions {
  std::string model;
  bool groups = false;
  bool json = false;
  // The pruning loop.
  DataFlags data;
  PruneFlags prune;  // also --ignore / --min-channels / --round-to of --groups
  std::string output;
  double max_drop = 1.0;
  int threads = 1;
  std::string checkpoint_dir;
  bool resume = false;
  std::string report;
  bool no_test = false;
  distributed::DistFlags dist;
};

Status print_groups(const PruneOptions& o) {
  HQP_ASSIGN_OR_RETURN(ir::Graph graph, onnx_io::import_model_file(o.model));
  prune::GroupOptions go;
  go.ignore = o.prune.ignore;
  go.min_channels = o.prune.min_channels;
  go.round_to = o.prune.round_to;
  go.remove_blocks = o.prune.remove_blocks;
  HQP_ASSIGN_OR_RETURN(std::vector<prune::ChannelGroup> groups, prune::channel_groups(graph, go));
  int64_t prunable = 0, removable = 0;
  for (const prune::ChannelGroup& g : groups) {
    prunable += g.prunable ? 1 : 0;
    removable += g.max_removable;
  }
  if (o.json) {
    json j;
    j["model"] = o.model;
    j["groups"] = json::array();
    for (const prune::ChannelGroup& g : groups) {
      json members = json::array();
      for (const prune::Member& m : g.members) {
        json mj = {{"node", m.node}, {"role", std::string(prune::member_role_name(m.role))}};
        if (m.role == prune::MemberRole::kGemmColumns) mj["columns_per_channel"] = m.columns_per_channel;
        if (m.offset != 0) mj["offset"] = m.offset;
        members.push_back(mj);
      }
      j["groups"].push_back({{"id", g.id},
                             {"channels", g.channels},
                             {"prunable", g.prunable},
                             {"reason", g.reason},
                             {"max_removable", g.max_removable},
                             {"collapsible", g.collapsible},
                             {"block", g.block},
                             {"members", members},
                             {"values", g.values}});
    }
    j["prunable_groups"] = prunable;
    cli::print("{}\n", json_text(j, 2));
    return Status();
  }
  cli::print("model      {}\n", o.model);
  cli::print("groups     {} ({} prunable, up to {} channels removable)\n\n", groups.size(), prunable, removable);
  for (const prune::ChannelGroup& g : groups) {
    cli::print("group {:<4} {:>5} channels  {}\n", g.id, g.channels,
               g.prunable ? fmt::format("prunable (up to {} removable{}{})", g.max_removable,
                                        g.block > 1 ? fmt::format(", in blocks of {}", g.block) : "",
                                        g.collapsible ? ", the last one removes its block" : "")
                          : "blocked: " + g.reason);
    for (const prune::Member& m : g.members) {
      cli::print("    {:<13} {}{}{}\n", prune::member_role_name(m.role), m.node,
                 m.role == prune::MemberRole::kGemmColumns && m.columns_per_channel > 1
                     ? fmt::format(" ({} columns per channel)", m.columns_per_channel)
                     : "",
                 m.offset != 0 ? fmt::format(" (from channel {})", m.offset) : "");
    }
  }
  return Status();
}

json step_json(const pruner::StepRecord& r) {
  return {{"attempt", r.attempt},       {"accepted", r.accepted}, {"step", r.step},
          {"channels_removed", r.channels_removed}, {"macs", r.macs}, {"params", r.params},
          {"val_top1", r.val_top1},     {"latency_ms", r.latency_ms}, {"seconds", r.seconds},
          {"channels", r.channels}};
}

Status run_prune(const PruneOptions& o) {
  if (o.groups) return print_groups(o);
  if (o.data.data.empty() || o.output.empty()) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot prune: give --data DATASET and -o OUT.onnx (or --groups to list the channel groups)");
  }
  HQP_ASSIGN_OR_RETURN(pruner::PruneConfig config, prune_config(o.prune, "prune"));
  HQP_RETURN_IF_ERROR(check_output_path(o.output, "model"));
  // Data-parallel: every rank checks the flags and paths above and below before the first
  // collective (the baseline evaluation), so rank 0's checkpoint cannot trip another rank's check.
  HQP_ASSIGN_OR_RETURN(config.group, join_group(o.dist));
  config.finetune.group = config.group;
  config.finetune.sync_bn = o.dist.sync_bn;
  const bool writer = is_writer(config.group);
  const int shards = config.group ? config.group->world_size() : 1;
  const int shard = config.group ? config.group->rank() : 0;
  distributed::ProcessGroup* group = config.group.get();
  // Checkpoints always: in --checkpoint-dir, else next to the output (removed once the pruned
  // model is written; a killed or failed run leaves it for --resume).
  const bool own_checkpoints = o.checkpoint_dir.empty();
  const std::string checkpoint_dir = own_checkpoints ? o.output + ".prune-checkpoint" : o.checkpoint_dir;
  if (o.resume && !fs::exists(fs::path(checkpoint_dir) / pruner::kPruneStateFile)) {
    return make_error(StatusCode::kNotFound, "cannot resume pruning: no checkpoint in '{}'{}", checkpoint_dir,
                      own_checkpoints ? " (give --checkpoint-dir DIR if the run used another)" : "");
  }
  if (!o.resume && fs::exists(fs::path(checkpoint_dir) / pruner::kPruneStateFile)) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot prune: '{}' holds the checkpoint of an earlier run (continue it with --resume, or "
                      "remove it)", checkpoint_dir);
  }
  if (!o.report.empty()) HQP_RETURN_IF_ERROR(check_output_path(o.report, "report"));

  config.max_drop = o.max_drop;
  config.threads = o.threads;
  config.checkpoint_dir = checkpoint_dir;
  config.resume = o.resume;

  HQP_ASSIGN_OR_RETURN(ModelData md, open_model_data(o.data, o.model, "prune"));
  const ir::Graph& model = md.model;
  const modeldata::TrainingData& splits = md.splits;
  const data::Pipeline& pipeline = md.pipeline;
  const std::string what = fmt::format("model '{}'", o.model);
  const Shape input_shape = modeldata::value_shape(*model.inputs()[0]);
  if (!input_shape.empty() && input_shape[0] > 0) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot prune {}: its input has a fixed batch size of {} (fine-tuning needs a dynamic batch dim)",
                      what, input_shape[0]);
  }
  HQP_ASSIGN_OR_RETURN(auto train_src, make_loader(splits.train, pipeline, o.prune.batch_size, true, o.prune.seed, o.data.workers, shards, shard));
  HQP_ASSIGN_OR_RETURN(auto val_src, make_loader(splits.val, pipeline, 256, false, o.prune.seed, o.data.workers, shards, shard));
  std::unique_ptr<data::Loader> test_src;
  if (splits.test && !o.no_test) {
    HQP_ASSIGN_OR_RETURN(test_src, make_loader(splits.test, pipeline, 256, false, o.prune.seed, o.data.workers, shards, shard));
  }
  if (config.cost == prune::CostKind::kLatency) {
    // Hardware-aware: the float model's per-node time on the fast runtime, measured once (on
    // rank 0, and its table used by every rank: the same costs, the same selections).
    Shape sample = md.sample_shape;
    sample.insert(sample.begin(), 1);
    if (writer) {
      HQP_ASSIGN_OR_RETURN(config.latency_table, pruner::measure_latency_table(model, model, sample, o.threads, 100));
    }
    if (group != nullptr) {
      json table(config.latency_table);
      std::string text = table.dump();
      HQP_RETURN_IF_ERROR(group->broadcast(text, 0));
      config.latency_table = json::parse(text).get<prune::LatencyTable>();
    }
  }

  const bool lines = !o.json && writer;
  if (lines) {
    const ir::ModelStats s = ir::compute_stats(model);
    cli::print("prune      {} ({:.2f} M params, {:.1f} M MACs) on {} ({} train, {} val samples)\n", o.model,
               static_cast<double>(s.params) / 1e6, static_cast<double>(s.macs) / 1e6, o.data.data,
               splits.train->size(), splits.val->size());
    cli::print("criterion  {} (cost {}), step {:g} of MACs, --max-drop {:g} pp, {} fine-tune steps{}\n", o.prune.criterion,
               o.prune.cost, o.prune.step, o.max_drop, o.prune.finetune_steps, o.prune.kd ? " with distillation" : "");
    std::fflush(stdout);
  }

  ProgressBar bar(stderr_is_terminal() && writer);
  pruner::PruneCallbacks cb;
  cb.progress = [&](const pruner::PruneProgress& p) {
    const std::string label = p.phase == pruner::PruneProgress::Phase::kBaseline || p.attempt < 0
                                  ? std::string(pruner::phase_name(p.phase))
                                  : fmt::format("step {} {}", p.attempt + 1, pruner::phase_name(p.phase));
    bar.phase(label, p.done, p.total);
  };
  double baseline_for_lines = -1.0;
  cb.step = [&](const pruner::StepRecord& r) {
    bar.clear();
    if (!lines) return;
    cli::print("step {:<3} {}  -{:<4} ch  MACs {:>7.1f} M  params {:>6.3f} M  val {:.2f}%{}  {:.0f} s\n", r.attempt + 1,
               r.accepted ? "kept   " : "rolled back", r.channels_removed, static_cast<double>(r.macs) / 1e6,
               static_cast<double>(r.params) / 1e6, 100.0 * r.val_top1,
               r.accepted ? fmt::format("  {:.3f} ms", r.latency_ms) : std::string(), r.seconds);
    std::fflush(stdout);
  };
  (void)baseline_for_lines;
  HQP_ASSIGN_OR_RETURN(pruner::PruneOutcome out, pruner::prune_model(model, *train_src, *val_src, config, cb));
  bar.clear();

  std::optional<double> test_before, test_after;
  if (test_src) {
    HQP_ASSIGN_OR_RETURN(test_before, top1_with_progress(model, *test_src, o.threads, bar, "test (original)", group));
    HQP_ASSIGN_OR_RETURN(test_after, top1_with_progress(out.model, *test_src, o.threads, bar, "test (pruned)", group));
  }

  json record = {{"criterion", o.prune.criterion},
                 {"cost", o.prune.cost},
                 {"max_drop", o.max_drop},
                 {"finetune_steps", o.prune.finetune_steps},
                 {"kd", o.prune.kd},
                 {"macs_before", out.macs_before},
                 {"macs_after", out.macs_after},
                 {"val_top1_before", out.baseline_val_top1},
                 {"val_top1_after", out.val_top1}};
  if (test_after) record["test_top1_after"] = *test_after;
  if (group != nullptr) record["world_size"] = shards;
  modeldata::set_metadata(out.model, "hqp.prune", json_text(record));
  if (!writer) return Status();  // rank 0 writes the model, the report and the summary
  HQP_RETURN_IF_ERROR(onnx_io::export_model_file(out.model, o.output));
  if (own_checkpoints) {
    std::error_code ec;
    fs::remove_all(checkpoint_dir, ec);  // best effort: the result is written
  }
  const auto size_of = [](const std::string& path) {
    std::error_code ec;
    const auto n = fs::file_size(path, ec);
    return ec ? int64_t{-1} : static_cast<int64_t>(n);
  };

  json summary;
  summary["model"] = o.model;
  summary["output"] = o.output;
  summary["stop_reason"] = out.stop_reason;
  summary["seconds"] = out.seconds;
  summary["before"] = {{"val_top1", out.baseline_val_top1}, {"macs", out.macs_before}, {"params", out.params_before},
                       {"latency_ms", out.latency_before_ms}, {"bytes", size_of(o.model)}};
  summary["after"] = {{"val_top1", out.val_top1}, {"macs", out.macs_after}, {"params", out.params_after},
                      {"latency_ms", out.latency_after_ms}, {"bytes", size_of(o.output)}};
  if (test_before) summary["before"]["test_top1"] = *test_before;
  if (test_after) summary["after"]["test_top1"] = *test_after;
  summary["speedup"] = out.latency_after_ms > 0.0 ? out.latency_before_ms / out.latency_after_ms : 0.0;
  summary["macs_ratio"] = out.macs_before > 0 ? static_cast<double>(out.macs_after) / static_cast<double>(out.macs_before) : 0.0;
  summary["val_drop_pp"] = (out.baseline_val_top1 - out.val_top1) * 100.0;
  if (test_before && test_after) summary["test_drop_pp"] = (*test_before - *test_after) * 100.0;
  summary["latency"] = {{"engine", "fast"}, {"precision", "fp32"}, {"batch", 1}, {"threads", o.threads}};
  if (!o.report.empty()) {
    json report = summary;
    report["config"] = {{"criterion", o.prune.criterion}, {"cost", o.prune.cost},       {"max_drop", o.max_drop},
                        {"step", o.prune.step},           {"min_step", config.min_step},
                        {"finetune_steps", o.prune.finetune_steps},
                        {"importance_batches", o.prune.importance_batches}, {"kd", o.prune.kd}, {"lr", o.prune.lr},
                        {"batch_size", o.prune.batch_size}, {"precision", o.prune.precision}, {"round_to", o.prune.round_to}, {"min_channels", o.prune.min_channels},
                        {"target_macs", config.target_macs}, {"target_speedup", config.target_speedup},
                        {"time_budget_min", o.prune.time_budget_min}, {"threads", o.threads}, {"seed", o.prune.seed}};
    report["steps"] = json::array();
    for (const pruner::StepRecord& r : out.steps) report["steps"].push_back(step_json(r));
    HQP_RETURN_IF_ERROR(write_file_atomic(o.report, json_text(report, 2) + "\n", fmt::format("cannot write report '{}'", o.report)));
  }
  if (o.json) {
    cli::print("{}\n", json_text(summary, 2));
    return Status();
  }
  const int64_t accepted = std::count_if(out.steps.begin(), out.steps.end(), [](const auto& r) { return r.accepted; });
  cli::print("stopped    {} ({} steps kept of {}, {:.0f} s)\n", out.stop_reason, accepted, out.steps.size(), out.seconds);
  cli::print("MACs       {:.1f} M -> {:.1f} M ({:.2f}x fewer)\n", static_cast<double>(out.macs_before) / 1e6,
             static_cast<double>(out.macs_after) / 1e6,
             out.macs_after > 0 ? static_cast<double>(out.macs_before) / static_cast<double>(out.macs_after) : 0.0);
  cli::print("params     {:.3f} M -> {:.3f} M\n", static_cast<double>(out.params_before) / 1e6,
             static_cast<double>(out.params_after) / 1e6);
  cli::print("latency    {:.3f} ms -> {:.3f} ms ({:.2f}x, fast runtime FP32, batch 1, {} thread{})\n",
             out.latency_before_ms, out.latency_after_ms, summary["speedup"].get<double>(), o.threads,
             o.threads == 1 ? "" : "s");
  cli::print("val top1   {:.2f}% -> {:.2f}% (drop {:.2f} pp, bound {:g})\n", 100.0 * out.baseline_val_top1,
             100.0 * out.val_top1, summary["val_drop_pp"].get<double>(), o.max_drop);
  if (test_before && test_after) {
    cli::print("test top1  {:.2f}% -> {:.2f}% (drop {:.2f} pp)\n", 100.0 * *test_before, 100.0 * *test_after,
               summary["test_drop_pp"].get<double>());
  }
  cli::print("wrote      {}\n", o.output);
  return Status();
}

}  // namespace

Runner add_prune_command(CLI::App& app) {
  auto o = std::make_shared<PruneOptions>();
  CLI::App* sub = app.add_subcommand(
      "prune", "Structured pruning under an accuracy bound (Fisher importance, fine-tuning, rollback); --groups lists the channel groups");
  sub->add_option("model", o->model, "ONNX model (float)")->required();
  sub->add_flag("--groups", o->groups, "List the channel groups, their members and sizes, and exit");
  sub->add_flag("--json", o->json, "Print JSON (--groups: the groups; pruning: the final figures)");
  add_data_flags(sub, o->data, "the model's, else none");
  // add_data_flags makes --data required: pruning needs it, --groups does not.
  if (CLI::Option* d = sub->get_option_no_throw("--data")) d->required(false);
  sub->add_option("-o,--output", o->output, "Pruned model (ONNX)");
  sub->add_option("--max-drop", o->max_drop, "Largest val top-1 drop in percentage points")->check(positive())->capture_default_str();
  add_prune_flags(sub, o->prune,
                  "Rank by importance per channel cost: macs, params, none, latency (measured per layer on the fast "
                  "runtime, FP32)");
  sub->add_option("--threads", o->threads, "Threads (libtorch and fast runtime)")->check(CLI::Range(1, 256))->capture_default_str();
  sub->add_option("--checkpoint-dir", o->checkpoint_dir,
                  "Checkpoint every step here (default: OUT.prune-checkpoint, removed once OUT is written)");
  sub->add_flag("--resume", o->resume, "Continue the run saved in the checkpoint directory");
  sub->add_option("--report", o->report, "Write the trajectory and final figures as JSON");
  sub->add_flag("--no-test", o->no_test, "Skip the test-split evaluation of the original and pruned models");
  add_dist_flags(sub, o->dist);
  return [o] { return run_prune(*o); };
}

}  // namespace hqp::cli
