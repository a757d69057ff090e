// The gated pruning loop: importance -> selection -> surgery -> fine-tuning -> validation -> accept
// or roll back, with per-attempt checkpoints.
#include "pruner/gated_pruning.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "core/json_text.h"
#include "eval/engine.h"
#include "eval/evaluate.h"
#include "eval/latency.h"
#include "ir/model_stats.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "prune/surgery.h"
#include "train/torch_executor.h"

namespace hqp::pruner {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// `n` batches of `base`, starting at epoch `first_epoch` and running on into the following epochs
// when one epoch has fewer batches: a fine-tuning window that depends only on `first_epoch`.
class WindowSource final : public data::BatchSource {
 public:
  WindowSource(data::BatchSource& base, int64_t first_epoch, int64_t n) : base_(base), first_(first_epoch), n_(n) {}
  int64_t num_batches() const override { return n_; }
  int64_t num_samples() const override {
    const int64_t b = std::max<int64_t>(1, base_.num_batches());
    return n_ * std::max<int64_t>(1, base_.num_samples() / b);
  }
  void start_epoch(int64_t) override {
    epoch_ = first_;
    served_ = 0;
    base_.start_epoch(epoch_);
  }
  Result<std::optional<data::Batch>> next() override {
    if (served_ >= n_) return std::optional<data::Batch>();
    HQP_ASSIGN_OR_RETURN(std::optional<data::Batch> b, base_.next());
    if (!b) {
      base_.start_epoch(++epoch_);
      HQP_ASSIGN_OR_RETURN(b, base_.next());
      if (!b) return make_error(StatusCode::kInvalidArgument, "cannot fine-tune: the training data has no batches");
    }
    b->index = served_++;
    return b;
  }

 private:
  data::BatchSource& base_;
  int64_t first_;
  int64_t n_;
  int64_t epoch_ = 0;
  int64_t served_ = 0;
};

// Training epochs an attempt reads: importance from 2a, fine-tuning from 2a + 1.
int64_t importance_epoch(int64_t attempt) { return 2 * attempt; }
int64_t finetune_epoch(int64_t attempt) { return 2 * attempt + 1; }

Status check_config(const PruneConfig& c) {
  auto bad = [](std::string what) { return make_error(StatusCode::kInvalidArgument, "cannot prune: {}", what); };
  if (!(c.max_drop > 0.0) || !std::isfinite(c.max_drop)) return bad(fmt::format("--max-drop {} must be > 0 percentage points", c.max_drop));
  if (!(c.step > 0.0 && c.step < 1.0)) return bad(fmt::format("--step {} must be in (0, 1)", c.step));
  if (!(c.min_step > 0.0) || c.min_step > c.step) return bad(fmt::format("--min-step {} must be in (0, --step]", c.min_step));
  if (c.importance_batches < 1) return bad("--importance-batches must be >= 1");
  if (c.finetune_steps < 0) return bad("--finetune-steps must be >= 0");
  if (c.target_macs < 0.0 || c.target_macs >= 1.0) return bad(fmt::format("--target-macs {} must be in (0, 1)", c.target_macs));
  if (c.target_speedup < 0.0 || (c.target_speedup > 0.0 && c.target_speedup <= 1.0)) {
    return bad(fmt::format("--target-speedup {} must be > 1", c.target_speedup));
  }
  if (c.time_budget_s < 0.0) return bad("--time-budget must be >= 0");
  if (c.threads < 1) return bad("--threads must be >= 1");
  if (c.latency_runs < 1) return bad("latency runs must be >= 1");
  if (c.resume && c.checkpoint_dir.empty()) return bad("--resume needs a checkpoint directory");
  if (c.cost == prune::CostKind::kLatency && c.latency_table.empty()) {
    return bad("--cost latency needs a latency table measured on the model (pruner/latency_table.h)");
  }
  return Status();
}

Result<prune::GroupScores> importance(const ir::Graph& graph, const std::vector<prune::ChannelGroup>& groups,
                                      data::BatchSource& train, int64_t attempt, const PruneConfig& config,
                                      const PruneCallbacks& cb) {
  if (!prune::needs_gradients(config.criterion)) {
    return prune::weight_importance(graph, groups, config.criterion, config.seed * 1000003u + static_cast<uint64_t>(attempt));
  }
  HQP_ASSIGN_OR_RETURN(prune::ProbedGraph probed, prune::insert_fisher_probes(graph, groups));
  train::ExecutorOptions eo;
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<train::TorchExecutor> exec, train::TorchExecutor::create(probed.graph, eo));
  exec->set_mode(train::ExecMode::kEval);
  prune::GroupGradientAccumulator acc(groups, probed.probes);
  train.start_epoch(importance_epoch(attempt));
  for (int64_t b = 0; b < config.importance_batches; ++b) {
    HQP_ASSIGN_OR_RETURN(std::optional<data::Batch> batch, train.next());
    if (!batch) break;
    if (batch->images.dim(0) > 0) {  // a data-parallel rank's share may be empty
      HQP_RETURN_IF_ERROR(exec->gradient_pass(batch->images, batch->labels, acc).status());
      acc.end_batch();
    }
    if (cb.progress) cb.progress({PruneProgress::Phase::kImportance, attempt, b + 1, config.importance_batches});
  }
  if (config.group != nullptr) {
    std::vector<double> sums = acc.sums();
    HQP_RETURN_IF_ERROR(config.group->all_reduce(std::span<double>(sums)));
    acc.set_sums(sums);
  }
  if (acc.samples() == 0) return make_error(StatusCode::kInvalidArgument, "cannot score channels: the training data has no batches");
  return config.criterion == prune::Criterion::kFisher ? acc.fisher() : acc.taylor();
}

