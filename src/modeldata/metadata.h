// The hqp.* metadata_props keys that bind a model to its data and provenance, their find/set, and
// a model value's shape as data::check_compatible wants it. Shared by every command that reads or
// writes models (train, eval, prune, quantize, compress). No libtorch, no runtime.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/tensor.h"
#include "data/transform.h"
#include "ir/graph.h"

namespace hqp::modeldata {

// metadata_props keys written by `hqp train` (kPreprocessMetadataKey is data's "hqp.preprocess").
inline constexpr const char* kPreprocessMetadataKey = data::kPreprocessMetadataKey;
inline constexpr const char* kArchMetadataKey = "hqp.arch";          // "mobilenet_v3_small", or the --init model's
inline constexpr const char* kDatasetMetadataKey = "hqp.dataset";    // the --data argument
inline constexpr const char* kClassesMetadataKey = "hqp.classes";    // JSON array of class names
inline constexpr const char* kValSplitMetadataKey = "hqp.val_split"; // data::val_split_to_string of the val split
inline constexpr const char* kValSizeMetadataKey = "hqp.val_size";   // samples held out as the val split (older models: the only key)
inline constexpr const char* kTrainMetadataKey = "hqp.train";        // JSON: hyper-parameters and accuracies

std::optional<std::string> find_metadata(const ir::Graph& graph, std::string_view key);
// Replaces the value of `key`, or appends it.
void set_metadata(ir::Graph& graph, std::string_view key, std::string value);

// Static dims as they are, symbolic / unknown dims as -1 (what data::check_compatible expects);
// empty when the value has no shape.
Shape value_shape(const ir::Value& value);

// Logits per sample of the model's first output [N, K] (K), or -1 when not static.
int64_t model_classes(const ir::Graph& graph);
// Channels of the model's first input [N, C, H, W] (C), or -1 when not static.
int64_t model_channels(const ir::Graph& graph);

}  // namespace hqp::modeldata
