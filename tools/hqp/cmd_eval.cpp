// `hqp eval MODEL.onnx --data DATASET [--split test|val|train] [--val-split S] [--preprocess P]
// [--mean M --std S] [--batch-size B] [--threads T] [--engine fast|torch|ref] [--json]`: top-1,
// top-5, mean cross-entropy, per-class accuracy and samples/s of a classifier on a dataset split.
// The model's stored preprocessing (hqp.preprocess) and val split (hqp.val_split) are used unless
// flags override them. Flags and printing only: eval::evaluate_classifier does the work.
#include <algorithm>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "print.h"
#include "core/json_text.h"
#include "commands.h"
#include "data/loader.h"
#include "data_flags.h"
#include "eval/evaluate.h"
#include "modeldata/metadata.h"
#include "modeldata/splits.h"
#include "onnx/import.h"
#include "progress.h"
#include "validators.h"

namespace hqp::cli {

namespace {

struct EvalOptions {
  std::string model;
  DataFlags data;
  std::string split = "test";
  int64_t batch_size = 256;
  int threads = 0;
  std::string engine = "fast";
  bool json = false;
};

Status run_eval(const EvalOptions& o) {
  const modeldata::PreprocessRequest prep =
      preprocess_request(o.data, modeldata::PreprocessFallback::kNone);
  HQP_RETURN_IF_ERROR(modeldata::check_preprocess_request(prep));
  HQP_ASSIGN_OR_RETURN(modeldata::DataRequest request, data_request(o.data));
  HQP_ASSIGN_OR_RETURN(data::Split split, data::parse_split(o.split));

  HQP_ASSIGN_OR_RETURN(ir::Graph graph, onnx_io::import_model_file(o.model));
  const std::string what = fmt::format("model '{}'", o.model);
  HQP_RETURN_IF_ERROR(modeldata::check_classifier_io(graph, "evaluate", what));
  HQP_ASSIGN_OR_RETURN(data::DatasetPtr dataset, modeldata::open_model_split(request, &graph, split));
  HQP_ASSIGN_OR_RETURN(data::Pipeline pipeline,
                       modeldata::resolve_preprocessing(prep, &graph, *dataset, o.data.data));
  HQP_ASSIGN_OR_RETURN(Shape sample_shape, modeldata::preprocessed_shape(pipeline, *dataset));
  HQP_RETURN_IF_ERROR(modeldata::check_model_fits(graph, "evaluate", what, sample_shape, *dataset));

  // A static batch dim fixes the batch size (evaluate_classifier pads the last batch).
  const Shape input_shape = modeldata::value_shape(*graph.inputs()[0]);
  const int64_t static_batch = input_shape.empty() ? -1 : input_shape[0];
  data::LoaderOptions lo;
  lo.batch_size = static_batch > 0 ? static_batch : o.batch_size;
  lo.mode = data::TransformMode::kEval;
  lo.num_threads = o.data.workers;
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<data::Loader> loader, data::Loader::create(dataset, pipeline, lo));

  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  eval::EngineOptions eo;
  eo.kind = *eval::engine_from_name(o.engine);
  eo.threads = threads;
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<eval::InferenceEngine> engine, eval::InferenceEngine::create(graph, eo));

  ProgressBar bar(stderr_is_terminal());
  eval::EvaluateOptions options;
  options.num_classes = dataset->num_classes();
  options.model_name = o.model;
  HQP_ASSIGN_OR_RETURN(eval::ClassificationReport report,
                       eval::evaluate_classifier(graph, *loader, *engine, options, [&](const eval::EvalProgress& p) {
                         bar.update("eval", p.step, p.steps, p.loss, p.top1, p.samples_per_s, p.eta_s);
                       }));
  bar.clear();
  const metrics::ClassificationMetrics& m = report.metrics;
  const std::vector<std::string>& names = dataset->class_names();
  auto class_name = [&](size_t c) { return c < names.size() ? names[c] : std::to_string(c); };

  if (o.json) {
    nlohmann::json j;
    j["model"] = o.model;
    j["dataset"] = dataset->name();
    j["split"] = std::string(data::split_name(split));
    j["engine"] = o.engine;
    j["preprocess"] = pipeline.to_string();
    j["samples"] = m.samples();
    j["top1"] = m.top1();
    j["top5"] = m.top5();
    j["loss"] = m.loss();
    j["seconds"] = report.seconds;
    j["samples_per_s"] = report.samples_per_s;
    if (split != data::Split::kTest) {
      HQP_ASSIGN_OR_RETURN(data::ValSplit vs, modeldata::resolve_val_split(request.val_split, &graph));
      j["val_split"] = data::val_split_to_string(vs);
    }
    j["per_class"] = nlohmann::json::array();
    for (size_t c = 0; c < m.class_samples().size(); ++c) {
      j["per_class"].push_back({{"class", c},
                                {"name", class_name(c)},
                                {"samples", m.class_samples()[c]},
                                {"top1", m.class_top1(static_cast<int64_t>(c))}});
    }
    cli::print("{}\n", json_text(j, 2));
    return Status();
  }
  cli::print("model      {}\n", o.model);
  cli::print("dataset    {} ({} samples)\n", dataset->name(), m.samples());
  cli::print("preprocess {}\n", pipeline.empty() ? "(none)" : pipeline.to_string());
  cli::print("engine     {} ({} threads)\n", o.engine, threads);
  cli::print("top1       {:.2f}%\n", 100.0 * m.top1());
  cli::print("top5       {:.2f}%\n", 100.0 * m.top5());
  cli::print("loss       {:.4f}\n", m.loss());
  cli::print("speed      {:.1f} samples/s ({:.2f} s)\n", report.samples_per_s, report.seconds);
  cli::print("\n{:<6} {:<24} {:>8} {:>8}\n", "class", "name", "samples", "top1");
  for (size_t c = 0; c < m.class_samples().size(); ++c) {
    cli::print("{:<6} {:<24} {:>8} {:>7.2f}%\n", c, class_name(c), m.class_samples()[c],
               100.0 * m.class_top1(static_cast<int64_t>(c)));
  }
  return Status();
}

}  // namespace

Runner add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* sub = app.add_subcommand("eval", "Measure a classifier's top-1/top-5 accuracy and loss on a dataset split");
  sub->add_option("model", o->model, "ONNX model file")->required();
  add_data_flags(sub, o->data, "the model's hqp.preprocess, else none");
  sub->add_option("--split", o->split, "test, val (held out of the training files, see --val-split) or train")
      ->check(CLI::IsMember({"test", "val", "validation", "train"}))
      ->capture_default_str();
  sub->add_option("--batch-size", o->batch_size, "Samples per batch")
      ->check(CLI::Range(int64_t{1}, int64_t{65536}))
      ->capture_default_str();
  sub->add_option("--threads", o->threads, "Compute threads (0: all cores)")->check(CLI::Range(0, 256))->capture_default_str();
  sub->add_option("--engine", o->engine, "fast (hqp::Session), torch (libtorch executor) or ref (reference executor)")
      ->check(CLI::IsMember({"fast", "torch", "ref"}))
      ->capture_default_str();
  sub->add_flag("--json", o->json,
                "Print JSON (keys: top1, top5, loss (fractions / mean cross-entropy), samples, samples_per_s, seconds, "
                "per_class, preprocess, dataset, split, engine, val_split (val/train splits))");
  return [o] { return run_eval(*o); };
}

}  // namespace hqp::cli
