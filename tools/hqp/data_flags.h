// The data flags every command that reads a dataset shares: --data, --val-split (and its alias
// --val-size), --preprocess, --mean, --std, --workers, --max-image-mb, --image-channels. Registers them on a subcommand and turns
// them into modeldata requests; the rules themselves live in src/modeldata and src/data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "data/loader.h"
#include "ir/graph.h"
#include "modeldata/preprocess.h"
#include "modeldata/splits.h"

namespace hqp::cli {

struct DataFlags {
  std::string data;
  std::optional<std::string> val_split;  // --val-split text
  std::optional<int64_t> val_size;       // --val-size N (alias of --val-split random:N)
  std::optional<std::string> preprocess;
  std::string mean;
  std::string std;
  int workers = 2;
  int64_t max_image_mb = data::kDefaultMaxDecodedImageBytes >> 20;  // --max-image-mb, 1..65536
  std::optional<int> image_channels;                                // --image-channels 1|3
};

// Registers --data (required), --val-split, --val-size, --preprocess, --mean, --std, --workers.
// `preprocess_default` completes --preprocess's help ("the model's, else none").
void add_data_flags(CLI::App* sub, DataFlags& flags, const std::string& preprocess_default);

// --val-split / --val-size as a request (error when both are given or the spec does not parse).
Result<modeldata::DataRequest> data_request(const DataFlags& flags);
modeldata::PreprocessRequest preprocess_request(const DataFlags& flags, modeldata::PreprocessFallback fallback);

// A classifier file with its training data, as prune / quantize open them: the model imported and
// checked (classifier inputs / outputs, fits the preprocessed samples), its train / val / test
// splits (val must not be empty: `verb` names the command in that error) and the preprocessing.
struct ModelData {
  ir::Graph model;
  modeldata::TrainingData splits;
  data::Pipeline pipeline;
  Shape sample_shape;  // [C, H, W] after preprocessing
};
Result<ModelData> open_model_data(const DataFlags& flags, const std::string& model_path, const std::string& verb);

// A loader over `dataset`: train = shuffled (seed), drop_last when there is more than one batch (a
// last batch of one sample breaks batch-norm statistics),
// augmented; otherwise in order, eval transforms. Data-parallel: shard `shard` of `shards`, each
// with `batch_size` rows of every global batch (data::LoaderOptions).
Result<std::unique_ptr<data::Loader>> make_loader(data::DatasetPtr dataset, const data::Pipeline& pipeline,
                                                  int64_t batch_size, bool train, uint64_t seed, int workers,
                                                  int shards = 1, int shard = 0);

// Calibration batches: a seeded random order (shuffled, `seed`) of `dataset` without augmentation
// (eval transforms), so that its first N samples are a random subset.
Result<std::unique_ptr<data::Loader>> make_calibration_loader(data::DatasetPtr dataset, const data::Pipeline& pipeline,
                                                              int64_t batch_size, uint64_t seed, int workers,
                                                              int shards = 1, int shard = 0);

}  // namespace hqp::cli
