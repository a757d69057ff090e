// Val split resolution, opening a model's splits, and classifier/data compatibility checks.
#include "modeldata/splits.h"

#include <charconv>

#include <fmt/format.h>

#include "modeldata/metadata.h"

namespace hqp::modeldata {

Result<data::ValSplit> resolve_val_split(const std::optional<data::ValSplit>& flag, const ir::Graph* model) {
  if (flag) return *flag;
  if (model == nullptr) return data::ValSplit();
  if (std::optional<std::string> stored = find_metadata(*model, kValSplitMetadataKey)) {
    Result<data::ValSplit> split = data::parse_val_split(*stored);
    if (!split.ok()) {
      return Status(StatusCode::kParseError, split.status().message())
          .with_context(fmt::format("cannot use the val split stored in the model ({})", kValSplitMetadataKey));
    }
    return split;
  }
  if (std::optional<std::string> stored = find_metadata(*model, kValSizeMetadataKey)) {
    int64_t size = 0;
    const auto [ptr, ec] = std::from_chars(stored->data(), stored->data() + stored->size(), size);
    if (stored->empty() || ec != std::errc() || ptr != stored->data() + stored->size() || size < 0) {
      return make_error(StatusCode::kParseError,
                        "cannot read model metadata '{}': '{}' is not a sample count ({}={}, expected an integer >= 0)",
                        kValSizeMetadataKey, *stored, kValSizeMetadataKey, *stored);
    }
    return data::ValSplit::random(size);
  }
  return data::ValSplit();
}

int image_channels_for(const ir::Graph* model) {
  if (model == nullptr || model->inputs().size() != 1) return 3;
  const Shape shape = value_shape(*model->inputs()[0]);
  if (shape.size() == 4 && (shape[1] == 1 || shape[1] == 3)) return static_cast<int>(shape[1]);
  return 3;
}

namespace {

data::DatasetSpec base_spec(const DataRequest& request, const ir::Graph* model) {
  data::DatasetSpec spec;
  spec.source = request.source;
  spec.image_channels = request.image_channels.value_or(image_channels_for(model));
  spec.max_image_bytes = request.max_image_bytes;
  return spec;
}

}  // namespace

Result<data::DatasetPtr> open_model_split(const DataRequest& request, const ir::Graph* model, data::Split split) {
  data::DatasetSpec spec = base_spec(request, model);
  spec.split = split;
  HQP_ASSIGN_OR_RETURN(spec.val_split, resolve_val_split(request.val_split, model));
  return data::open_dataset(spec);
}

Result<TrainingData> open_training_data(const DataRequest& request, const ir::Graph* model) {
  TrainingData out;
  data::DatasetSpec spec = base_spec(request, model);
  HQP_ASSIGN_OR_RETURN(spec.val_split, resolve_val_split(request.val_split, model));
  spec.split = data::Split::kTrain;
  HQP_ASSIGN_OR_RETURN(out.train, data::open_dataset(spec));
  const bool holds_out = spec.val_split.kind == data::ValSplitKind::kFolder || spec.val_split.size != 0;
  if (holds_out) {
    spec.split = data::Split::kVal;
    HQP_ASSIGN_OR_RETURN(out.val, data::open_dataset(spec));
  }
  spec.split = data::Split::kTest;
  HQP_ASSIGN_OR_RETURN(const bool separate_test, data::has_separate_test_split(spec));
  if (!separate_test) {
    // out.test stays null: a flat image folder's "test" would be its training images.
  } else if (Result<data::DatasetPtr> test = data::open_dataset(spec); test.ok()) {
    out.test = *test;
  } else if (test.status().code() != StatusCode::kNotFound) {
    return test.status();
  }
  out.val_split = spec.val_split;
  if (out.val_split.kind == data::ValSplitKind::kRandom && out.val_split.size == data::kAutoValSize) {
    out.val_split.size = out.val ? out.val->size() : 0;
  }
  return out;
}

Status check_classifier_io(const ir::Graph& model, std::string_view verb, std::string_view what) {
  if (model.inputs().size() != 1 || model.outputs().empty()) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot {} {}: it has {} inputs and {} outputs (expected 1 image input and logits as the first "
                      "output)",
                      verb, what, model.inputs().size(), model.outputs().size());
  }
  const ir::Value& input = *model.inputs()[0];
  const Shape shape = value_shape(input);
  if (input.dtype != DType::kF32 || (input.shape && shape.size() != 4)) {
    return make_error(StatusCode::kInvalidArgument, "cannot {} {}: input '{}' is {}[{}] (expected f32 [N, C, H, W])",
                      verb, what, input.name, dtype_name(input.dtype), shape_to_string(shape));
  }
  return Status();
}

Result<Shape> preprocessed_shape(const data::Pipeline& pipeline, const data::Dataset& dataset) {
  Result<Shape> shape = pipeline.output_shape(dataset.sample_shape());
  if (!shape.ok()) {
    return shape.status().with_context(
        fmt::format("cannot apply preprocessing '{}' to dataset '{}'", pipeline.to_string(), dataset.name()));
  }
  return shape;
}

Status check_model_fits(const ir::Graph& model, std::string_view verb, std::string_view what,
                        const Shape& sample_shape, const data::Dataset& dataset) {
  HQP_RETURN_IF_ERROR(data::check_compatible(sample_shape, value_shape(*model.inputs()[0]), dataset.name())
                          .with_context(std::string(what)));
  const int64_t k = model_classes(model);
  if (k > 0 && k < dataset.num_classes()) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot {} {} on dataset '{}': it has {} outputs per sample but the dataset has {} classes "
                      "(classes={}, expected >= {})",
                      verb, what, dataset.name(), k, dataset.num_classes(), k, dataset.num_classes());
  }
  return Status();
}

}  // namespace hqp::modeldata
