// `hqp compress MODEL.onnx --data DATASET -o OUT.onnx [--max-drop PP] [--target int8|fp32]
// [--target-speedup X] [--criterion C] [--baselines] [--report-dir DIR] [--resume]
// [--time-budget MIN] [--threads T] [--json]`: the hybrid pipeline (pipeline::compress_model) --
// pruning gated on the quantized candidate, INT8 quantization, the final model verified within
// --max-drop of the original on the val split; the test split reported; the report written.
#include <chrono>
#include <cstdio>
#include <ctime>
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
#include "ir/model_stats.h"
#include "modeldata/metadata.h"
#include "modeldata/splits.h"
#include "onnx/export.h"
#include "output_path.h"
#include "pipeline/compress.h"
#include "pipeline/report.h"
#include "progress.h"
#include "prune_flags.h"
#include "runtime/session.h"
#include "validators.h"

namespace hqp::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct CompressOptions {
  std::string model;
  DataFlags data;
  std::string output;
  double max_drop = 1.0;
  std::string target = "int8";
  PruneFlags prune;  // cost latency by default (set in add_compress_command)
  std::string calibrator = "percentile";
  int64_t calib_samples = 512;
  std::string qdq_style = "ort";
  bool baselines = false;
  bool sensitivity = false;
  std::string report_dir;
  std::string work_dir;
  bool resume = false;
  int threads = 1;
  int latency_runs = 50;
  bool no_test = false;
  bool json = false;
  distributed::DistFlags dist;
};

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json figures_summary(const pipeline::ModelFigures& f) {
  json j = {{"int8", f.int8}, {"val_top1", f.val_top1}, {"latency_ms", f.latency_ms}, {"bytes", f.bytes},
            {"macs", f.macs}, {"params", f.params}};
  if (f.test_top1 >= 0.0) j["test_top1"] = f.test_top1;
  return j;
}

