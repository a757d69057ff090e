// Shared data flags: registration and conversion to modeldata requests.
#include "data_flags.h"

#include <fmt/format.h>

#include "onnx/import.h"
#include "validators.h"

namespace hqp::cli {

void add_data_flags(CLI::App* sub, DataFlags& flags, const std::string& preprocess_default) {
  sub->add_option("--data", flags.data, "Dataset: a name (fashion-mnist) or a folder (IDX, CIFAR binary, image folders)")
      ->required();
  sub->add_option_function<std::string>(
      "--val-split", [&flags](const std::string& v) { flags.val_split = v; },
      "Val split of the training files: random:N[:SEED] (seeded random N), random:auto, tail:N (the last N in file "
      "order) or a dataset folder (default: the model's hqp.val_split, else random:auto = min(5000, n/10))");
  sub->add_option_function<int64_t>(
         "--val-size", [&flags](const int64_t& v) { flags.val_size = v; },
         "Training samples held out as the val split (same as --val-split random:N)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 31));
  sub->add_option_function<std::string>(
      "--preprocess", [&flags](const std::string& v) { flags.preprocess = v; },
      "Preprocessing pipeline, e.g. 'random_crop(size=28x28,pad=2)|hflip|normalize(mean=0.286,std=0.353)' (default: " +
          preprocess_default + ")");
  sub->add_option("--mean", flags.mean, "Normalization mean, 1 or 3 values (0.5 or 0.485,0.456,0.406); replaces the pipeline's");
  sub->add_option("--std", flags.std, "Normalization std, 1 or 3 values; replaces the pipeline's");
  sub->add_option("--workers", flags.workers, "Data decoding threads")->check(CLI::Range(0, 256))->capture_default_str();
  sub->add_option("--max-image-mb", flags.max_image_mb,
                  "Image folders: memory one decoded image may take (8-bit pixels + its f32 sample, 5 bytes per pixel "
                  "and channel), checked from the file's header before decoding; each worker holds one at a time")
      ->check(CLI::Range(int64_t{1}, int64_t{65536}))
      ->capture_default_str();
  sub->add_option_function<int>(
         "--image-channels", [&flags](const int& v) { flags.image_channels = v; },
         "Image folders: decode to 1 (luma) or 3 (RGB) channels (default: the model input's channel count when it is "
         "1 or 3, else 3)")
      ->check(CLI::IsMember({1, 3}));
}

Result<modeldata::DataRequest> data_request(const DataFlags& flags) {
  modeldata::DataRequest r;
  r.source = flags.data;
  r.max_image_bytes = flags.max_image_mb << 20;
  r.image_channels = flags.image_channels;
  if (flags.val_split && flags.val_size) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot use --val-size {} with --val-split '{}': both choose the val split (expected one of them)",
                      *flags.val_size, *flags.val_split);
  }
  if (flags.val_split) {
    HQP_ASSIGN_OR_RETURN(r.val_split, data::parse_val_split(*flags.val_split));
  } else if (flags.val_size) {
    r.val_split = data::ValSplit::random(*flags.val_size);
  }
  return r;
}

modeldata::PreprocessRequest preprocess_request(const DataFlags& flags, modeldata::PreprocessFallback fallback) {
  modeldata::PreprocessRequest r;
  r.preprocess = flags.preprocess;
  r.mean = flags.mean;
  r.std = flags.std;
  r.fallback = fallback;
  return r;
}

Result<ModelData> open_model_data(const DataFlags& flags, const std::string& model_path, const std::string& verb) {
  const modeldata::PreprocessRequest prep = preprocess_request(flags, modeldata::PreprocessFallback::kNone);
  HQP_RETURN_IF_ERROR(modeldata::check_preprocess_request(prep));
  HQP_ASSIGN_OR_RETURN(modeldata::DataRequest request, data_request(flags));
  ModelData d;
  HQP_ASSIGN_OR_RETURN(d.model, onnx_io::import_model_file(model_path));
  const std::string what = fmt::format("model '{}'", model_path);
  HQP_RETURN_IF_ERROR(modeldata::check_classifier_io(d.model, verb, what));
  HQP_ASSIGN_OR_RETURN(d.splits, modeldata::open_training_data(request, &d.model));
  if (!d.splits.val) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot {}: the val split is empty (the accuracy bound is checked on it; give --val-split)", verb);
  }
  HQP_ASSIGN_OR_RETURN(d.pipeline, modeldata::resolve_preprocessing(prep, &d.model, *d.splits.train, flags.data));
  HQP_ASSIGN_OR_RETURN(d.sample_shape, modeldata::preprocessed_shape(d.pipeline, *d.splits.train));
  HQP_RETURN_IF_ERROR(modeldata::check_model_fits(d.model, verb, what, d.sample_shape, *d.splits.train));
  return d;
}

Result<std::unique_ptr<data::Loader>> make_loader(data::DatasetPtr dataset, const data::Pipeline& pipeline,
                                                  int64_t batch_size, bool train, uint64_t seed, int workers,
                                                  int shards, int shard) {
  data::LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.shuffle = train;
  lo.drop_last = train && dataset->size() > batch_size * shards;
  lo.num_shards = shards;
  lo.shard = shard;
  lo.seed = seed;
  lo.mode = train ? data::TransformMode::kTrain : data::TransformMode::kEval;
  lo.num_threads = workers;
  return data::Loader::create(std::move(dataset), pipeline, lo);
}

Result<std::unique_ptr<data::Loader>> make_calibration_loader(data::DatasetPtr dataset, const data::Pipeline& pipeline,
                                                              int64_t batch_size, uint64_t seed, int workers,
                                                              int shards, int shard) {
  data::LoaderOptions lo;
  lo.batch_size = batch_size;
  lo.num_shards = shards;
  lo.shard = shard;
  lo.shuffle = true;
  lo.seed = seed;
  lo.mode = data::TransformMode::kEval;
  lo.num_threads = workers;
  return data::Loader::create(std::move(dataset), pipeline, lo);
}

}  // namespace hqp::cli
