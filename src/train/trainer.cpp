// Trainer: optimizer construction (decay / no-decay groups), the epoch loop, losses, evaluation
// and checkpoints (ONNX model + torch archive with optimizer and RNG state + JSON index).
#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/Generator.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/archive.h>

#include "core/file_io.h"
#include "core/json_text.h"
#include "distributed/gloo_group.h"
#include "distributed/gradient_sync.h"
#include "metrics/classification_metrics.h"
#include "onnx/export.h"
#include "onnx/import.h"
#include "train/torch_module.h"

namespace hqp::train {

namespace fs = std::filesystem;
using data::Batch;
using data::BatchSource;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kCheckpointFormat = "hqp-train-checkpoint";
constexpr int kCheckpointVersion = 1;

// A [N, K] logits tensor of any float type -> hqp::Tensor f32 [N, K] (a copy), for the metrics.
Result<Tensor> logits_to_tensor(const at::Tensor& logits) {
  if (logits.dim() != 2) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot evaluate model: its first output has shape [{}] (expected [N, classes] logits)",
                      fmt::join(logits.sizes(), ","));
  }
  const at::Tensor f = logits.to(at::kFloat).contiguous();
  HQP_ASSIGN_OR_RETURN(Tensor out, Tensor::zeros(DType::kF32, {f.size(0), f.size(1)}));
  std::copy_n(f.data_ptr<float>(), f.numel(), out.data<float>());
  return out;
}

