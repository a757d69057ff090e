// Image decoding/encoding on libpng's simplified API and TurboJPEG: both report errors by return
// code (no setjmp in hqp code), and both are safe to call from several threads at once.
#include "data/image_codec.h"

#include <png.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace hqp::data {

namespace {

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

Status check_dims(int64_t width, int64_t height, const std::string& name) {
  if (width <= 0 || height <= 0 || width > kMaxImageSide || height > kMaxImageSide ||
      width * height > kMaxImagePixels) {
    return make_error(StatusCode::kOutOfRange,
                      "cannot decode image '{}': unsupported size (width={}, height={}, expected 1..{} per side and "
                      "at most {} pixels)",
                      name, width, height, kMaxImageSide, kMaxImagePixels);
  }
  return Status::ok_status();
}

// The memory budget, from the header: `stored` channels decoded, `wanted` (0: as stored) kept.
Status check_budget(int64_t width, int64_t height, int stored, int wanted, int64_t max_bytes, const std::string& name) {
  const int64_t channels = std::max(stored, wanted);
  const int64_t need = decoded_image_bytes(width * height, channels);
  if (need > max_bytes) {
    return make_error(StatusCode::kOutOfRange,
                      "cannot decode image '{}': {}x{} with {} channels needs {} MiB decoded (max_image_mb={}, "
                      "expected at most that; raise --max-image-mb to accept it)",
                      name, width, height, channels, (need + (1 << 20) - 1) >> 20, max_bytes >> 20);
  }
  return Status::ok_status();
}

// Converts interleaved 8-bit pixels with `src_channels` (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) to
// `dst_channels` (1 or 3).
std::vector<uint8_t> convert_channels(const uint8_t* src, int64_t pixels, int src_channels, int dst_channels) {
  std::vector<uint8_t> dst(static_cast<size_t>(pixels * dst_channels));
  const bool src_color = src_channels >= 3;
  for (int64_t p = 0; p < pixels; ++p) {
    const uint8_t* s = src + p * src_channels;
    uint8_t* d = dst.data() + p * dst_channels;
    if (dst_channels == 1) {
      d[0] = src_color ? static_cast<uint8_t>((19595u * s[0] + 38470u * s[1] + 7471u * s[2] + 32768u) >> 16) : s[0];
    } else if (src_color) {
      d[0] = s[0], d[1] = s[1], d[2] = s[2];
    } else {
      d[0] = d[1] = d[2] = s[0];
    }
  }
  return dst;
}

Result<Image8> decode_png(std::span<const uint8_t> bytes, int channels, const std::string& name, int64_t max_bytes) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()) == 0) {
    return make_error(StatusCode::kParseError, "cannot decode image '{}': invalid PNG ({})", name, image.message);
  }
  const Status dims = check_dims(image.width, image.height, name);
  if (!dims.ok()) {
    png_image_free(&image);
    return dims;
  }
  // Keep the stored color/alpha layout at 8 bits; channel conversion is done below, identically
  // for PNG and JPEG (libpng's own RGB->gray works in linear light, unlike PIL).
  image.format &= (PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA);
  const int src_channels = static_cast<int>(PNG_IMAGE_SAMPLE_CHANNELS(image.format));
  if (Status budget = check_budget(image.width, image.height, src_channels, channels, max_bytes, name); !budget.ok()) {
    png_image_free(&image);
    return budget;
  }
  const int64_t pixels = static_cast<int64_t>(image.width) * image.height;
  std::vector<uint8_t> buffer(static_cast<size_t>(pixels * src_channels));
  if (png_image_finish_read(&image, nullptr, buffer.data(), 0, nullptr) == 0) {
    return make_error(StatusCode::kParseError, "cannot decode image '{}': corrupt PNG ({})", name, image.message);
  }
  const int dst_channels = channels != 0 ? channels : (src_channels >= 3 ? 3 : 1);
  Image8 out;
  out.height = image.height;
  out.width = image.width;
  out.channels = dst_channels;
  out.pixels = src_channels == dst_channels ? std::move(buffer)
                                            : convert_channels(buffer.data(), pixels, src_channels, dst_channels);
  return out;
}

// Owns a TurboJPEG handle.
struct TjHandle {
  tjhandle h = nullptr;
  ~TjHandle() {
    if (h != nullptr) tjDestroy(h);
  }
};

