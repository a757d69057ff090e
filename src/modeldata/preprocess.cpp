// Preprocessing resolution: --mean/--std, normalize replacement, default pipelines.
#include "modeldata/preprocess.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "modeldata/metadata.h"

namespace hqp::modeldata {

namespace {

// Fashion-MNIST training-set statistics (torchvision's customary values).
constexpr float kFashionMnistMean = 0.286f;
constexpr float kFashionMnistStd = 0.353f;
constexpr int64_t kFashionMnistSide = 28;
constexpr int64_t kFashionMnistCropPad = 2;
constexpr double kStatsRounding = 1000.0;  // 3 decimals

float round_stat(double v) { return static_cast<float>(std::round(v * kStatsRounding) / kStatsRounding); }

}  // namespace

Result<std::vector<float>> parse_float_list(std::string_view text, std::string_view what) {
  std::vector<float> values;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find_first_of(",/", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    float v = 0.0f;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size() || !std::isfinite(v)) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot parse {} '{}': '{}' is not a number (expected 1 or 3 values like 0.5 or "
                        "0.485,0.456,0.406)",
                        what, text, item);
    }
    values.push_back(v);
    pos = end + 1;
  }
  return values;
}

data::Pipeline with_normalize(const data::Pipeline& pipeline, const std::vector<float>& mean,
                              const std::vector<float>& std) {
  data::Pipeline out;
  bool replaced = false;
  for (const data::TransformStep& s : pipeline.steps()) {
    switch (s.kind) {
      case data::TransformKind::kResize:
        if (s.width == 0) out.resize_shorter(s.height);
        else out.resize(s.height, s.width);
        break;
      case data::TransformKind::kCenterCrop:
        out.center_crop(s.height, s.width);
        break;
      case data::TransformKind::kRandomCrop:
        out.random_crop(s.height, s.width, s.pad);
        break;
      case data::TransformKind::kHFlip:
        out.hflip(s.p);
        break;
      case data::TransformKind::kGrayToRgb:
        out.gray_to_rgb();
        break;
      case data::TransformKind::kNormalize:
        out.normalize(mean.empty() ? s.mean : mean, std.empty() ? s.std : std);
        replaced = true;
        break;
    }
  }
  if (!replaced && (!mean.empty() || !std.empty())) {
    out.normalize(mean.empty() ? std::vector<float>{0.0f} : mean, std.empty() ? std::vector<float>{1.0f} : std);
  }
  return out;
}

Result<data::Pipeline> default_pipeline(const data::Dataset& train, std::string_view source, int64_t want_channels) {
  const Shape shape = train.sample_shape();
  data::Pipeline geometry;
  if (want_channels == 3 && !shape.empty() && shape[0] == 1) geometry.gray_to_rgb();
  if (source == "fashion-mnist") {
    geometry.random_crop(kFashionMnistSide, kFashionMnistSide, kFashionMnistCropPad).hflip(0.5);
    return geometry.normalize({kFashionMnistMean}, {kFashionMnistStd});
  }
  if (!train.uniform_shape() && shape.size() == 3) {
    const int64_t side = std::min({shape[1], shape[2], kDefaultMaxSide});
    geometry.resize_shorter(side).center_crop(side, side);
  }
  HQP_ASSIGN_OR_RETURN(Shape out_shape, geometry.output_shape(shape));
  const int64_t channels = out_shape.at(0);
  std::vector<double> sum(static_cast<size_t>(channels), 0.0), sum_sq(static_cast<size_t>(channels), 0.0);
  const int64_t n = std::min(train.size(), kStatsSamples);
  if (n <= 0) {
    return make_error(StatusCode::kInvalidArgument, "cannot compute preprocessing of dataset '{}': it is empty",
                      train.name());
  }
  int64_t pixels = 0;
  data::Rng unused_rng(0);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = k * train.size() / n;
    HQP_ASSIGN_OR_RETURN(data::Sample sample, train.get(i));
    HQP_ASSIGN_OR_RETURN(Tensor image, geometry.apply(sample.image, data::TransformMode::kEval, unused_rng));
    const int64_t plane = image.numel() / channels;
    const float* p = image.data<float>();
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t j = 0; j < plane; ++j) {
        const double v = p[c * plane + j];
        sum[static_cast<size_t>(c)] += v;
        sum_sq[static_cast<size_t>(c)] += v * v;
      }
    }
    pixels += plane;
  }
  std::vector<float> mean, stdev;
  for (int64_t c = 0; c < channels; ++c) {
    const double m = sum[static_cast<size_t>(c)] / static_cast<double>(pixels);
    const double var = std::max(0.0, sum_sq[static_cast<size_t>(c)] / static_cast<double>(pixels) - m * m);
    mean.push_back(round_stat(m));
    // A constant channel would give std 0; normalize requires std > 0.
    stdev.push_back(std::max(round_stat(std::sqrt(var)), static_cast<float>(1.0 / kStatsRounding)));
  }
  // Identical channels (gray_to_rgb output) collapse to one value.
  if (std::all_of(mean.begin(), mean.end(), [&](float v) { return v == mean[0]; }) &&
      std::all_of(stdev.begin(), stdev.end(), [&](float v) { return v == stdev[0]; })) {
    mean.resize(1);
    stdev.resize(1);
  }
  return geometry.normalize(mean, stdev);
}

