// `hqp train --arch ARCH --data DATASET -o model.onnx [...]` trains a zoo model from scratch;
// `hqp train --init model.onnx --data DATASET -o out.onnx [...]` fine-tunes an existing ONNX model;
// `--checkpoint-dir D --resume` continues an interrupted run. Validates on the val split after each
// epoch, reports val/test accuracy, and writes the model atomically with its preprocessing and
// provenance in metadata_props (hqp.preprocess, hqp.arch, hqp.dataset, hqp.classes, hqp.val_split,
// hqp.val_size, hqp.train). Training is hqp::train::Trainer, data binding hqp::modeldata; this
// file is flags and reporting.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "print.h"
#include "core/json_text.h"
#include "commands.h"
#include "data/loader.h"
#include "data_flags.h"
#include "dist_flags.h"
#include "ir/model_stats.h"
#include "modeldata/metadata.h"
#include "modeldata/preprocess.h"
#include "modeldata/splits.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "output_path.h"
#include "progress.h"
#include "validators.h"
#include "train/trainer.h"
#include "train/zoo.h"

namespace hqp::cli {

namespace {

namespace fs = std::filesystem;
using modeldata::find_metadata;
using modeldata::model_classes;
using modeldata::set_metadata;

struct TrainOptions {
  std::string arch;
  std::string init;
  DataFlags data;
  std::string output;
  int64_t epochs = 10;
  int64_t batch_size = 128;
  double lr = 0.1;
  std::string optimizer = "sgd";
  double momentum = 0.9;
  bool nesterov = false;
  std::string schedule = "cosine";
  double warmup_epochs = 0.0;
  double weight_decay = 5e-4;
  double label_smoothing = 0.0;
  uint64_t seed = 0;
  int threads = 0;
  std::string precision = "fp32";
  bool small_input = false;
  int64_t num_classes = 0;
  int64_t in_channels = 0;
  std::string checkpoint_dir;
  bool resume = false;
  std::string teacher;
  double kd_alpha = 0.5;
  double kd_temperature = 4.0;
  bool json = false;
  distributed::DistFlags dist;
};

nlohmann::json eval_json(const train::EvalResult& r) {
  return {{"loss", r.loss}, {"top1", r.top1}, {"top5", r.top5}, {"samples", r.samples},
          {"samples_per_s", r.samples_per_s}};
}

Result<ir::Graph> load_model(const std::string& path, const char* what) {
  HQP_ASSIGN_OR_RETURN(ir::Graph g, onnx_io::import_model_file(path));
  HQP_RETURN_IF_ERROR(modeldata::check_classifier_io(g, "train with", fmt::format("{} '{}'", what, path)));
  return g;
}


// Per-epoch reporting: the live bar on stderr (terminal only) and one summary line per epoch on
// stdout (unless --json).
class EpochReporter {
 public:
  EpochReporter(bool has_val, bool lines, bool bar = true)
      : bar_(bar && stderr_is_terminal()), has_val_(has_val), lines_(lines) {}
  bool live() const { return bar_.enabled(); }
  ProgressBar& bar() { return bar_; }

  void on_progress(const train::Progress& p) {
    const bool train = p.phase == train::Progress::Phase::kTrain;
    const std::string label = fmt::format("epoch {}/{} {}", p.epoch + 1, p.epochs, train ? "train" : "val  ");
    bar_.update(label, p.step, p.steps, p.loss, p.top1, p.samples_per_s, p.eta_s);
    if (!p.epoch_done) return;
    if (train) {
      train_ = p;
      if (!has_val_) finish_epoch(nullptr);
    } else {
      finish_epoch(&p);
    }
  }

 private:
  void finish_epoch(const train::Progress* val) {
    bar_.clear();
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - epoch_start_).count();
    epoch_start_ = now;
    if (!lines_) return;
    std::string line = fmt::format("epoch {}/{}  loss {:.4f}  top1 {:.2f}%", train_.epoch + 1, train_.epochs,
                                   train_.loss, 100.0 * train_.top1);
    if (val != nullptr) line += fmt::format("  val loss {:.4f}  val top1 {:.2f}%", val->loss, 100.0 * val->top1);
    line += fmt::format("  lr {:.4g}  {:.0f} samples/s  {:.1f} s", train_.lr, train_.samples_per_s, seconds);
    std::fprintf(stdout, "%s\n", line.c_str());
    std::fflush(stdout);
  }

