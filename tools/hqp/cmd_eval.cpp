// `hqp eval MODEL.onnx --data DATASET [--split test|val|train] [--preprocess P] [--mean M --std S]
// [--batch-size B] [--threads T] [--engine fast|torch|ref] [--json]`: top-1, top-5, mean
// cross-entropy, per-class accuracy and samples/s of a classifier on a dataset split. The model's
// stored preprocessing (metadata_props "hqp.preprocess") is used unless flags override it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "data/loader.h"
#include "data/open_dataset.h"
#include "data_cli.h"
#include "onnx/import.h"
#include "progress.h"
#include "validators.h"
#include "runtime/session.h"
#include "train/torch_executor.h"

namespace hqp::cli {

namespace {

constexpr int64_t kTopK = 5;

struct EvalOptions {
  std::string model;
  std::string data;
  std::string split = "test";
  std::string preprocess;
  bool preprocess_set = false;
  std::string mean;
  std::string std;
  int64_t batch_size = 256;
  int threads = 0;
  int workers = 2;
  int64_t val_size = data::kAutoValSize;
  bool val_size_set = false;
  std::string engine = "fast";
  bool json = false;
};

// Runs one batch [N, C, H, W] -> logits [N, K] on the chosen engine.
class BatchRunner {
 public:
  static Result<std::unique_ptr<BatchRunner>> create(const ir::Graph& graph, const std::string& engine, int threads) {
    auto e = std::unique_ptr<BatchRunner>(new BatchRunner());
    if (engine == "torch") {
      train::set_torch_threads(threads);
      HQP_ASSIGN_OR_RETURN(e->torch_, train::TorchExecutor::create(graph));
      e->torch_->set_mode(train::ExecMode::kEval);
    } else {
      SessionOptions so;
      so.threads = threads;
      so.engine = engine == "ref" ? hqp::Engine::kReference : hqp::Engine::kFast;
      HQP_ASSIGN_OR_RETURN(Session s, Session::create(graph, so));
      e->session_ = std::make_unique<Session>(std::move(s));
    }
    return e;
  }
  Result<Tensor> run(const Tensor& images) {
    std::vector<Tensor> inputs = {images};
    std::vector<Tensor> outputs;
    if (torch_) {
      HQP_ASSIGN_OR_RETURN(outputs, torch_->run(inputs));
    } else {
      HQP_ASSIGN_OR_RETURN(outputs, session_->run(inputs));
    }
    return std::move(outputs.at(0));
  }

 private:
  BatchRunner() = default;
  std::unique_ptr<train::TorchExecutor> torch_;
  std::unique_ptr<Session> session_;
};

// Copies `images` [n, ...] into the first n rows of a zero tensor [rows, ...] (a model with a
// static batch dim gets its final, smaller batch padded).
Result<Tensor> pad_rows(const Tensor& images, int64_t rows) {
  Shape shape = images.shape();
  shape[0] = rows;
  HQP_ASSIGN_OR_RETURN(Tensor padded, Tensor::zeros(DType::kF32, shape));
  std::copy_n(images.data<float>(), images.numel(), padded.data<float>());
  return padded;
}

struct Metrics {
  double loss_sum = 0.0;
  int64_t top1 = 0;
  int64_t top5 = 0;
  int64_t samples = 0;
  std::vector<int64_t> class_samples;
  std::vector<int64_t> class_correct;
};

// logits: f32 [rows >= labels.numel(), K]; rows past the labels (padding) are ignored.
Status accumulate(const Tensor& logits, const Tensor& labels, Metrics& m) {
  const int64_t n = labels.numel();
  if (logits.dtype() != DType::kF32 || logits.rank() != 2 || logits.dim(0) < n) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot evaluate model: its first output is {}[{}] (expected f32 [{}, classes] logits)",
                      dtype_name(logits.dtype()), shape_to_string(logits.shape()), n);
  }
  const int64_t k = logits.dim(1);
  const float* z = logits.data<float>();
  const int64_t* y = labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const float* row = z + i * k;
    const int64_t label = y[i];
    if (label < 0 || label >= k) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot evaluate model: label {} has no logit (classes={}, expected more than {})", label, k,
                        label);
    }
    const float max = *std::max_element(row, row + k);
    double sum = 0.0;
    int64_t rank = 0;  // logits strictly above the label's
    for (int64_t j = 0; j < k; ++j) {
      sum += std::exp(static_cast<double>(row[j]) - max);
      if (row[j] > row[label]) ++rank;
    }
    m.loss_sum += std::log(sum) + max - static_cast<double>(row[label]);
    const bool hit1 = rank < 1 && std::isfinite(row[label]);
    m.top1 += hit1 ? 1 : 0;
    m.top5 += rank < kTopK && std::isfinite(row[label]) ? 1 : 0;
    m.class_samples.at(static_cast<size_t>(label)) += 1;
    m.class_correct.at(static_cast<size_t>(label)) += hit1 ? 1 : 0;
    ++m.samples;
  }
  return Status();
}

