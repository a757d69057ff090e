// IDX reader: generated plain and gzip files, every malformed-file case, and the real
// Fashion-MNIST files of Debian's dataset-fashion-mnist.
#include "data/idx.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "data/open_dataset.h"
#include "data_test_util.h"

namespace hqp::data {
namespace {

using test::error_of;
using test::TempDir;

class IdxFormatTest : public ::testing::TestWithParam<bool> {};

TEST_P(IdxFormatTest, ReadsGeneratedFiles) {
  const bool gzip = GetParam();
  TempDir dir;
  // Odd sizes: 7 samples of 5x3.
  test::write_idx_split(dir.path(), "train", 7, 5, 3, 4, gzip);
  const std::string ext = gzip ? ".gz" : "";
  auto ds =
      load_idx_dataset("tiny", dir.file("train-images-idx3-ubyte" + ext), dir.file("train-labels-idx1-ubyte" + ext), 0);
  ASSERT_TRUE(ds.ok()) << error_of(ds);
  EXPECT_EQ((*ds)->size(), 7);
  EXPECT_EQ((*ds)->num_classes(), 4);  // max label 3 + 1
  EXPECT_EQ((*ds)->sample_shape(), (Shape{1, 5, 3}));
  EXPECT_EQ((*ds)->class_names(), (std::vector<std::string>{"0", "1", "2", "3"}));
  for (int64_t i = 0; i < 7; ++i) {
    auto s = (*ds)->get(i);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->label, i % 4);
    EXPECT_EQ((*ds)->label(i), i % 4);
    ASSERT_EQ(s->image.shape(), (Shape{1, 5, 3}));
    for (int64_t y = 0; y < 5; ++y)
      for (int64_t x = 0; x < 3; ++x)
        EXPECT_FLOAT_EQ(s->image.data<float>()[y * 3 + x], test::pattern_pixel(i, 0, y, x) / 255.0f);
  }
  EXPECT_EQ((*ds)->get(7).status().code(), StatusCode::kOutOfRange);
}

INSTANTIATE_TEST_SUITE_P(PlainAndGzip, IdxFormatTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "gzip" : "plain"; });

TEST(IdxReader, GzipDetectedFromBytesNotName) {
  TempDir dir;
  // A plain file named .gz and a gzip file without .gz both read.
  ASSERT_TRUE(write_idx_file(dir.file("a.gz"), test::idx_labels(5, 3), false).ok());
  ASSERT_TRUE(write_idx_file(dir.file("b"), test::idx_labels(5, 3), true).ok());
  auto a = read_idx_file(dir.file("a.gz"), 1);
  auto b = read_idx_file(dir.file("b"), 1);
  ASSERT_TRUE(a.ok()) << error_of(a);
  ASSERT_TRUE(b.ok()) << error_of(b);
  EXPECT_EQ(a->data, b->data);
}

TEST(IdxReader, MissingFile) {
  TempDir dir;
  auto r = read_idx_file(dir.file("nope-idx1-ubyte"), 1);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(error_of(r).find("nope-idx1-ubyte"), std::string::npos) << error_of(r);
}

TEST(IdxReader, WrongMagic) {
  TempDir dir;
  // Labels file read as images: magic 0x00000801, expected 0x00000803.
  ASSERT_TRUE(write_idx_file(dir.file("labels"), test::idx_labels(5, 3), false).ok());
  auto r = read_idx_file(dir.file("labels"), 3);
  EXPECT_EQ(r.status().code(), StatusCode::kParseError);
  EXPECT_NE(error_of(r).find("wrong magic (magic=0x00000801, expected 0x00000803"), std::string::npos) << error_of(r);
  // Random text.
  ASSERT_TRUE(test::write_file(dir.file("text"), "hello world, not idx"));
  r = read_idx_file(dir.file("text"), 1);
  EXPECT_NE(error_of(r).find("wrong magic"), std::string::npos) << error_of(r);
  // Float IDX (type 0x0D) is not supported.
  ASSERT_TRUE(test::write_file(dir.file("float"), std::string("\x00\x00\x0d\x01\x00\x00\x00\x01\x00\x00\x00\x00", 12)));
  r = read_idx_file(dir.file("float"), 1);
  EXPECT_NE(error_of(r).find("wrong magic (magic=0x00000d01"), std::string::npos) << error_of(r);
}

TEST(IdxReader, TruncatedPlainAndGzip) {
  TempDir dir;
  const std::vector<uint8_t> full = idx_bytes(test::idx_images(4, 6, 6));
  // Cut inside the dims and inside the data.
  for (size_t cut : {size_t{2}, size_t{9}, full.size() - 1}) {
    const std::string path = dir.file("cut" + std::to_string(cut));
    ASSERT_TRUE(test::write_file(path, std::string_view(reinterpret_cast<const char*>(full.data()), cut)));
    auto r = read_idx_file(path, 3);
    EXPECT_EQ(r.status().code(), StatusCode::kParseError);
    EXPECT_NE(error_of(r).find("truncated"), std::string::npos) << error_of(r);
  }
  // A gzip stream cut in half.
  ASSERT_TRUE(write_idx_file(dir.file("full.gz"), test::idx_images(40, 28, 28), true).ok());
  const std::string gz = test::read_file(dir.file("full.gz"));
  ASSERT_TRUE(test::write_file(dir.file("half.gz"), std::string_view(gz).substr(0, gz.size() / 2)));
  auto r = read_idx_file(dir.file("half.gz"), 3);
  EXPECT_EQ(r.status().code(), StatusCode::kParseError);
  EXPECT_NE(error_of(r).find("truncated"), std::string::npos) << error_of(r);
}

