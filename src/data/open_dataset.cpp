// Dataset resolution: names, format detection from a folder's files, and split selection.
#include "data/open_dataset.h"

#include <filesystem>
#include <fstream>

#include "data/cifar.h"
#include "data/idx.h"
#include "data/image_folder.h"

namespace hqp::data {

namespace fs = std::filesystem;

namespace {

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}
bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// Non-empty lines of a text file; empty when the file is missing.
std::vector<std::string> read_lines(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// class names from `file` when it has exactly n lines, else numbered.
std::vector<std::string> names_from_file(const fs::path& file, int64_t n) {
  std::vector<std::string> names = read_lines(file);
  return static_cast<int64_t>(names.size()) == n ? names : numbered_class_names(n);
}

// First existing IDX file for a split: <prefix>-<kind>-idx<rank>-ubyte[.gz] or <prefix>-<kind>.idx<rank>-ubyte[.gz].
std::optional<fs::path> find_idx_file(const fs::path& dir, bool test, std::string_view kind, int rank) {
  const std::vector<std::string_view> prefixes =
      test ? std::vector<std::string_view>{"t10k", "test"} : std::vector<std::string_view>{"train"};
  for (std::string_view prefix : prefixes) {
    for (const char* sep : {"-", "."}) {
      for (const char* ext : {".gz", ""}) {
        const fs::path p = dir / fmt::format("{}-{}{}idx{}-ubyte{}", prefix, kind, sep, rank, ext);
        if (is_file(p)) return p;
      }
    }
  }
  return std::nullopt;
}

std::string expected_idx_name(bool test, std::string_view kind, int rank) {
  return fmt::format("{}-{}-idx{}-ubyte[.gz]", test ? "t10k" : "train", kind, rank);
}

struct Source {
  fs::path dir;
  DatasetFormat format = DatasetFormat::kAuto;
  const NamedDataset* named = nullptr;
};

Status missing(const Source& src, const std::string& source_name, const std::string& what) {
  if (src.named != nullptr) {
    return make_error(StatusCode::kNotFound,
                      "cannot open dataset '{}': {} not found in '{}' (install the Debian package {}: apt-get install "
                      "{})",
                      source_name, what, src.dir.string(), src.named->package, src.named->package);
  }
  return make_error(StatusCode::kNotFound, "cannot open dataset '{}': {} not found in '{}'", source_name, what,
                    src.dir.string());
}

Result<DatasetPtr> open_idx(const Source& src, const std::string& source_name, bool test, const std::string& name) {
  const auto images = find_idx_file(src.dir, test, "images", 3);
  if (!images) return missing(src, source_name, expected_idx_name(test, "images", 3));
  const auto labels = find_idx_file(src.dir, test, "labels", 1);
  if (!labels) return missing(src, source_name, expected_idx_name(test, "labels", 1));
  int64_t num_classes = 0;
  std::vector<std::string> names;
  if (src.named != nullptr && !src.named->class_names.empty()) {
    names = src.named->class_names;
    num_classes = static_cast<int64_t>(names.size());
  } else {
    // Classes = max label + 1 over both splits' label files, so train and test agree.
    for (bool t : {false, true}) {
      const auto other = find_idx_file(src.dir, t, "labels", 1);
      if (!other) continue;
      auto arr = read_idx_file(other->string(), 1);
      if (!arr.ok()) return arr.status().with_context(fmt::format("cannot open dataset '{}'", source_name));
      for (uint8_t l : arr->data) num_classes = std::max<int64_t>(num_classes, int64_t{l} + 1);
    }
  }
  HQP_ASSIGN_OR_RETURN(auto ds, load_idx_dataset(name, images->string(), labels->string(), num_classes, names));
  return DatasetPtr(std::move(ds));
}

fs::path cifar_dir(const fs::path& dir, std::string_view sub, std::string_view marker1, std::string_view marker2) {
  if (is_file(dir / marker1) || is_file(dir / marker2)) return dir;
  if (is_file(dir / sub / marker1) || is_file(dir / sub / marker2)) return dir / sub;
  return dir;
}

Result<DatasetPtr> open_cifar10(const Source& src, const std::string& source_name, bool test, const std::string& name) {
  const fs::path dir = cifar_dir(src.dir, "cifar-10-batches-bin", "data_batch_1.bin", "test_batch.bin");
  std::vector<std::string> files;
  if (test) {
    if (!is_file(dir / "test_batch.bin")) return missing(src, source_name, "test_batch.bin");
    files.push_back((dir / "test_batch.bin").string());
  } else {
    for (int i = 1; is_file(dir / fmt::format("data_batch_{}.bin", i)); ++i) {
      files.push_back((dir / fmt::format("data_batch_{}.bin", i)).string());
    }
    if (files.empty()) return missing(src, source_name, "data_batch_1.bin");
  }
  HQP_ASSIGN_OR_RETURN(auto ds, load_cifar_dataset(name, files, CifarKind::kCifar10,
                                                   names_from_file(dir / "batches.meta.txt", kCifar10Classes)));
  return DatasetPtr(std::move(ds));
}

Result<DatasetPtr> open_cifar100(const Source& src, const std::string& source_name, bool test, const std::string& name,
                                 bool coarse) {
  const fs::path dir = cifar_dir(src.dir, "cifar-100-binary", "train.bin", "test.bin");
  const char* file = test ? "test.bin" : "train.bin";
  if (!is_file(dir / file)) return missing(src, source_name, file);
  const CifarKind kind = coarse ? CifarKind::kCifar100Coarse : CifarKind::kCifar100Fine;
  std::vector<std::string> names = coarse ? names_from_file(dir / "coarse_label_names.txt", kCifar100CoarseClasses)
                                          : names_from_file(dir / "fine_label_names.txt", kCifar100FineClasses);
  HQP_ASSIGN_OR_RETURN(auto ds, load_cifar_dataset(name, {(dir / file).string()}, kind, std::move(names)));
  return DatasetPtr(std::move(ds));
}

Result<DatasetPtr> open_image_folder(const Source& src, const std::string& source_name, bool test,
                                     const std::string& name, int channels, const std::vector<std::string>& classes,
                                     int64_t max_image_bytes) {
  const bool split_layout = is_dir(src.dir / "train");
  fs::path train_root = split_layout ? src.dir / "train" : src.dir;
  // A flat folder (no train/) is one set of labelled images: it answers every split.
  if (!test || !split_layout) {
    HQP_ASSIGN_OR_RETURN(auto ds,
                         ImageFolderDataset::open(train_root.string(), name, channels, classes, max_image_bytes));
    return DatasetPtr(std::move(ds));
  }
  fs::path test_root;
  if (split_layout && is_dir(src.dir / "test"))
    test_root = src.dir / "test";
  else if (split_layout && is_dir(src.dir / "val"))
    test_root = src.dir / "val";
  else
    return missing(src, source_name, "a test split (test/<class>/<image> or val/<class>/<image> beside train/)");
  std::vector<std::string> names = classes;
  if (names.empty()) {
    HQP_ASSIGN_OR_RETURN(names, ImageFolderDataset::list_classes(train_root.string()));
  }
  HQP_ASSIGN_OR_RETURN(auto ds,
                       ImageFolderDataset::open(test_root.string(), name, channels, std::move(names), max_image_bytes));
  return DatasetPtr(std::move(ds));
}

DatasetFormat detect_format(const fs::path& dir) {
  for (bool t : {false, true}) {
    if (find_idx_file(dir, t, "images", 3)) return DatasetFormat::kIdx;
  }
  for (const fs::path& d : {dir, dir / "cifar-10-batches-bin"}) {
    if (is_file(d / "data_batch_1.bin") || is_file(d / "test_batch.bin")) return DatasetFormat::kCifar10;
  }
  for (const fs::path& d : {dir, dir / "cifar-100-binary"}) {
    if (is_file(d / "train.bin") || is_file(d / "test.bin")) return DatasetFormat::kCifar100;
  }
  return DatasetFormat::kImageFolder;
}

Result<Source> resolve_source(const DatasetSpec& spec) {
  Source src;
  std::string_view s = spec.source;
  const std::pair<std::string_view, DatasetFormat> prefixes[] = {{"idx:", DatasetFormat::kIdx},
                                                                 {"cifar10:", DatasetFormat::kCifar10},
                                                                 {"cifar100:", DatasetFormat::kCifar100},
                                                                 {"folder:", DatasetFormat::kImageFolder}};
  for (const auto& [prefix, format] : prefixes) {
    if (s.starts_with(prefix)) {
      s.remove_prefix(prefix.size());
      src.format = format;
      break;
    }
  }
  if (src.format == DatasetFormat::kAuto) {
    for (const NamedDataset& named : named_datasets()) {
      if (s == named.name) {
        src.named = &named;
        src.dir = fs::path(spec.datasets_root) / named.subdir;
        src.format = named.format;
        if (!is_dir(src.dir)) {
          return make_error(StatusCode::kNotFound,
                            "cannot open dataset '{}': folder '{}' not found (install the Debian package {}: "
                            "apt-get install {})",
                            spec.source, src.dir.string(), named.package, named.package);
        }
        return src;
      }
    }
  }
  if (s.empty()) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot open dataset: empty name (expected a dataset name or a folder)");
  }
  src.dir = fs::path(s);
  if (!is_dir(src.dir)) {
    std::string known;
    for (const NamedDataset& named : named_datasets()) known += (known.empty() ? "" : ", ") + std::string(named.name);
    return make_error(StatusCode::kNotFound,
                      "cannot open dataset '{}': no such folder, and not a known dataset name (known names: {})",
                      spec.source, known);
  }
  if (src.format == DatasetFormat::kAuto) {
    src.format = detect_format(src.dir);
    const fs::path root = is_dir(src.dir / "train") ? src.dir / "train" : src.dir;
    if (src.format == DatasetFormat::kImageFolder && !ImageFolderDataset::list_classes(root.string()).ok()) {
      return make_error(StatusCode::kNotFound,
                        "cannot open dataset '{}': no dataset layout found in the folder (expected IDX files "
                        "train-images-idx3-ubyte[.gz], CIFAR data_batch_1.bin or train.bin, or image folders "
                        "<class>/<image>.png|.jpg)",
                        spec.source);
    }
  }
  return src;
}

}  // namespace

