// Transform pipeline: parser/printer of the text format, shape inference and the reference
// kernels (plain loops) that apply each step.
#include "data/transform.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "data/image_codec.h"

namespace hqp::data {

namespace {

constexpr std::string_view kStepNames = "resize, center_crop, random_crop, hflip, gray_to_rgb, normalize";

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t pos = text.find(sep, start);
    parts.push_back(text.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

bool parse_int(std::string_view s, int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

template <typename T>
bool parse_float(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty() && std::isfinite(out);
}

// "HxW" or "N" (N x N, or shorter side N for resize: width = 0).
bool parse_size(std::string_view s, bool square_if_single, int64_t& height, int64_t& width) {
  const size_t x = s.find('x');
  if (x == std::string_view::npos) {
    if (!parse_int(s, height)) return false;
    width = square_if_single ? height : 0;
    return true;
  }
  return parse_int(s.substr(0, x), height) && parse_int(s.substr(x + 1), width);
}

std::string format_floats(const std::vector<float>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += '/';
    s += fmt::format("{}", v[i]);
  }
  return s;
}

bool valid_side(int64_t v) { return v >= 1 && v <= kMaxImageSide; }

// Python's round() of (d / 2) for d >= 0: ties go to the even integer, as torchvision's CenterCrop.
int64_t half_round_even(int64_t d) {
  const int64_t q = d / 2;
  if (d % 2 == 0) return q;
  return q % 2 == 0 ? q : q + 1;
}

// Top-left offset of an `out`-sized center crop of an `in`-sized extent (negative: zero padding).
int64_t center_offset(int64_t in, int64_t out) { return in >= out ? half_round_even(in - out) : -((out - in) / 2); }

Status step_error(std::string_view text, std::string_view step, const std::string& what) {
  return make_error(StatusCode::kInvalidArgument, "cannot parse transform pipeline '{}': step '{}': {}", text, step,
                    what);
}

Result<TransformStep> parse_step(std::string_view text, std::string_view step_text) {
  std::string_view name = step_text;
  std::string_view args;
  const size_t open = step_text.find('(');
  if (open != std::string_view::npos) {
    if (step_text.back() != ')') return step_error(text, step_text, "missing ')' at the end");
    name = step_text.substr(0, open);
    args = step_text.substr(open + 1, step_text.size() - open - 2);
  }
  TransformStep step;
  std::vector<std::string_view> allowed;
  if (name == "resize") {
    step.kind = TransformKind::kResize, allowed = {"size"};
  } else if (name == "center_crop") {
    step.kind = TransformKind::kCenterCrop, allowed = {"size"};
  } else if (name == "random_crop") {
    step.kind = TransformKind::kRandomCrop, allowed = {"size", "pad"};
  } else if (name == "hflip") {
    step.kind = TransformKind::kHFlip, allowed = {"p"};
  } else if (name == "gray_to_rgb") {
    step.kind = TransformKind::kGrayToRgb;
  } else if (name == "normalize") {
    step.kind = TransformKind::kNormalize, allowed = {"mean", "std"};
  } else {
    return step_error(text, step_text, fmt::format("unknown step name '{}' (expected one of {})", name, kStepNames));
  }
  std::vector<std::string_view> seen;
  if (open != std::string_view::npos && !args.empty()) {
    for (std::string_view arg : split(args, ',')) {
      const size_t eq = arg.find('=');
      if (eq == std::string_view::npos) {
        return step_error(text, step_text, fmt::format("argument '{}' is not key=value", arg));
      }
      const std::string_view key = arg.substr(0, eq);
      const std::string_view value = arg.substr(eq + 1);
      bool known = false;
      for (std::string_view a : allowed) known = known || a == key;
      if (!known) {
        return step_error(
            text, step_text,
            fmt::format("unknown argument '{}' (expected {})", key,
                        allowed.empty() ? std::string("none") : fmt::format("{}", fmt::join(allowed, ", "))));
      }
      for (std::string_view s : seen) {
        if (s == key) return step_error(text, step_text, fmt::format("argument '{}' given twice", key));
      }
      seen.push_back(key);
      if (key == "size") {
        const bool square = step.kind != TransformKind::kResize;
        if (!parse_size(value, square, step.height, step.width) || !valid_side(step.height) ||
            ((step.width != 0 || square) && !valid_side(step.width))) {
          return step_error(text, step_text,
                            fmt::format("bad size '{}' (expected HxW or N with sides in 1..{})", value, kMaxImageSide));
        }
      } else if (key == "pad") {
        if (!parse_int(value, step.pad) || step.pad < 0 || step.pad > kMaxImageSide) {
          return step_error(text, step_text,
                            fmt::format("bad pad '{}' (expected an integer in 0..{})", value, kMaxImageSide));
        }
      } else if (key == "p") {
        if (!parse_float(value, step.p) || step.p < 0.0 || step.p > 1.0) {
          return step_error(text, step_text, fmt::format("bad probability '{}' (expected a number in [0, 1])", value));
        }
      } else {  // mean, std
        std::vector<float>& dst = key == "mean" ? step.mean : step.std;
        for (std::string_view v : split(value, '/')) {
          float f = 0;
          if (!parse_float(v, f) || (key == "std" && f <= 0.0f)) {
            return step_error(text, step_text,
                              fmt::format("bad {} value '{}' (expected finite numbers separated by '/'{})", key, v,
                                          key == "std" ? ", each > 0" : ""));
          }
          dst.push_back(f);
        }
      }
    }
  }
  for (std::string_view required : allowed) {
    const bool optional = required == "pad" || required == "p";
    bool present = false;
    for (std::string_view s : seen) present = present || s == required;
    if (!optional && !present) {
      return step_error(text, step_text, fmt::format("missing argument '{}'", required));
    }
  }
  return step;
}

}  // namespace

Result<Pipeline> Pipeline::parse(std::string_view text) {
  std::string compact;
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') compact += c;
  }
  Pipeline pipeline;
  if (compact.empty()) return pipeline;
  for (std::string_view step_text : split(compact, '|')) {
    if (step_text.empty()) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot parse transform pipeline '{}': empty step (expected "
                        "name or name(key=value,...) between '|')",
                        text);
    }
    HQP_ASSIGN_OR_RETURN(TransformStep step, parse_step(text, step_text));
    pipeline.steps_.push_back(std::move(step));
  }
  return pipeline;
}