// The metrics of every rank's shard summed into one EvalResult (samples_per_s left to the caller).
Result<EvalResult> reduce_metrics(distributed::ProcessGroup& group, const metrics::ClassificationMetrics& metrics) {
  double head[5] = {metrics.loss_sum(), static_cast<double>(metrics.top1_count()),
                    static_cast<double>(metrics.top5_count()), static_cast<double>(metrics.samples()),
                    static_cast<double>(metrics.num_classes())};
  HQP_RETURN_IF_ERROR(group.all_reduce(std::span<double>(head, 4)));
  HQP_RETURN_IF_ERROR(group.all_reduce(std::span<double>(head + 4, 1), distributed::ReduceOp::kMax));
  const size_t k = static_cast<size_t>(head[4]);
  std::vector<int64_t> per_class(2 * k, 0);
  for (size_t c = 0; c < metrics.class_samples().size(); ++c) {
    per_class[c] = metrics.class_samples()[c];
    per_class[k + c] = metrics.class_correct()[c];
  }
  HQP_RETURN_IF_ERROR(group.all_reduce(std::span<int64_t>(per_class)));
  EvalResult r;
  r.samples = static_cast<int64_t>(std::llround(head[3]));
  const double n = r.samples > 0 ? static_cast<double>(r.samples) : 1.0;
  r.loss = r.samples > 0 ? head[0] / n : 0.0;
  r.top1 = r.samples > 0 ? head[1] / n : 0.0;
  r.top5 = r.samples > 0 ? head[2] / n : 0.0;
  r.class_samples.assign(per_class.begin(), per_class.begin() + static_cast<std::ptrdiff_t>(k));
  r.class_correct.assign(per_class.begin() + static_cast<std::ptrdiff_t>(k), per_class.end());
  return r;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU autocast to bfloat16 for the lifetime of the guard (nothing when `on` is false); the
// cast-weight cache is cleared when the outermost guard ends, as torch.autocast does.
class Bf16Autocast {
 public:
  explicit Bf16Autocast(bool on) : on_(on) {
    if (!on_) return;
    prev_enabled_ = at::autocast::is_cpu_enabled();
    prev_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~Bf16Autocast() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_cpu_enabled(prev_enabled_);
    at::autocast::set_autocast_cpu_dtype(prev_dtype_);
  }
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool on_;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kBFloat16;
};

Status check_config(const TrainConfig& c) {
  auto bad = [](const char* param, double value, const char* expected) {
    return make_error(StatusCode::kInvalidArgument, "cannot configure training: {}={} (expected {})", param, value,
                      expected);
  };
  if (c.epochs < 1) return bad("epochs", static_cast<double>(c.epochs), ">= 1");
  if (!(c.lr > 0.0) || !std::isfinite(c.lr)) return bad("lr", c.lr, "> 0");
  if (c.momentum < 0.0 || c.momentum >= 1.0) return bad("momentum", c.momentum, "in [0, 1)");
  if (c.nesterov && c.momentum <= 0.0) return bad("momentum", c.momentum, "> 0 with nesterov");
  if (c.weight_decay < 0.0) return bad("weight_decay", c.weight_decay, ">= 0");
  if (c.label_smoothing < 0.0 || c.label_smoothing >= 1.0) return bad("label_smoothing", c.label_smoothing, "in [0, 1)");
  if (c.distill_alpha < 0.0 || c.distill_alpha > 1.0) return bad("distill_alpha", c.distill_alpha, "in [0, 1]");
  if (!(c.distill_temperature > 0.0)) return bad("distill_temperature", c.distill_temperature, "> 0");
  if (c.warmup_epochs < 0.0) return bad("warmup_epochs", c.warmup_epochs, ">= 0");
  if (c.step_epochs < 1) return bad("step_epochs", static_cast<double>(c.step_epochs), ">= 1");
  if (c.adam_beta1 < 0.0 || c.adam_beta1 >= 1.0) return bad("adam_beta1", c.adam_beta1, "in [0, 1)");
  if (c.adam_beta2 < 0.0 || c.adam_beta2 >= 1.0) return bad("adam_beta2", c.adam_beta2, "in [0, 1)");
  if (c.threads < 0) return bad("threads", c.threads, ">= 0");
  return Status();
}

Status check_model(const ir::Graph& g, const char* what) {
  if (g.inputs().empty() || g.outputs().empty()) {
    return make_error(StatusCode::kInvalidArgument, "cannot train {}: the graph needs an input and an output", what);
  }
  const ir::Value* in = g.inputs()[0];
  if (in->dtype != DType::kF32 || !in->shape || in->shape->size() != 4) {
    return make_error(StatusCode::kInvalidArgument, "cannot train {}: input '{}' is {} (expected f32 [N, C, H, W])",
                      what, in->name, in->shape ? ir::dims_to_string(*in->shape) : "of unknown rank");
  }
  return Status();
}

nlohmann::json eval_to_json(const EvalResult& r) {
  return {{"loss", r.loss}, {"top1", r.top1}, {"top5", r.top5}, {"samples", r.samples}};
}

nlohmann::json record_to_json(const EpochRecord& r) {
  nlohmann::json j = {{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"train_top1", r.train_top1},
                      {"lr", r.lr},       {"seconds", r.seconds}};
  if (r.val) j["val"] = eval_to_json(*r.val);
  return j;
}

EpochRecord record_from_json(const nlohmann::json& j) {
  EpochRecord r;
  r.epoch = j.at("epoch").get<int64_t>();
  r.train_loss = j.at("train_loss").get<double>();
  r.train_top1 = j.at("train_top1").get<double>();
  r.lr = j.at("lr").get<double>();
  r.seconds = j.at("seconds").get<double>();
  if (j.contains("val")) {
    EvalResult v;
    v.loss = j["val"].at("loss").get<double>();
    v.top1 = j["val"].at("top1").get<double>();
    v.top5 = j["val"].at("top5").get<double>();
    v.samples = j["val"].at("samples").get<int64_t>();
    r.val = v;
  }
  return r;
}

Result<at::Tensor> batch_tensor(const Tensor& t, DType dtype, const char* what, at::ScalarType float_type) {
  if (t.dtype() != dtype) {
    return make_error(StatusCode::kInvalidArgument, "cannot train on batch: {} are {}[{}] (expected {})", what,
                      dtype_name(t.dtype()), shape_to_string(t.shape()), dtype_name(dtype));
  }
  return to_torch(t, float_type);
}

}  // namespace

