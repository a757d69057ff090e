// Splits and dataset resolution: train/val disjointness (training never sees val or test),
// determinism, named datasets and their missing-package message, format detection, and the
// model-input compatibility check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "data/loader.h"
#include "data/open_dataset.h"
#include "data_test_util.h"

namespace hqp::data {
namespace {

using test::error_of;
using test::TempDir;

TEST(SplitTrainVal, DisjointCoveringSortedDeterministicNested) {
  auto a = split_train_val(1000, 100, 7);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->val.size(), 100u);
  EXPECT_EQ(a->train.size(), 900u);
  EXPECT_TRUE(std::is_sorted(a->val.begin(), a->val.end()));
  EXPECT_TRUE(std::is_sorted(a->train.begin(), a->train.end()));
  std::vector<int64_t> all = a->train;
  all.insert(all.end(), a->val.begin(), a->val.end());
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(all[i], i);  // disjoint and covering
  EXPECT_EQ(split_train_val(1000, 100, 7)->val, a->val);
  EXPECT_NE(split_train_val(1000, 100, 8)->val, a->val);
  // A larger val set with the same seed contains the smaller one.
  auto big = split_train_val(1000, 300, 7);
  for (int64_t v : a->val) EXPECT_TRUE(std::binary_search(big->val.begin(), big->val.end(), v));
  // Not just the first or last samples.
  EXPECT_LT(a->val.front(), 100);
  EXPECT_GT(a->val.back(), 900);
  EXPECT_TRUE(split_train_val(10, 0, 0)->val.empty());
  EXPECT_NE(error_of(split_train_val(10, 10, 0)).find("val size out of range (val_size=10, expected 0..9)"),
            std::string::npos);
  EXPECT_FALSE(split_train_val(10, -2, 0).ok());
}

// IDX folder: 60 train samples (pattern 0..59), 20 test samples (pattern 1000..1019).
void write_idx_dataset(const std::filesystem::path& dir) {
  test::write_idx_split(dir, "train", 60, 4, 3, 5, true);
  test::write_idx_split(dir, "t10k", 20, 4, 3, 5, false, 1000);
}

// Pattern sample number of an image [1, 4, 3] (the pattern is unique per n mod 256 via pixel (0,0)).
int64_t pattern_number(const float* image) { return static_cast<int64_t>(std::lround(image[0] * 255.0f)); }

TEST(OpenDataset, TrainNeverSeesValOrTest) {
  TempDir dir;
  write_idx_dataset(dir.path());
  DatasetSpec spec;
  spec.source = dir.path().string();
  spec.val_split = ValSplit::random(12, 3);
  auto train = open_dataset(spec);
  spec.split = Split::kVal;
  auto val = open_dataset(spec);
  spec.split = Split::kTest;
  auto test_ds = open_dataset(spec);
  ASSERT_TRUE(train.ok() && val.ok() && test_ds.ok()) << error_of(train) << error_of(val) << error_of(test_ds);
  EXPECT_EQ((*train)->size(), 48);
  EXPECT_EQ((*val)->size(), 12);
  EXPECT_EQ((*test_ds)->size(), 20);
  EXPECT_EQ((*train)->name(), dir.path().string() + "/train");
  EXPECT_EQ((*val)->name(), dir.path().string() + "/val");
  EXPECT_EQ((*test_ds)->num_classes(), 5);

  // Pattern numbers (pixel (0,0) = 37 n mod 256, unique for n < 256 since gcd(37,256) = 1).
  auto numbers_of = [](const Dataset& ds) {
    std::set<int64_t> out;
    for (int64_t i = 0; i < ds.size(); ++i) out.insert(pattern_number(ds.get(i)->image.data<float>()));
    return out;
  };
  const std::set<int64_t> val_numbers = numbers_of(**val), test_numbers = numbers_of(**test_ds);
  // Everything a shuffled, augmenting training loader serves over 3 epochs is train-only.
  LoaderOptions opts;
  opts.batch_size = 7;
  opts.shuffle = true;
  opts.num_threads = 2;
  auto loader = Loader::create(*train, Pipeline(), opts);
  ASSERT_TRUE(loader.ok());
  std::set<int64_t> served;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    (*loader)->start_epoch(epoch);
    while (true) {
      auto b = (*loader)->next();
      ASSERT_TRUE(b.ok());
      if (!b->has_value()) break;
      for (int64_t r = 0; r < (*b)->images.dim(0); ++r)
        served.insert(pattern_number((*b)->images.data<float>() + r * 12));
    }
  }
  EXPECT_EQ(served.size(), 48u);
  for (int64_t n : served) {
    EXPECT_EQ(val_numbers.count(n), 0u) << n;
    EXPECT_EQ(test_numbers.count(n), 0u) << n;
  }
  std::set<int64_t> all = served;
  all.insert(val_numbers.begin(), val_numbers.end());
  EXPECT_EQ(all.size(), 60u);  // train + val = the training file
}

