// A model's preprocessing: --mean/--std parsing, normalize replacement, the default pipeline of a
// dataset, and the one resolution rule (--preprocess, else the model's hqp.preprocess, else the
// fallback; then --mean/--std). No libtorch, no runtime.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"
#include "data/transform.h"
#include "ir/graph.h"

namespace hqp::modeldata {

// "0.5", "0.485,0.456,0.406" or "0.485/0.456/0.406" -> floats. `what` names the flag in messages.
Result<std::vector<float>> parse_float_list(std::string_view text, std::string_view what);

// `pipeline` with its normalize step's mean/std replaced (or a normalize step appended when it has
// none). An empty mean or std keeps the existing value (1 value -> mean 0 / std 1 when appended).
data::Pipeline with_normalize(const data::Pipeline& pipeline, const std::vector<float>& mean,
                              const std::vector<float>& std);

// Images sampled for the per-channel statistics of a dataset without a known default.
inline constexpr int64_t kStatsSamples = 2000;
// Largest side the default pipeline keeps for image folders of mixed sizes.
inline constexpr int64_t kDefaultMaxSide = 224;

// Preprocessing used when neither --preprocess nor the model gives one (training):
//   fashion-mnist:    random_crop(size=28x28,pad=2)|hflip(p=0.5)|normalize(mean=0.286,std=0.353)
//   any other source: [resize(size=S)|center_crop(size=SxS) when sample sizes differ,
//                      S = min(H, W, kDefaultMaxSide) of the first sample] then normalize with the
//                      per-channel mean/std of up to kStatsSamples evenly spaced training samples
//                      (rounded to 3 decimals); no random augmentation (a flip can change a class).
// want_channels: the model's input channels (<= 0: unknown); 3 for 1-channel data prepends
// gray_to_rgb. `source` is the --data argument.
Result<data::Pipeline> default_pipeline(const data::Dataset& train, std::string_view source, int64_t want_channels);

// What to do when neither --preprocess nor the model names a pipeline.
enum class PreprocessFallback : uint8_t {
  kNone,            // no preprocessing (evaluation: the model was made for raw [0, 1] pixels)
  kDatasetDefault,  // default_pipeline(train, source, channels) (training a new model)
};

struct PreprocessRequest {
  std::optional<std::string> preprocess;  // --preprocess when given (may be empty: no preprocessing)
  std::string mean;                       // --mean text; empty: keep the pipeline's
  std::string std;                        // --std text; empty: keep the pipeline's
  PreprocessFallback fallback = PreprocessFallback::kNone;
  int64_t want_channels = -1;  // kDatasetDefault without a model: channels of the model to be built
};

// Validates --mean/--std (numbers, std > 0) and a --preprocess text without opening anything; a
// command calls it first so bad flags fail before models or datasets are loaded.
Status check_preprocess_request(const PreprocessRequest& request);

// Validates --mean/--std (numbers, std > 0) before building anything, then resolves the pipeline:
// request.preprocess, else model's hqp.preprocess (model may be null), else the fallback (`train`
// and `source` are used only by kDatasetDefault; its channels are the model's input channels, or
// request.want_channels without a model), then replaces the normalization with --mean/--std.
Result<data::Pipeline> resolve_preprocessing(const PreprocessRequest& request, const ir::Graph* model,
                                             const data::Dataset& train, std::string_view source);

}  // namespace hqp::modeldata
