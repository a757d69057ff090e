// Opening a dataset split from a name ("fashion-mnist") or a folder (IDX, CIFAR binary or image
// folder, detected from its files), and the train/val/test split rules. This is what the CLI's
// --data and --split resolve through.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"

namespace hqp::data {

// Where Debian's dataset-* packages install their files.
inline constexpr const char* kDebianDatasetsRoot = "/usr/share/datasets";
// DatasetSpec::val_size meaning "min(kMaxAutoValSize, training set size / 10)".
inline constexpr int64_t kAutoValSize = -1;
inline constexpr int64_t kMaxAutoValSize = 5000;

enum class DatasetFormat { kAuto, kIdx, kCifar10, kCifar100, kImageFolder };

// A dataset known by name: its folder under the datasets root and the Debian package that
// installs it. The one list to edit is in open_dataset.cpp.
struct NamedDataset {
  std::string_view name;     // "fashion-mnist"
  std::string_view subdir;   // under DatasetSpec::datasets_root
  std::string_view package;  // Debian package, named in the message when the files are missing
  DatasetFormat format;
  std::vector<std::string> class_names;
};
const std::vector<NamedDataset>& named_datasets();

struct DatasetSpec {
  // A dataset name (see named_datasets()), a folder, or a folder with an explicit format prefix:
  // "idx:DIR", "cifar10:DIR", "cifar100:DIR", "folder:DIR". Folder layouts:
  //   IDX:      {train,t10k,test}-{images-idx3,labels-idx1}-ubyte[.gz] (also "images.idx3-ubyte")
  //   CIFAR-10: data_batch_1.bin..data_batch_5.bin, test_batch.bin [, batches.meta.txt]
  //             (in DIR or DIR/cifar-10-batches-bin)
  //   CIFAR-100: train.bin, test.bin [, fine_label_names.txt, coarse_label_names.txt]
  //             (in DIR or DIR/cifar-100-binary)
  //   images:   DIR/train/<class>/<img> with DIR/test/<class>/<img> (or DIR/val/... as the test
  //             split when there is no test/), or DIR/<class>/<img> (train only, no test split).
  std::string source;
  Split split = Split::kTrain;
  // Samples held out of the training set as the val split (train = the rest; test is separate
  // files, never part of either). kAutoValSize or 0 <= val_size < training set size.
  int64_t val_size = kAutoValSize;
  uint64_t val_seed = 0;
  int image_channels = 3;                           // image folders: 3 (RGB) or 1 (luma)
  bool cifar100_coarse = false;                     // CIFAR-100: the 20 coarse labels instead of the 100 fine ones
  std::string datasets_root = kDebianDatasetsRoot;  // where named datasets live
};

// Opens one split. Fails with kNotFound naming the missing path (and the Debian package for a
// named dataset), or with the reader's error for malformed files.
Result<DatasetPtr> open_dataset(const DatasetSpec& spec);

// The val size that kAutoValSize resolves to for a training set of n samples.
int64_t auto_val_size(int64_t n);

// Checks that samples of shape `sample_shape` [C, H, W] (after the preprocessing pipeline) can feed
// a model whose input has shape `model_input_shape` [N, C, H, W] (or [C, H, W]); a dim <= 0 in the
// model shape is symbolic/unknown and matches anything. The message names the mismatching dims and
// the transform that would fix each (gray_to_rgb, resize, center_crop).
Status check_compatible(const Shape& sample_shape, const Shape& model_input_shape, std::string_view dataset_name);

}  // namespace hqp::data