Result<double> val_top1(const ir::Graph& graph, data::BatchSource& val, int threads, int64_t attempt,
                        const PruneCallbacks& cb, distributed::ProcessGroup* group) {
  eval::EngineOptions eo;
  eo.kind = eval::EngineKind::kFast;
  eo.threads = threads;
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<eval::InferenceEngine> engine, eval::InferenceEngine::create(graph, eo));
  eval::EvalProgressCallback progress;
  if (cb.progress) {
    progress = [&](const eval::EvalProgress& p) { cb.progress({PruneProgress::Phase::kValidate, attempt, p.step, p.steps}); };
  }
  HQP_ASSIGN_OR_RETURN(eval::ClassificationReport r, eval::evaluate_classifier(graph, val, *engine, {}, progress));
  return distributed::global_fraction(group, r.metrics.top1_count(), r.metrics.samples());
}

Result<double> latency_ms(const ir::Graph& graph, const Shape& sample, const PruneConfig& config) {
  eval::EngineOptions eo;
  eo.kind = eval::EngineKind::kFast;
  eo.threads = config.threads;
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<eval::InferenceEngine> engine, eval::InferenceEngine::create(graph, eo));
  HQP_ASSIGN_OR_RETURN(Tensor x, eval::latency_input(sample));
  const Tensor inputs[] = {x};
  HQP_ASSIGN_OR_RETURN(metrics::LatencyStats s, eval::measure_latency(*engine, inputs, 5, config.latency_runs));
  return s.median_ms;
}


json config_json(const PruneConfig& c) {
  return {{"max_drop", c.max_drop},
          {"criterion", std::string(prune::criterion_name(c.criterion))},
          {"cost", std::string(prune::cost_name(c.cost))},
          {"step", c.step},
          {"min_step", c.min_step},
          {"importance_batches", c.importance_batches},
          {"finetune_steps", c.finetune_steps},
          {"kd", c.kd},
          {"target_macs", c.target_macs},
          {"target_speedup", c.target_speedup},
          {"min_channels", c.groups.min_channels},
          {"round_to", c.groups.round_to},
          {"remove_blocks", c.groups.remove_blocks},
          {"ignore", c.groups.ignore},
          {"lr", c.finetune.lr},
          {"deploy", static_cast<bool>(c.deploy)},
          {"seed", c.seed}};
}

json record_json(const StepRecord& r) {
  return {{"attempt", r.attempt},   {"accepted", r.accepted}, {"step", r.step},
          {"channels_removed", r.channels_removed}, {"macs", r.macs}, {"params", r.params},
          {"val_top1", r.val_top1}, {"float_val_top1", r.float_val_top1}, {"latency_ms", r.latency_ms}, {"seconds", r.seconds},
          {"channels", r.channels}};
}