Status run_eval(const EvalOptions& o) {
  HQP_ASSIGN_OR_RETURN(ir::Graph graph, onnx_io::import_model_file(o.model));
  if (graph.inputs().size() != 1 || graph.outputs().empty()) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot evaluate model '{}': it has {} inputs and {} outputs (expected 1 image input and "
                      "logits as the first output)",
                      o.model, graph.inputs().size(), graph.outputs().size());
  }
  const ir::Value& input = *graph.inputs()[0];
  const Shape input_shape = value_shape(input);
  if (input.dtype != DType::kF32 || input_shape.size() != 4) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot evaluate model '{}': input '{}' is {}[{}] (expected f32 [N, C, H, W])", o.model,
                      input.name, dtype_name(input.dtype), shape_to_string(input_shape));
  }

  data::DatasetSpec spec;
  spec.source = o.data;
  HQP_ASSIGN_OR_RETURN(spec.split, data::parse_split(o.split));
  const std::optional<std::string> stored_val_size = find_metadata(graph, kValSizeMetadataKey);
  if (o.val_size_set) {
    spec.val_size = o.val_size;
  } else if (stored_val_size) {
    try {
      spec.val_size = std::stoll(*stored_val_size);
    } catch (const std::exception&) {
      return make_error(StatusCode::kParseError, "cannot read model '{}': metadata {}='{}' is not a number", o.model,
                        kValSizeMetadataKey, *stored_val_size);
    }
  }
  HQP_ASSIGN_OR_RETURN(data::DatasetPtr dataset, data::open_dataset(spec));

  // Preprocessing: --preprocess, else the model's, else none; then --mean/--std.
  std::string pipeline_text;
  if (o.preprocess_set) {
    pipeline_text = o.preprocess;
  } else if (std::optional<std::string> stored = find_metadata(graph, data::kPreprocessMetadataKey)) {
    pipeline_text = *stored;
  }
  Result<data::Pipeline> parsed = data::Pipeline::parse(pipeline_text);
  if (!parsed.ok()) {
    return parsed.status().with_context(fmt::format("cannot use the preprocessing {}",
                                                    o.preprocess_set ? "of --preprocess" : "stored in the model"));
  }
  data::Pipeline pipeline = std::move(parsed).value();
  std::vector<float> mean, stdev;
  if (!o.mean.empty()) {
    HQP_ASSIGN_OR_RETURN(mean, parse_float_list(o.mean, "--mean"));
  }
  if (!o.std.empty()) {
    HQP_ASSIGN_OR_RETURN(stdev, parse_float_list(o.std, "--std"));
  }
  if (!mean.empty() || !stdev.empty()) pipeline = with_normalize(pipeline, mean, stdev);
  for (float s : stdev) {
    if (!(s > 0.0f)) {
      return make_error(StatusCode::kInvalidArgument, "cannot use --std '{}': std={} (expected > 0)", o.std, s);
    }
  }

  Result<Shape> sample_shape = pipeline.output_shape(dataset->sample_shape());
  if (!sample_shape.ok()) {
    return sample_shape.status().with_context(
        fmt::format("cannot apply preprocessing '{}' to dataset '{}'", pipeline.to_string(), dataset->name()));
  }
  HQP_RETURN_IF_ERROR(data::check_compatible(*sample_shape, input_shape, dataset->name()));
  const Shape output_shape = value_shape(*graph.outputs()[0]);
  if (output_shape.size() == 2 && output_shape[1] > 0 && output_shape[1] < dataset->num_classes()) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot evaluate model '{}' on dataset '{}': the model has {} outputs per sample but the "
                      "dataset has {} classes (expected at least {})",
                      o.model, dataset->name(), output_shape[1], dataset->num_classes(), dataset->num_classes());
  }

  // A static batch dim fixes the batch size (the last batch is padded).
  const int64_t static_batch = input_shape[0];
  const int64_t batch_size = static_batch > 0 ? static_batch : o.batch_size;
  data::LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.mode = data::TransformMode::kEval;
  lo.num_threads = o.workers;
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<data::Loader> loader, data::Loader::create(dataset, pipeline, lo));

  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<BatchRunner> engine, BatchRunner::create(graph, o.engine, threads));

  Metrics m;
  m.class_samples.assign(static_cast<size_t>(dataset->num_classes()), 0);
  m.class_correct.assign(static_cast<size_t>(dataset->num_classes()), 0);
  ProgressBar bar(stderr_is_terminal());
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  loader->start_epoch(0);
  const int64_t steps = loader->num_batches();
  int64_t step = 0;
  while (true) {
    HQP_ASSIGN_OR_RETURN(std::optional<data::Batch> batch, loader->next());
    if (!batch) break;
    Tensor images = std::move(batch->images);
    if (static_batch > 0 && images.dim(0) < static_batch) {
      HQP_ASSIGN_OR_RETURN(images, pad_rows(images, static_batch));
    }
    Result<Tensor> logits = engine->run(images);
    if (!logits.ok()) return logits.status().with_context(fmt::format("cannot evaluate model '{}'", o.model));
    HQP_RETURN_IF_ERROR(accumulate(*logits, batch->labels, m));
    ++step;
    const double t = elapsed();
    bar.update("eval", step, steps, m.loss_sum / static_cast<double>(m.samples),
               static_cast<double>(m.top1) / static_cast<double>(m.samples), static_cast<double>(m.samples) / t,
               t / static_cast<double>(step) * static_cast<double>(steps - step));
  }
  bar.clear();
  const double seconds = elapsed();
  const double n = static_cast<double>(std::max<int64_t>(m.samples, 1));
  const double top1 = static_cast<double>(m.top1) / n, top5 = static_cast<double>(m.top5) / n;
  const double loss = m.loss_sum / n;
  const double samples_per_s = seconds > 0.0 ? static_cast<double>(m.samples) / seconds : 0.0;
  const std::vector<std::string>& names = dataset->class_names();

  if (o.json) {
    nlohmann::json j;
    j["model"] = o.model;
    j["dataset"] = dataset->name();
    j["split"] = std::string(data::split_name(spec.split));
    j["engine"] = o.engine;
    j["preprocess"] = pipeline.to_string();
    j["samples"] = m.samples;
    j["top1"] = top1;
    j["top5"] = top5;
    j["loss"] = loss;
    j["seconds"] = seconds;
    j["samples_per_s"] = samples_per_s;
    j["per_class"] = nlohmann::json::array();
    for (size_t c = 0; c < m.class_samples.size(); ++c) {
      const int64_t cs = m.class_samples[c];
      j["per_class"].push_back({{"class", c},
                                {"name", names.at(c)},
                                {"samples", cs},
                                {"top1", cs > 0 ? static_cast<double>(m.class_correct[c]) / static_cast<double>(cs) : 0.0}});
    }
    fmt::print("{}\n", j.dump(2));
    return Status();
  }
  fmt::print("model      {}\n", o.model);
  fmt::print("dataset    {} ({} samples)\n", dataset->name(), m.samples);
  fmt::print("preprocess {}\n", pipeline.empty() ? "(none)" : pipeline.to_string());
  fmt::print("engine     {} ({} threads)\n", o.engine, threads);
  fmt::print("top1       {:.2f}%\n", 100.0 * top1);
  fmt::print("top5       {:.2f}%\n", 100.0 * top5);
  fmt::print("loss       {:.4f}\n", loss);
  fmt::print("speed      {:.1f} samples/s ({:.2f} s)\n", samples_per_s, seconds);
  fmt::print("\n{:<6} {:<24} {:>8} {:>8}\n", "class", "name", "samples", "top1");
  for (size_t c = 0; c < m.class_samples.size(); ++c) {
    const int64_t cs = m.class_samples[c];
    fmt::print("{:<6} {:<24} {:>8} {:>7.2f}%\n", c, names.at(c), cs,
               cs > 0 ? 100.0 * static_cast<double>(m.class_correct[c]) / static_cast<double>(cs) : 0.0);
  }
  return Status();
}

}  // namespace