TEST(OpenDataset, AutoValSizeAndErrors) {
  TempDir dir;
  write_idx_dataset(dir.path());
  DatasetSpec spec;
  spec.source = "idx:" + dir.path().string();
  auto train = open_dataset(spec);
  ASSERT_TRUE(train.ok()) << error_of(train);
  EXPECT_EQ((*train)->size(), 60 - 6);  // auto: n / 10
  EXPECT_EQ(auto_val_size(60000), 5000);
  spec.val_split = ValSplit::random(60);
  EXPECT_NE(error_of(open_dataset(spec)).find("val size out of range (val_size=60, expected 0..59)"),
            std::string::npos);
  spec.val_split = ValSplit::random(0);
  spec.split = Split::kVal;
  EXPECT_NE(error_of(open_dataset(spec)).find("the val split is empty"), std::string::npos);
}

TEST(OpenDataset, MissingNamedDatasetNamesThePackage) {
  TempDir dir;
  DatasetSpec spec;
  spec.source = "fashion-mnist";
  spec.datasets_root = dir.path().string();
  auto r = open_dataset(spec);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(error_of(r).find("install the Debian package dataset-fashion-mnist"), std::string::npos) << error_of(r);
  // The folder exists but a file is missing: the message names the file and the package.
  std::filesystem::create_directories(dir.path() / "fashion-mnist");
  test::write_idx_split(dir.path() / "fashion-mnist", "train", 10, 28, 28, 10, true);
  spec.split = Split::kTest;
  r = open_dataset(spec);
  EXPECT_NE(error_of(r).find("t10k-images-idx3-ubyte[.gz] not found"), std::string::npos) << error_of(r);
  EXPECT_NE(error_of(r).find("dataset-fashion-mnist"), std::string::npos) << error_of(r);
}

TEST(OpenDataset, UnknownNameOrFolder) {
  DatasetSpec spec;
  spec.source = "no-such-dataset";
  auto r = open_dataset(spec);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(error_of(r).find("no such folder, and not a known dataset name (known names: fashion-mnist)"),
            std::string::npos)
      << error_of(r);
  TempDir dir;
  spec.source = dir.path().string();  // an empty folder has no known layout
  EXPECT_NE(error_of(open_dataset(spec)).find("no dataset layout found in the folder"), std::string::npos);
  spec.source = "folder:" + dir.path().string();  // forced image-folder format: the reader's own message
  EXPECT_NE(error_of(open_dataset(spec)).find("no class folders"), std::string::npos);
  EXPECT_EQ(parse_split("validation").value(), Split::kVal);
  EXPECT_NE(error_of(parse_split("dev")).find("unknown name (expected train, val or test)"), std::string::npos);
}

TEST(OpenDataset, RealFashionMnistValIsHeldOut) {
  if (!std::filesystem::exists(test::kFashionMnistDir)) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  DatasetSpec spec;
  spec.source = "fashion-mnist";
  auto train = open_dataset(spec);
  spec.split = Split::kVal;
  auto val = open_dataset(spec);
  ASSERT_TRUE(train.ok() && val.ok()) << error_of(train) << error_of(val);
  EXPECT_EQ((*train)->size(), 55000);
  EXPECT_EQ((*val)->size(), 5000);
  const auto& t = dynamic_cast<const SubsetDataset&>(**train).indices();
  const auto& v = dynamic_cast<const SubsetDataset&>(**val).indices();
  std::vector<int64_t> common;
  std::set_intersection(t.begin(), t.end(), v.begin(), v.end(), std::back_inserter(common));
  EXPECT_TRUE(common.empty());
}

TEST(CheckCompatible, Messages) {
  EXPECT_TRUE(check_compatible({1, 28, 28}, {1, 1, 28, 28}, "fm").ok());
  EXPECT_TRUE(check_compatible({3, 32, 32}, {-1, 3, 32, 32}, "fm").ok());  // symbolic batch
  EXPECT_TRUE(check_compatible({3, 40, 50}, {0, 3, 0, 0}, "fm").ok());     // symbolic spatial dims
  Status s = check_compatible({1, 28, 28}, {1, 3, 32, 32}, "fashion-mnist/test");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "cannot feed dataset 'fashion-mnist/test' to the model: sample shape 1x28x28 does not fit model input "
            "1x3x32x32 (channels=1, expected 3; height x width=28x28, expected 32x32); add 'gray_to_rgb' and "
            "'resize(size=32x32)' or 'center_crop(size=32x32)' to the preprocessing");
  s = check_compatible({3, 32, 32}, {1, 1, 32, 32}, "cifar");
  EXPECT_NE(s.message().find("(channels=3, expected 1); no transform converts 3 channels to 1"), std::string::npos)
      << s.message();
  s = check_compatible({3, 32, 32}, {3, 32, 32}, "cifar");
  EXPECT_TRUE(s.ok()) << s.message();  // [C, H, W] model input
  s = check_compatible({3, 32, 32}, {32, 32}, "cifar");
  EXPECT_NE(s.message().find("model input has rank 2"), std::string::npos);
}

}  // namespace
}  // namespace hqp::data