StepRecord record_from_json(const json& j) {
  StepRecord r;
  r.attempt = j.at("attempt").get<int64_t>();
  r.accepted = j.at("accepted").get<bool>();
  r.step = j.at("step").get<double>();
  r.channels_removed = j.at("channels_removed").get<int64_t>();
  r.macs = j.at("macs").get<int64_t>();
  r.params = j.at("params").get<int64_t>();
  r.val_top1 = j.at("val_top1").get<double>();
  r.float_val_top1 = j.value("float_val_top1", -1.0);
  r.latency_ms = j.at("latency_ms").get<double>();
  r.seconds = j.at("seconds").get<double>();
  r.channels = j.at("channels").get<std::map<std::string, int64_t>>();
  return r;
}

// The loop's state between attempts: what a checkpoint stores.
struct LoopState {
  int64_t attempts_done = 0;
  double step = 0.0;
  std::string model_file;  // accepted model in the checkpoint dir ("" = the original)
  double elapsed_s = 0.0;
  bool finished = false;  // informational: the run ended (it is re-checked on resume)
  std::string stop_reason;
};

Status write_state(const PruneConfig& config, const LoopState& s, const PruneOutcome& o) {
  json j;
  j["format"] = "hqp-prune-checkpoint";
  j["version"] = 1;
  j["config"] = config_json(config);
  j["attempts_done"] = s.attempts_done;
  j["step"] = s.step;
  j["model"] = s.model_file;
  j["elapsed_s"] = s.elapsed_s;
  j["finished"] = s.finished;
  j["stop_reason"] = s.stop_reason;
  j["baseline"] = {{"val_top1", o.baseline_val_top1}, {"macs", o.macs_before}, {"params", o.params_before},
                   {"latency_ms", o.latency_before_ms}};
  j["current"] = {{"val_top1", o.val_top1}, {"latency_ms", o.latency_after_ms}};
  j["steps"] = json::array();
  for (const StepRecord& r : o.steps) j["steps"].push_back(record_json(r));
  const std::string path = (std::filesystem::path(config.checkpoint_dir) / kPruneStateFile).string();
  return write_file_atomic(path, json_text(j, 1) + "\n", fmt::format("cannot write pruning checkpoint '{}'", path));
}

Status read_state(const PruneConfig& config, LoopState& s, PruneOutcome& o) {
  const std::string path = (std::filesystem::path(config.checkpoint_dir) / kPruneStateFile).string();
  const std::string ctx = fmt::format("cannot resume pruning from '{}'", path);
  HQP_ASSIGN_OR_RETURN(std::string text, read_file_bounded(path, 64 << 20, "checkpoint size", ctx));
  try {
    const json j = json::parse(text);
    if (j.at("format") != "hqp-prune-checkpoint" || j.at("version") != 1) {
      return make_error(StatusCode::kParseError, "{}: not an hqp pruning checkpoint (version 1)", ctx);
    }
    const json want = config_json(config);
    for (const auto& [key, value] : want.items()) {
      if (!j.at("config").contains(key) || j.at("config").at(key) != value) {
        return make_error(StatusCode::kInvalidArgument, "{}: it was written with {}={}, this run asks for {}={}", ctx,
                          key, j.at("config").value(key, json()).dump(), key, value.dump());
      }
    }
    s.attempts_done = j.at("attempts_done").get<int64_t>();
    s.step = j.at("step").get<double>();
    s.model_file = j.at("model").get<std::string>();
    s.elapsed_s = j.at("elapsed_s").get<double>();
    s.finished = j.at("finished").get<bool>();
    s.stop_reason = j.at("stop_reason").get<std::string>();
    const json& b = j.at("baseline");
    o.baseline_val_top1 = b.at("val_top1").get<double>();
    o.macs_before = b.at("macs").get<int64_t>();
    o.params_before = b.at("params").get<int64_t>();
    o.latency_before_ms = b.at("latency_ms").get<double>();
    o.val_top1 = j.at("current").at("val_top1").get<double>();
    o.latency_after_ms = j.at("current").at("latency_ms").get<double>();
    for (const json& r : j.at("steps")) o.steps.push_back(record_from_json(r));
  } catch (const json::exception& e) {
    return make_error(StatusCode::kParseError, "{}: {}", ctx, e.what());
  }
  return Status();
}

}  // namespace

