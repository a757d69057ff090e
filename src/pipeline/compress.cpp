// The hybrid pipeline: baseline -> quant-only -> latency table -> gated pruning (gate on the
// quantized candidate) -> final quantization under the bound -> baselines -> side-by-side latency.
#include "pipeline/compress.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/file_io.h"
#include "core/json_text.h"
#include "eval/engine.h"
#include "eval/evaluate.h"
#include "eval/latency.h"
#include "ir/model_stats.h"
#include "onnx/export.h"
#include "pruner/latency_table.h"

namespace hqp::pipeline {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

Status check_config(const CompressConfig& c) {
  auto bad = [](std::string what) { return make_error(StatusCode::kInvalidArgument, "cannot compress: {}", what); };
  if (!(c.max_drop > 0.0) || !std::isfinite(c.max_drop) || c.max_drop > 100.0) {
    return bad(fmt::format("--max-drop {} must be in (0, 100] percentage points", c.max_drop));
  }
  if (c.threads < 1) return bad("--threads must be >= 1");
  if (c.latency_runs < 1 || c.latency_rounds < 1 || c.table_runs < 1) return bad("latency runs must be >= 1");
  if (c.resume && c.work_dir.empty()) return bad("--resume needs a work directory");
  return Status();
}

class Reporter {
 public:
  explicit Reporter(const CompressCallbacks& cb) : cb_(cb) {}
  void progress(const std::string& phase, const std::string& detail, int64_t done, int64_t total) const {
    if (cb_.progress) cb_.progress({phase, detail, done, total});
  }
  void say(const std::string& line) const {
    if (cb_.message) cb_.message(line);
  }

 private:
  const CompressCallbacks& cb_;
};

Result<double> top1(const ir::Graph& g, data::BatchSource& src, int threads, const Reporter& r, const std::string& phase,
                    const std::string& detail, distributed::ProcessGroup* group) {
  eval::EngineOptions eo;
  eo.kind = eval::EngineKind::kFast;
  eo.threads = threads;
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<eval::InferenceEngine> engine, eval::InferenceEngine::create(g, eo));
  const eval::EvalProgressCallback progress = [&](const eval::EvalProgress& p) { r.progress(phase, detail, p.step, p.steps); };
  HQP_ASSIGN_OR_RETURN(eval::ClassificationReport rep, eval::evaluate_classifier(g, src, *engine, {}, progress));
  return distributed::global_fraction(group, rep.metrics.top1_count(), rep.metrics.samples());
}

// Medians of `rounds` alternating rounds (each model `runs` timed runs after 5 warm-up runs) on one
// fixed input: every model is timed under the same machine conditions.
Result<std::vector<double>> compare_latency(const std::vector<const ir::Graph*>& graphs, const Shape& sample,
                                            int threads, int runs, int rounds, const Reporter& r) {
  std::vector<std::unique_ptr<eval::InferenceEngine>> engines;
  eval::EngineOptions eo;
  eo.kind = eval::EngineKind::kFast;
  eo.threads = threads;
  for (const ir::Graph* g : graphs) {
    HQP_ASSIGN_OR_RETURN(std::unique_ptr<eval::InferenceEngine> e, eval::InferenceEngine::create(*g, eo));
    engines.push_back(std::move(e));
  }
  HQP_ASSIGN_OR_RETURN(Tensor x, eval::latency_input(sample));
  const Tensor inputs[] = {x};
  std::vector<std::vector<double>> medians(graphs.size());
  for (int round = 0; round < rounds; ++round) {
    for (size_t i = 0; i < engines.size(); ++i) {
      r.progress("latency", fmt::format("round {}/{}", round + 1, rounds), static_cast<int64_t>(round * engines.size() + i),
                 static_cast<int64_t>(rounds * engines.size()));
      HQP_ASSIGN_OR_RETURN(metrics::LatencyStats s, eval::measure_latency(*engines[i], inputs, 5, runs));
      medians[i].push_back(s.median_ms);
    }
  }
  std::vector<double> out;
  for (std::vector<double>& m : medians) {
    std::sort(m.begin(), m.end());
    out.push_back(m.size() % 2 == 1 ? m[m.size() / 2] : 0.5 * (m[m.size() / 2 - 1] + m[m.size() / 2]));
  }
  return out;
}

