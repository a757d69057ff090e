// Opening a model's data: the val split rule (--val-split, else the model's stored hqp.val_split,
// else its older hqp.val_size, else random:auto), the train / val / test datasets, and the checks
// that a classifier fits them (input shape after preprocessing, class count). No libtorch, no runtime.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "data/open_dataset.h"
#include "data/transform.h"
#include "ir/graph.h"

namespace hqp::modeldata {

struct DataRequest {
  std::string source;                       // --data
  std::optional<data::ValSplit> val_split;  // --val-split / --val-size; nullopt: the model's stored split
  int64_t max_image_bytes = data::kDefaultMaxDecodedImageBytes;  // --max-image-mb (image folders)
  std::optional<int> image_channels;  // --image-channels (image folders); nullopt: image_channels_for(model)
};

// Channels image folders decode to for `model`: its input's C when that is 1 (luma) or 3 (RGB),
// else 3 (torchvision's ImageFolder; a mismatch is then reported by check_model_fits).
int image_channels_for(const ir::Graph* model);

// The val split to use: `flag`, else model's hqp.val_split, else hqp.val_size as random:N, else
// random:auto (model may be null). kParseError when stored metadata does not parse.
Result<data::ValSplit> resolve_val_split(const std::optional<data::ValSplit>& flag, const ir::Graph* model);

// One split of the request's dataset with the resolved val split.
Result<data::DatasetPtr> open_model_split(const DataRequest& request, const ir::Graph* model, data::Split split);

struct TrainingData {
  data::DatasetPtr train;
  data::DatasetPtr val;   // null when the split holds out nothing (random:0 / tail:0)
  data::DatasetPtr test;  // null when the source has no test files
  // The split used, concrete (random:auto resolved to its size): what hqp.val_split stores.
  data::ValSplit val_split;
};

// Train, val and test of the request's dataset (for training and anything that tunes on train
// and selects on val). test is null when the source has no test files of its own (a flat image
// folder answers a test request with its training images: never reported as test data).
Result<TrainingData> open_training_data(const DataRequest& request, const ir::Graph* model);

// Checks that `model` has one input f32 [N, C, H, W] (or an unknown shape) and at least one
// output (the logits). Message: "cannot <verb> <what>: ..." (verb "evaluate", what "model 'm.onnx'").
Status check_classifier_io(const ir::Graph& model, std::string_view verb, std::string_view what);

// The [C, H, W] that `pipeline` makes of the dataset's samples (error names both).
Result<Shape> preprocessed_shape(const data::Pipeline& pipeline, const data::Dataset& dataset);

// Checks that preprocessed samples fit the model's input (data::check_compatible, with `what` as
// context) and that its logits cover the dataset's classes.
Status check_model_fits(const ir::Graph& model, std::string_view verb, std::string_view what,
                        const Shape& sample_shape, const data::Dataset& dataset);

}  // namespace hqp::modeldata