Result<Image8> decode_jpeg(std::span<const uint8_t> bytes, int channels, const std::string& name, int64_t max_bytes) {
  TjHandle tj;
  tj.h = tjInitDecompress();
  if (tj.h == nullptr) {
    return make_error(StatusCode::kInternal, "cannot decode image '{}': TurboJPEG init failed ({})", name,
                      tjGetErrorStr2(nullptr));
  }
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.h, bytes.data(), static_cast<unsigned long>(bytes.size()), &width, &height, &subsamp,
                          &colorspace) != 0) {
    return make_error(StatusCode::kParseError, "cannot decode image '{}': invalid JPEG ({})", name,
                      tjGetErrorStr2(tj.h));
  }
  HQP_RETURN_IF_ERROR(check_dims(width, height, name));
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
    return make_error(StatusCode::kUnsupported,
                      "cannot decode image '{}': CMYK JPEG is not supported (expected gray "
                      "or RGB/YCbCr)",
                      name);
  }
  const int src_channels = colorspace == TJCS_GRAY ? 1 : 3;
  HQP_RETURN_IF_ERROR(check_budget(width, height, src_channels, channels, max_bytes, name));
  const int64_t pixels = int64_t{width} * height;
  std::vector<uint8_t> buffer(static_cast<size_t>(pixels * src_channels));
  // TJFLAG_STOPONWARNING: a truncated or corrupt stream is an error, not a partly gray image.
  if (tjDecompress2(tj.h, bytes.data(), static_cast<unsigned long>(bytes.size()), buffer.data(), width, 0, height,
                    src_channels == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING) != 0) {
    return make_error(StatusCode::kParseError, "cannot decode image '{}': corrupt JPEG ({})", name,
                      tjGetErrorStr2(tj.h));
  }
  const int dst_channels = channels != 0 ? channels : src_channels;
  Image8 out;
  out.height = height;
  out.width = width;
  out.channels = dst_channels;
  out.pixels = src_channels == dst_channels ? std::move(buffer)
                                            : convert_channels(buffer.data(), pixels, src_channels, dst_channels);
  return out;
}

Status check_encodable(const Image8& image, const char* what) {
  if ((image.channels != 1 && image.channels != 3) || image.height <= 0 || image.width <= 0 ||
      image.height > kMaxImageSide || image.width > kMaxImageSide ||
      static_cast<int64_t>(image.pixels.size()) != image.height * image.width * image.channels) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot encode {} image: bad layout (height={}, width={}, channels={}, bytes={}, expected "
                      "channels 1 or 3 and height*width*channels bytes)",
                      what, image.height, image.width, image.channels, image.pixels.size());
  }
  return Status::ok_status();
}

}  // namespace

ImageFormat sniff_image_format(std::span<const uint8_t> bytes) {
  if (bytes.size() >= sizeof(kPngSignature) && std::memcmp(bytes.data(), kPngSignature, sizeof(kPngSignature)) == 0) {
    return ImageFormat::kPng;
  }
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return ImageFormat::kJpeg;
  return ImageFormat::kUnknown;
}

Result<Image8> decode_image(std::span<const uint8_t> bytes, int channels, const std::string& name,
                            int64_t max_decoded_bytes) {
  HQP_CHECK_MSG(channels == 0 || channels == 1 || channels == 3, "channels must be 0, 1 or 3");
  switch (sniff_image_format(bytes)) {
    case ImageFormat::kPng:
      return decode_png(bytes, channels, name, max_decoded_bytes);
    case ImageFormat::kJpeg:
      return decode_jpeg(bytes, channels, name, max_decoded_bytes);
    case ImageFormat::kUnknown:
      break;
  }
  return make_error(StatusCode::kParseError,
                    "cannot decode image '{}': not a PNG or JPEG file (bytes={}, expected a PNG signature or a JPEG "
                    "SOI marker)",
                    name, bytes.size());
}

Result<Tensor> image_to_chw_f32(const Image8& image) {
  HQP_ASSIGN_OR_RETURN(Tensor t, Tensor::zeros(DType::kF32, {image.channels, image.height, image.width}));
  HQP_CHECK(static_cast<int64_t>(image.pixels.size()) == t.numel());
  constexpr float kScale = 1.0f / 255.0f;
  float* dst = t.data<float>();
  const int64_t hw = image.height * image.width;
  for (int64_t c = 0; c < image.channels; ++c) {
    for (int64_t p = 0; p < hw; ++p)
      dst[c * hw + p] = static_cast<float>(image.pixels[p * image.channels + c]) * kScale;
  }
  return t;
}

Result<std::vector<uint8_t>> encode_png(const Image8& image) {
  HQP_RETURN_IF_ERROR(check_encodable(image, "PNG"));
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = image.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  if (png_image_write_to_memory(&png, nullptr, &size, 0, image.pixels.data(), 0, nullptr) == 0) {
    return make_error(StatusCode::kInternal, "cannot encode PNG image: {}", png.message);
  }
  std::vector<uint8_t> out(size);
  if (png_image_write_to_memory(&png, out.data(), &size, 0, image.pixels.data(), 0, nullptr) == 0) {
    return make_error(StatusCode::kInternal, "cannot encode PNG image: {}", png.message);
  }
  out.resize(size);
  return out;
}

Result<std::vector<uint8_t>> encode_jpeg(const Image8& image, int quality) {
  HQP_RETURN_IF_ERROR(check_encodable(image, "JPEG"));
  TjHandle tj;
  tj.h = tjInitCompress();
  if (tj.h == nullptr) return make_error(StatusCode::kInternal, "cannot encode JPEG image: TurboJPEG init failed");
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  const bool gray = image.channels == 1;
  if (tjCompress2(tj.h, image.pixels.data(), static_cast<int>(image.width), 0, static_cast<int>(image.height),
                  gray ? TJPF_GRAY : TJPF_RGB, &jpeg, &size, gray ? TJSAMP_GRAY : TJSAMP_444, quality, 0) != 0) {
    tjFree(jpeg);
    return make_error(StatusCode::kInternal, "cannot encode JPEG image: {}", tjGetErrorStr2(tj.h));
  }
  std::vector<uint8_t> out(jpeg, jpeg + size);
  tjFree(jpeg);
  return out;
}

}  // namespace hqp::data