Result<int64_t> file_bytes(const ir::Graph& g) {
  HQP_ASSIGN_OR_RETURN(std::string bytes, onnx_io::export_model_bytes(g));
  return static_cast<int64_t>(bytes.size());
}

// Latency table persisted in the work dir, so that a resumed run ranks channels exactly as before.
Status save_table(const std::string& path, const prune::LatencyTable& t, double estimate) {
  json j = {{"format", "hqp-latency-table"}, {"version", 1}, {"estimate_ms", estimate}, {"ms_per_work", t}};
  return write_file_atomic(path, json_text(j, 1) + "\n", fmt::format("cannot write latency table '{}'", path));
}

Result<prune::LatencyTable> load_table(const std::string& path, double& estimate) {
  const std::string ctx = fmt::format("cannot resume from latency table '{}'", path);
  HQP_ASSIGN_OR_RETURN(std::string text, read_file_bounded(path, 64 << 20, "latency table size", ctx));
  try {
    const json j = json::parse(text);
    if (j.at("format") != "hqp-latency-table" || j.at("version") != 1) {
      return make_error(StatusCode::kParseError, "{}: not an hqp latency table (version 1)", ctx);
    }
    estimate = j.at("estimate_ms").get<double>();
    return j.at("ms_per_work").get<prune::LatencyTable>();
  } catch (const json::exception& e) {
    return make_error(StatusCode::kParseError, "{}: {}", ctx, e.what());
  }
}

// Everything one compress run shares between its pruning runs.
struct Context {
  const ir::Graph& model;
  data::BatchSource& train;
  data::BatchSource& calib;
  data::BatchSource& val;
  const CompressConfig& config;
  const CompressCallbacks& cb;
  const Reporter& r;
  double original_val = 0.0;
  std::vector<std::string> keep_float;  // what quant-only needed float
};

quantizer::QuantizeConfig quant_config(const Context& c, double max_drop, bool sensitivity) {
  quantizer::QuantizeConfig q = c.config.quant;
  q.max_drop = max_drop;
  q.reference_val_top1 = c.original_val;
  q.keep_float = c.keep_float;
  q.threads = c.config.threads;
  q.sensitivity = sensitivity;
  return q;
}

quantizer::QuantizeCallbacks quant_callbacks(const Context& c, const std::string& phase, bool messages) {
  quantizer::QuantizeCallbacks qc;
  qc.progress = [&c, phase](const quantizer::QuantizeProgress& p) {
    c.r.progress(phase, p.detail.empty() ? std::string(quantizer::phase_name(p.phase))
                                         : fmt::format("{} {}", quantizer::phase_name(p.phase), p.detail),
                 p.done, p.total);
  };
  if (messages) qc.message = [&c](const std::string& line) { c.r.say(line); };
  return qc;
}

// One gated pruning run named `name` (its checkpoints in work_dir/name).
Result<pruner::PruneOutcome> run_pruning(const Context& c, const std::string& name, pruner::PruneConfig pc, bool deploy_int8) {
  pc.max_drop = c.config.max_drop;
  pc.threads = c.config.threads;
  pc.group = c.config.group;
  pc.finetune.group = c.config.group;
  pc.latency_runs = c.config.latency_runs;
  pc.checkpoint_dir.clear();
  pc.resume = false;
  if (!c.config.work_dir.empty()) {
    pc.checkpoint_dir = (fs::path(c.config.work_dir) / name).string();
    pc.resume = c.config.resume && fs::exists(fs::path(pc.checkpoint_dir) / pruner::kPruneStateFile);
  }
  if (deploy_int8) {
    pc.deploy = [&c, name](const ir::Graph& candidate) -> Result<pruner::Deployed> {
      HQP_ASSIGN_OR_RETURN(quantizer::QuantizeOutcome q,
                           quantizer::quantize_model(candidate, c.calib, c.val, quant_config(c, 0.0, false),
                                                     quant_callbacks(c, name, false)));
      pruner::Deployed d;
      d.model = std::move(q.model);
      d.val_top1 = q.int8_val_top1;
      d.float_val_top1 = q.float_val_top1;
      return d;
    };
  }
  pruner::PruneCallbacks pcb;
  pcb.progress = [&c, name](const pruner::PruneProgress& p) {
    const std::string detail = p.phase == pruner::PruneProgress::Phase::kBaseline || p.attempt < 0
                                   ? std::string(pruner::phase_name(p.phase))
                                   : fmt::format("step {} {}", p.attempt + 1, pruner::phase_name(p.phase));
    c.r.progress(name, detail, p.done, p.total);
  };
  pcb.step = [&c, name](const pruner::StepRecord& rec) {
    if (c.cb.step) c.cb.step(name, rec);
  };
  return pruner::prune_model(c.model, c.train, c.val, pc, pcb);
}

}  // namespace

