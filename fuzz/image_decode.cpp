// Fuzz target: PNG and JPEG decoding (libpng's simplified API, TurboJPEG) as image folders use it,
// to gray, RGB and as stored, then to f32 CHW. Properties: an image or a clean error; an accepted
// image has the channels asked for, sides within the limits and exactly H*W*C pixel bytes.
#include <cstddef>
#include <cstdint>
#include <span>

#include "data/image_codec.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hqp;
  const std::span<const uint8_t> bytes(data, size);
  for (int channels : {0, 1, 3}) {
    Result<data::Image8> image = data::decode_image(bytes, channels, "fuzz.img");
    if (channels == 0) fuzz::tally(image.ok());
    if (!image.ok()) {
      fuzz::check_clean_error(image.status());
      continue;
    }
    if (channels != 0 && image->channels != channels) fuzz::violated("decoded channel count");
    if (image->channels != 1 && image->channels != 3) fuzz::violated("channels not 1 or 3");
    if (image->height < 1 || image->width < 1 || image->height > data::kMaxImageSide ||
        image->width > data::kMaxImageSide) {
      fuzz::violated("decoded sides outside the limits");
    }
    if (static_cast<int64_t>(image->pixels.size()) != image->height * image->width * image->channels) {
      fuzz::violated("pixel buffer size");
    }
    Result<Tensor> chw = data::image_to_chw_f32(*image);
    if (!chw.ok()) fuzz::check_clean_error(chw.status());
  }
  return 0;
}
