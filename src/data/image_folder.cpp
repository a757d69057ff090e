// Image-folder listing and lazy per-sample decoding.
#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "data/image_codec.h"

namespace hqp::data {

namespace fs = std::filesystem;

namespace {

bool is_image_name(const std::string& filename) {
  const std::string ext = fs::path(filename).extension().string();
  std::string lower;
  for (char c : ext) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == ".png" || lower == ".jpg" || lower == ".jpeg";
}

bool is_hidden(const fs::path& p) { return !p.filename().empty() && p.filename().string()[0] == '.'; }

Result<std::vector<uint8_t>> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(StatusCode::kIoError, "cannot read image '{}': cannot open the file", path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) return make_error(StatusCode::kIoError, "cannot read image '{}': read error", path);
  return bytes;
}

}  // namespace

Result<std::vector<std::string>> ImageFolderDataset::list_classes(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return make_error(StatusCode::kNotFound, "cannot open image folder '{}': no such directory", root);
  }
  std::vector<std::string> classes;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (is_hidden(it->path())) continue;
    std::error_code ec2;
    if (it->is_directory(ec2)) classes.push_back(it->path().filename().string());
  }
  if (ec) return make_error(StatusCode::kIoError, "cannot list image folder '{}': {}", root, ec.message());
  std::sort(classes.begin(), classes.end());
  if (classes.empty()) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot open image folder '{}': no class folders (expected {}/<class>/<image>.png|.jpg)", root,
                      root);
  }
  return classes;
}

Result<std::shared_ptr<ImageFolderDataset>> ImageFolderDataset::open(const std::string& root, std::string name,
                                                                     int channels, std::vector<std::string> classes,
                                                                     int64_t max_image_bytes) {
  if (channels != 1 && channels != 3) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot open image folder '{}': bad channel count (channels={}, "
                      "expected 1 or 3)",
                      root, channels);
  }
  HQP_ASSIGN_OR_RETURN(std::vector<std::string> found, list_classes(root));
  if (classes.empty()) {
    classes = found;
  } else {
    for (const std::string& c : found) {
      if (std::find(classes.begin(), classes.end(), c) == classes.end()) {
        return make_error(StatusCode::kInvalidArgument,
                          "cannot open image folder '{}': class folder '{}' is not a class of the training set "
                          "(classes={}, expected one of them)",
                          root, c, classes.size());
      }
    }
  }
  std::shared_ptr<ImageFolderDataset> ds(new ImageFolderDataset());
  ds->name_ = std::move(name);
  ds->channels_ = channels;
  ds->max_image_bytes_ = max_image_bytes;
  for (const std::string& c : found) {
    const int64_t label = std::find(classes.begin(), classes.end(), c) - classes.begin();
    const fs::path dir = fs::path(root) / c;
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::error_code ec2;
      if (is_hidden(it->path()) || !it->is_regular_file(ec2)) continue;
      const std::string filename = it->path().filename().string();
      if (is_image_name(filename)) names.push_back(filename);
    }
    if (ec) return make_error(StatusCode::kIoError, "cannot list class folder '{}': {}", dir.string(), ec.message());
    if (names.empty()) {
      return make_error(
          StatusCode::kInvalidArgument,
          "cannot open image folder '{}': class folder '{}' is empty (expected .png, .jpg or .jpeg files)", root,
          dir.string());
    }
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) ds->files_.push_back(File{(dir / n).string(), label});
  }
  ds->classes_ = std::move(classes);
  HQP_ASSIGN_OR_RETURN(Sample first, ds->get(0));
  ds->first_shape_ = first.image.shape();
  return ds;
}

int64_t ImageFolderDataset::label(int64_t i) const {
  HQP_CHECK_MSG(i >= 0 && i < size(), fmt::format("sample index {} outside [0, {})", i, size()));
  return files_[static_cast<size_t>(i)].label;
}

const std::string& ImageFolderDataset::path(int64_t i) const {
  HQP_CHECK_MSG(i >= 0 && i < size(), fmt::format("sample index {} outside [0, {})", i, size()));
  return files_[static_cast<size_t>(i)].path;
}

Result<Sample> ImageFolderDataset::get(int64_t i) const {
  if (i < 0 || i >= size()) {
    return make_error(StatusCode::kOutOfRange, "cannot read sample {} of dataset '{}': index out of range (size={})", i,
                      name_, size());
  }
  const File& file = files_[static_cast<size_t>(i)];
  HQP_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_bytes(file.path));
  HQP_ASSIGN_OR_RETURN(Image8 image, decode_image(bytes, channels_, file.path, max_image_bytes_));
  HQP_ASSIGN_OR_RETURN(Tensor chw, image_to_chw_f32(image));
  return Sample{std::move(chw), file.label};
}

}  // namespace hqp::data
