// CIFAR-10 / CIFAR-100 binary reader on generated files, through open_dataset's folder detection.
#include "data/cifar.h"

#include <gtest/gtest.h>

#include "data/open_dataset.h"
#include "data_test_util.h"

namespace hqp::data {
namespace {

using test::error_of;
using test::TempDir;

void expect_sample(const Dataset& ds, int64_t i, int64_t sample_number, int64_t label) {
  auto s = ds.get(i);
  ASSERT_TRUE(s.ok()) << error_of(s);
  EXPECT_EQ(s->label, label);
  ASSERT_EQ(s->image.shape(), (Shape{3, 32, 32}));
  const float* p = s->image.data<float>();
  for (int64_t c : {0, 1, 2}) {
    for (auto [y, x] : {std::pair<int64_t, int64_t>{0, 0}, {5, 31}, {31, 17}}) {
      EXPECT_FLOAT_EQ(p[(c * 32 + y) * 32 + x], test::pattern_pixel(sample_number, c, y, x) / 255.0f);
    }
  }
}

TEST(Cifar10, BatchesConcatenateInOrderAndTestIsSeparate) {
  TempDir dir;
  const auto sub = dir.path() / "cifar-10-batches-bin";  // the archive's own folder is found too
  std::filesystem::create_directories(sub);
  ASSERT_TRUE(test::write_file((sub / "data_batch_1.bin").string(), test::cifar_file_bytes(3, false, 0)));
  ASSERT_TRUE(test::write_file((sub / "data_batch_2.bin").string(), test::cifar_file_bytes(4, false, 3)));
  ASSERT_TRUE(test::write_file((sub / "test_batch.bin").string(), test::cifar_file_bytes(2, false, 100)));
  ASSERT_TRUE(test::write_file((sub / "batches.meta.txt").string(),
                               "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"));
  DatasetSpec spec;
  spec.source = dir.path().string();
  spec.val_split = ValSplit::random(0);
  auto train = open_dataset(spec);
  ASSERT_TRUE(train.ok()) << error_of(train);
  EXPECT_EQ((*train)->size(), 7);
  EXPECT_EQ((*train)->num_classes(), 10);
  EXPECT_EQ((*train)->class_names()[3], "cat");
  expect_sample(**train, 0, 0, 0);
  expect_sample(**train, 4, 4, 4);  // second file, second record
  spec.split = Split::kTest;
  auto test_ds = open_dataset(spec);
  ASSERT_TRUE(test_ds.ok()) << error_of(test_ds);
  EXPECT_EQ((*test_ds)->size(), 2);
  expect_sample(**test_ds, 1, 101, 1);
}

TEST(Cifar100, FineAndCoarseLabels) {
  TempDir dir;
  ASSERT_TRUE(test::write_file(dir.file("train.bin"), test::cifar_file_bytes(5, true, 40)));
  ASSERT_TRUE(test::write_file(dir.file("test.bin"), test::cifar_file_bytes(2, true, 0)));
  DatasetSpec spec;
  spec.source = "cifar100:" + dir.path().string();
  spec.val_split = ValSplit::random(0);
  auto fine = open_dataset(spec);
  ASSERT_TRUE(fine.ok()) << error_of(fine);
  EXPECT_EQ((*fine)->num_classes(), 100);
  expect_sample(**fine, 2, 42, 42);
  spec.cifar100_coarse = true;
  auto coarse = open_dataset(spec);
  ASSERT_TRUE(coarse.ok()) << error_of(coarse);
  EXPECT_EQ((*coarse)->num_classes(), 20);
  expect_sample(**coarse, 2, 42, 42 % 20);
}

TEST(Cifar, TruncatedFile) {
  TempDir dir;
  std::string bytes = test::cifar_file_bytes(2, false);
  bytes.pop_back();
  ASSERT_TRUE(test::write_file(dir.file("data_batch_1.bin"), bytes));
  auto r = load_cifar_dataset("cut", {dir.file("data_batch_1.bin")}, CifarKind::kCifar10);
  EXPECT_EQ(r.status().code(), StatusCode::kParseError);
  EXPECT_NE(error_of(r).find("is truncated or not a CIFAR binary file (bytes=6145, expected a non-zero multiple of "
                             "the record size 3073)"),
            std::string::npos)
      << error_of(r);
  // CIFAR-10 records read as CIFAR-100 do not divide either.
  ASSERT_TRUE(test::write_file(dir.file("ten.bin"), test::cifar_file_bytes(1, false)));
  r = load_cifar_dataset("kind", {dir.file("ten.bin")}, CifarKind::kCifar100Fine);
  EXPECT_NE(error_of(r).find("record size 3074"), std::string::npos) << error_of(r);
}

TEST(Cifar, LabelOutOfRange) {
  TempDir dir;
  std::string bytes = test::cifar_file_bytes(2, false);
  bytes[3073] = 10;  // second record's label
  ASSERT_TRUE(test::write_file(dir.file("data_batch_1.bin"), bytes));
  auto r = load_cifar_dataset("bad", {dir.file("data_batch_1.bin")}, CifarKind::kCifar10);
  EXPECT_NE(error_of(r).find("record 1 of"), std::string::npos) << error_of(r);
  EXPECT_NE(error_of(r).find("label out of range (label=10, expected 0..9)"), std::string::npos) << error_of(r);
}

TEST(Cifar, MissingFiles) {
  TempDir dir;
  auto r = load_cifar_dataset("none", {dir.file("data_batch_1.bin")}, CifarKind::kCifar10);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  // A CIFAR-10 folder with train batches but no test batch.
  ASSERT_TRUE(test::write_file(dir.file("data_batch_1.bin"), test::cifar_file_bytes(1, false)));
  DatasetSpec spec;
  spec.source = dir.path().string();
  spec.split = Split::kTest;
  auto t = open_dataset(spec);
  EXPECT_EQ(t.status().code(), StatusCode::kNotFound);
  EXPECT_NE(error_of(t).find("test_batch.bin not found in"), std::string::npos) << error_of(t);
}

}  // namespace
}  // namespace hqp::data
