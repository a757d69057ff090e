// `hqp quantize MODEL.onnx --data DATASET -o OUT.onnx [--calibrator minmax|percentile|entropy|mse]
// [--calib-samples N] [--percentile P] [--per-tensor] [--symmetric-activations] [--cle]
// [--bias-correction] [--max-drop PP]
// [--keep-float NODE]... [--qdq-style ort|trt] [--threads T] [--report R.json] [--json]`:
// INT8 post-training quantization on real calibration data (quantizer::quantize_model), written as
// QDQ ONNX that ONNX Runtime, TensorRT and hqp's runtime load. The val top-1 it reports is the fast
// runtime's INT8 result on the written model.
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
#include "eval/latency.h"
#include "ir/model_stats.h"
#include "modeldata/metadata.h"
#include "modeldata/splits.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "output_path.h"
#include "measure.h"
#include "progress.h"
#include "quantizer/post_training.h"
#include "validators.h"

namespace hqp::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct QuantizeOptions {
  std::string model;
  DataFlags data;
  std::string output;
  std::string calibrator = "percentile";
  int64_t calib_samples = 512;
  double percentile = 99.99;
  bool per_tensor = false;
  bool symmetric_activations = false;
  bool cle = false;
  bool bias_correction = false;
  double max_drop = 1.0;
  std::vector<std::string> keep_float;
  std::string qdq_style = "ort";
  int64_t batch_size = 64;
  int threads = 1;
  uint64_t seed = 0;
  int latency_runs = 30;
  std::string report;
  bool no_test = false;
  bool json = false;
  distributed::DistFlags dist;
};

