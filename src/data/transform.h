// Sample transforms (resize, crops, flip, gray->RGB, normalization) as a pipeline that serializes
// to one line of text, stored in an ONNX model's metadata_props under kPreprocessMetadataKey so
// that evaluation reuses the preprocessing a model was trained with. Images are f32 [C, H, W].
//
// Text format (src/data/README.md has the full description):
//   pipeline = "" | step *("|" step)            -- steps run left to right; spaces are ignored
//   step     = name [ "(" key "=" value *("," key "=" value) ")" ]
//   resize(size=HxW)       bilinear to H x W (half-pixel centers, edge clamp, no antialias:
//                          torch.nn.functional.interpolate(mode="bilinear", align_corners=False))
//   resize(size=S)         shorter side to S, the other side floor(S * long / short), as torchvision
//   center_crop(size=HxW)  torchvision.CenterCrop: offset round_half_even((in - out) / 2); an image
//                          smaller than the crop is zero-padded, the extra on the bottom/right
//   random_crop(size=HxW,pad=P)  zero-pad P on every side, then crop H x W at a uniform offset
//                          (train); eval: the center crop of the padded image
//   hflip(p=0.5)           mirror left-right with probability p (train); eval: nothing
//   gray_to_rgb            1 channel -> 3 identical channels; 3 channels pass unchanged
//   normalize(mean=M1/M2/M3,std=S1/S2/S3)  (x - mean[c]) / std[c]; one value applies to every channel
// "size=N" for the crops means N x N. Canonical output: to_string() prints every key, floats in
// their shortest round-trip form, e.g. "random_crop(size=28x28,pad=4)|hflip(p=0.5)|normalize(mean=0.286,std=0.353)".
// Random draws: each random step, in order, draws from the sample's Rng: random_crop draws the top
// offset then the left offset (Rng::uniform_int), hflip draws one Rng::uniform01() and flips if < p.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "data/rng.h"

namespace hqp::data {

// metadata_props key of a model's preprocessing pipeline (value: Pipeline::to_string()).
inline constexpr const char* kPreprocessMetadataKey = "hqp.preprocess";

enum class TransformMode { kEval, kTrain };

enum class TransformKind { kResize, kCenterCrop, kRandomCrop, kHFlip, kGrayToRgb, kNormalize };

struct TransformStep {
  TransformKind kind = TransformKind::kResize;
  int64_t height = 0;  // resize / crops; resize with width == 0: shorter side to `height`
  int64_t width = 0;
  int64_t pad = 0;          // random_crop
  double p = 0.5;           // hflip
  std::vector<float> mean;  // normalize: 1 value or one per channel
  std::vector<float> std;   // normalize: 1 value or one per channel, all > 0

  bool operator==(const TransformStep&) const = default;
};

class Pipeline {
 public:
  Pipeline() = default;
  // Parses the text format above; fails with the offending step and what was expected.
  static Result<Pipeline> parse(std::string_view text);
  // Canonical text; parse(to_string()) gives an equal pipeline.
  std::string to_string() const;

  // Builders (arguments checked: a bad value is a programmer error here; parse() reports user errors).
  Pipeline& resize(int64_t height, int64_t width);
  Pipeline& resize_shorter(int64_t size);
  Pipeline& center_crop(int64_t height, int64_t width);
  Pipeline& random_crop(int64_t height, int64_t width, int64_t pad);
  Pipeline& hflip(double p = 0.5);
  Pipeline& gray_to_rgb();
  Pipeline& normalize(std::vector<float> mean, std::vector<float> std);
  Pipeline& append(const Pipeline& other);

  bool empty() const { return steps_.empty(); }
  const std::vector<TransformStep>& steps() const { return steps_; }
  bool operator==(const Pipeline&) const = default;

  // Shape [C, H, W] after the pipeline for an input of shape `input` [C, H, W] (the same in both
  // modes). Fails when a step cannot apply (gray_to_rgb on 2 channels, normalize with 3 means on
  // 1 channel, a random crop larger than the padded image).
  Result<Shape> output_shape(const Shape& input) const;
  // Applies the steps to `image` (f32 [C, H, W], never modified). Random steps draw from `rng` in
  // train mode only; the result depends on nothing else. The result shares storage with `image`
  // when no step changes it (an empty pipeline, a crop to the same extent): clone() before writing.
  Result<Tensor> apply(const Tensor& image, TransformMode mode, Rng& rng) const;

 private:
  std::vector<TransformStep> steps_;
};

// Reference kernels over raw f32 CHW planes (also used by the tests as the specification).
// src: [C, H, W]; dst: [C, OH, OW]. Bilinear as torch interpolate(align_corners=False).
void resize_bilinear_f32(const float* src, int64_t channels, int64_t height, int64_t width, float* dst,
                         int64_t out_height, int64_t out_width);
// dst[c, y, x] = src[c, y + top, x + left], 0 outside src (top/left may be negative).
void crop_f32(const float* src, int64_t channels, int64_t height, int64_t width, float* dst, int64_t out_height,
              int64_t out_width, int64_t top, int64_t left);

}  // namespace hqp::data