Status run_compress(const CompressOptions& o) {
  HQP_RETURN_IF_ERROR(check_output_path(o.output, "model"));
  HQP_ASSIGN_OR_RETURN(pruner::PruneConfig prune_cfg, prune_config(o.prune, "compress"));
  if (!o.report_dir.empty()) {
    // Created before any work, so that a bad --report-dir fails now rather than after the run.
    std::error_code ec;
    fs::create_directories(o.report_dir, ec);
    if (ec || !fs::is_directory(o.report_dir)) {
      return make_error(StatusCode::kInvalidArgument, "cannot compress: cannot create --report-dir '{}'{}", o.report_dir,
                        ec ? ": " + ec.message() : std::string(": it is a file"));
    }
    HQP_RETURN_IF_ERROR(check_output_path((fs::path(o.report_dir) / "report.json").string(), "report"));
  }
  // Checkpoints always: in --work-dir, else next to the output (removed once the result is
  // written; a killed or failed run leaves it for --resume).
  const bool own_work_dir = o.work_dir.empty();
  const std::string work_dir = own_work_dir ? o.output + ".compress-work" : o.work_dir;
  const bool has_state = fs::exists(fs::path(work_dir) / "hybrid" / pruner::kPruneStateFile);
  if (o.resume && !has_state) {
    return make_error(StatusCode::kNotFound, "cannot resume compress: no checkpoint in '{}'{}", work_dir,
                      own_work_dir ? " (give --work-dir DIR if the run used another)" : "");
  }
  if (!o.resume && has_state) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot compress: '{}' holds the checkpoints of an earlier run (continue it with --resume, or "
                      "remove it)", work_dir);
  }

  pipeline::CompressConfig config;
  config.max_drop = o.max_drop;
  config.target = *pipeline::target_from_name(o.target);
  config.prune = prune_cfg;
  config.quant.calibrator.method = *quant::calibrator_from_name(o.calibrator);
  config.quant.calib_samples = o.calib_samples;
  config.quant.style = *quant::qdq_style_from_name(o.qdq_style);
  config.baselines = o.baselines;
  config.sensitivity = o.sensitivity;
  config.threads = o.threads;
  config.latency_runs = o.latency_runs;
  config.work_dir = work_dir;
  config.resume = o.resume;
  // Data-parallel: every rank passed the checks above before the first collective (the baseline
  // evaluation), so rank 0's work dir cannot trip another rank's.
  HQP_ASSIGN_OR_RETURN(config.group, join_group(o.dist));
  config.quant.group = config.group;
  config.prune.finetune.group = config.group;
  config.prune.finetune.sync_bn = o.dist.sync_bn;
  const bool writer = is_writer(config.group);
  const int shards = config.group ? config.group->world_size() : 1;
  const int shard = config.group ? config.group->rank() : 0;

  HQP_ASSIGN_OR_RETURN(ModelData md, open_model_data(o.data, o.model, "compress"));
  const ir::Graph& model = md.model;
  const modeldata::TrainingData& splits = md.splits;
  const data::Pipeline& pipeline = md.pipeline;
  const Shape input_shape = modeldata::value_shape(*model.inputs()[0]);
  if (!input_shape.empty() && input_shape[0] > 0) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot compress model '{}': its input has a fixed batch size of {} (fine-tuning needs a dynamic "
                      "batch dim)", o.model, input_shape[0]);
  }
  HQP_ASSIGN_OR_RETURN(auto train_src, make_loader(splits.train, pipeline, o.prune.batch_size, true, o.prune.seed,
                                                   o.data.workers, shards, shard));
  // Calibration batches of 64 rows in all (per rank: 64 / ranks, at least 1).
  HQP_ASSIGN_OR_RETURN(auto calib_src, make_calibration_loader(splits.train, pipeline, std::max(1, 64 / shards),
                                                               o.prune.seed, o.data.workers, shards, shard));
  config.quant.calib_quota = calib_src->shard_rows_in_prefix(o.calib_samples);
  HQP_ASSIGN_OR_RETURN(auto val_src, make_loader(splits.val, pipeline, 256, false, o.prune.seed, o.data.workers, shards, shard));
  std::unique_ptr<data::Loader> test_src;
  if (splits.test && !o.no_test) {
    HQP_ASSIGN_OR_RETURN(test_src, make_loader(splits.test, pipeline, 256, false, o.prune.seed, o.data.workers, shards, shard));
  }

  const bool lines = !o.json && writer;
  if (lines) {
    const ir::ModelStats s = ir::compute_stats(model);
    cli::print("compress   {} ({:.2f} M params, {:.1f} M MACs) on {} ({} train, {} val samples)\n", o.model,
               static_cast<double>(s.params) / 1e6, static_cast<double>(s.macs) / 1e6, o.data.data,
               splits.train->size(), splits.val->size());
    cli::print("plan       prune ({} importance, cost {}, step {:g}, {} fine-tune steps) gated on the {} model, then "
               "{} quantization ({}); --max-drop {:g} pp from the original's val top-1{}\n",
               o.prune.criterion, o.prune.cost, o.prune.step, o.prune.finetune_steps, o.target == "int8" ? "quantized" : "float",
               o.target == "int8" ? "INT8" : "no", o.calibrator, o.max_drop,
               o.prune.time_budget_min > 0.0 ? fmt::format(", pruning budget {:g} min", o.prune.time_budget_min) : std::string());
    std::fflush(stdout);
  }
  ProgressBar bar(stderr_is_terminal() && writer);
  pipeline::CompressCallbacks cb;
  cb.progress = [&](const pipeline::CompressProgress& p) {
    bar.phase(p.detail.empty() ? p.phase : p.phase + " " + p.detail, p.done, p.total);
  };
  cb.message = [&](const std::string& line) {
    bar.clear();
    if (!lines) return;
    cli::print("           {}\n", line);
    std::fflush(stdout);
  };
  cb.step = [&](const std::string& run, const pruner::StepRecord& r) {
    bar.clear();
    if (!lines) return;
    cli::print("{:<10} step {:<3} {}  -{:<4} ch  MACs {:>7.2f} M  val {:.2f}%{}{}  {:.0f} s\n", run, r.attempt + 1,
               r.accepted ? "kept       " : "rolled back", r.channels_removed, static_cast<double>(r.macs) / 1e6,
               100.0 * r.val_top1,
               r.float_val_top1 >= 0.0 ? fmt::format(" (float {:.2f}%)", 100.0 * r.float_val_top1) : std::string(),
               r.accepted ? fmt::format("  {:.3f} ms", r.latency_ms) : std::string(), r.seconds);
    std::fflush(stdout);
  };
  HQP_ASSIGN_OR_RETURN(pipeline::CompressOutcome out,
                       pipeline::compress_model(model, *train_src, *calib_src, *val_src, test_src.get(), config, cb));
  bar.clear();

  json record = {{"max_drop", o.max_drop},
                 {"target", o.target},
                 {"criterion", o.prune.criterion},
                 {"cost", o.prune.cost},
                 {"val_top1_original", out.original.val_top1},
                 {"val_top1", out.result.val_top1},
                 {"macs_original", out.original.macs},
                 {"macs", out.result.macs},
                 {"kept_float", out.result.kept_float}};
  if (out.result.test_top1 >= 0.0) record["test_top1"] = out.result.test_top1;
  if (config.group) record["world_size"] = shards;
  modeldata::set_metadata(out.model, "hqp.compress", json_text(record));
  if (!writer) return Status();  // rank 0 writes the report, the model and the summary

  // The report first (it can fail on a bad directory), then the model; the work dir goes last.
  if (!o.report_dir.empty()) {
    pipeline::ReportContext ctx;
    ctx.command = command_line();
    ctx.model = o.model;
    ctx.output = o.output;
    ctx.data = o.data.data;
    ctx.versions = {{"hqp", "0.1.0"}, {"backend", Session::backend_version()}};
    ctx.created = utc_now();
    HQP_RETURN_IF_ERROR(pipeline::write_baseline_models(o.report_dir, out));
    HQP_RETURN_IF_ERROR(pipeline::write_report(o.report_dir, pipeline::report_json(out, config, ctx)));
  }
  HQP_RETURN_IF_ERROR(onnx_io::export_model_file(out.model, o.output));
  if (own_work_dir) {
    std::error_code ec;
    fs::remove_all(work_dir, ec);  // best effort: the result is written
  }

  const auto ratio = [](double a, double b) { return b > 0.0 ? a / b : 0.0; };
  const double speedup = ratio(out.original.latency_ms, out.result.latency_ms);
  if (o.json) {
    json j;
    j["model"] = o.model;
    j["output"] = o.output;
    j["target"] = o.target;
    j["before"] = figures_summary(out.original);
    j["after"] = figures_summary(out.result);
    j["speedup"] = speedup;
    j["size_ratio"] = ratio(static_cast<double>(out.result.bytes), static_cast<double>(out.original.bytes));
    j["macs_ratio"] = ratio(static_cast<double>(out.result.macs), static_cast<double>(out.original.macs));
    j["val_drop_pp"] = (out.original.val_top1 - out.result.val_top1) * 100.0;
    if (out.original.test_top1 >= 0.0 && out.result.test_top1 >= 0.0) {
      j["test_drop_pp"] = (out.original.test_top1 - out.result.test_top1) * 100.0;
    }
    j["steps_kept"] = out.result.steps_kept;
    j["stop_reason"] = out.prune.stop_reason;
    j["kept_float"] = out.result.kept_float;
    j["pruning_dropped"] = out.pruning_dropped;
    j["seconds"] = out.seconds;
    j["latency"] = {{"engine", "fast"}, {"batch", 1}, {"threads", o.threads}};
    j["baselines"] = json::array();
    for (const pipeline::ModelFigures& f : out.baselines) {
      json b = figures_summary(f);
      b["name"] = f.name;
      b["speedup"] = ratio(out.original.latency_ms, f.latency_ms);
      b["seconds"] = f.seconds;
      j["baselines"].push_back(b);
    }
    if (!o.report_dir.empty()) j["report_dir"] = o.report_dir;
    cli::print("{}\n", json_text(j, 2));
    return Status();
  }
  const auto pct = [](double x) { return x >= 0.0 ? fmt::format("{:.2f} %", 100.0 * x) : std::string("-"); };
  cli::print("\n{:<28} {:>14} {:>14} {:>18}\n", "", "original", out.result.int8 ? "compressed INT8" : "compressed FP32",
             "change");
  cli::print("{:<28} {:>14} {:>14} {:>18}\n", "val top-1", pct(out.original.val_top1), pct(out.result.val_top1),
             fmt::format("{:.2f} pp (<= {:g})", (out.original.val_top1 - out.result.val_top1) * 100.0, o.max_drop));
  if (out.original.test_top1 >= 0.0) {
    cli::print("{:<28} {:>14} {:>14} {:>18}\n", "test top-1", pct(out.original.test_top1), pct(out.result.test_top1),
               fmt::format("{:.2f} pp", (out.original.test_top1 - out.result.test_top1) * 100.0));
  }
  cli::print("{:<28} {:>11.3f} ms {:>11.3f} ms {:>18}\n",
             fmt::format("latency (batch 1, {} thr)", o.threads), out.original.latency_ms, out.result.latency_ms,
             fmt::format("{:.2f}x faster", speedup));
  cli::print("{:<28} {:>11.2f} MB {:>11.2f} MB {:>18}\n", "file size", static_cast<double>(out.original.bytes) / 1e6,
             static_cast<double>(out.result.bytes) / 1e6,
             fmt::format("{:.1f} % smaller", 100.0 * (1.0 - ratio(static_cast<double>(out.result.bytes),
                                                                  static_cast<double>(out.original.bytes)))));
  cli::print("{:<28} {:>12.2f} M {:>12.2f} M {:>18}\n", "MACs", static_cast<double>(out.original.macs) / 1e6,
             static_cast<double>(out.result.macs) / 1e6,
             fmt::format("{:.2f}x fewer", ratio(static_cast<double>(out.original.macs), static_cast<double>(out.result.macs))));
  if (!out.baselines.empty()) {
    cli::print("\n{:<16} {:>9} {:>9} {:>11} {:>8} {:>9} {:>9} {:>6}\n", "model", "val", "test", "latency", "speedup",
               "size", "MACs", "wall");
    std::vector<const pipeline::ModelFigures*> rows = {&out.original};
    for (const auto& f : out.baselines) rows.push_back(&f);
    rows.push_back(&out.result);
    for (const pipeline::ModelFigures* f : rows) {
      cli::print("{:<16} {:>9} {:>9} {:>8.3f} ms {:>7.2f}x {:>6.2f} MB {:>7.2f} M {:>5.0f}s\n", f->name, pct(f->val_top1),
                 pct(f->test_top1), f->latency_ms, ratio(out.original.latency_ms, f->latency_ms),
                 static_cast<double>(f->bytes) / 1e6, static_cast<double>(f->macs) / 1e6, f->seconds);
    }
  }
  cli::print("\nstopped    {} ({} pruning steps kept{}; {:.0f} s in all)\n", out.prune.stop_reason, out.result.steps_kept,
             out.pruning_dropped ? ", then dropped: the quantized pruned model missed the bound" : "", out.seconds);
  if (!out.result.kept_float.empty()) cli::print("float      {}\n", fmt::join(out.result.kept_float, ", "));
  if (!o.report_dir.empty()) cli::print("report     {}/report.html\n", o.report_dir);
  cli::print("wrote      {}\n", o.output);
  return Status();
}

}  // namespace