const std::vector<NamedDataset>& named_datasets() {
  static const std::vector<NamedDataset> kNamed = {
      {"fashion-mnist",
       "fashion-mnist",
       "dataset-fashion-mnist",
       DatasetFormat::kIdx,
       {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}},
  };
  return kNamed;
}

// The val split of a folder: the training files of split.folder (or its test files when it has
// none), with the training set's classes.
Result<DatasetPtr> open_folder_val(const DatasetSpec& spec, const Dataset& train) {
  DatasetSpec val_spec = spec;
  val_spec.source = spec.val_split.folder;
  val_spec.split = Split::kTrain;
  val_spec.val_split = ValSplit::random(0);
  val_spec.class_names = train.class_names();
  Result<DatasetPtr> val = open_dataset(val_spec);
  if (!val.ok() && val.status().code() == StatusCode::kNotFound) {
    val_spec.split = Split::kTest;
    if (Result<DatasetPtr> test = open_dataset(val_spec); test.ok()) val = std::move(test);
  }
  if (!val.ok()) {
    return val.status().with_context(fmt::format("cannot open the val split of dataset '{}'", spec.source));
  }
  if ((*val)->num_classes() > train.num_classes()) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot open the val split '{}' of dataset '{}': it has more classes than the training set "
                      "(classes={}, expected <= {})",
                      spec.val_split.folder, spec.source, (*val)->num_classes(), train.num_classes());
  }
  if ((*val)->sample_shape() != train.sample_shape() && train.uniform_shape() && (*val)->uniform_shape()) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot open the val split '{}' of dataset '{}': its samples have another shape (sample_shape={}, "
                      "expected {} like the training set)",
                      spec.val_split.folder, spec.source, shape_to_string((*val)->sample_shape()),
                      shape_to_string(train.sample_shape()));
  }
  return val;
}

