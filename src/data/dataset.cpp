// In-memory u8 dataset, subset view and the deterministic train/val split.
#include "data/dataset.h"

#include <algorithm>

#include "data/rng.h"

namespace hqp::data {

std::vector<std::string> numbered_class_names(int64_t n) {
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) names.push_back(std::to_string(i));
  return names;
}

Result<std::shared_ptr<U8Dataset>> U8Dataset::create(std::string name, Shape sample_shape, std::vector<uint8_t> pixels,
                                                     std::vector<int64_t> labels, int64_t num_classes,
                                                     std::vector<std::string> class_names) {
  if (sample_shape.size() != 3) {
    return make_error(StatusCode::kInvalidArgument, "cannot create dataset '{}': sample shape {} is not [C, H, W]",
                      name, shape_to_string(sample_shape));
  }
  HQP_ASSIGN_OR_RETURN(int64_t sample_numel, checked_numel(sample_shape));
  const int64_t n = static_cast<int64_t>(labels.size());
  if (sample_numel == 0 || static_cast<int64_t>(pixels.size()) / sample_numel != n ||
      static_cast<int64_t>(pixels.size()) % sample_numel != 0) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot create dataset '{}': image and label counts differ (pixel bytes={}, sample shape={}, "
                      "labels={})",
                      name, pixels.size(), shape_to_string(sample_shape), n);
  }
  if (num_classes <= 0) {
    return make_error(StatusCode::kInvalidArgument, "cannot create dataset '{}': no classes (num_classes={})", name,
                      num_classes);
  }
  for (int64_t i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= num_classes) {
      return make_error(StatusCode::kParseError,
                        "cannot create dataset '{}': label of sample {} is out of range (label={}, expected 0..{})",
                        name, i, labels[i], num_classes - 1);
    }
  }
  if (class_names.empty()) class_names = numbered_class_names(num_classes);
  if (static_cast<int64_t>(class_names.size()) != num_classes) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot create dataset '{}': class name count differs from the class count (names={}, "
                      "expected {})",
                      name, class_names.size(), num_classes);
  }
  std::shared_ptr<U8Dataset> ds(new U8Dataset());
  ds->name_ = std::move(name);
  ds->sample_shape_ = std::move(sample_shape);
  ds->sample_numel_ = sample_numel;
  ds->pixels_ = std::move(pixels);
  ds->labels_ = std::move(labels);
  ds->num_classes_ = num_classes;
  ds->class_names_ = std::move(class_names);
  return ds;
}

int64_t U8Dataset::label(int64_t i) const {
  HQP_CHECK_MSG(i >= 0 && i < size(), fmt::format("sample index {} outside [0, {})", i, size()));
  return labels_[static_cast<size_t>(i)];
}

Result<Sample> U8Dataset::get(int64_t i) const {
  if (i < 0 || i >= size()) {
    return make_error(StatusCode::kOutOfRange, "cannot read sample {} of dataset '{}': index out of range (size={})", i,
                      name_, size());
  }
  HQP_ASSIGN_OR_RETURN(Tensor image, Tensor::zeros(DType::kF32, sample_shape_));
  constexpr float kScale = 1.0f / 255.0f;
  const uint8_t* src = pixels_.data() + i * sample_numel_;
  float* dst = image.data<float>();
  for (int64_t k = 0; k < sample_numel_; ++k) dst[k] = static_cast<float>(src[k]) * kScale;
  return Sample{std::move(image), labels_[static_cast<size_t>(i)]};
}

Result<std::shared_ptr<SubsetDataset>> SubsetDataset::create(DatasetPtr base, std::vector<int64_t> indices,
                                                             std::string name) {
  HQP_CHECK(base != nullptr);
  for (int64_t idx : indices) {
    if (idx < 0 || idx >= base->size()) {
      return make_error(StatusCode::kOutOfRange,
                        "cannot create subset '{}' of dataset '{}': index out of range (index={}, expected 0..{})",
                        name, base->name(), idx, base->size() - 1);
    }
  }
  std::shared_ptr<SubsetDataset> ds(new SubsetDataset());
  ds->base_ = std::move(base);
  ds->indices_ = std::move(indices);
  ds->name_ = std::move(name);
  return ds;
}

int64_t SubsetDataset::base_index(int64_t i) const {
  HQP_CHECK_MSG(i >= 0 && i < size(), fmt::format("sample index {} outside [0, {})", i, size()));
  return indices_[static_cast<size_t>(i)];
}

int64_t SubsetDataset::label(int64_t i) const { return base_->label(base_index(i)); }

Result<Sample> SubsetDataset::get(int64_t i) const {
  if (i < 0 || i >= size()) {
    return make_error(StatusCode::kOutOfRange, "cannot read sample {} of dataset '{}': index out of range (size={})", i,
                      name_, size());
  }
  return base_->get(indices_[static_cast<size_t>(i)]);
}

std::string_view split_name(Split split) {
  switch (split) {
    case Split::kTrain:
      return "train";
    case Split::kVal:
      return "val";
    case Split::kTest:
      return "test";
  }
  return "?";
}

Result<Split> parse_split(std::string_view text) {
  if (text == "train") return Split::kTrain;
  if (text == "val" || text == "validation") return Split::kVal;
  if (text == "test") return Split::kTest;
  return make_error(StatusCode::kInvalidArgument, "cannot parse split '{}': unknown name (expected train, val or test)",
                    text);
}

Result<TrainValIndices> split_train_val(int64_t n, int64_t val_size, uint64_t seed) {
  if (val_size < 0 || val_size >= n) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot split a training set of {} samples: val size out of range (val_size={}, expected 0..{})",
                      n, val_size, n - 1);
  }
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  // Partial Fisher-Yates: only the first val_size positions need to be drawn.
  Rng rng = Rng::for_stream(seed, RngStream::kSplit, n);
  for (int64_t i = 0; i < val_size; ++i) {
    const int64_t j = i + rng.uniform_int(n - i);
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
  }
  TrainValIndices out;
  out.val.assign(perm.begin(), perm.begin() + val_size);
  out.train.assign(perm.begin() + val_size, perm.end());
  std::sort(out.val.begin(), out.val.end());
  std::sort(out.train.begin(), out.train.end());
  return out;
}

}  // namespace hqp::data
