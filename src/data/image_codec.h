// PNG (libpng simplified API) and JPEG (libjpeg-turbo's TurboJPEG API) decoding and encoding of
// 8-bit images. Decoding validates dimensions before allocating and never aborts on bad bytes.
// Not a general image library: 8-bit gray/RGB only (alpha dropped, 16-bit PNG reduced to 8-bit).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace hqp::data {

// Largest accepted side and pixel count of a decoded image (guards against hostile headers).
inline constexpr int64_t kMaxImageSide = 1 << 15;
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 28;

// 8-bit image, pixels interleaved HWC: [height, width, channels], channels 1 (gray) or 3 (RGB).
struct Image8 {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
  std::vector<uint8_t> pixels;
};

enum class ImageFormat { kUnknown, kPng, kJpeg };
// From the leading bytes (PNG signature, JPEG SOI marker), not the file name.
ImageFormat sniff_image_format(std::span<const uint8_t> bytes);

// Decodes PNG or JPEG bytes to `channels` (1: gray, 3: RGB, 0: as stored, gray or RGB). Alpha is
// dropped (as PIL's convert("RGB") does); RGB -> gray uses PIL's ITU-R 601 luma
// L = (19595 R + 38470 G + 7471 B + 32768) >> 16. `name` is used in messages only.
Result<Image8> decode_image(std::span<const uint8_t> bytes, int channels, const std::string& name);

// HWC u8 -> f32 [C, H, W] in [0, 1] (u8 / 255).
Result<Tensor> image_to_chw_f32(const Image8& image);

// Encoders, used by tests (to write image folders) and tools.
Result<std::vector<uint8_t>> encode_png(const Image8& image);
Result<std::vector<uint8_t>> encode_jpeg(const Image8& image, int quality);

}  // namespace hqp::data