at::Tensor classification_loss(const at::Tensor& logits, const at::Tensor& labels, double label_smoothing) {
  return at::cross_entropy_loss(logits, labels, {}, at::Reduction::Mean, -100, label_smoothing);
}

at::Tensor distillation_loss(const at::Tensor& student, const at::Tensor& teacher, const at::Tensor& labels,
                             double alpha, double temperature, double label_smoothing) {
  const at::Tensor ce = classification_loss(student, labels, label_smoothing);
  const at::Tensor log_ps = at::log_softmax(student / temperature, 1);
  const at::Tensor log_pt = at::log_softmax(teacher.detach() / temperature, 1);
  const at::Tensor kl = at::kl_div(log_ps, log_pt, at::Reduction::Sum, /*log_target=*/true) / student.size(0);
  return ce * (1.0 - alpha) + kl * (alpha * temperature * temperature);
}

std::optional<OptimizerKind> optimizer_from_name(std::string_view name) {
  if (name == "sgd") return OptimizerKind::kSgd;
  if (name == "adamw") return OptimizerKind::kAdamW;
  return std::nullopt;
}

std::string_view optimizer_name(OptimizerKind kind) { return kind == OptimizerKind::kSgd ? "sgd" : "adamw"; }

struct Trainer::State {
  TrainConfig config;
  ir::Graph graph;
  std::unique_ptr<TorchExecutor> exec;
  std::unique_ptr<TorchExecutor> teacher;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  at::Generator generator;  // this trainer's Dropout randomness, seeded from config.seed
  int64_t epochs_done = 0;
  int64_t global_step = 0;
  std::vector<EpochRecord> history;
  std::string last_checkpoint;  // model file of the last good checkpoint ("" when none)
  std::unique_ptr<distributed::GradientSync> sync;  // with config.group

  bool writer() const { return config.group == nullptr || config.group->rank() == 0; }
  // Every rank takes rank 0's parameters and buffers.
  Status broadcast_state(bool params);

  Status train_epoch(BatchSource& data, int64_t epoch, int64_t total_steps, const ProgressCallback& progress,
                     EpochRecord* record);
  Status write_checkpoint();
};

Trainer::Trainer(std::unique_ptr<State> state) : state_(std::move(state)) {}
Trainer::~Trainer() = default;

