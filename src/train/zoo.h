// Model zoo: builds IR graphs with torchvision's structure and parameter names (state_dict keys
// such as "layer1.0.conv1.weight", "features.1.block.0.0.weight") and torchvision's weight
// initialization. The graphs use opset 17 and export to ONNX. No libtorch here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace hqp::train {

struct ZooOptions {
  int64_t in_channels = 3;
  int64_t num_classes = 1000;
  // Small-input stem for 28-32 px images: ResNet conv1 3x3 stride 1 and no max pool; MobileNet first
  // conv stride 1. Other strides stay as in torchvision.
  bool small_input = false;
  // Static input height = width; the batch dim is symbolic ("N").
  int64_t input_size = 224;
  // Seed of the weight initialization (std::mt19937_64).
  uint64_t seed = 0;
};

// "resnet18", "resnet34", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large".
std::vector<std::string> zoo_architectures();

// Input "input" f32 [N, in_channels, input_size, input_size]; output "logits" f32 [N, num_classes].
// Node names are module paths ("layer1.0.conv1"); each node's output value has the node's name.
// kInvalidArgument for an unknown architecture or options out of range (sizes below 1, an input
// that the strides reduce below 1 pixel).
Result<ir::Graph> build_zoo_model(std::string_view arch, const ZooOptions& options = {});

}  // namespace hqp::train