Runner add_compress_command(CLI::App& app) {
  auto o = std::make_shared<CompressOptions>();
  CLI::App* sub = app.add_subcommand(
      "compress", "Prune + quantize under an accuracy bound on the final model (the hybrid pipeline), with report");
  sub->add_option("model", o->model, "ONNX model (float, trained)")->required();
  add_data_flags(sub, o->data, "the model's, else none");
  sub->add_option("-o,--output", o->output, "Compressed model (QDQ ONNX for --target int8)")->required();
  sub->add_option("--max-drop", o->max_drop, "Largest val top-1 drop of the final model, percentage points")
      ->check(CLI::Range(0.0001, 100.0))
      ->capture_default_str();
  sub->add_option("--target", o->target, "Deployment precision: int8 (QDQ, default) or fp32 (pruning only)")
      ->check(CLI::IsMember({"int8", "fp32"}))
      ->capture_default_str();
  o->prune.cost = "latency";
  o->prune.remove_blocks = true;  // the deployed model's step count matters as much as its MACs
  add_prune_flags(sub, o->prune,
                  "Rank by importance per channel cost: latency (measured per layer on the target engine), macs, "
                  "params, none");
  sub->add_option("--calibrator", o->calibrator, "Activation ranges: minmax, percentile, entropy, mse")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy", "mse"}))
      ->capture_default_str();
  sub->add_option("--calib-samples", o->calib_samples, "Training samples to calibrate on")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))
      ->capture_default_str();
  sub->add_option("--qdq-style", o->qdq_style, "QDQ placement: ort or trt")->check(CLI::IsMember({"ort", "trt"}))->capture_default_str();
  sub->add_flag("--baselines", o->baselines,
                "Also run quant-only, prune-only, l1 + quant and random + quant at the same bound and budget "
                "(with --report-dir, their models are written to DIR/baselines/)");
  sub->add_flag("--sensitivity", o->sensitivity, "Rank every layer's INT8 sensitivity on the final model (for the report)");
  sub->add_option("--report-dir", o->report_dir, "Write report.json and report.html here (and, with --baselines, each baseline's model in "
                  "DIR/baselines/)");
  sub->add_option("--work-dir", o->work_dir,
                  "Checkpoints (default: OUT.compress-work, removed once OUT is written)");
  sub->add_flag("--resume", o->resume, "Continue the run saved in the work directory");
  sub->add_option("--threads", o->threads, "Threads (libtorch and fast runtime)")->check(CLI::Range(1, 256))->capture_default_str();
  sub->add_option("--latency-runs", o->latency_runs, "Timed batch-1 runs per latency figure and round")->check(CLI::Range(1, 100000))->capture_default_str();
  sub->add_flag("--no-test", o->no_test, "Skip the test-split evaluation");
  sub->add_flag("--json", o->json, "Print the final figures as JSON");
  add_dist_flags(sub, o->dist);
  return [o] { return run_compress(*o); };
}

}  // namespace hqp::cli