Result<std::unique_ptr<Trainer>> Trainer::create(const ir::Graph& model, const TrainConfig& config,
                                                 const ir::Graph* teacher) {
  HQP_RETURN_IF_ERROR(check_config(config));
  HQP_RETURN_IF_ERROR(check_model(model, "model"));
  if (teacher != nullptr) HQP_RETURN_IF_ERROR(check_model(*teacher, "with teacher"));
  if (config.threads > 0) set_torch_threads(config.threads);
  auto s = std::make_unique<State>();
  s->config = config;
  s->graph = model.clone();
  HQP_ASSIGN_OR_RETURN(s->exec, TorchExecutor::create(s->graph));
  if (teacher != nullptr) {
    HQP_ASSIGN_OR_RETURN(s->teacher, TorchExecutor::create(*teacher));
    s->teacher->set_mode(ExecMode::kEval);
  }
  // Weight decay on weights only; BN scale/bias and biases in a group without decay.
  TorchModule& m = s->exec->module();
  std::vector<at::Tensor> decay, no_decay;
  for (size_t i = 0; i < m.parameters().size(); ++i) {
    (m.parameter_info()[i].role == ParamRole::kWeight ? decay : no_decay).push_back(m.parameters()[i]);
  }
  try {
    if (config.optimizer == OptimizerKind::kSgd) {
      auto opts = [&](double wd) {
        return torch::optim::SGDOptions(config.lr).momentum(config.momentum).nesterov(config.nesterov).weight_decay(wd);
      };
      std::vector<torch::optim::OptimizerParamGroup> groups;
      groups.emplace_back(decay, std::make_unique<torch::optim::SGDOptions>(opts(config.weight_decay)));
      groups.emplace_back(no_decay, std::make_unique<torch::optim::SGDOptions>(opts(0.0)));
      s->optimizer = std::make_unique<torch::optim::SGD>(std::move(groups), opts(config.weight_decay));
    } else {
      auto opts = [&](double wd) {
        return torch::optim::AdamWOptions(config.lr)
            .betas(std::make_tuple(config.adam_beta1, config.adam_beta2))
            .eps(config.adam_eps)
            .weight_decay(wd);
      };
      std::vector<torch::optim::OptimizerParamGroup> groups;
      groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(opts(config.weight_decay)));
      groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(opts(0.0)));
      s->optimizer = std::make_unique<torch::optim::AdamW>(std::move(groups), opts(config.weight_decay));
    }
  } catch (const c10::Error& e) {
    return make_error(StatusCode::kInvalidArgument, "cannot configure training: {}", e.what_without_backtrace());
  }
  s->generator = at::make_generator<at::CPUGeneratorImpl>(config.seed);
  s->exec->module().set_generator(s->generator);
  if (config.group != nullptr) {
    if (config.sync_bn) s->exec->module().set_sync_bn(config.group);
    HQP_RETURN_IF_ERROR(s->broadcast_state(true));
    const auto bucket_bytes = static_cast<int64_t>(config.group->config().bucket_mb * (1 << 20));
    s->sync = std::make_unique<distributed::GradientSync>(config.group, s->exec->module().parameters(),
                                                          std::max<int64_t>(bucket_bytes, 1));
  }
  return std::unique_ptr<Trainer>(new Trainer(std::move(s)));
}

Result<std::unique_ptr<Trainer>> Trainer::resume(const std::string& checkpoint_dir, const TrainConfig& config,
                                                 const ir::Graph* teacher) {
  const fs::path dir(checkpoint_dir);
  const fs::path index = dir / kCheckpointIndex;
  std::ifstream f(index);
  if (!f) {
    return make_error(StatusCode::kNotFound, "cannot resume training from '{}': '{}' does not exist", checkpoint_dir,
                      index.string());
  }
  nlohmann::json j;
  int64_t epochs_done = 0, global_step = 0;
  std::string model_file, state_file, opt_name;
  std::vector<EpochRecord> history;
  try {
    j = nlohmann::json::parse(f);
    if (j.at("format").get<std::string>() != kCheckpointFormat || j.at("version").get<int>() != kCheckpointVersion) {
      return make_error(StatusCode::kParseError, "cannot resume training from '{}': not an hqp checkpoint (format={}, version={})",
                        index.string(), j.at("format").dump(), j.at("version").dump());
    }
    epochs_done = j.at("epochs_done").get<int64_t>();
    global_step = j.at("global_step").get<int64_t>();
    model_file = j.at("model").get<std::string>();
    state_file = j.at("state").get<std::string>();
    opt_name = j.at("optimizer").get<std::string>();
    for (const auto& r : j.at("history")) history.push_back(record_from_json(r));
  } catch (const nlohmann::json::exception& e) {
    return make_error(StatusCode::kParseError, "cannot resume training from '{}': {}", index.string(), e.what());
  }
  const int world = config.group ? config.group->world_size() : 1;
  const int checkpoint_world =
      j.contains("world_size") && j["world_size"].is_number_integer() ? j["world_size"].get<int>() : 1;
  if (checkpoint_world != world) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot resume training from '{}': the checkpoint was written by a run of {} rank(s) (world size "
                      "{}, expected {}: the global batch and data order depend on it)",
                      checkpoint_dir, checkpoint_world, world, checkpoint_world);
  }
  if (opt_name != optimizer_name(config.optimizer)) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot resume training from '{}': the checkpoint's optimizer is {} (optimizer={}, expected {})",
                      checkpoint_dir, opt_name, optimizer_name(config.optimizer), opt_name);
  }
  HQP_ASSIGN_OR_RETURN(ir::Graph model, onnx_io::import_model_file((dir / model_file).string()));
  HQP_ASSIGN_OR_RETURN(std::unique_ptr<Trainer> t, create(model, config, teacher));
  State& s = *t->state_;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from((dir / state_file).string());
    torch::serialize::InputArchive opt_archive;
    archive.read("optimizer", opt_archive);
    s.optimizer->load(opt_archive);
    at::Tensor rng;
    archive.read("rng", rng);
    std::lock_guard<std::mutex> lock(s.generator.mutex());
    s.generator.set_state(rng);
  } catch (const c10::Error& e) {
    return make_error(StatusCode::kParseError, "cannot resume training from '{}': state file '{}' is damaged: {}",
                      checkpoint_dir, state_file, e.what_without_backtrace());
  }
  s.epochs_done = epochs_done;
  s.global_step = global_step;
  s.history = std::move(history);
  s.last_checkpoint = (dir / model_file).string();
  return t;
}