std::optional<Target> target_from_name(std::string_view name) {
  if (name == "int8") return Target::kInt8;
  if (name == "fp32") return Target::kFp32;
  return std::nullopt;
}

std::string_view target_name(Target target) { return target == Target::kInt8 ? "int8" : "fp32"; }

std::string baseline_file_name(const std::string& name) {
  std::string f;
  for (const char ch : name) f += std::isalnum(static_cast<unsigned char>(ch)) != 0 ? ch : '-';
  return f + ".onnx";
}

Result<CompressOutcome> compress_model(const ir::Graph& model, data::BatchSource& train, data::BatchSource& calib,
                                       data::BatchSource& val, data::BatchSource* test, const CompressConfig& config,
                                       const CompressCallbacks& cb) {
  HQP_RETURN_IF_ERROR(check_config(config));
  const auto t0 = Clock::now();
  const Reporter r(cb);
  const bool writer = config.group == nullptr || config.group->rank() == 0;
  const bool int8 = config.target == Target::kInt8;
  if (!config.work_dir.empty()) {
    std::error_code ec;
    fs::create_directories(config.work_dir, ec);
    if (ec) return make_error(StatusCode::kIoError, "cannot create work directory '{}': {}", config.work_dir, ec.message());
  }
  val.start_epoch(0);
  HQP_ASSIGN_OR_RETURN(std::optional<data::Batch> probe, val.next());
  if (!probe) return make_error(StatusCode::kInvalidArgument, "cannot compress: the val split has no samples");
  Shape sample = probe->images.shape();
  sample[0] = 1;

  CompressOutcome out;
  Context c{model, train, calib, val, config, cb, r, 0.0, {}};
  // 1. Baseline.
  HQP_ASSIGN_OR_RETURN(c.original_val, top1(model, val, config.threads, r, "baseline", "val", config.group.get()));
  const ir::ModelStats s0 = ir::compute_stats(model);
  out.original.name = "original";
  out.original.val_top1 = c.original_val;
  out.original.macs = s0.macs;
  out.original.params = s0.params;
  HQP_ASSIGN_OR_RETURN(out.original.bytes, file_bytes(model));
  out.channels_before = pruner::layer_channels(model);
  for (const auto& n : model.nodes()) {
    if (out.channels_before.count(n->name) != 0) out.layers.push_back(n->name);
  }
  r.say(fmt::format("baseline: val top-1 {:.2f}%, {:.1f} M MACs, {:.3f} M params", 100.0 * c.original_val,
                    static_cast<double>(s0.macs) / 1e6, static_cast<double>(s0.params) / 1e6));

  // 2. Quant-only (target int8, or as a baseline): the quantization drop of the unpruned model and
  // the layers that must stay float; its model is the latency table's subject.
  std::optional<ir::Graph> deployed_original;
  if (int8 || config.baselines) {
    const auto tq = Clock::now();
    HQP_ASSIGN_OR_RETURN(quantizer::QuantizeOutcome q,
                         quantizer::quantize_model(model, calib, val, quant_config(c, config.max_drop, false),
                                                   quant_callbacks(c, "quant-only", false)));
    if (!q.bound_met) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot compress: even the unpruned model misses --max-drop {:g} pp when quantized, with every "
                        "quantizable layer float (val top-1 {:.2f}% -> {:.2f}%)",
                        config.max_drop, 100.0 * c.original_val, 100.0 * q.int8_val_top1);
    }
    ModelFigures f;
    f.name = "quant-only";
    f.int8 = true;
    f.val_top1 = q.int8_val_top1;
    f.macs = s0.macs;
    f.params = s0.params;
    HQP_ASSIGN_OR_RETURN(f.bytes, file_bytes(q.model));
    f.seconds = seconds_since(tq);
    f.kept_float = q.kept_float;
    r.say(fmt::format("quant-only: val top-1 {:.2f}% (drop {:.2f} pp){}", 100.0 * q.int8_val_top1,
                      100.0 * (c.original_val - q.int8_val_top1),
                      q.kept_float.empty() ? std::string() : fmt::format(", {} layers kept float", q.kept_float.size())));
    c.keep_float = q.kept_float;  // every later quantization (gate, final, baselines) keeps them float
    deployed_original = q.model.clone();
    out.baselines.push_back(f);
    out.quant_only = std::move(q);
  }

  // 3. The latency table of the target engine, once per model (persisted for --resume).
  pruner::PruneConfig pc = config.prune;
  if (pc.cost == prune::CostKind::kLatency) {
    const std::string table_path = config.work_dir.empty() ? "" : (fs::path(config.work_dir) / "latency-table.json").string();
    if (config.resume && !table_path.empty() && fs::exists(table_path)) {
      HQP_ASSIGN_OR_RETURN(out.latency_table, load_table(table_path, out.table_estimate_ms));
    } else {
      r.progress("latency table", std::string(target_name(config.target)), 0, 1);
      if (writer) {
        HQP_ASSIGN_OR_RETURN(out.latency_table,
                             pruner::measure_latency_table(model, int8 ? *deployed_original : model, sample,
                                                           config.threads, config.table_runs));
      }
      if (config.group != nullptr) {  // rank 0's table on every rank: the same costs, the same selections
        std::string text = json(out.latency_table).dump();
        HQP_RETURN_IF_ERROR(config.group->broadcast(text, 0));
        out.latency_table = json::parse(text).get<prune::LatencyTable>();
      }
      out.table_estimate_ms = prune::estimated_latency_ms(model, out.latency_table);
      if (!table_path.empty() && writer) {
        HQP_RETURN_IF_ERROR(save_table(table_path, out.latency_table, out.table_estimate_ms));
      }
    }
    r.say(fmt::format("latency table ({} on the fast runtime, {} thread{}): {} nodes, {:.3f} ms profiled",
                      target_name(config.target), config.threads, config.threads == 1 ? "" : "s",
                      out.latency_table.size(), out.table_estimate_ms));
    pc.latency_table = out.latency_table;
  }

  // 4. The hybrid's pruning, gated on the deployed candidate.
  HQP_ASSIGN_OR_RETURN(out.prune, run_pruning(c, "hybrid", pc, int8));
  const int64_t kept_steps =
      std::count_if(out.prune.steps.begin(), out.prune.steps.end(), [](const pruner::StepRecord& s) { return s.accepted; });
  r.say(fmt::format("pruning: {} of {} steps kept, {:.1f} -> {:.1f} M MACs ({})", kept_steps, out.prune.steps.size(),
                    static_cast<double>(out.prune.macs_before) / 1e6, static_cast<double>(out.prune.macs_after) / 1e6,
                    out.prune.stop_reason));

  // 5. The final model, verified against the bound from the original's val top-1.
  const auto tf = Clock::now();
  auto finish_int8 = [&](const ir::Graph& pruned, const std::string& phase, bool sensitivity) -> Result<quantizer::QuantizeOutcome> {
    return quantizer::quantize_model(pruned, calib, val, quant_config(c, config.max_drop, sensitivity),
                                     quant_callbacks(c, phase, false));
  };
  out.result.name = "hybrid";
  out.result.steps_kept = kept_steps;
  if (int8) {
    HQP_ASSIGN_OR_RETURN(quantizer::QuantizeOutcome q, finish_int8(out.prune.model, "quantize", config.sensitivity));
    if (!q.bound_met) {
      out.pruning_dropped = true;
      r.say(fmt::format("the quantized pruned model misses the bound (val top-1 {:.2f}%): the pruning is dropped",
                        100.0 * q.int8_val_top1));
      HQP_ASSIGN_OR_RETURN(q, finish_int8(model, "quantize", config.sensitivity));
      out.result.steps_kept = 0;
      out.prune.model = model.clone();
    }
    out.result.int8 = true;
    out.result.val_top1 = q.int8_val_top1;
    out.result.kept_float = q.kept_float;
    out.model = q.model.clone();
    out.quant = std::move(q);
  } else {
    out.result.val_top1 = out.prune.val_top1;
    out.model = out.prune.model.clone();
  }
  const ir::ModelStats sf = ir::compute_stats(out.prune.model);
  out.result.macs = sf.macs;
  out.result.params = sf.params;
  HQP_ASSIGN_OR_RETURN(out.result.bytes, file_bytes(out.model));
  out.result.seconds = out.prune.seconds + seconds_since(tf);
  out.channels_after = pruner::layer_channels(out.prune.model);
  out.result.within_bound = (c.original_val - out.result.val_top1) * 100.0 <= config.max_drop + 1e-9;
  if (!out.result.within_bound) {
    // Cannot happen by construction (the fallback ends at the quant-only model, which met it).
    return make_error(StatusCode::kInternal, "compress: the final model misses the bound (val top-1 {:.2f}%)",
                      100.0 * out.result.val_top1);
  }

  // 6. Baselines at the same bound and fine-tuning budget.
  std::vector<ir::Graph>& baseline_models = out.baseline_models;
  if (config.baselines) {
    baseline_models.push_back(out.quant_only->model.clone());
    struct Spec {
      const char* name;
      prune::Criterion criterion;
      prune::CostKind cost;
      bool quantize;
    };
    const Spec specs[] = {{"prune-only", config.prune.criterion, prune::CostKind::kMacs, false},
                          {"l1+quant", prune::Criterion::kL1, pc.cost, true},
                          {"random+quant", prune::Criterion::kRandom, pc.cost, true}};
    for (const Spec& sp : specs) {
      const auto tb = Clock::now();
      pruner::PruneConfig bc = pc;
      bc.criterion = sp.criterion;
      bc.cost = sp.cost;
      if (sp.cost != prune::CostKind::kLatency) bc.latency_table.clear();
      HQP_ASSIGN_OR_RETURN(pruner::PruneOutcome po, run_pruning(c, sp.name, bc, sp.quantize));
      ModelFigures f;
      f.name = sp.name;
      f.steps_kept = std::count_if(po.steps.begin(), po.steps.end(), [](const pruner::StepRecord& s) { return s.accepted; });
      ir::Graph m;
      if (sp.quantize) {
        HQP_ASSIGN_OR_RETURN(quantizer::QuantizeOutcome q, finish_int8(po.model, sp.name, false));
        if (!q.bound_met) {
          HQP_ASSIGN_OR_RETURN(q, finish_int8(model, sp.name, false));
          f.steps_kept = 0;
          po.model = model.clone();
        }
        f.int8 = true;
        f.val_top1 = q.int8_val_top1;
        f.kept_float = q.kept_float;
        m = std::move(q.model);
      } else {
        f.val_top1 = po.val_top1;
        m = po.model.clone();
      }
      const ir::ModelStats bs = ir::compute_stats(po.model);
      f.macs = bs.macs;
      f.params = bs.params;
      HQP_ASSIGN_OR_RETURN(f.bytes, file_bytes(m));
      f.seconds = seconds_since(tb);
      f.within_bound = (c.original_val - f.val_top1) * 100.0 <= config.max_drop + 1e-9;
      r.say(fmt::format("{}: val top-1 {:.2f}%, {:.1f} M MACs, {} steps kept", sp.name, 100.0 * f.val_top1,
                        static_cast<double>(f.macs) / 1e6, f.steps_kept));
      out.baselines.push_back(f);
      baseline_models.push_back(std::move(m));
    }
  } else {
    out.baselines.clear();  // quant-only ran only as the int8 pipeline's first stage
  }

  // 7. Test split and the side-by-side latency of every model.
  std::vector<const ir::Graph*> graphs = {&model, &out.model};
  for (const ir::Graph& g : baseline_models) graphs.push_back(&g);
  std::vector<ModelFigures*> figures = {&out.original, &out.result};
  for (ModelFigures& f : out.baselines) figures.push_back(&f);
  if (test != nullptr) {
    for (size_t i = 0; i < graphs.size(); ++i) {
      HQP_ASSIGN_OR_RETURN(figures[i]->test_top1, top1(*graphs[i], *test, config.threads, r, "test", figures[i]->name,
                                                          config.group.get()));
    }
  }
  std::vector<double> lat(graphs.size(), 0.0);
  if (writer) {  // rank 0 alone times (the others would share its cores); only its report is written
    HQP_ASSIGN_OR_RETURN(lat, compare_latency(graphs, sample, config.threads, config.latency_runs,
                                              config.latency_rounds, r));
  }
  for (size_t i = 0; i < graphs.size(); ++i) figures[i]->latency_ms = lat[i];
  out.seconds = seconds_since(t0);
  return out;
}

}  // namespace hqp::pipeline