TEST(IdxReader, TrailingBytes) {
  TempDir dir;
  std::vector<uint8_t> bytes = idx_bytes(test::idx_labels(5, 3));
  bytes.push_back(7);
  test::write_bytes(dir.path() / "labels", bytes);
  auto r = read_idx_file(dir.file("labels"), 1);
  EXPECT_NE(error_of(r).find("trailing bytes"), std::string::npos) << error_of(r);
}

TEST(IdxReader, HostileDimsDoNotAllocate) {
  TempDir dir;
  // Claims 0xFFFFFFFF^3 bytes: fails on the size check, not with an allocation.
  ASSERT_TRUE(test::write_file(dir.file("huge"),
                               std::string("\x00\x00\x08\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 16)));
  auto r = read_idx_file(dir.file("huge"), 3);
  EXPECT_EQ(r.status().code(), StatusCode::kOutOfRange) << error_of(r);
  // Claims 4 GiB that are not there: fails as truncated after reading what exists.
  ASSERT_TRUE(test::write_file(
      dir.file("big"), std::string("\x00\x00\x08\x03\x00\x01\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00\x01\x02", 18)));
  r = read_idx_file(dir.file("big"), 3);
  EXPECT_NE(error_of(r).find("truncated data (2 bytes"), std::string::npos) << error_of(r);
}

TEST(IdxReader, ImageAndLabelCountsDiffer) {
  TempDir dir;
  ASSERT_TRUE(write_idx_file(dir.file("img"), test::idx_images(6, 4, 4), false).ok());
  ASSERT_TRUE(write_idx_file(dir.file("lbl"), test::idx_labels(5, 3), false).ok());
  auto r = load_idx_dataset("mismatch", dir.file("img"), dir.file("lbl"), 0);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(error_of(r).find("image and label counts differ (images=6"), std::string::npos) << error_of(r);
  EXPECT_NE(error_of(r).find("labels=5"), std::string::npos) << error_of(r);
}

TEST(IdxReader, EmptyImagesOrNoSamples) {
  TempDir dir;
  ASSERT_TRUE(write_idx_file(dir.file("img"), test::idx_images(3, 0, 5), false).ok());
  ASSERT_TRUE(write_idx_file(dir.file("lbl"), test::idx_labels(3, 3), false).ok());
  auto r = load_idx_dataset("flat", dir.file("img"), dir.file("lbl"), 0);
  EXPECT_NE(error_of(r).find("are empty (dims=3x0x5, expected height and width >= 1)"), std::string::npos)
      << error_of(r);
  ASSERT_TRUE(write_idx_file(dir.file("img0"), test::idx_images(0, 4, 4), false).ok());
  ASSERT_TRUE(write_idx_file(dir.file("lbl0"), test::idx_labels(0, 3), false).ok());
  r = load_idx_dataset("none", dir.file("img0"), dir.file("lbl0"), 0);
  EXPECT_NE(error_of(r).find("no samples"), std::string::npos) << error_of(r);
}

TEST(IdxReader, LabelOutOfRangeForNamedClasses) {
  TempDir dir;
  ASSERT_TRUE(write_idx_file(dir.file("img"), test::idx_images(12, 4, 4), false).ok());
  ASSERT_TRUE(write_idx_file(dir.file("lbl"), test::idx_labels(12, 12), false).ok());  // labels up to 11
  auto r = load_idx_dataset("ten", dir.file("img"), dir.file("lbl"), 10);
  EXPECT_EQ(r.status().code(), StatusCode::kParseError);
  EXPECT_NE(error_of(r).find("label of sample 10 is out of range (label=10, expected 0..9)"), std::string::npos)
      << error_of(r);
}

// The real dataset (Debian dataset-fashion-mnist, installed by scripts/setup.sh).
DatasetPtr fashion(Split split) {
  DatasetSpec spec;
  spec.source = "fashion-mnist";
  spec.split = split;
  spec.val_split = ValSplit::random(0);
  auto r = open_dataset(spec);
  EXPECT_TRUE(r.ok()) << error_of(r);
  return r.ok() ? *r : nullptr;
}

TEST(FashionMnist, TrainAndTestSplits) {
  if (!std::filesystem::exists(test::kFashionMnistDir)) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  DatasetPtr train = fashion(Split::kTrain);
  DatasetPtr test_ds = fashion(Split::kTest);
  ASSERT_TRUE(train && test_ds);
  EXPECT_EQ(train->size(), 60000);
  EXPECT_EQ(test_ds->size(), 10000);
  EXPECT_EQ(train->num_classes(), 10);
  EXPECT_EQ(test_ds->num_classes(), 10);
  EXPECT_EQ(train->sample_shape(), (Shape{1, 28, 28}));
  EXPECT_EQ(train->class_names()[9], "Ankle boot");
  EXPECT_EQ(train->name(), "fashion-mnist/train");
  // First labels, as published (train: ankle boot, T-shirt, T-shirt, dress, ...).
  const int64_t train_first[] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
  const int64_t test_first[] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(train->label(i), train_first[i]) << i;
    EXPECT_EQ(test_ds->label(i), test_first[i]) << i;
  }
  auto s = train->get(0);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->label, 9);
  double sum = 0;
  for (float v : s->image.span<float>()) sum += v;
  EXPECT_NEAR(sum, 76247.0 / 255.0, 1e-3);  // pixel sum of the first training image
  // Class balance: 6000 per class in train.
  std::vector<int64_t> counts(10, 0);
  for (int64_t i = 0; i < train->size(); ++i) ++counts[train->label(i)];
  for (int64_t c : counts) EXPECT_EQ(c, 6000);
}

}  // namespace
}  // namespace hqp::data