namespace {

struct NormalizeFlags {
  std::vector<float> mean;
  std::vector<float> std;
};

Result<NormalizeFlags> parse_normalize_flags(const PreprocessRequest& request) {
  NormalizeFlags out;
  if (!request.mean.empty()) {
    HQP_ASSIGN_OR_RETURN(out.mean, parse_float_list(request.mean, "--mean"));
  }
  if (!request.std.empty()) {
    HQP_ASSIGN_OR_RETURN(out.std, parse_float_list(request.std, "--std"));
  }
  for (float s : out.std) {
    if (!(s > 0.0f)) {
      return make_error(StatusCode::kInvalidArgument, "cannot use --std '{}': std={} (expected > 0)", request.std, s);
    }
  }
  return out;
}

}  // namespace

Status check_preprocess_request(const PreprocessRequest& request) {
  HQP_RETURN_IF_ERROR(parse_normalize_flags(request).status());
  if (request.preprocess) {
    HQP_RETURN_IF_ERROR(
        data::Pipeline::parse(*request.preprocess).status().with_context("cannot use the preprocessing of --preprocess"));
  }
  return Status();
}

Result<data::Pipeline> resolve_preprocessing(const PreprocessRequest& request, const ir::Graph* model,
                                             const data::Dataset& train, std::string_view source) {
  HQP_ASSIGN_OR_RETURN(NormalizeFlags normalize, parse_normalize_flags(request));
  const std::vector<float>& mean = normalize.mean;
  const std::vector<float>& stdev = normalize.std;
  const std::optional<std::string> stored =
      model != nullptr ? find_metadata(*model, kPreprocessMetadataKey) : std::nullopt;
  data::Pipeline pipeline;
  if (request.preprocess || stored) {
    Result<data::Pipeline> parsed = data::Pipeline::parse(request.preprocess ? *request.preprocess : *stored);
    if (!parsed.ok()) {
      return parsed.status().with_context(fmt::format("cannot use the preprocessing {}",
                                                      request.preprocess ? "of --preprocess" : "stored in the model"));
    }
    pipeline = std::move(parsed).value();
  } else if (request.fallback == PreprocessFallback::kDatasetDefault) {
    const int64_t want_channels = model != nullptr ? model_channels(*model) : request.want_channels;
    HQP_ASSIGN_OR_RETURN(pipeline, default_pipeline(train, source, want_channels));
  }
  if (!mean.empty() || !stdev.empty()) pipeline = with_normalize(pipeline, mean, stdev);
  return pipeline;
}

}  // namespace hqp::modeldata