Runner add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* sub = app.add_subcommand("eval", "Measure a classifier's top-1/top-5 accuracy and loss on a dataset split");
  sub->add_option("model", o->model, "ONNX model file")->required();
  sub->add_option("--data", o->data, "Dataset: a name (fashion-mnist) or a folder (IDX, CIFAR binary, image folders)")
      ->required();
  sub->add_option("--split", o->split, "test, val (held out of the training files) or train")
      ->check(CLI::IsMember({"test", "val", "validation", "train"}))
      ->capture_default_str();
  sub->add_option_function<std::string>(
      "--preprocess",
      [o](const std::string& v) {
        o->preprocess = v;
        o->preprocess_set = true;
      },
      "Preprocessing pipeline (overrides the model's hqp.preprocess), e.g. 'center_crop(size=28)|normalize(mean=0.5,std=0.5)'");
  sub->add_option("--mean", o->mean, "Normalization mean, 1 or 3 values (0.5 or 0.485,0.456,0.406); replaces the pipeline's");
  sub->add_option("--std", o->std, "Normalization std, 1 or 3 values; replaces the pipeline's");
  sub->add_option("--batch-size", o->batch_size, "Samples per batch")->check(positive())->capture_default_str();
  sub->add_option("--threads", o->threads, "Compute threads (0: all cores)")->check(non_negative())->capture_default_str();
  sub->add_option("--workers", o->workers, "Data decoding threads")->check(non_negative())->capture_default_str();
  sub->add_option_function<int64_t>(
      "--val-size",
      [o](const int64_t& v) {
        o->val_size = v;
        o->val_size_set = true;
      },
      "Samples held out as the val split (default: the model's hqp.val_size, else min(5000, n/10))")
      ->check(non_negative());
  sub->add_option("--engine", o->engine, "fast (hqp::Session), torch (libtorch executor) or ref (reference kernels)")
      ->check(CLI::IsMember({"fast", "torch", "ref"}))
      ->capture_default_str();
  sub->add_flag("--json", o->json,
                "Print JSON (keys: top1, top5, loss (fractions / mean cross-entropy), samples, samples_per_s, seconds, "
                "per_class, preprocess, dataset, split, engine)");
  return [o] { return run_eval(*o); };
}

}  // namespace hqp::cli