Status Trainer::State::broadcast_state(bool params) {
  TorchModule& m = exec->module();
  std::vector<at::Tensor> tensors;
  if (params) tensors = m.parameters();
  for (const at::Tensor& b : m.buffers()) tensors.push_back(b);
  return distributed::broadcast_tensors(*config.group, tensors, 0, params ? "weight broadcast" : "buffer broadcast");
}

Status Trainer::State::train_epoch(BatchSource& data, int64_t epoch, int64_t total_steps,
                                   const ProgressCallback& progress, EpochRecord* record) {
  TorchModule& m = exec->module();
  m.set_mode(ExecMode::kTrain);
  data.start_epoch(epoch);
  const int64_t steps = data.num_batches();
  const int64_t steps_per_epoch = std::max<int64_t>(steps, 1);
  ScheduleConfig sched;
  sched.kind = config.schedule;
  sched.base_lr = config.lr;
  sched.min_lr = config.min_lr;
  sched.warmup_steps = static_cast<int64_t>(std::llround(config.warmup_epochs * static_cast<double>(steps_per_epoch)));
  sched.step_size = config.step_epochs * steps_per_epoch;
  sched.gamma = config.step_gamma;

  const Clock::time_point t0 = Clock::now();
  double loss_sum = 0.0;
  int64_t correct = 0, seen = 0, step = 0;
  double lr = config.lr;
  auto report = [&](bool done) {
    if (!progress) return;
    Progress p;
    p.phase = Progress::Phase::kTrain;
    p.epoch = epoch;
    p.epochs = config.epochs;
    p.step = step;
    p.steps = steps;
    p.loss = seen > 0 ? loss_sum / static_cast<double>(seen) : 0.0;
    p.top1 = seen > 0 ? static_cast<double>(correct) / static_cast<double>(seen) : 0.0;
    p.lr = lr;
    const double elapsed = seconds_since(t0);
    p.samples_per_s = elapsed > 0.0 ? static_cast<double>(seen) / elapsed : 0.0;
    p.eta_s = step > 0 ? elapsed / static_cast<double>(step) * static_cast<double>(std::max<int64_t>(steps - step, 0)) : 0.0;
    p.epoch_done = done;
    progress(p);
  };
  while (true) {
    HQP_ASSIGN_OR_RETURN(std::optional<Batch> batch, data.next());
    if (!batch) break;
    lr = learning_rate(sched, global_step, total_steps);
    for (auto& group : optimizer->param_groups()) group.options().set_lr(lr);
    if (sync != nullptr && batch->images.dim(0) == 0) {
      // This rank's share of a short last global batch is empty: it still takes part in the step.
      if (config.sync_bn) {
        return make_error(StatusCode::kInvalidArgument,
                          "cannot train with synchronized BatchNorm: rank {} has no rows in step {} of epoch {} (fewer "
                          "samples in that global batch than ranks; use a larger batch or fewer ranks)",
                          config.group->rank(), step + 1, epoch + 1);
      }
      try {
        optimizer->zero_grad();
        HQP_RETURN_IF_ERROR(sync->contribute_nothing());
        optimizer->step();
      } catch (const c10::Error& e) {
        return make_error(StatusCode::kInvalidArgument, "cannot train model at epoch {} step {}: {}", epoch + 1,
                          step + 1, e.what_without_backtrace());
      }
      ++step;
      ++global_step;
      continue;
    }
    HQP_ASSIGN_OR_RETURN(at::Tensor x, batch_tensor(batch->images, DType::kF32, "images", m.float_type()));
    HQP_ASSIGN_OR_RETURN(at::Tensor y, batch_tensor(batch->labels, DType::kS64, "labels", m.float_type()));
    try {
      at::Tensor logits, t_logits;
      {
        Bf16Autocast autocast(config.bf16);
        HQP_ASSIGN_OR_RETURN(std::vector<at::Tensor> outs, m.forward({x}));
        logits = outs.at(0);
        if (teacher != nullptr) {
          at::NoGradGuard no_grad;
          HQP_ASSIGN_OR_RETURN(std::vector<at::Tensor> t_outs, teacher->module().forward({x}));
          t_logits = t_outs.at(0);
        }
      }
      if (logits.dim() != 2 || logits.size(0) != y.size(0)) {
        return make_error(StatusCode::kInvalidArgument,
                          "cannot train model: output has shape [{}] (expected [{}, classes] logits)",
                          fmt::join(logits.sizes(), ","), y.size(0));
      }
      // The loss in the module's float type (bf16 logits under autocast are widened first).
      if (logits.scalar_type() != m.float_type()) logits = logits.to(m.float_type());
      at::Tensor loss;
      if (teacher != nullptr) {
        t_logits = t_logits.to(logits.scalar_type());
        loss = distillation_loss(logits, t_logits, y, config.distill_alpha, config.distill_temperature,
                                 config.label_smoothing);
      } else {
        loss = classification_loss(logits, y, config.label_smoothing);
      }
      const double loss_value = loss.item<double>();
      if (!std::isfinite(loss_value)) {
        const std::string last = last_checkpoint.empty()
                                     ? std::string("no checkpoint was written")
                                     : fmt::format("the last good checkpoint is '{}' (epoch {})", last_checkpoint,
                                                   epochs_done);
        return make_error(StatusCode::kInvalidArgument,
                          "cannot train model: the loss is {} at epoch {} step {} (lr={:g}, expected a finite loss); {}",
                          loss_value, epoch + 1, step + 1, lr, last);
      }
      optimizer->zero_grad();
      if (sync != nullptr) {
        // Gradients summed over ranks; this rank's mean loss weighted by its share of the rows.
        const int64_t global_rows = batch->global_rows > 0 ? batch->global_rows : y.size(0);
        sync->begin();
        (loss * (static_cast<double>(y.size(0)) / static_cast<double>(global_rows))).backward();
        HQP_RETURN_IF_ERROR(sync->finish());
      } else {
        loss.backward();
      }
      optimizer->step();
      const int64_t n = y.size(0);
      loss_sum += loss_value * static_cast<double>(n);
      correct += logits.detach().argmax(1).eq(y).sum().item<int64_t>();
      seen += n;
    } catch (const c10::Error& e) {
      return make_error(StatusCode::kInvalidArgument, "cannot train model at epoch {} step {}: {}", epoch + 1, step + 1,
                        e.what_without_backtrace());
    }
    ++step;
    ++global_step;
    if (config.progress_every > 0 && step % config.progress_every == 0 && step < steps) report(false);
  }
  if (config.group != nullptr) {
    // The epoch's figures over every rank; every rank continues from rank 0's BN statistics.
    double sums[3] = {loss_sum, static_cast<double>(correct), static_cast<double>(seen)};
    HQP_RETURN_IF_ERROR(config.group->all_reduce(std::span<double>(sums, 3)));
    loss_sum = sums[0];
    correct = static_cast<int64_t>(std::llround(sums[1]));
    seen = static_cast<int64_t>(std::llround(sums[2]));
    HQP_RETURN_IF_ERROR(broadcast_state(false));
  }
  report(true);
  record->epoch = epoch;
  record->train_loss = seen > 0 ? loss_sum / static_cast<double>(seen) : 0.0;
  record->train_top1 = seen > 0 ? static_cast<double>(correct) / static_cast<double>(seen) : 0.0;
  record->lr = lr;
  record->seconds = seconds_since(t0);
  return Status();
}

