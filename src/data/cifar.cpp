// CIFAR binary reader: whole files read into memory, sizes validated before any record is trusted.
#include "data/cifar.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace hqp::data {

namespace {

Result<std::vector<uint8_t>> read_whole_file(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return make_error(StatusCode::kNotFound, "{}: cannot read '{}': {}", what, path, std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(StatusCode::kIoError, "{}: cannot read '{}': not a regular file", what, path);
  }
  if (st.st_size > kMaxTensorBytes) {
    return make_error(StatusCode::kOutOfRange, "{}: file '{}' is too large (bytes={}, expected at most {})", what, path,
                      static_cast<int64_t>(st.st_size), kMaxTensorBytes);
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(StatusCode::kIoError, "{}: cannot open '{}'", what, path);
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (f.gcount() != static_cast<std::streamsize>(bytes.size())) {
    return make_error(StatusCode::kIoError, "{}: short read of '{}' ({} of {} bytes)", what, path, f.gcount(),
                      bytes.size());
  }
  return bytes;
}

}  // namespace

Result<std::shared_ptr<U8Dataset>> load_cifar_dataset(const std::string& name, const std::vector<std::string>& files,
                                                      CifarKind kind, std::vector<std::string> class_names) {
  const std::string what = fmt::format("cannot open dataset '{}'", name);
  const int64_t label_bytes = kind == CifarKind::kCifar10 ? 1 : 2;
  const int64_t record_bytes = label_bytes + kCifarPixelBytes;
  // Which label byte of a record is the label, and how many classes it has.
  const int64_t label_offset = kind == CifarKind::kCifar100Fine ? 1 : 0;
  const int64_t num_classes = kind == CifarKind::kCifar10        ? kCifar10Classes
                              : kind == CifarKind::kCifar100Fine ? kCifar100FineClasses
                                                                 : kCifar100CoarseClasses;
  if (files.empty()) return make_error(StatusCode::kInvalidArgument, "{}: no files given", what);
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  for (const std::string& path : files) {
    HQP_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, read_whole_file(path, what));
    const int64_t size = static_cast<int64_t>(bytes.size());
    if (size == 0 || size % record_bytes != 0) {
      return make_error(StatusCode::kParseError,
                        "{}: '{}' is truncated or not a CIFAR binary file (bytes={}, expected a non-zero multiple of "
                        "the record size {})",
                        what, path, size, record_bytes);
    }
    const int64_t n = size / record_bytes;
    pixels.reserve(pixels.size() + static_cast<size_t>(n * kCifarPixelBytes));
    for (int64_t r = 0; r < n; ++r) {
      const uint8_t* rec = bytes.data() + r * record_bytes;
      const int64_t label = rec[label_offset];
      if (label >= num_classes) {
        return make_error(StatusCode::kParseError,
                          "{}: record {} of '{}' has a label out of range (label={}, expected 0..{})", what, r, path,
                          label, num_classes - 1);
      }
      labels.push_back(label);
      pixels.insert(pixels.end(), rec + label_bytes, rec + record_bytes);
    }
  }
  return U8Dataset::create(name, Shape{3, kCifarSide, kCifarSide}, std::move(pixels), std::move(labels), num_classes,
                           std::move(class_names));
}

std::vector<uint8_t> cifar_record(const std::vector<uint8_t>& labels, const std::vector<uint8_t>& pixels_chw) {
  std::vector<uint8_t> out(labels);
  out.insert(out.end(), pixels_chw.begin(), pixels_chw.end());
  return out;
}

}  // namespace hqp::data
