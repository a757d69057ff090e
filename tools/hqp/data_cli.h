// Helpers shared by `hqp train` and `hqp eval`: the model's input shape as a data::Shape, the
// hqp.* metadata_props keys, --mean/--std parsing, and the default preprocessing of a dataset.
// CLI-only glue between hqp_data and the IR; no training or inference here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "data/dataset.h"
#include "data/transform.h"
#include "ir/graph.h"

namespace hqp::cli {

// metadata_props keys written by `hqp train` (kPreprocessMetadataKey is data's "hqp.preprocess").
inline constexpr const char* kArchMetadataKey = "hqp.arch";        // "mobilenet_v3_small", or the --init model's
inline constexpr const char* kDatasetMetadataKey = "hqp.dataset";  // the --data argument
inline constexpr const char* kClassesMetadataKey = "hqp.classes";  // JSON array of class names
inline constexpr const char* kValSizeMetadataKey = "hqp.val_size"; // samples held out as the val split
inline constexpr const char* kTrainMetadataKey = "hqp.train";      // JSON: hyper-parameters and accuracies

// Static dims as they are, symbolic / unknown dims as -1 (what data::check_compatible expects).
Shape value_shape(const ir::Value& value);

std::optional<std::string> find_metadata(const ir::Graph& graph, std::string_view key);
// Replaces the value of `key`, or appends it.
void set_metadata(ir::Graph& graph, std::string_view key, std::string value);

// "0.5", "0.485,0.456,0.406" or "0.485/0.456/0.406" -> floats. `what` names the flag in messages.
Result<std::vector<float>> parse_float_list(std::string_view text, std::string_view what);

// `pipeline` with its normalize step's mean/std replaced (or a normalize step appended when it has
// none). An empty mean or std keeps the existing value (1 value → mean 0 / std 1 when appended).
data::Pipeline with_normalize(const data::Pipeline& pipeline, const std::vector<float>& mean,
                              const std::vector<float>& std);

// Images sampled for the per-channel statistics of a dataset without a known default.
inline constexpr int64_t kStatsSamples = 2000;
// Largest side the default pipeline keeps for image folders of mixed sizes.
inline constexpr int64_t kDefaultMaxSide = 224;

// Preprocessing used when neither --preprocess nor the model gives one:
//   fashion-mnist:    random_crop(size=28x28,pad=2)|hflip(p=0.5)|normalize(mean=0.286,std=0.353)
//   any other source: [resize(size=S)|center_crop(size=SxS) when sample sizes differ,
//                      S = min(H, W, kDefaultMaxSide) of the first sample] then normalize with the
//                      per-channel mean/std of up to kStatsSamples evenly spaced training samples
//                      (rounded to 3 decimals); no random augmentation (a flip can change a class).
// want_channels: the model's input channels (<= 0: unknown); 3 for 1-channel data prepends
// gray_to_rgb. `source` is the --data argument.
Result<data::Pipeline> default_pipeline(const data::Dataset& train, std::string_view source, int64_t want_channels);

}  // namespace hqp::cli
