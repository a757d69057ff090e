// IDX reader on zlib's gz* API, which reads gzip and plain files alike.
#include "data/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hqp::data {

namespace {

constexpr size_t kReadChunk = size_t{1} << 20;
constexpr size_t kFirstReadChunk = size_t{1} << 14;
constexpr int kMaxIdxRank = 4;

// Owns a gzFile.
struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f != nullptr) gzclose(f);
  }
};

// Reads up to `want` bytes into `out` (appending); returns the count read or an error.
Result<size_t> gz_read_into(GzFile& gz, const std::string& path, std::vector<uint8_t>& out, size_t want) {
  size_t got = 0;
  size_t step = kFirstReadChunk;  // doubles up to kReadChunk: a header claiming gigabytes costs nothing
  while (got < want) {
    const size_t chunk = std::min(step, want - got);
    step = std::min(kReadChunk, 2 * step);
    const size_t old = out.size();
    out.resize(old + chunk);
    const int n = gzread(gz.f, out.data() + old, static_cast<unsigned>(chunk));
    if (n < 0) {
      int errnum = 0;
      const char* msg = gzerror(gz.f, &errnum);
      out.resize(old);
      return make_error(StatusCode::kParseError, "cannot read IDX file '{}': corrupt or truncated gzip stream ({})",
                        path, msg != nullptr ? msg : "unknown zlib error");
    }
    out.resize(old + static_cast<size_t>(n));
    got += static_cast<size_t>(n);
    if (n == 0) break;
  }
  return got;
}

}  // namespace

Result<IdxArray> read_idx_file(const std::string& path, int expected_rank) {
  HQP_CHECK(expected_rank >= 1 && expected_rank <= kMaxIdxRank);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return make_error(StatusCode::kNotFound, "cannot read IDX file '{}': {}", path, std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(StatusCode::kIoError, "cannot read IDX file '{}': not a regular file", path);
  }
  GzFile gz;
  gz.f = gzopen(path.c_str(), "rb");
  if (gz.f == nullptr) {
    return make_error(StatusCode::kIoError, "cannot read IDX file '{}': {}", path, std::strerror(errno));
  }
  gzbuffer(gz.f, 1 << 18);

  std::vector<uint8_t> header;
  HQP_ASSIGN_OR_RETURN(size_t got, gz_read_into(gz, path, header, 4));
  if (got < 4) {
    return make_error(StatusCode::kParseError, "cannot read IDX file '{}': truncated header ({} bytes, expected 4)",
                      path, got);
  }
  const uint32_t magic =
      (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) | (uint32_t{header[2]} << 8) | uint32_t{header[3]};
  const uint32_t expected_magic = (uint32_t{kIdxTypeU8} << 8) | static_cast<uint32_t>(expected_rank);
  if (magic != expected_magic) {
    return make_error(StatusCode::kParseError,
                      "cannot read IDX file '{}': wrong magic (magic=0x{:08x}, expected 0x{:08x}: unsigned bytes of "
                      "rank {})",
                      path, magic, expected_magic, expected_rank);
  }
  const size_t dims_bytes = 4 * static_cast<size_t>(expected_rank);
  header.clear();
  HQP_ASSIGN_OR_RETURN(got, gz_read_into(gz, path, header, dims_bytes));
  if (got < dims_bytes) {
    return make_error(StatusCode::kParseError,
                      "cannot read IDX file '{}': truncated header ({} dimension bytes, expected {})", path, got,
                      dims_bytes);
  }
  IdxArray array;
  for (int d = 0; d < expected_rank; ++d) {
    const uint8_t* p = header.data() + 4 * d;
    const uint32_t v = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
    array.dims.push_back(static_cast<int64_t>(v));
  }
  auto nbytes = checked_nbytes(DType::kU8, array.dims);
  if (!nbytes.ok()) return nbytes.status().with_context(fmt::format("cannot read IDX file '{}'", path));
  const size_t want = static_cast<size_t>(*nbytes);
  HQP_ASSIGN_OR_RETURN(got, gz_read_into(gz, path, array.data, want));
  if (got < want) {
    return make_error(StatusCode::kParseError,
                      "cannot read IDX file '{}': truncated data ({} bytes, expected {} for dims {})", path, got, want,
                      shape_to_string(array.dims));
  }
  std::vector<uint8_t> extra;
  HQP_ASSIGN_OR_RETURN(got, gz_read_into(gz, path, extra, 1));
  if (got != 0) {
    return make_error(
        StatusCode::kParseError,
        "cannot read IDX file '{}': trailing bytes after the data (expected exactly {} bytes for dims {})", path, want,
        shape_to_string(array.dims));
  }
  return array;
}

std::vector<uint8_t> idx_bytes(const IdxArray& array) {
  std::vector<uint8_t> out = {0, 0, kIdxTypeU8, static_cast<uint8_t>(array.dims.size())};
  for (int64_t d : array.dims) {
    const uint32_t v = static_cast<uint32_t>(d);
    out.push_back(static_cast<uint8_t>(v >> 24));
    out.push_back(static_cast<uint8_t>(v >> 16));
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
  }
  out.insert(out.end(), array.data.begin(), array.data.end());
  return out;
}

Status write_idx_file(const std::string& path, const IdxArray& array, bool gzip) {
  const std::vector<uint8_t> bytes = idx_bytes(array);
  gzFile f = gzopen(path.c_str(), gzip ? "wb" : "wbT");  // "T": plain, uncompressed output
  if (f == nullptr) {
    return make_error(StatusCode::kIoError, "cannot write IDX file '{}': {}", path, std::strerror(errno));
  }
  const int written = bytes.empty() ? 0 : gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  const int closed = gzclose(f);
  if (written != static_cast<int>(bytes.size()) || closed != Z_OK) {
    return make_error(StatusCode::kIoError, "cannot write IDX file '{}': write failed", path);
  }
  return Status::ok_status();
}

Result<std::shared_ptr<U8Dataset>> load_idx_dataset(const std::string& name, const std::string& images_path,
                                                    const std::string& labels_path, int64_t num_classes,
                                                    std::vector<std::string> class_names) {
  const std::string what = fmt::format("cannot open dataset '{}'", name);
  auto labels = read_idx_file(labels_path, 1);
  if (!labels.ok()) return labels.status().with_context(what);
  auto images = read_idx_file(images_path, 3);
  if (!images.ok()) return images.status().with_context(what);
  const int64_t n_images = images->dims[0];
  const int64_t n_labels = labels->dims[0];
  if (n_images != n_labels) {
    return make_error(StatusCode::kInvalidArgument,
                      "{}: image and label counts differ (images={} in '{}', labels={} in '{}')", what, n_images,
                      images_path, n_labels, labels_path);
  }
  if (n_images == 0) {
    return make_error(StatusCode::kInvalidArgument, "{}: no samples in '{}' (images=0, expected at least 1)", what,
                      images_path);
  }
  if (images->dims[1] == 0 || images->dims[2] == 0) {
    return make_error(StatusCode::kInvalidArgument,
                      "{}: images in '{}' are empty (dims={}, expected height and width >= 1)", what, images_path,
                      shape_to_string(images->dims));
  }
  std::vector<int64_t> label_values(labels->data.begin(), labels->data.end());
  if (num_classes <= 0) num_classes = *std::max_element(label_values.begin(), label_values.end()) + 1;
  Shape sample_shape = {1, images->dims[1], images->dims[2]};
  return U8Dataset::create(name, std::move(sample_shape), std::move(images->data), std::move(label_values), num_classes,
                           std::move(class_names));
}

}  // namespace hqp::data