Result<DatasetPtr> open_dataset(const DatasetSpec& spec) {
  HQP_ASSIGN_OR_RETURN(Source src, resolve_source(spec));
  const bool test = spec.split == Split::kTest;
  const std::string base_name = fmt::format("{}/{}", spec.source, test ? "test" : "train");
  Result<DatasetPtr> base = Status(StatusCode::kInternal, "unresolved dataset format");
  switch (src.format) {
    case DatasetFormat::kIdx:
      base = open_idx(src, spec.source, test, base_name);
      break;
    case DatasetFormat::kCifar10:
      base = open_cifar10(src, spec.source, test, base_name);
      break;
    case DatasetFormat::kCifar100:
      base = open_cifar100(src, spec.source, test, base_name, spec.cifar100_coarse);
      break;
    case DatasetFormat::kImageFolder:
      base = open_image_folder(src, spec.source, test, base_name, spec.image_channels, spec.class_names,
                               spec.max_image_bytes);
      break;
    case DatasetFormat::kAuto:
      break;
  }
  if (!base.ok() || test) return base;

  const ValSplit& vs = spec.val_split;
  const bool val = spec.split == Split::kVal;
  if (vs.kind == ValSplitKind::kFolder) {
    if (val) return open_folder_val(spec, **base);
    return base;  // all training samples
  }
  const int64_t n = (*base)->size();
  const int64_t val_size = vs.kind == ValSplitKind::kRandom && vs.size == kAutoValSize ? auto_val_size(n) : vs.size;
  TrainValIndices parts;
  if (vs.kind == ValSplitKind::kTail) {
    if (val_size < 0 || val_size >= n) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot open dataset '{}': cannot split a training set of {} samples: val size out of range "
                        "(val_size={}, expected 0..{})",
                        spec.source, n, val_size, n - 1);
    }
    for (int64_t i = 0; i < n; ++i) (i < n - val_size ? parts.train : parts.val).push_back(i);
  } else {
    Result<TrainValIndices> random = split_train_val(n, val_size, vs.seed);
    if (!random.ok()) return random.status().with_context(fmt::format("cannot open dataset '{}'", spec.source));
    parts = std::move(random).value();
  }
  if (val && parts.val.empty()) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot open dataset '{}': the val split is empty (val_size=0, expected 1..{})", spec.source,
                      n - 1);
  }
  HQP_ASSIGN_OR_RETURN(auto subset, SubsetDataset::create(*base, val ? std::move(parts.val) : std::move(parts.train),
                                                          fmt::format("{}/{}", spec.source, val ? "val" : "train")));
  return DatasetPtr(std::move(subset));
}

