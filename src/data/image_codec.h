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
// Memory one decoded image may take, checked from the header before any pixel is decoded: its
// 8-bit pixels plus the f32 [C, H, W] sample made of them, i.e. 5 bytes per pixel and channel
// (the larger of the stored and the requested channel count). 256 MiB admits 17.9 MP RGB (e.g.
// 4896 x 3672); hqp's --max-image-mb changes it (each loader worker may hold one such image).
inline constexpr int64_t kDefaultMaxDecodedImageBytes = int64_t{256} << 20;
// Bytes decode_image's budget counts for an image of `pixels` pixels with `channels` channels.
inline constexpr int64_t decoded_image_bytes(int64_t pixels, int64_t channels) { return pixels * channels * 5; }

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
// L = (19595 R + 38470 G + 7471 B + 32768) >> 16. `name` is used in messages only. An image whose
// decoded_image_bytes exceed `max_decoded_bytes` fails (kOutOfRange) before its pixels are decoded.
Result<Image8> decode_image(std::span<const uint8_t> bytes, int channels, const std::string& name,
                            int64_t max_decoded_bytes = kDefaultMaxDecodedImageBytes);

// HWC u8 -> f32 [C, H, W] in [0, 1] (u8 / 255).
Result<Tensor> image_to_chw_f32(const Image8& image);

// Encoders, used by tests (to write image folders) and tools.
Result<std::vector<uint8_t>> encode_png(const Image8& image);
Result<std::vector<uint8_t>> encode_jpeg(const Image8& image, int quality);

}  // namespace hqp::data
