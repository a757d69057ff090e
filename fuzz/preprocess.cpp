// Fuzz target: the text parsers of the command line and of model metadata: the preprocessing
// pipeline (--preprocess, hqp.preprocess), the val split (--val-split, hqp.val_split) and float
// lists (--mean / --std). Properties: a value or a clean error; a parsed pipeline / split prints
// to text that parses back to an equal value; an accepted pipeline applies to a small image (when
// its output stays small) without error in both modes, and to the shape it promised.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "data/transform.h"
#include "data/val_split.h"
#include "fuzz/fuzz_util.h"
#include "modeldata/preprocess.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hqp;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  Result<data::Pipeline> pipeline = data::Pipeline::parse(text);
  fuzz::tally(pipeline.ok());
  if (!pipeline.ok()) {
    fuzz::check_clean_error(pipeline.status());
  } else {
    Result<data::Pipeline> again = data::Pipeline::parse(pipeline->to_string());
    if (!again.ok() || !(*again == *pipeline)) fuzz::violated("pipeline does not round-trip: " + pipeline->to_string());
    for (int64_t c : {1, 3}) {
      const Shape input{c, 5, 7};
      Result<Shape> out = pipeline->output_shape(input);
      if (!out.ok()) {
        fuzz::check_clean_error(out.status());
        continue;
      }
      // Keep each run small: every step's size (so every intermediate image) at most 256 x 256.
      bool small = true;
      for (const data::TransformStep& step : pipeline->steps()) small = small && step.height <= 256 && step.width <= 256;
      if (!small) continue;
      std::vector<float> pixels(static_cast<size_t>(c * 5 * 7));
      for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(i % 13) / 13.0f;
      const Tensor image = Tensor::from_vector<float>(input, pixels);
      for (data::TransformMode mode : {data::TransformMode::kEval, data::TransformMode::kTrain}) {
        data::Rng rng(7);
        Result<Tensor> applied = pipeline->apply(image, mode, rng);
        if (!applied.ok()) fuzz::violated("pipeline fails on the shape it accepted: " + applied.status().message());
        if (applied->shape() != *out) fuzz::violated("pipeline output shape differs from output_shape()");
      }
    }
  }

  Result<data::ValSplit> split = data::parse_val_split(text);
  if (!split.ok()) {
    fuzz::check_clean_error(split.status());
  } else {
    Result<data::ValSplit> again = data::parse_val_split(data::val_split_to_string(*split));
    if (!again.ok() || !(*again == *split)) fuzz::violated("val split does not round-trip");
  }

  Result<std::vector<float>> floats = modeldata::parse_float_list(text, "--mean");
  if (!floats.ok()) fuzz::check_clean_error(floats.status());
  return 0;
}