Status run_quantize(const QuantizeOptions& o) {
  HQP_RETURN_IF_ERROR(check_output_path(o.output, "model"));
  if (!o.report.empty()) HQP_RETURN_IF_ERROR(check_output_path(o.report, "report"));
  quantizer::QuantizeConfig config;
  config.calibrator.method = *quant::calibrator_from_name(o.calibrator);
  config.calibrator.percentile = o.percentile;
  config.calibrator.scheme =
      o.symmetric_activations ? quant::ActivationScheme::kS8Symmetric : quant::ActivationScheme::kU8Asymmetric;
  config.style = *quant::qdq_style_from_name(o.qdq_style);
  config.per_channel_weights = !o.per_tensor;
  config.cle = o.cle;
  config.bias_correction = o.bias_correction;
  config.calib_samples = o.calib_samples;
  config.max_drop = o.max_drop;
  config.keep_float = o.keep_float;
  config.threads = o.threads;
  // Data-parallel calibration: each rank observes its share of the calibration rows.
  HQP_ASSIGN_OR_RETURN(config.group, join_group(o.dist));
  distributed::ProcessGroup* group = config.group.get();
  const bool writer = is_writer(config.group);
  const int shards = group ? group->world_size() : 1;
  const int shard = group ? group->rank() : 0;

  HQP_ASSIGN_OR_RETURN(ModelData md, open_model_data(o.data, o.model, "quantize"));
  const ir::Graph& model = md.model;
  const modeldata::TrainingData& splits = md.splits;
  const data::Pipeline& pipeline = md.pipeline;
  const Shape& sample_shape = md.sample_shape;

  // Calibration: a seeded random subset of the training split, without augmentation.
  HQP_ASSIGN_OR_RETURN(auto calib_src, make_calibration_loader(splits.train, pipeline, o.batch_size, o.seed,
                                                               o.data.workers, shards, shard));
  config.calib_quota = calib_src->shard_rows_in_prefix(o.calib_samples);
  HQP_ASSIGN_OR_RETURN(auto val_src, make_loader(splits.val, pipeline, 256, false, o.seed, o.data.workers, shards, shard));
  std::unique_ptr<data::Loader> test_src;
  if (splits.test && !o.no_test) {
    HQP_ASSIGN_OR_RETURN(test_src, make_loader(splits.test, pipeline, 256, false, o.seed, o.data.workers, shards, shard));
  }

  const bool lines = !o.json && writer;
  if (lines) {
    const ir::ModelStats s = ir::compute_stats(model);
    cli::print("quantize   {} ({:.2f} M params, {:.1f} M MACs) on {} ({} calibration of {} train, {} val samples)\n",
               o.model, static_cast<double>(s.params) / 1e6, static_cast<double>(s.macs) / 1e6, o.data.data,
               std::min<int64_t>(o.calib_samples, splits.train->size()), splits.train->size(), splits.val->size());
    cli::print("scheme     {} calibration{}, {} activations, {} weights{}{}, {} QDQ placement, --max-drop {:g} pp\n",
               o.calibrator, o.calibrator == "percentile" ? fmt::format(" ({:g})", o.percentile) : std::string(),
               o.symmetric_activations ? "s8 symmetric" : "u8 asymmetric",
               o.per_tensor ? "s8 per-tensor" : "s8 per-channel", o.cle ? ", CLE" : "",
               o.bias_correction ? ", bias correction" : "", o.qdq_style, o.max_drop);
    std::fflush(stdout);
  }
  ProgressBar bar(stderr_is_terminal() && writer);
  quantizer::QuantizeCallbacks cb;
  cb.progress = [&](const quantizer::QuantizeProgress& p) {
    const std::string label = p.detail.empty() ? std::string(quantizer::phase_name(p.phase))
                                               : fmt::format("{} {}", quantizer::phase_name(p.phase), p.detail);
    bar.phase(label, p.done, p.total);
  };
  cb.message = [&](const std::string& line) {
    bar.clear();
    if (!lines) return;
    cli::print("           {}\n", line);
    std::fflush(stdout);
  };
  HQP_ASSIGN_OR_RETURN(quantizer::QuantizeOutcome out, quantizer::quantize_model(model, *calib_src, *val_src, config, cb));
  bar.clear();
  const double val_drop = (out.float_val_top1 - out.int8_val_top1) * 100.0;
  if (!out.bound_met) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot quantize '{}' within --max-drop {:g} pp: val top-1 float {:.2f}%, INT8 {:.2f}% with "
                      "every layer quantized, {:.2f}% with all {} quantizable layers float (drop {:.2f} pp: the "
                      "activation quantization alone costs more; try another --calibrator, more --calib-samples or "
                      "a larger bound); nothing written",
                      o.model, o.max_drop, 100.0 * out.float_val_top1, 100.0 * out.all_int8_val_top1,
                      100.0 * out.int8_val_top1, out.kept_float.size(), val_drop);
  }

  std::optional<double> test_float, test_int8;
  if (test_src) {
    HQP_ASSIGN_OR_RETURN(test_float, top1_with_progress(model, *test_src, o.threads, bar, "test (float)", group));
    HQP_ASSIGN_OR_RETURN(test_int8, top1_with_progress(out.model, *test_src, o.threads, bar, "test (int8)", group));
  }
  if (!writer) return Status();  // rank 0 measures latency, writes the model and the report
  HQP_ASSIGN_OR_RETURN(double lat_float, median_latency_ms(model, sample_shape, o.threads, o.latency_runs));
  HQP_ASSIGN_OR_RETURN(double lat_int8, median_latency_ms(out.model, sample_shape, o.threads, o.latency_runs));

  json record = {{"calibrator", o.calibrator},
                 {"calib_samples", out.calib_samples},
                 {"qdq_style", o.qdq_style},
                 {"activations", o.symmetric_activations ? "s8_symmetric" : "u8_asymmetric"},
                 {"weights", o.per_tensor ? "s8_per_tensor" : "s8_per_channel"},
                 {"cle", o.cle},
                 {"bias_correction", o.bias_correction},
                 {"max_drop", o.max_drop},
                 {"kept_float", out.kept_float},
                 {"val_top1_float", out.float_val_top1},
                 {"val_top1_int8", out.int8_val_top1}};
  if (test_int8) record["test_top1_int8"] = *test_int8;
  modeldata::set_metadata(out.model, "hqp.quantize", json_text(record));
  HQP_RETURN_IF_ERROR(onnx_io::export_model_file(out.model, o.output));
  const auto size_of = [](const std::string& path) {
    std::error_code ec;
    const auto n = fs::file_size(path, ec);
    return ec ? int64_t{-1} : static_cast<int64_t>(n);
  };

  json summary;
  summary["model"] = o.model;
  summary["output"] = o.output;
  summary["seconds"] = out.seconds;
  summary["float"] = {{"val_top1", out.float_val_top1}, {"latency_ms", lat_float}, {"bytes", size_of(o.model)}};
  summary["int8"] = {{"val_top1", out.int8_val_top1}, {"latency_ms", lat_int8}, {"bytes", size_of(o.output)}};
  if (test_float) summary["float"]["test_top1"] = *test_float;
  if (test_int8) summary["int8"]["test_top1"] = *test_int8;
  summary["val_drop_pp"] = val_drop;
  if (test_float && test_int8) summary["test_drop_pp"] = (*test_float - *test_int8) * 100.0;
  summary["speedup"] = lat_int8 > 0.0 ? lat_float / lat_int8 : 0.0;
  summary["kept_float"] = out.kept_float;
  summary["all_int8_val_top1"] = out.all_int8_val_top1;
  summary["calib_samples"] = out.calib_samples;
  summary["cle_pairs"] = out.cle_pairs;
  summary["biases_corrected"] = out.biases_corrected;
  summary["latency"] = {{"engine", "fast"}, {"batch", 1}, {"threads", o.threads}, {"runs", o.latency_runs}};
  summary["qdq"] = {{"style", o.qdq_style},
                    {"quantized_convs", out.stats.quantized_convs},
                    {"quantized_gemms", out.stats.quantized_gemms},
                    {"float_compute", out.stats.float_compute},
                    {"quantized_activations", out.stats.quantized_activations},
                    {"quantized_other_ops", out.stats.quantized_other_ops},
                    {"residual_adds", out.stats.residual_adds}};
  if (!o.report.empty()) {
    json report = summary;
    report["config"] = record;
    report["config"]["percentile"] = o.percentile;
    report["config"]["threads"] = o.threads;
    report["config"]["seed"] = o.seed;
    report["sensitivity"] = json::array();
    for (const quantizer::LayerSensitivity& s : out.sensitivity) {
      report["sensitivity"].push_back({{"node", s.node}, {"val_top1", s.val_top1}, {"gain_pp", s.gain_pp}});
    }
    HQP_RETURN_IF_ERROR(write_file_atomic(o.report, json_text(report, 2) + "\n", fmt::format("cannot write report '{}'", o.report)));
  }
  if (o.json) {
    cli::print("{}\n", json_text(summary, 2));
    return Status();
  }
  cli::print("layers     {} convs + {} gemms INT8, {} float{}\n", out.stats.quantized_convs, out.stats.quantized_gemms,
             out.stats.float_compute,
             out.kept_float.empty() ? std::string() : fmt::format(" (kept float: {})", fmt::join(out.kept_float, ", ")));
  cli::print("val top1   {:.2f}% -> {:.2f}% (drop {:.2f} pp, bound {:g})\n", 100.0 * out.float_val_top1,
             100.0 * out.int8_val_top1, val_drop, o.max_drop);
  if (test_float && test_int8) {
    cli::print("test top1  {:.2f}% -> {:.2f}% (drop {:.2f} pp)\n", 100.0 * *test_float, 100.0 * *test_int8,
               summary["test_drop_pp"].get<double>());
  }
  cli::print("size       {:.2f} MB -> {:.2f} MB (ONNX files)\n", static_cast<double>(size_of(o.model)) / 1e6,
             static_cast<double>(size_of(o.output)) / 1e6);
  cli::print("latency    {:.3f} ms -> {:.3f} ms ({:.2f}x, fast runtime, batch 1, {} thread{})\n", lat_float, lat_int8,
             summary["speedup"].get<double>(), o.threads, o.threads == 1 ? "" : "s");
  cli::print("wrote      {}\n", o.output);
  return Status();
}

}  // namespace

