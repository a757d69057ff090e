// Tests of the reference Resize against values worked out by hand (and PyTorch's documented
// bilinear / nearest results for the same settings), the coordinate transforms and the rounding
// modes at ties.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/ref/resize.h"

namespace hqp::kernels {
namespace {

ResizeParams params_2d(int64_t h, int64_t w, int64_t oh, int64_t ow, ResizeMode mode, ResizeCoordinates coordinates) {
  ResizeParams p;
  p.rank = 2;
  p.src_shape[0] = h;
  p.src_shape[1] = w;
  p.dst_shape[0] = oh;
  p.dst_shape[1] = ow;
  p.scale[0] = static_cast<double>(oh) / static_cast<double>(h);
  p.scale[1] = static_cast<double>(ow) / static_cast<double>(w);
  p.mode = mode;
  p.coordinates = coordinates;
  return p;
}

// 2x2 -> 4x4 bilinear with half_pixel coordinates: torch.nn.functional.interpolate(mode="bilinear",
// align_corners=False) gives these rows for [[1, 2], [3, 4]] (edges clamp).
TEST(ResizeRef, BilinearHalfPixelUpsample) {
  const std::vector<float> x = {1, 2, 3, 4};
  std::vector<float> y(16);
  resize_linear_f32__ref(params_2d(2, 2, 4, 4, ResizeMode::kLinear, ResizeCoordinates::kHalfPixel), x.data(), y.data());
  const std::vector<float> want = {1.0f, 1.25f, 1.75f, 2.0f, 1.5f, 1.75f, 2.25f, 2.5f,
                                   2.5f, 2.75f, 3.25f, 3.5f, 3.0f, 3.25f, 3.75f, 4.0f};
  EXPECT_EQ(y, want);
}

// align_corners: the corners map onto the corners; 2 -> 3 puts the middle sample halfway.
TEST(ResizeRef, BilinearAlignCorners) {
  const std::vector<float> x = {0, 10};
  std::vector<float> y(3);
  resize_linear_f32__ref(params_2d(1, 2, 1, 3, ResizeMode::kLinear, ResizeCoordinates::kAlignCorners), x.data(),
                         y.data());
  EXPECT_EQ(y, (std::vector<float>{0.0f, 5.0f, 10.0f}));
}

// Nearest, asymmetric + floor (PyTorch's mode="nearest"): each value repeated; u8 moves bytes.
TEST(ResizeRef, NearestAsymmetricFloorRepeats) {
  const std::vector<uint8_t> x = {1, 2, 3, 4};
  ResizeParams p = params_2d(2, 2, 4, 4, ResizeMode::kNearest, ResizeCoordinates::kAsymmetric);
  p.nearest = ResizeNearest::kFloor;
  std::vector<uint8_t> y(16);
  resize_nearest_any__ref(p, 1, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<uint8_t>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
}

// Ties at .5 go down with round_prefer_floor and up with round_prefer_ceil; indices clamp.
TEST(ResizeRef, NearestRoundingModesAtTies) {
  ResizeParams p;
  p.rank = 1;
  p.src_shape[0] = 4;
  p.dst_shape[0] = 8;
  p.scale[0] = 2.0;
  p.coordinates = ResizeCoordinates::kAsymmetric;  // c = x / 2: 0, 0.5, 1, 1.5, ...
  const std::vector<float> x = {10, 20, 30, 40};
  std::vector<float> y(8);
  p.nearest = ResizeNearest::kRoundPreferFloor;
  resize_nearest_any__ref(p, sizeof(float), x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{10, 10, 20, 20, 30, 30, 40, 40}));
  p.nearest = ResizeNearest::kRoundPreferCeil;
  resize_nearest_any__ref(p, sizeof(float), x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{10, 20, 20, 30, 30, 40, 40, 40}));  // 3.5 -> 4 clamps to 3
  p.nearest = ResizeNearest::kCeil;
  resize_nearest_any__ref(p, sizeof(float), x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{10, 20, 20, 30, 30, 40, 40, 40}));
}

// ONNX's length_resized is src_len * scale, unrounded: 4 values at scale 0.6 give 2 outputs, and
// align_corners divides by 2.4 - 1 (the ONNX test case resize_downsample_scales_linear_align_corners).
TEST(ResizeRef, CoordinatesUseTheUnroundedResizedLength) {
  EXPECT_DOUBLE_EQ(resize_source_coordinate(ResizeCoordinates::kAlignCorners, 1, 0.6, 4), 3.0 / 1.4);
  EXPECT_DOUBLE_EQ(resize_source_coordinate(ResizeCoordinates::kHalfPixel, 1, 2.0, 4), 0.25);
  EXPECT_DOUBLE_EQ(resize_source_coordinate(ResizeCoordinates::kPytorchHalfPixel, 0, 0.2, 4), 0.0);  // 0.8 <= 1
  EXPECT_DOUBLE_EQ(resize_source_coordinate(ResizeCoordinates::kTfHalfPixelForNn, 1, 2.0, 4), 0.75);
  EXPECT_DOUBLE_EQ(resize_source_coordinate(ResizeCoordinates::kAsymmetric, 3, 2.0, 4), 1.5);
}

}  // namespace
}  // namespace hqp::kernels
