// Opening a dataset split from a name ("fashion-mnist") or a folder (IDX, CIFAR binary or image
// folder, detected from its files), and the train/val/test split rules (data/val_split.h). This is
// what the CLI's --data, --split and --val-split resolve through.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "data/dataset.h"
#include "data/image_codec.h"
#include "data/val_split.h"

namespace hqp::data {

// Where Debian's dataset-* packages install their files.
inline constexpr const char* kDebianDatasetsRoot = "/usr/share/datasets";

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
  //             split when there is no test/), or DIR/<class>/<img>: one flat set of labelled
  //             images that serves whichever split is asked for (evaluate a folder with --split
  //             test; train on it with a val split carved out) -- see has_separate_test_split.
  std::string source;
  Split split = Split::kTrain;
  // Which training samples form the val split (train = the rest, or all of them for a folder
  // split; test is separate files, never part of either). Default: random:auto with seed 0.
  ValSplit val_split;
  // Image folders: map these class names to labels 0..K-1 (empty: the folder's own sorted class
  // folders). A folder val split is opened with the training set's classes this way.
  std::vector<std::string> class_names;
  int image_channels = 3;                           // image folders: 3 (RGB) or 1 (luma)
  int64_t max_image_bytes = kDefaultMaxDecodedImageBytes;  // image folders: decode_image's memory budget
  bool cifar100_coarse = false;                     // CIFAR-100: the 20 coarse labels instead of the 100 fine ones
  std::string datasets_root = kDebianDatasetsRoot;  // where named datasets live
};

// Opens one split. Fails with kNotFound naming the missing path (and the Debian package for a
// named dataset), or with the reader's error for malformed files. A folder val split opens the
// training files of val_split.folder (its test files when it has no training files); its classes
// must fit the training set's (kInvalidArgument otherwise).
Result<DatasetPtr> open_dataset(const DatasetSpec& spec);

// False when the source's test split is not files of its own: a flat image folder (DIR/<class>/<img>)
// answers Split::kTest with the same images as its training split, so training commands must not
// report it as held-out test data. Errors as open_dataset's for a source that does not resolve.
Result<bool> has_separate_test_split(const DatasetSpec& spec);

// Checks that samples of shape `sample_shape` [C, H, W] (after the preprocessing pipeline) can feed
// a model whose input has shape `model_input_shape` [N, C, H, W] (or [C, H, W]); a dim <= 0 in the
// model shape is symbolic/unknown and matches anything. The message names the mismatching dims and
// the transform that would fix each (gray_to_rgb, resize, center_crop).
Status check_compatible(const Shape& sample_shape, const Shape& model_input_shape, std::string_view dataset_name);

}  // namespace hqp::data