std::map<std::string, int64_t> layer_channels(const ir::Graph& graph) {
  std::map<std::string, int64_t> out;
  for (const auto& n : graph.nodes()) {
    if (n->kind != ir::OpKind::Conv && n->kind != ir::OpKind::Gemm) continue;
    const ir::Value* y = n->output(0);
    if (y != nullptr && y->shape && y->shape->size() >= 2 && (*y->shape)[1].is_static()) out[n->name] = (*y->shape)[1].value;
  }
  return out;
}

std::string_view phase_name(PruneProgress::Phase phase) {
  switch (phase) {
    case PruneProgress::Phase::kBaseline: return "baseline";
    case PruneProgress::Phase::kImportance: return "importance";
    case PruneProgress::Phase::kFinetune: return "fine-tune";
    case PruneProgress::Phase::kValidate: return "validate";
    case PruneProgress::Phase::kLatency: return "latency";
  }
  return "?";
}

namespace {

// latency_ms on rank 0 alone, its figure on every rank: ranks timing at once on shared cores would
// skew each other, and a latency steers the target-speedup stop.
Result<double> rank0_latency_ms(const ir::Graph& graph, const Shape& sample, const PruneConfig& config) {
  double ms = 0.0;
  if (config.group == nullptr || config.group->rank() == 0) {
    HQP_ASSIGN_OR_RETURN(ms, latency_ms(graph, sample, config));
  }
  return distributed::rank0_value(config.group.get(), ms);
}

}  // namespace

