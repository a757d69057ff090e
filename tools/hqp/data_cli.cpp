// Implementation of the train/eval CLI helpers (metadata, --mean/--std, default preprocessing).
#include "data_cli.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace hqp::cli {

namespace {

// Fashion-MNIST training-set statistics (torchvision's customary values).
constexpr float kFashionMnistMean = 0.286f;
constexpr float kFashionMnistStd = 0.353f;
constexpr int64_t kFashionMnistSide = 28;
constexpr int64_t kFashionMnistCropPad = 2;
constexpr double kStatsRounding = 1000.0;  // 3 decimals

float round_stat(double v) { return static_cast<float>(std::round(v * kStatsRounding) / kStatsRounding); }

}  // namespace

Shape value_shape(const ir::Value& value) {
  Shape shape;
  if (!value.shape) return shape;
  for (const ir::Dim& d : *value.shape) shape.push_back(d.is_static() ? d.value : -1);
  return shape;
}

std::optional<std::string> find_metadata(const ir::Graph& graph, std::string_view key) {
  for (const auto& [k, v] : graph.info.metadata_props) {
    if (k == key) return v;
  }
  return std::nullopt;
}

void set_metadata(ir::Graph& graph, std::string_view key, std::string value) {
  for (auto& [k, v] : graph.info.metadata_props) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  graph.info.metadata_props.emplace_back(std::string(key), std::move(value));
}

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

}  // namespace hqp::cli