  ProgressBar bar_;
  bool has_val_;
  bool lines_;
  train::Progress train_;
  std::chrono::steady_clock::time_point epoch_start_ = std::chrono::steady_clock::now();
};

Status run_train(const TrainOptions& o) {
  // Flag combinations, before anything slow.
  if (o.resume && o.checkpoint_dir.empty()) {
    return make_error(StatusCode::kInvalidArgument, "cannot resume training: --resume needs --checkpoint-dir DIR");
  }
  if (!o.resume && o.arch.empty() == o.init.empty()) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot train: give exactly one of --arch ARCH (a new zoo model) or --init MODEL.onnx "
                      "(fine-tuning)");
  }
  HQP_RETURN_IF_ERROR(check_output_path(o.output));
  if (!o.checkpoint_dir.empty() && !o.resume) HQP_RETURN_IF_ERROR(check_output_dir(o.checkpoint_dir, "--checkpoint-dir"));

  train::TrainConfig config;
  config.epochs = o.epochs;
  config.optimizer = *train::optimizer_from_name(o.optimizer);
  config.lr = o.lr;
  config.momentum = o.momentum;
  config.nesterov = o.nesterov;
  config.schedule = *train::schedule_from_name(o.schedule);
  config.warmup_epochs = o.warmup_epochs;
  config.weight_decay = o.weight_decay;
  config.label_smoothing = o.label_smoothing;
  config.distill_alpha = o.kd_alpha;
  config.distill_temperature = o.kd_temperature;
  config.seed = o.seed;
  config.threads = o.threads;
  config.bf16 = o.precision == "bf16";
  config.checkpoint_dir = o.checkpoint_dir;
  // Data-parallel: join before any heavy work so that a rank with bad flags fails everyone early.
  HQP_ASSIGN_OR_RETURN(config.group, join_group(o.dist));
  const bool writer = is_writer(config.group);
  const int shards = config.group ? config.group->world_size() : 1;
  const int shard = config.group ? config.group->rank() : 0;
  config.sync_bn = o.dist.sync_bn;
  config.progress_every = stderr_is_terminal() && writer ? 1 : 0;

  modeldata::PreprocessRequest prep = preprocess_request(o.data, modeldata::PreprocessFallback::kDatasetDefault);
  prep.want_channels = o.in_channels;
  HQP_RETURN_IF_ERROR(modeldata::check_preprocess_request(prep));
  HQP_ASSIGN_OR_RETURN(modeldata::DataRequest request, data_request(o.data));

  // Teacher and the model to start from.
  std::optional<ir::Graph> teacher;
  if (!o.teacher.empty()) {
    HQP_ASSIGN_OR_RETURN(teacher, load_model(o.teacher, "teacher"));
  }
  const ir::Graph* teacher_ptr = teacher ? &*teacher : nullptr;
  std::unique_ptr<train::Trainer> trainer;
  std::optional<ir::Graph> model;
  if (o.resume) {
    HQP_ASSIGN_OR_RETURN(trainer, train::Trainer::resume(o.checkpoint_dir, config, teacher_ptr));
    HQP_ASSIGN_OR_RETURN(model, trainer->model());
  } else if (!o.init.empty()) {
    HQP_ASSIGN_OR_RETURN(model, load_model(o.init, "model"));
  }

  // Data: train and val are disjoint parts of the training files (--val-split, else the starting
  // model's stored split, else random:auto; `hqp eval --split val` finds the same val set through
  // hqp.val_split); test is the separate test files when there are any.
  HQP_ASSIGN_OR_RETURN(modeldata::TrainingData splits, modeldata::open_training_data(request, model ? &*model : nullptr));
  const data::DatasetPtr& train_ds = splits.train;
  const data::DatasetPtr& val_ds = splits.val;
  const data::DatasetPtr& test_ds = splits.test;
  const int64_t val_size = val_ds ? val_ds->size() : 0;

  // Preprocessing: --preprocess, else the starting model's, else the dataset's default; --mean/--std.
  HQP_ASSIGN_OR_RETURN(data::Pipeline pipeline,
                       modeldata::resolve_preprocessing(prep, model ? &*model : nullptr, *train_ds, o.data.data));
  HQP_ASSIGN_OR_RETURN(Shape sample_shape, modeldata::preprocessed_shape(pipeline, *train_ds));

  if (!model) {
    train::ZooOptions zo;
    zo.in_channels = o.in_channels > 0 ? o.in_channels : sample_shape[0];
    zo.num_classes = o.num_classes > 0 ? o.num_classes : train_ds->num_classes();
    zo.small_input = o.small_input;
    zo.input_size = sample_shape[1];
    zo.seed = o.seed;
    if (sample_shape[1] != sample_shape[2]) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot build model '{}': preprocessed samples are {}x{} (expected square images; add "
                        "'center_crop(size={}x{})' or 'resize(size={}x{})' to --preprocess)",
                        o.arch, sample_shape[1], sample_shape[2], sample_shape[1], sample_shape[1],
                        sample_shape[1], sample_shape[1]);
    }
    HQP_ASSIGN_OR_RETURN(model, train::build_zoo_model(o.arch, zo));
  }
  const std::string what = o.resume ? "the checkpoint's model" : !o.init.empty() ? "model '" + o.init + "'" : "model '" + o.arch + "'";
  HQP_RETURN_IF_ERROR(modeldata::check_model_fits(*model, "train", what, sample_shape, *train_ds));
  if (teacher) {
    HQP_RETURN_IF_ERROR(
        modeldata::check_model_fits(*teacher, "train", "teacher '" + o.teacher + "'", sample_shape, *train_ds));
    if (model_classes(*teacher) > 0 && model_classes(*model) > 0 && model_classes(*teacher) != model_classes(*model)) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot distill from teacher '{}': it has {} outputs per sample, the student {} (expected equal)",
                        o.teacher, model_classes(*teacher), model_classes(*model));
    }
  }

  // Provenance in the model (and so in every checkpoint).
  std::string arch = o.arch;
  if (o.resume || !o.init.empty()) arch = find_metadata(*model, modeldata::kArchMetadataKey).value_or("");
  set_metadata(*model, modeldata::kPreprocessMetadataKey, pipeline.to_string());
  if (!arch.empty()) set_metadata(*model, modeldata::kArchMetadataKey, arch);
  set_metadata(*model, modeldata::kDatasetMetadataKey, o.data.data);
  set_metadata(*model, modeldata::kClassesMetadataKey, json_text(nlohmann::json(train_ds->class_names())));
  set_metadata(*model, modeldata::kValSplitMetadataKey, data::val_split_to_string(splits.val_split));
  set_metadata(*model, modeldata::kValSizeMetadataKey, std::to_string(val_size));
  if (!trainer) {
    HQP_ASSIGN_OR_RETURN(trainer, train::Trainer::create(*model, config, teacher_ptr));
  }

  HQP_ASSIGN_OR_RETURN(auto train_src, make_loader(train_ds, pipeline, o.batch_size, true, o.seed, o.data.workers, shards, shard));
  std::unique_ptr<data::Loader> val_src, test_src;
  if (val_ds) {
    HQP_ASSIGN_OR_RETURN(val_src, make_loader(val_ds, pipeline, o.batch_size, false, o.seed, o.data.workers, shards, shard));
  }
  if (test_ds) {
    HQP_ASSIGN_OR_RETURN(test_src, make_loader(test_ds, pipeline, o.batch_size, false, o.seed, o.data.workers, shards, shard));
  }

  if (!o.json && writer) {
    const ir::ModelStats stats = ir::compute_stats(*model);
    cli::print("train      {} on {} ({} train, {} val, {} test samples), {:.2f} M params\n",
               arch.empty() ? o.init : arch, o.data.data, train_ds->size(), val_size, test_ds ? test_ds->size() : 0,
               static_cast<double>(stats.params) / 1e6);
    cli::print("preprocess {}\n", pipeline.to_string());
    cli::print("val split  {}\n", data::val_split_to_string(splits.val_split));
    if (o.resume) cli::print("resume     from '{}' after epoch {}\n", o.checkpoint_dir, trainer->epochs_done());
    if (config.group) {
      cli::print("parallel   {} ranks x batch {} (global batch {}), gradients over c10d/Gloo{}\n", shards, o.batch_size,
                 o.batch_size * shards, config.sync_bn ? ", synchronized BatchNorm" : "");
    }
    std::fflush(stdout);
  }
  EpochReporter reporter(val_src != nullptr, !o.json && writer, writer);
  HQP_RETURN_IF_ERROR(
      trainer->fit(*train_src, val_src.get(), [&](const train::Progress& p) { reporter.on_progress(p); }).status());
  reporter.bar().clear();

  std::optional<train::EvalResult> val_result, test_result;
  if (!trainer->history().empty() && trainer->history().back().val) val_result = trainer->history().back().val;
  if (test_src) {
    HQP_ASSIGN_OR_RETURN(test_result, trainer->evaluate(*test_src, [&](const train::Progress& p) {
      reporter.bar().update("test", p.step, p.steps, p.loss, p.top1, p.samples_per_s, p.eta_s);
    }));
    reporter.bar().clear();
  }

  HQP_ASSIGN_OR_RETURN(ir::Graph trained, trainer->model());
  for (const auto& [k, v] : model->info.metadata_props) set_metadata(trained, k, v);
  nlohmann::json record = {{"epochs", o.epochs},
                           {"batch_size", o.batch_size},
                           {"optimizer", o.optimizer},
                           {"lr", o.lr},
                           {"schedule", o.schedule},
                           {"weight_decay", o.weight_decay},
                           {"label_smoothing", o.label_smoothing},
                           {"precision", o.precision},
                           {"seed", o.seed}};
  if (!o.init.empty()) record["init"] = o.init;
  if (!o.teacher.empty()) record["teacher"] = o.teacher;
  if (val_result) record["val_top1"] = val_result->top1;
  if (test_result) record["test_top1"] = test_result->top1;
  if (config.group) record["world_size"] = shards;
  set_metadata(trained, modeldata::kTrainMetadataKey, json_text(record));
  if (!writer) return Status();  // rank 0 writes the model and prints
  HQP_RETURN_IF_ERROR(onnx_io::export_model_file(trained, o.output));

  if (o.json) {
    nlohmann::json j;
    j["output"] = o.output;
    j["arch"] = arch;
    j["dataset"] = o.data.data;
    j["val_split"] = data::val_split_to_string(splits.val_split);
    j["preprocess"] = pipeline.to_string();
    j["train_samples"] = train_ds->size();
    j["epochs"] = nlohmann::json::array();
    for (const train::EpochRecord& r : trainer->history()) {
      nlohmann::json e = {{"epoch", r.epoch + 1},
                          {"train_loss", r.train_loss},
                          {"train_top1", r.train_top1},
                          {"lr", r.lr},
                          {"seconds", r.seconds},
                          {"samples_per_s", r.seconds > 0.0 ? static_cast<double>(train_src->global_samples()) / r.seconds : 0.0}};
      if (r.val) e["val"] = eval_json(*r.val);
      j["epochs"].push_back(e);
    }
    j["val"] = val_result ? eval_json(*val_result) : nlohmann::json(nullptr);
    j["test"] = test_result ? eval_json(*test_result) : nlohmann::json(nullptr);
    cli::print("{}\n", json_text(j, 2));
    return Status();
  }
  auto summary = [](const char* split, const train::EvalResult& r) {
    cli::print("{:<10} top1 {:.2f}%  top5 {:.2f}%  loss {:.4f}  ({} samples)\n", split, 100.0 * r.top1, 100.0 * r.top5,
               r.loss, r.samples);
  };
  if (val_result) summary("val", *val_result);
  if (test_result) summary("test", *test_result);
  cli::print("wrote      {}\n", o.output);
  return Status();
}

}  // namespace