Result<PruneOutcome> prune_model(const ir::Graph& model, data::BatchSource& train, data::BatchSource& val,
                                 const PruneConfig& config, const PruneCallbacks& cb) {
  HQP_RETURN_IF_ERROR(check_config(config));
  // Only rank 0 writes the checkpoint (every rank reads it on --resume).
  const bool writer = !config.checkpoint_dir.empty() && (config.group == nullptr || config.group->rank() == 0);
  const auto t0 = Clock::now();
  for (const auto& n : model.nodes()) {
    if (n->kind == ir::OpKind::QuantizeLinear || n->kind == ir::OpKind::DequantizeLinear) {
      return make_error(StatusCode::kUnsupported,
                        "cannot prune: the model is quantized (node '{}' is a {}); fine-tuning needs the float model -- "
                        "prune it, then quantize (`hqp compress` does both)",
                        n->name, ir::op_name(n->kind));
    }
  }
  HQP_ASSIGN_OR_RETURN(std::vector<prune::ChannelGroup> groups0, prune::channel_groups(model, config.groups));
  if (std::none_of(groups0.begin(), groups0.end(), [](const prune::ChannelGroup& g) { return g.max_removable > 0; })) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot prune: no channel group of this model can lose a channel (see `hqp prune --groups`)");
  }
  // One sample, batch 1, for latency: the shape the val data feeds.
  val.start_epoch(0);
  HQP_ASSIGN_OR_RETURN(std::optional<data::Batch> probe, val.next());
  if (!probe) return make_error(StatusCode::kInvalidArgument, "cannot prune: the val split has no samples");
  Shape sample = probe->images.shape();
  sample[0] = 1;

  PruneOutcome out;
  LoopState st;
  st.step = config.step;
  ir::Graph current = model.clone();
  if (config.resume) {
    HQP_RETURN_IF_ERROR(read_state(config, st, out));
    if (!st.model_file.empty()) {
      const std::string path = (std::filesystem::path(config.checkpoint_dir) / st.model_file).string();
      HQP_ASSIGN_OR_RETURN(current, onnx_io::import_model_file(path));
    }
  } else {
    if (cb.progress) cb.progress({PruneProgress::Phase::kBaseline, 0, 0, 1});
    const ir::ModelStats s = ir::compute_stats(model);
    out.macs_before = s.macs;
    out.params_before = s.params;
    HQP_ASSIGN_OR_RETURN(out.baseline_val_top1, val_top1(model, val, config.threads, -1, cb, config.group.get()));
    out.val_top1 = out.baseline_val_top1;
    if (cb.progress) cb.progress({PruneProgress::Phase::kLatency, 0, 0, 1});
    HQP_ASSIGN_OR_RETURN(out.latency_before_ms, rank0_latency_ms(model, sample, config));
    out.latency_after_ms = out.latency_before_ms;
    if (config.target_speedup > 0.0 && out.latency_before_ms <= 0.0) {
      return make_error(StatusCode::kInvalidArgument, "cannot prune: the original model's latency measured 0 ms");
    }
    if (writer) {
      std::error_code ec;
      std::filesystem::create_directories(config.checkpoint_dir, ec);
      if (ec) {
        return make_error(StatusCode::kIoError, "cannot create checkpoint directory '{}': {}", config.checkpoint_dir,
                          ec.message());
      }
      HQP_RETURN_IF_ERROR(write_state(config, st, out));
    }
  }
  const double elapsed0 = st.elapsed_s;
  auto elapsed = [&] { return elapsed0 + seconds_since(t0); };
  const double target_macs = config.target_macs > 0.0 ? config.target_macs * static_cast<double>(out.macs_before) : 0.0;

  // Stop conditions are re-evaluated on resume: a run stopped by its attempt limit or time budget
  // continues when resumed with a larger one; one that met its target or minimum step stops again.
  while (true) {
    const ir::ModelStats cur = ir::compute_stats(current);
    if (target_macs > 0.0 && static_cast<double>(cur.macs) <= target_macs) {
      st.stop_reason = fmt::format("target reached: MACs at {:.3f} of the original", static_cast<double>(cur.macs) / static_cast<double>(out.macs_before));
      break;
    }
    if (config.target_speedup > 0.0 && out.latency_before_ms / out.latency_after_ms >= config.target_speedup) {
      st.stop_reason = fmt::format("target reached: {:.2f}x lower latency", out.latency_before_ms / out.latency_after_ms);
      break;
    }
    if (st.step < config.min_step) {
      st.stop_reason = fmt::format("step fell below --min-step {:g}: every larger step exceeded the bound", config.min_step);
      break;
    }
    HQP_ASSIGN_OR_RETURN(const double now_s, distributed::rank0_value(config.group.get(), elapsed()));
    if (config.time_budget_s > 0.0 && now_s >= config.time_budget_s) {
      st.stop_reason = fmt::format("time budget of {:.0f} s spent", config.time_budget_s);
      break;
    }
    if (st.attempts_done >= config.max_attempts) {
      st.stop_reason = fmt::format("{} attempts made", config.max_attempts);
      break;
    }
    const int64_t attempt = st.attempts_done;
    const auto ta = Clock::now();
    HQP_ASSIGN_OR_RETURN(std::vector<prune::ChannelGroup> groups, prune::channel_groups(current, config.groups));
    HQP_ASSIGN_OR_RETURN(prune::GroupScores scores, importance(current, groups, train, attempt, config, cb));
    const bool by_latency = config.cost == prune::CostKind::kLatency;
    HQP_ASSIGN_OR_RETURN(std::vector<prune::GroupCost> costs,
                         prune::channel_costs(current, groups, by_latency ? &config.latency_table : nullptr));
    prune::SelectOptions so;
    so.macs_budget = st.step * static_cast<double>(cur.macs);
    if (by_latency) {
      so.latency_budget_ms = st.step * prune::estimated_latency_ms(current, config.latency_table);
      so.macs_budget = static_cast<double>(cur.macs);
    }
    if (target_macs > 0.0) so.macs_budget = std::min(so.macs_budget, static_cast<double>(cur.macs) - target_macs);
    so.normalize = config.cost;
    so.round_to = config.groups.round_to;
    const std::vector<prune::Removal> removals = prune::select_channels(groups, scores, costs, so);
    if (removals.empty()) {
      st.stop_reason = "no channel is left to remove (every group is at its minimum)";
      break;
    }
    ir::Graph candidate = current.clone();
    HQP_RETURN_IF_ERROR(prune::apply_removals(candidate, groups, removals));
    StepRecord rec;
    rec.attempt = attempt;
    rec.step = st.step;
    for (const prune::Removal& r : removals) rec.channels_removed += static_cast<int64_t>(r.channels.size());

    if (config.finetune_steps > 0) {
      train::TrainConfig tc = config.finetune;
      tc.group = config.group;
      tc.epochs = 1;
      tc.warmup_epochs = 0.0;
      tc.seed = config.seed + static_cast<uint64_t>(attempt);
      tc.threads = config.threads;
      tc.checkpoint_dir.clear();
      tc.progress_every = 10;
      HQP_ASSIGN_OR_RETURN(std::unique_ptr<train::Trainer> trainer,
                           train::Trainer::create(candidate, tc, config.kd ? &model : nullptr));
      WindowSource window(train, finetune_epoch(attempt), config.finetune_steps);
      train::ProgressCallback tp;
      if (cb.progress) {
        tp = [&](const train::Progress& p) { cb.progress({PruneProgress::Phase::kFinetune, attempt, p.step, p.steps}); };
      }
      HQP_RETURN_IF_ERROR(trainer->fit(window, nullptr, tp).status());
      HQP_ASSIGN_OR_RETURN(candidate, trainer->model());
    }
    std::optional<ir::Graph> deployed;
    if (config.deploy) {
      HQP_ASSIGN_OR_RETURN(Deployed d, config.deploy(candidate));
      rec.float_val_top1 = d.float_val_top1;
      if (d.val_top1 >= 0.0) {
        rec.val_top1 = d.val_top1;
      } else {
        HQP_ASSIGN_OR_RETURN(rec.val_top1, val_top1(d.model, val, config.threads, attempt, cb, config.group.get()));
      }
      deployed = std::move(d.model);
    } else {
      HQP_ASSIGN_OR_RETURN(rec.val_top1, val_top1(candidate, val, config.threads, attempt, cb, config.group.get()));
    }
    const ir::ModelStats cs = ir::compute_stats(candidate);
    rec.macs = cs.macs;
    rec.params = cs.params;
    rec.channels = layer_channels(candidate);
    const double drop_pp = (out.baseline_val_top1 - rec.val_top1) * 100.0;
    rec.accepted = drop_pp <= config.max_drop;
    if (rec.accepted) {
      if (cb.progress) cb.progress({PruneProgress::Phase::kLatency, attempt, 0, 1});
      HQP_ASSIGN_OR_RETURN(rec.latency_ms, rank0_latency_ms(deployed ? *deployed : candidate, sample, config));
      current = std::move(candidate);
      out.val_top1 = rec.val_top1;
      out.latency_after_ms = rec.latency_ms;
      if (!config.checkpoint_dir.empty()) {
        st.model_file = fmt::format("model-a{:04d}.onnx", attempt);
      }
      if (writer) {
        HQP_RETURN_IF_ERROR(
            onnx_io::export_model_file(current, (std::filesystem::path(config.checkpoint_dir) / st.model_file).string()));
      }
    } else {
      st.step /= 2.0;
    }
    rec.seconds = seconds_since(ta);
    out.steps.push_back(rec);
    st.attempts_done = attempt + 1;
    HQP_ASSIGN_OR_RETURN(st.elapsed_s, distributed::rank0_value(config.group.get(), elapsed()));
    if (writer) HQP_RETURN_IF_ERROR(write_state(config, st, out));
    if (cb.step) cb.step(rec);
  }
  st.finished = true;
  HQP_ASSIGN_OR_RETURN(st.elapsed_s, distributed::rank0_value(config.group.get(), elapsed()));
  if (writer) HQP_RETURN_IF_ERROR(write_state(config, st, out));
  const ir::ModelStats fin = ir::compute_stats(current);
  out.macs_after = fin.macs;
  out.params_after = fin.params;
  out.stop_reason = st.stop_reason;
  out.seconds = st.elapsed_s;
  out.model = std::move(current);
  return out;
}

}  // namespace hqp::pruner