std::string Pipeline::to_string() const {
  std::string out;
  for (const TransformStep& s : steps_) {
    if (!out.empty()) out += '|';
    switch (s.kind) {
      case TransformKind::kResize:
        out += s.width == 0 ? fmt::format("resize(size={})", s.height)
                            : fmt::format("resize(size={}x{})", s.height, s.width);
        break;
      case TransformKind::kCenterCrop:
        out += fmt::format("center_crop(size={}x{})", s.height, s.width);
        break;
      case TransformKind::kRandomCrop:
        out += fmt::format("random_crop(size={}x{},pad={})", s.height, s.width, s.pad);
        break;
      case TransformKind::kHFlip:
        out += fmt::format("hflip(p={})", s.p);
        break;
      case TransformKind::kGrayToRgb:
        out += "gray_to_rgb";
        break;
      case TransformKind::kNormalize:
        out += fmt::format("normalize(mean={},std={})", format_floats(s.mean), format_floats(s.std));
        break;
    }
  }
  return out;
}

Pipeline& Pipeline::resize(int64_t height, int64_t width) {
  HQP_CHECK(valid_side(height) && valid_side(width));
  TransformStep step;
  step.kind = TransformKind::kResize;
  step.height = height;
  step.width = width;
  steps_.push_back(std::move(step));
  return *this;
}
Pipeline& Pipeline::resize_shorter(int64_t size) {
  HQP_CHECK(valid_side(size));
  TransformStep step;
  step.kind = TransformKind::kResize;
  step.height = size;
  step.width = 0;
  steps_.push_back(std::move(step));
  return *this;
}
Pipeline& Pipeline::center_crop(int64_t height, int64_t width) {
  HQP_CHECK(valid_side(height) && valid_side(width));
  TransformStep step;
  step.kind = TransformKind::kCenterCrop;
  step.height = height;
  step.width = width;
  steps_.push_back(std::move(step));
  return *this;
}
Pipeline& Pipeline::random_crop(int64_t height, int64_t width, int64_t pad) {
  HQP_CHECK(valid_side(height) && valid_side(width) && pad >= 0 && pad <= kMaxImageSide);
  TransformStep step;
  step.kind = TransformKind::kRandomCrop;
  step.height = height;
  step.width = width;
  step.pad = pad;
  steps_.push_back(std::move(step));
  return *this;
}
Pipeline& Pipeline::hflip(double p) {
  HQP_CHECK(p >= 0.0 && p <= 1.0);
  TransformStep step;
  step.kind = TransformKind::kHFlip;
  step.p = p;
  steps_.push_back(std::move(step));
  return *this;
}
Pipeline& Pipeline::gray_to_rgb() {
  TransformStep step;
  step.kind = TransformKind::kGrayToRgb;
  steps_.push_back(std::move(step));
  return *this;
}
Pipeline& Pipeline::normalize(std::vector<float> mean, std::vector<float> std) {
  HQP_CHECK(!mean.empty() && !std.empty());
  for (float s : std) HQP_CHECK(s > 0.0f && std::isfinite(s));
  TransformStep step;
  step.kind = TransformKind::kNormalize;
  step.mean = std::move(mean);
  step.std = std::move(std);
  steps_.push_back(std::move(step));
  return *this;
}
Pipeline& Pipeline::append(const Pipeline& other) {
  steps_.insert(steps_.end(), other.steps_.begin(), other.steps_.end());
  return *this;
}