Status Trainer::State::write_checkpoint() {
  const fs::path dir(config.checkpoint_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return make_error(StatusCode::kIoError, "cannot write checkpoint to '{}': {}", config.checkpoint_dir, ec.message());
  }
  const std::string model_file = fmt::format("model-e{:04d}.onnx", epochs_done);
  const std::string state_file = fmt::format("state-e{:04d}.pt", epochs_done);
  ir::Graph g = graph.clone();
  HQP_RETURN_IF_ERROR(exec->write_back(g));
  HQP_RETURN_IF_ERROR(onnx_io::export_model_file(g, (dir / model_file).string()));
  try {
    torch::serialize::OutputArchive archive;
    torch::serialize::OutputArchive opt_archive;
    optimizer->save(opt_archive);
    archive.write("optimizer", opt_archive);
    at::Tensor rng;
    {
      std::lock_guard<std::mutex> lock(generator.mutex());
      rng = generator.get_state();
    }
    archive.write("rng", rng);
    HQP_RETURN_IF_ERROR(write_file_atomic_with(
        (dir / state_file).string(),
        [&](const std::string& temp) -> Status {
          try {
            archive.save_to(temp);
          } catch (const c10::Error& e) {
            return make_error(StatusCode::kIoError, "{}", e.what_without_backtrace());
          }
          return Status();
        },
        fmt::format("cannot write checkpoint '{}'", state_file)));
  } catch (const c10::Error& e) {
    return make_error(StatusCode::kIoError, "cannot write checkpoint '{}': {}", state_file, e.what_without_backtrace());
  }
  nlohmann::json j = {{"format", kCheckpointFormat},
                      {"version", kCheckpointVersion},
                      {"epochs_done", epochs_done},
                      {"global_step", global_step},
                      {"optimizer", std::string(optimizer_name(config.optimizer))},
                      {"seed", config.seed},
                      {"world_size", config.group ? config.group->world_size() : 1},
                      {"model", model_file},
                      {"state", state_file},
                      {"history", nlohmann::json::array()}};
  for (const EpochRecord& r : history) j["history"].push_back(record_to_json(r));
  HQP_RETURN_IF_ERROR(write_file_atomic((dir / kCheckpointIndex).string(), json_text(j, 2) + "\n",
                                        fmt::format("cannot write checkpoint index in '{}'", config.checkpoint_dir)));
  // Older epochs' files are no longer referenced.
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const bool ours = (name.rfind("model-e", 0) == 0 && name.ends_with(".onnx")) ||
                      (name.rfind("state-e", 0) == 0 && name.ends_with(".pt"));
    if (ours && name != model_file && name != state_file) fs::remove(entry.path(), ec);
  }
  last_checkpoint = (dir / model_file).string();
  return Status();
}