Runner add_train_command(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* sub = app.add_subcommand("train", "Train a zoo model (--arch) or fine-tune an ONNX model (--init) on a dataset");
  std::string archs;
  for (const std::string& a : train::zoo_architectures()) archs += (archs.empty() ? "" : ", ") + a;
  sub->add_option("--arch", o->arch, "Zoo architecture: " + archs)->check(CLI::IsMember(train::zoo_architectures()));
  sub->add_option("--init", o->init, "ONNX model to fine-tune (instead of --arch)");
  add_data_flags(sub, o->data, "--init model's, else the dataset's; stored in the model");
  sub->add_option("-o,--output", o->output, "Output ONNX model (written atomically at the end)")->required();
  sub->add_option("--epochs", o->epochs, "Epochs (total, also when resuming)")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->capture_default_str();
  sub->add_option("--batch-size", o->batch_size, "Samples per batch")
      ->check(CLI::Range(int64_t{1}, int64_t{65536}))
      ->capture_default_str();
  sub->add_option("--lr", o->lr, "Peak learning rate")->check(positive())->check(CLI::Range(0.0, 100.0))->capture_default_str();
  sub->add_option("--optimizer", o->optimizer, "sgd or adamw")->check(CLI::IsMember({"sgd", "adamw"}))->capture_default_str();
  sub->add_option("--momentum", o->momentum, "SGD momentum, in [0, 1)")->check(unit_interval(true))->capture_default_str();
  sub->add_flag("--nesterov", o->nesterov, "Nesterov momentum (SGD)");
  sub->add_option("--schedule", o->schedule, "Learning-rate schedule: cosine, onecycle, step or constant")
      ->check(CLI::IsMember({"cosine", "onecycle", "step", "constant"}))
      ->capture_default_str();
  sub->add_option("--warmup-epochs", o->warmup_epochs, "Linear warm-up epochs (fractions allowed)")
      ->check(CLI::Range(0.0, 100000.0))
      ->capture_default_str();
  sub->add_option("--weight-decay", o->weight_decay, "Weight decay (conv/linear weights only)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  sub->add_option("--label-smoothing", o->label_smoothing, "Label smoothing, in [0, 1)")
      ->check(unit_interval(true))
      ->capture_default_str();
  sub->add_option("--seed", o->seed, "Seed of the weight init, data order, augmentation and dropout")->capture_default_str();
  sub->add_option("--threads", o->threads, "libtorch threads (0: libtorch's default)")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  sub->add_option("--precision", o->precision,
                  "fp32, or bf16: mixed precision (training forward passes under bfloat16 autocast; weights, "
                  "optimizer and evaluation stay fp32)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  sub->add_flag("--small-input", o->small_input, "Small-input stem for 28-32 px images (--arch)");
  sub->add_option("--num-classes", o->num_classes, "Classes of a new model (default: the dataset's)")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  sub->add_option("--in-channels", o->in_channels, "Input channels of a new model (default: the data's; 3 on gray data adds gray_to_rgb)")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  sub->add_option("--checkpoint-dir", o->checkpoint_dir, "Write a checkpoint after every epoch into DIR");
  sub->add_flag("--resume", o->resume, "Continue the run checkpointed in --checkpoint-dir");
  sub->add_option("--teacher", o->teacher, "Teacher ONNX model for knowledge distillation");
  sub->add_option("--kd-alpha", o->kd_alpha, "Weight of the distillation term, in [0, 1]")
      ->check(unit_interval(false))
      ->capture_default_str();
  sub->add_option("--kd-temperature", o->kd_temperature, "Distillation temperature")
      ->check(positive())
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  sub->add_flag("--json", o->json, "Print a JSON summary (epochs, val, test) instead of text");
  add_dist_flags(sub, o->dist);
  return [o] { return run_train(*o); };
}

}  // namespace hqp::cli