// Output extent of resize(size=S) on an (h, w) image: shorter side S, as torchvision.
static void resize_extent(const TransformStep& s, int64_t h, int64_t w, int64_t& oh, int64_t& ow) {
  if (s.width != 0) {
    oh = s.height, ow = s.width;
  } else if (h <= w) {
    oh = s.height, ow = s.height * w / h;
  } else {
    ow = s.height, oh = s.height * h / w;
  }
}

Result<Shape> Pipeline::output_shape(const Shape& input) const {
  if (input.size() != 3 || input[0] <= 0 || input[1] <= 0 || input[2] <= 0) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot apply transform pipeline '{}': input shape {} is not "
                      "[C, H, W] with positive dims",
                      to_string(), shape_to_string(input));
  }
  int64_t c = input[0], h = input[1], w = input[2];
  for (const TransformStep& s : steps_) {
    switch (s.kind) {
      case TransformKind::kResize:
        resize_extent(s, h, w, h, w);
        break;
      case TransformKind::kCenterCrop:
        h = s.height, w = s.width;
        break;
      case TransformKind::kRandomCrop:
        if (h + 2 * s.pad < s.height || w + 2 * s.pad < s.width) {
          return make_error(StatusCode::kInvalidArgument,
                            "cannot apply transform 'random_crop' to shape {}: crop {}x{} is larger than the padded "
                            "image {}x{} (expected size <= image + 2*pad)",
                            shape_to_string(Shape{c, h, w}), s.height, s.width, h + 2 * s.pad, w + 2 * s.pad);
        }
        h = s.height, w = s.width;
        break;
      case TransformKind::kHFlip:
        break;
      case TransformKind::kGrayToRgb:
        if (c != 1 && c != 3) {
          return make_error(StatusCode::kInvalidArgument,
                            "cannot apply transform 'gray_to_rgb' to shape {}: channels={} (expected 1 or 3)",
                            shape_to_string(Shape{c, h, w}), c);
        }
        c = 3;
        break;
      case TransformKind::kNormalize: {
        const auto fits = [c](size_t n) { return n == 1 || static_cast<int64_t>(n) == c; };
        if (!fits(s.mean.size()) || !fits(s.std.size())) {
          return make_error(StatusCode::kInvalidArgument,
                            "cannot apply transform 'normalize' to shape {}: mean has {} and std has {} values "
                            "(expected 1 or channels={} each)",
                            shape_to_string(Shape{c, h, w}), s.mean.size(), s.std.size(), c);
        }
        break;
      }
    }
    if (h > kMaxImageSide || w > kMaxImageSide) {
      return make_error(StatusCode::kOutOfRange,
                        "cannot apply transform pipeline '{}': image grows to {}x{} "
                        "(expected sides <= {})",
                        to_string(), h, w, kMaxImageSide);
    }
  }
  return Shape{c, h, w};
}

void resize_bilinear_f32(const float* src, int64_t channels, int64_t height, int64_t width, float* dst,
                         int64_t out_height, int64_t out_width) {
  const float scale_h = static_cast<float>(height) / static_cast<float>(out_height);
  const float scale_w = static_cast<float>(width) / static_cast<float>(out_width);
  // Source coordinate of output index o: (o + 0.5) * scale - 0.5, clamped at 0 (torch's rule).
  std::vector<int64_t> x0(static_cast<size_t>(out_width)), x1(static_cast<size_t>(out_width));
  std::vector<float> lx(static_cast<size_t>(out_width));
  for (int64_t ox = 0; ox < out_width; ++ox) {
    const float sx = std::max((static_cast<float>(ox) + 0.5f) * scale_w - 0.5f, 0.0f);
    const int64_t i0 = std::min(static_cast<int64_t>(sx), width - 1);
    x0[ox] = i0;
    x1[ox] = i0 < width - 1 ? i0 + 1 : i0;
    lx[ox] = sx - static_cast<float>(i0);
  }
  for (int64_t c = 0; c < channels; ++c) {
    const float* plane = src + c * height * width;
    float* out = dst + c * out_height * out_width;
    for (int64_t oy = 0; oy < out_height; ++oy) {
      const float sy = std::max((static_cast<float>(oy) + 0.5f) * scale_h - 0.5f, 0.0f);
      const int64_t y0 = std::min(static_cast<int64_t>(sy), height - 1);
      const int64_t y1 = y0 < height - 1 ? y0 + 1 : y0;
      const float ly = sy - static_cast<float>(y0);
      const float* r0 = plane + y0 * width;
      const float* r1 = plane + y1 * width;
      for (int64_t ox = 0; ox < out_width; ++ox) {
        const float l = lx[ox];
        const float top = (1.0f - l) * r0[x0[ox]] + l * r0[x1[ox]];
        const float bottom = (1.0f - l) * r1[x0[ox]] + l * r1[x1[ox]];
        out[oy * out_width + ox] = (1.0f - ly) * top + ly * bottom;
      }
    }
  }
}