Result<std::vector<EpochRecord>> Trainer::fit(BatchSource& train, BatchSource* val, const ProgressCallback& progress) {
  State& s = *state_;
  const int64_t total_steps = s.config.epochs * std::max<int64_t>(train.num_batches(), 1);
  std::vector<EpochRecord> records;
  for (int64_t epoch = s.epochs_done; epoch < s.config.epochs; ++epoch) {
    EpochRecord record;
    HQP_RETURN_IF_ERROR(s.train_epoch(train, epoch, total_steps, progress, &record));
    if (val != nullptr) {
      ProgressCallback val_progress;
      if (progress) {
        val_progress = [&](const Progress& p) {
          Progress q = p;
          q.epoch = epoch;
          progress(q);
        };
      }
      HQP_ASSIGN_OR_RETURN(EvalResult r, evaluate(*val, val_progress));
      record.val = r;
    }
    s.epochs_done = epoch + 1;
    s.history.push_back(record);
    records.push_back(record);
    if (!s.config.checkpoint_dir.empty() && s.writer()) HQP_RETURN_IF_ERROR(s.write_checkpoint());
  }
  return records;
}

Result<EvalResult> Trainer::evaluate(BatchSource& data, const ProgressCallback& progress) {
  State& s = *state_;
  TorchModule& m = s.exec->module();
  // Restores the previous mode on every return.
  struct ModeGuard {
    TorchModule& m;
    ExecMode previous;
    ~ModeGuard() { m.set_mode(previous); }
  } mode_guard{m, m.mode()};
  m.set_mode(ExecMode::kEval);
  at::NoGradGuard no_grad;
  data.start_epoch(0);
  const Clock::time_point t0 = Clock::now();
  metrics::ClassificationMetrics metrics;
  int64_t step = 0;
  const int64_t steps = data.num_batches();
  while (true) {
    HQP_ASSIGN_OR_RETURN(std::optional<Batch> next, data.next());
    if (!next) break;
    const Batch& batch = *next;
    if (batch.images.dim(0) == 0) {  // a rank's empty share of a short last batch
      ++step;
      continue;
    }
    Tensor logits;
    try {
      HQP_ASSIGN_OR_RETURN(at::Tensor x, batch_tensor(batch.images, DType::kF32, "images", m.float_type()));
      HQP_ASSIGN_OR_RETURN(std::vector<at::Tensor> outs, m.forward({x}));
      HQP_ASSIGN_OR_RETURN(logits, logits_to_tensor(outs.at(0)));
    } catch (const c10::Error& e) {
      return make_error(StatusCode::kInvalidArgument, "cannot evaluate model: {}", e.what_without_backtrace());
    }
    HQP_RETURN_IF_ERROR(metrics.accumulate(logits, batch.labels));
    ++step;
    if (progress && (step == steps || (s.config.progress_every > 0 && step % s.config.progress_every == 0))) {
      Progress p;
      p.phase = Progress::Phase::kValidate;
      p.epochs = s.config.epochs;
      p.step = step;
      p.steps = steps;
      p.loss = metrics.loss();
      p.top1 = metrics.top1();
      const double elapsed = seconds_since(t0);
      p.samples_per_s = elapsed > 0.0 ? static_cast<double>(metrics.samples()) / elapsed : 0.0;
      p.eta_s = elapsed / static_cast<double>(step) * static_cast<double>(std::max<int64_t>(steps - step, 0));
      p.epoch_done = step == steps;
      progress(p);
    }
  }
  EvalResult r;
  if (s.config.group != nullptr) {
    HQP_ASSIGN_OR_RETURN(r, reduce_metrics(*s.config.group, metrics));
  } else {
    r.samples = metrics.samples();
    r.loss = metrics.loss();
    r.top1 = metrics.top1();
    r.top5 = metrics.top5();
    r.class_samples = metrics.class_samples();
    r.class_correct = metrics.class_correct();
  }
  const double elapsed = seconds_since(t0);
  r.samples_per_s = elapsed > 0.0 ? static_cast<double>(r.samples) / elapsed : 0.0;
  return r;
}

Result<ir::Graph> Trainer::model() const {
  ir::Graph g = state_->graph.clone();
  HQP_RETURN_IF_ERROR(state_->exec->write_back(g));
  return g;
}

int64_t Trainer::epochs_done() const { return state_->epochs_done; }
const std::vector<EpochRecord>& Trainer::history() const { return state_->history; }
TorchExecutor& Trainer::executor() { return *state_->exec; }

}  // namespace hqp::train
