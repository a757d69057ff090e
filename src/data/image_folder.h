// Image-folder dataset: root/<class>/<image> with PNG or JPEG files, decoded on get() (so on the
// loader's worker threads). Classes are the subfolders sorted by name (byte order); files within
// a class are sorted by name too. Not recursive below the class folders; hidden entries skipped.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"
#include "data/image_codec.h"

namespace hqp::data {

class ImageFolderDataset final : public Dataset {
 public:
  // channels: 3 (RGB, as torchvision's ImageFolder) or 1 (luma). `classes`, when not empty, fixes
  // the class list (a test folder takes its train folder's classes so labels agree); every
  // subfolder of root must then be one of them. Fails on a missing root, no class folders, a class
  // folder without .png/.jpg/.jpeg files, or a first image that does not decode. Every image is
  // decoded under `max_image_bytes` (decode_image's memory budget).
  static Result<std::shared_ptr<ImageFolderDataset>> open(const std::string& root, std::string name, int channels,
                                                          std::vector<std::string> classes = {},
                                                          int64_t max_image_bytes = kDefaultMaxDecodedImageBytes);
  // Class folder names of root, sorted (for passing a train folder's classes to its test folder).
  static Result<std::vector<std::string>> list_classes(const std::string& root);

  const std::string& name() const override { return name_; }
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }
  Shape sample_shape() const override { return first_shape_; }
  bool uniform_shape() const override { return false; }
  const std::vector<std::string>& class_names() const override { return classes_; }
  int64_t label(int64_t i) const override;
  Result<Sample> get(int64_t i) const override;
  // Path of sample i.
  const std::string& path(int64_t i) const;

 private:
  struct File {
    std::string path;
    int64_t label;
  };
  ImageFolderDataset() = default;
  std::string name_;
  int channels_ = 3;
  int64_t max_image_bytes_ = kDefaultMaxDecodedImageBytes;
  std::vector<std::string> classes_;
  std::vector<File> files_;
  Shape first_shape_;
};

}  // namespace hqp::data
