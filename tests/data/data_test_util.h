// Test helpers for the data library: small IDX, CIFAR and image-folder datasets written into a
// temporary folder with the library's own writers (IDX via zlib, PNG via libpng, JPEG via
// TurboJPEG). Test-only.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/temp_dir.h"
#include "data/cifar.h"
#include "data/idx.h"
#include "data/image_codec.h"

namespace hqp::test {

// Where Debian's dataset-fashion-mnist installs its files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Deterministic pixel value of sample n at (c, y, x).
inline uint8_t pattern_pixel(int64_t n, int64_t c, int64_t y, int64_t x) {
  return static_cast<uint8_t>((n * 37 + c * 101 + y * 13 + x * 7) % 256);
}

// IDX images [n, h, w] with pattern_pixel, and labels n % num_classes.
inline data::IdxArray idx_images(int64_t n, int64_t h, int64_t w, int64_t first_sample = 0) {
  data::IdxArray a;
  a.dims = {n, h, w};
  for (int64_t i = first_sample; i < first_sample + n; ++i)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) a.data.push_back(pattern_pixel(i, 0, y, x));
  return a;
}
inline data::IdxArray idx_labels(int64_t n, int64_t num_classes) {
  data::IdxArray a;
  a.dims = {n};
  for (int64_t i = 0; i < n; ++i) a.data.push_back(static_cast<uint8_t>(i % num_classes));
  return a;
}

// Writes <prefix>-images-idx3-ubyte[.gz] and <prefix>-labels-idx1-ubyte[.gz] into dir; images are
// pattern samples first_sample .. first_sample + n - 1.
inline void write_idx_split(const std::filesystem::path& dir, const std::string& prefix, int64_t n, int64_t h,
                            int64_t w, int64_t num_classes, bool gzip, int64_t first_sample = 0) {
  const std::string ext = gzip ? ".gz" : "";
  ASSERT_TRUE(data::write_idx_file((dir / (prefix + "-images-idx3-ubyte" + ext)).string(),
                                   idx_images(n, h, w, first_sample), gzip)
                  .ok());
  ASSERT_TRUE(
      data::write_idx_file((dir / (prefix + "-labels-idx1-ubyte" + ext)).string(), idx_labels(n, num_classes), gzip)
          .ok());
}

// CIFAR file of n records: labels (n % classes) (CIFAR-100: coarse = fine % 20), pattern pixels.
inline std::string cifar_file_bytes(int64_t n, bool cifar100, int64_t first_sample = 0) {
  std::string bytes;
  for (int64_t i = first_sample; i < first_sample + n; ++i) {
    std::vector<uint8_t> labels;
    if (cifar100) {
      labels = {static_cast<uint8_t>(i % 100 % 20), static_cast<uint8_t>(i % 100)};
    } else {
      labels = {static_cast<uint8_t>(i % 10)};
    }
    std::vector<uint8_t> pixels;
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 32; ++y)
        for (int64_t x = 0; x < 32; ++x) pixels.push_back(pattern_pixel(i, c, y, x));
    const std::vector<uint8_t> rec = data::cifar_record(labels, pixels);
    bytes.append(reinterpret_cast<const char*>(rec.data()), rec.size());
  }
  return bytes;
}

// HWC image with pattern_pixel content (sample number `n`).
inline data::Image8 pattern_image(int64_t n, int64_t h, int64_t w, int64_t channels) {
  data::Image8 img;
  img.height = h, img.width = w, img.channels = channels;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t c = 0; c < channels; ++c) img.pixels.push_back(pattern_pixel(n, c, y, x));
  return img;
}

inline void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(path.parent_path());
  ASSERT_TRUE(write_file(path.string(), std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
}

inline void write_png(const std::filesystem::path& path, const data::Image8& img) {
  auto bytes = data::encode_png(img);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  write_bytes(path, *bytes);
}

inline void write_jpeg(const std::filesystem::path& path, const data::Image8& img, int quality = 95) {
  auto bytes = data::encode_jpeg(img, quality);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  write_bytes(path, *bytes);
}

// The error message of a failed Result/Status, or "<ok>".
template <typename R>
std::string error_of(const R& r) {
  if constexpr (requires { r.status(); }) {
    return r.ok() ? "<ok>" : r.status().message();
  } else {
    return r.ok() ? "<ok>" : r.message();
  }
}

}  // namespace hqp::test
