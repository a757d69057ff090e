// The one dataset interface shared by evaluation, training, calibration and Fisher estimation,
// plus the in-memory u8 dataset (IDX, CIFAR) and the index-subset view (train/val splits).
// Readers live in idx.h, cifar.h, image_folder.h; opening by name or folder in open_dataset.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace hqp::data {

// One decoded sample. image: f32 [C, H, W], values in [0, 1] (u8 / 255) before any transform.
struct Sample {
  Tensor image;
  int64_t label = 0;  // in [0, num_classes)
};

// A finite, indexable set of labelled images. Implementations are immutable after opening, so
// get() and label() may be called concurrently from loader worker threads.
class Dataset {
 public:
  virtual ~Dataset() = default;

  // "fashion-mnist/train", "/data/pets/test", ... (used in messages and reports).
  virtual const std::string& name() const = 0;
  virtual int64_t size() const = 0;
  virtual int64_t num_classes() const = 0;
  // [C, H, W] of a decoded sample. For image folders, whose files may differ in size, this is the
  // shape of the first sample and uniform_shape() is false.
  virtual Shape sample_shape() const = 0;
  virtual bool uniform_shape() const { return true; }
  // Human-readable class names, num_classes() of them ("0", "1", ... when the format has none).
  virtual const std::vector<std::string>& class_names() const = 0;
  // Label of sample i without decoding it. i in [0, size()) (checked: a bad index is a bug).
  virtual int64_t label(int64_t i) const = 0;
  // Decodes sample i. Fails (never aborts) on undecodable data, e.g. a corrupt image file.
  virtual Result<Sample> get(int64_t i) const = 0;
};

using DatasetPtr = std::shared_ptr<const Dataset>;

// "0", "1", ..., "<n-1>".
std::vector<std::string> numbered_class_names(int64_t n);

// Samples held in memory as u8, CHW per sample (IDX and CIFAR readers produce these).
class U8Dataset final : public Dataset {
 public:
  // pixels: u8 [N, C, H, W] flattened, N = labels.size(); labels in [0, num_classes);
  // class_names: empty (numbered) or num_classes names. Validates every count and label.
  static Result<std::shared_ptr<U8Dataset>> create(std::string name, Shape sample_shape, std::vector<uint8_t> pixels,
                                                   std::vector<int64_t> labels, int64_t num_classes,
                                                   std::vector<std::string> class_names = {});

  const std::string& name() const override { return name_; }
  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  int64_t num_classes() const override { return num_classes_; }
  Shape sample_shape() const override { return sample_shape_; }
  const std::vector<std::string>& class_names() const override { return class_names_; }
  int64_t label(int64_t i) const override;
  Result<Sample> get(int64_t i) const override;

 private:
  U8Dataset() = default;
  std::string name_;
  Shape sample_shape_;
  int64_t sample_numel_ = 0;
  std::vector<uint8_t> pixels_;
  std::vector<int64_t> labels_;
  int64_t num_classes_ = 0;
  std::vector<std::string> class_names_;
};

// The samples of `base` at `indices` (in that order); shares `base`.
class SubsetDataset final : public Dataset {
 public:
  // Every index must lie in [0, base->size()) (checked, returns kOutOfRange).
  static Result<std::shared_ptr<SubsetDataset>> create(DatasetPtr base, std::vector<int64_t> indices, std::string name);

  const std::string& name() const override { return name_; }
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  int64_t num_classes() const override { return base_->num_classes(); }
  Shape sample_shape() const override { return base_->sample_shape(); }
  bool uniform_shape() const override { return base_->uniform_shape(); }
  const std::vector<std::string>& class_names() const override { return base_->class_names(); }
  int64_t label(int64_t i) const override;
  Result<Sample> get(int64_t i) const override;
  // Index into the base dataset of sample i.
  int64_t base_index(int64_t i) const;
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  SubsetDataset() = default;
  DatasetPtr base_;
  std::vector<int64_t> indices_;
  std::string name_;
};

enum class Split { kTrain, kVal, kTest };

std::string_view split_name(Split split);
// "train", "val" (also "validation"), "test".
Result<Split> parse_split(std::string_view text);

// Indices of a training set of n samples divided into train and val: a seeded permutation of
// [0, n); val = its first val_size entries, train = the rest; both sorted ascending. The same seed
// gives nested val sets as val_size grows. Fails unless 0 <= val_size < n.
struct TrainValIndices {
  std::vector<int64_t> train;
  std::vector<int64_t> val;
};
Result<TrainValIndices> split_train_val(int64_t n, int64_t val_size, uint64_t seed);

}  // namespace hqp::data