void crop_f32(const float* src, int64_t channels, int64_t height, int64_t width, float* dst, int64_t out_height,
              int64_t out_width, int64_t top, int64_t left) {
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t y = 0; y < out_height; ++y) {
      const int64_t sy = y + top;
      float* row = dst + (c * out_height + y) * out_width;
      for (int64_t x = 0; x < out_width; ++x) {
        const int64_t sx = x + left;
        row[x] = sy >= 0 && sy < height && sx >= 0 && sx < width ? src[(c * height + sy) * width + sx] : 0.0f;
      }
    }
  }
}

Result<Tensor> Pipeline::apply(const Tensor& image, TransformMode mode, Rng& rng) const {
  if (image.dtype() != DType::kF32) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot apply transform pipeline '{}': image dtype {} (expected f32)", to_string(),
                      dtype_name(image.dtype()));
  }
  HQP_RETURN_IF_ERROR(output_shape(image.shape()).status());
  Tensor cur = image;
  for (const TransformStep& s : steps_) {
    const int64_t c = cur.dim(0), h = cur.dim(1), w = cur.dim(2);
    switch (s.kind) {
      case TransformKind::kResize: {
        int64_t oh = 0, ow = 0;
        resize_extent(s, h, w, oh, ow);
        if (oh == h && ow == w) break;
        HQP_ASSIGN_OR_RETURN(Tensor out, Tensor::zeros(DType::kF32, {c, oh, ow}));
        resize_bilinear_f32(cur.data<float>(), c, h, w, out.data<float>(), oh, ow);
        cur = out;
        break;
      }
      case TransformKind::kCenterCrop:
      case TransformKind::kRandomCrop: {
        const int64_t pad = s.kind == TransformKind::kRandomCrop ? s.pad : 0;
        int64_t top = 0, left = 0;
        if (s.kind == TransformKind::kRandomCrop && mode == TransformMode::kTrain) {
          top = rng.uniform_int(h + 2 * pad - s.height + 1) - pad;
          left = rng.uniform_int(w + 2 * pad - s.width + 1) - pad;
        } else {
          top = center_offset(h + 2 * pad, s.height) - pad;
          left = center_offset(w + 2 * pad, s.width) - pad;
        }
        if (top == 0 && left == 0 && s.height == h && s.width == w) break;
        HQP_ASSIGN_OR_RETURN(Tensor out, Tensor::zeros(DType::kF32, {c, s.height, s.width}));
        crop_f32(cur.data<float>(), c, h, w, out.data<float>(), s.height, s.width, top, left);
        cur = out;
        break;
      }
      case TransformKind::kHFlip: {
        if (mode != TransformMode::kTrain || !(rng.uniform01() < s.p)) break;
        Tensor out = cur.clone();
        const float* src = cur.data<float>();
        float* dst = out.data<float>();
        for (int64_t r = 0; r < c * h; ++r) {
          for (int64_t x = 0; x < w; ++x) dst[r * w + x] = src[r * w + (w - 1 - x)];
        }
        cur = out;
        break;
      }
      case TransformKind::kGrayToRgb: {
        if (c == 3) break;
        HQP_ASSIGN_OR_RETURN(Tensor out, Tensor::zeros(DType::kF32, {3, h, w}));
        for (int64_t k = 0; k < 3; ++k) std::memcpy(out.data<float>() + k * h * w, cur.data<float>(), h * w * 4);
        cur = out;
        break;
      }
      case TransformKind::kNormalize: {
        Tensor out = cur.clone();
        float* dst = out.data<float>();
        for (int64_t ch = 0; ch < c; ++ch) {
          const float m = s.mean.size() == 1 ? s.mean[0] : s.mean[ch];
          const float sd = s.std.size() == 1 ? s.std[0] : s.std[ch];
          for (int64_t k = 0; k < h * w; ++k) dst[ch * h * w + k] = (dst[ch * h * w + k] - m) / sd;
        }
        cur = out;
        break;
      }
    }
  }
  return cur;
}

}  // namespace hqp::data