Runner add_quantize_command(CLI::App& app) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::App* sub = app.add_subcommand(
      "quantize", "INT8 post-training quantization on real calibration data under an accuracy bound (QDQ ONNX out)");
  sub->add_option("model", o->model, "ONNX model (float, opset >= 13)")->required();
  add_data_flags(sub, o->data, "the model's, else none");
  sub->add_option("-o,--output", o->output, "INT8 model (QDQ ONNX)")->required();
  sub->add_option("--calibrator", o->calibrator, "Activation ranges: minmax, percentile, entropy (KL), mse")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy", "mse"}))
      ->capture_default_str();
  sub->add_option("--calib-samples", o->calib_samples, "Training samples to calibrate on (seeded random subset)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24))
      ->capture_default_str();
  sub->add_option("--percentile", o->percentile, "Percentile of the percentile calibrator")
      ->check(CLI::Range(50.0001, 100.0))
      ->capture_default_str();
  sub->add_flag("--per-tensor", o->per_tensor, "One weight scale per tensor (default: per output channel)");
  sub->add_flag("--symmetric-activations", o->symmetric_activations,
                "s8 symmetric activations (default: u8 asymmetric, ONNX Runtime's default)");
  sub->add_flag("--cle", o->cle, "Cross-layer equalization of conv pairs joined by ReLU (Nagel et al. 2019) before calibration");
  sub->add_flag("--bias-correction", o->bias_correction,
                "Empirical bias correction: add the mean float - INT8 output shift per channel to each bias");
  sub->add_option("--max-drop", o->max_drop,
                  "Largest val top-1 drop in percentage points; above it the most sensitive layers go back to float "
                  "(0: measure only)")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  sub->add_option("--keep-float", o->keep_float, "Conv / Gemm node kept float (repeatable)");
  sub->add_option("--qdq-style", o->qdq_style,
                  "QDQ placement: ort (ONNX Runtime's: QDQ around every quantized op) or trt (TensorRT's: residuals fused)")
      ->check(CLI::IsMember({"ort", "trt"}))
      ->capture_default_str();
  sub->add_option("--batch-size", o->batch_size, "Calibration batch size")->check(CLI::Range(int64_t{1}, int64_t{4096}))->capture_default_str();
  sub->add_option("--threads", o->threads, "Fast-runtime threads")->check(CLI::Range(1, 256))->capture_default_str();
  sub->add_option("--seed", o->seed, "Seed of the calibration subset")->capture_default_str();
  sub->add_option("--latency-runs", o->latency_runs, "Timed batch-1 runs per latency figure")->check(CLI::Range(1, 100000))->capture_default_str();
  sub->add_option("--report", o->report, "Write the figures, config and layer sensitivities as JSON");
  sub->add_flag("--no-test", o->no_test, "Skip the test-split evaluation");
  sub->add_flag("--json", o->json, "Print the final figures as JSON");
  add_dist_flags(sub, o->dist);
  return [o] { return run_quantize(*o); };
}

}  // namespace hqp::cli