Result<bool> has_separate_test_split(const DatasetSpec& spec) {
  HQP_ASSIGN_OR_RETURN(Source src, resolve_source(spec));
  return src.format != DatasetFormat::kImageFolder || is_dir(src.dir / "train");
}

Status check_compatible(const Shape& sample_shape, const Shape& model_input_shape, std::string_view dataset_name) {
  if (sample_shape.size() != 3) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot feed dataset '{}' to the model: sample shape {} is not "
                      "[C, H, W]",
                      dataset_name, shape_to_string(sample_shape));
  }
  if (model_input_shape.size() != 4 && model_input_shape.size() != 3) {
    return make_error(
        StatusCode::kInvalidArgument,
        "cannot feed dataset '{}' to the model: model input has rank {} (shape {}, expected [N, C, H, W])",
        dataset_name, model_input_shape.size(), shape_to_string(model_input_shape));
  }
  const size_t off = model_input_shape.size() - 3;
  const int64_t want_c = model_input_shape[off], want_h = model_input_shape[off + 1],
                want_w = model_input_shape[off + 2];
  const auto fits = [](int64_t have, int64_t want) { return want <= 0 || have == want; };
  std::vector<std::string> problems, fixes;
  bool channels_unfixable = false;
  if (!fits(sample_shape[0], want_c)) {
    problems.push_back(fmt::format("channels={}, expected {}", sample_shape[0], want_c));
    if (sample_shape[0] == 1 && want_c == 3)
      fixes.push_back("'gray_to_rgb'");
    else
      channels_unfixable = true;
  }
  if (!fits(sample_shape[1], want_h) || !fits(sample_shape[2], want_w)) {
    const int64_t h = want_h > 0 ? want_h : sample_shape[1], w = want_w > 0 ? want_w : sample_shape[2];
    problems.push_back(fmt::format("height x width={}x{}, expected {}x{}", sample_shape[1], sample_shape[2],
                                   want_h > 0 ? std::to_string(want_h) : "any",
                                   want_w > 0 ? std::to_string(want_w) : "any"));
    fixes.push_back(fmt::format("'resize(size={}x{})' or 'center_crop(size={}x{})'", h, w, h, w));
  }
  if (problems.empty()) return Status::ok_status();
  std::string dims;
  for (const std::string& p : problems) dims += (dims.empty() ? "" : "; ") + p;
  std::string hint;
  if (!fixes.empty()) {
    for (const std::string& f : fixes) hint += (hint.empty() ? "" : " and ") + f;
    hint = "; add " + hint + " to the preprocessing";
  }
  if (channels_unfixable) {
    hint += fmt::format("; no transform converts {} channels to {}", sample_shape[0], want_c);
  }
  return make_error(StatusCode::kInvalidArgument,
                    "cannot feed dataset '{}' to the model: sample shape {} does not fit model input {} ({}){}",
                    dataset_name, shape_to_string(sample_shape), shape_to_string(model_input_shape), dims, hint);
}

}  // namespace hqp::data
