// --val-split: the parser (forms, round trip, errors in the project's template) and the three
// kinds through open_dataset -- tail:N is exactly the last N training indices, a folder split reads
// the other folder (train = all training samples), random:N:SEED is split_train_val's split.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "data/open_dataset.h"
#include "data/val_split.h"
#include "data_test_util.h"

namespace hqp::data {
namespace {

using test::error_of;
using test::TempDir;

constexpr int64_t kTrainSamples = 60;

void write_idx_dataset(const std::filesystem::path& dir, int64_t first_sample = 0) {
  test::write_idx_split(dir, "train", kTrainSamples, 4, 3, 5, true, first_sample);
  test::write_idx_split(dir, "t10k", 20, 4, 3, 5, false, 1000);
}

const SubsetDataset& as_subset(const DatasetPtr& ds) {
  const auto* s = dynamic_cast<const SubsetDataset*>(ds.get());
  EXPECT_NE(s, nullptr) << ds->name();
  return *s;
}

TEST(ParseValSplit, Forms) {
  EXPECT_EQ(*parse_val_split("random:12"), ValSplit::random(12, 0));
  EXPECT_EQ(*parse_val_split("random:12:7"), ValSplit::random(12, 7));
  EXPECT_EQ(*parse_val_split("random:auto"), ValSplit::random(kAutoValSize));
  EXPECT_EQ(*parse_val_split("random:0"), ValSplit::random(0));
  EXPECT_EQ(*parse_val_split("tail:10"), ValSplit::tail(10));
  EXPECT_EQ(*parse_val_split("/data/val"), ValSplit::from_folder("/data/val"));
  EXPECT_EQ(*parse_val_split("idx:/data/val"), ValSplit::from_folder("idx:/data/val"));
  for (const char* text : {"random:12", "random:12:7", "random:auto", "tail:10", "/data/val"}) {
    EXPECT_EQ(val_split_to_string(*parse_val_split(text)), text);
  }
}

TEST(ParseValSplit, BadSpecsSayWhatIsWrong) {
  EXPECT_EQ(error_of(parse_val_split("tail:x")),
            "cannot parse val split 'tail:x': the size is not a non-negative integer (N='x', expected tail:N with N >= 0)");
  EXPECT_NE(error_of(parse_val_split("tail:-3")).find("(N='-3', expected tail:N with N >= 0)"), std::string::npos);
  EXPECT_NE(error_of(parse_val_split("tail:")).find("cannot parse val split 'tail:'"), std::string::npos);
  EXPECT_NE(error_of(parse_val_split("random:many")).find("(N='many', expected random:N[:SEED]"), std::string::npos);
  EXPECT_NE(error_of(parse_val_split("random:5:seed")).find("the seed is not an unsigned integer (SEED='seed'"),
            std::string::npos);
  EXPECT_NE(error_of(parse_val_split("")).find("cannot parse val split '': it is empty"), std::string::npos);
}

TEST(ValSplitOpen, TailIsExactlyTheLastNIndices) {
  TempDir dir;
  write_idx_dataset(dir.path());
  DatasetSpec spec;
  spec.source = dir.path().string();
  spec.val_split = ValSplit::tail(10);
  auto train = open_dataset(spec);
  spec.split = Split::kVal;
  auto val = open_dataset(spec);
  ASSERT_TRUE(train.ok() && val.ok()) << error_of(train) << error_of(val);
  std::vector<int64_t> want_val, want_train;
  for (int64_t i = 0; i < kTrainSamples; ++i) (i >= kTrainSamples - 10 ? want_val : want_train).push_back(i);
  EXPECT_EQ(as_subset(*val).indices(), want_val);
  EXPECT_EQ(as_subset(*train).indices(), want_train);
  EXPECT_EQ((*val)->name(), spec.source + "/val");

  spec.val_split = ValSplit::tail(kTrainSamples);
  EXPECT_NE(error_of(open_dataset(spec)).find("val size out of range (val_size=60, expected 0..59)"), std::string::npos);
  spec.val_split = ValSplit::tail(0);
  EXPECT_NE(error_of(open_dataset(spec)).find("the val split is empty"), std::string::npos);
  spec.split = Split::kTrain;
  ASSERT_TRUE(open_dataset(spec).ok());
  EXPECT_EQ((*open_dataset(spec))->size(), kTrainSamples);
}

TEST(ValSplitOpen, RandomMatchesSplitTrainVal) {
  TempDir dir;
  write_idx_dataset(dir.path());
  DatasetSpec spec;
  spec.source = dir.path().string();
  spec.val_split = *parse_val_split("random:12:3");
  spec.split = Split::kVal;
  auto val = open_dataset(spec);
  spec.split = Split::kTrain;
  auto train = open_dataset(spec);
  ASSERT_TRUE(train.ok() && val.ok()) << error_of(train) << error_of(val);
  auto want = split_train_val(kTrainSamples, 12, 3);
  EXPECT_EQ(as_subset(*val).indices(), want->val);
  EXPECT_EQ(as_subset(*train).indices(), want->train);
  // random:auto = min(5000, n / 10) with seed 0, the default.
  spec.val_split = ValSplit();
  spec.split = Split::kVal;
  auto auto_val = open_dataset(spec);
  ASSERT_TRUE(auto_val.ok()) << error_of(auto_val);
  EXPECT_EQ(as_subset(*auto_val).indices(), split_train_val(kTrainSamples, 6, 0)->val);
}

TEST(ValSplitOpen, FolderReadsTheOtherFolderAndTrainKeepsEverything) {
  TempDir dir;
  const std::filesystem::path main = dir.path() / "main", other = dir.path() / "other";
  std::filesystem::create_directories(main);
  std::filesystem::create_directories(other);
  write_idx_dataset(main);
  test::write_idx_split(other, "train", 7, 4, 3, 5, false, 500);
  DatasetSpec spec;
  spec.source = main.string();
  spec.val_split = *parse_val_split(other.string());
  auto train = open_dataset(spec);
  spec.split = Split::kVal;
  auto val = open_dataset(spec);
  ASSERT_TRUE(train.ok() && val.ok()) << error_of(train) << error_of(val);
  EXPECT_EQ((*train)->size(), kTrainSamples);
  ASSERT_EQ((*val)->size(), 7);
  // The val samples are the other folder's (patterns 500..506), pixel for pixel.
  DatasetSpec other_spec;
  other_spec.source = other.string();
  other_spec.val_split = ValSplit::random(0);
  auto direct = open_dataset(other_spec);
  ASSERT_TRUE(direct.ok()) << error_of(direct);
  for (int64_t i = 0; i < 7; ++i) {
    EXPECT_EQ((*val)->get(i)->image.data<float>()[0], (*direct)->get(i)->image.data<float>()[0]);
    EXPECT_EQ((*val)->label(i), (*direct)->label(i));
  }
  // A missing folder names the val split and the folder.
  spec.val_split = ValSplit::from_folder((dir.path() / "missing").string());
  const std::string err = error_of(open_dataset(spec));
  EXPECT_NE(err.find("cannot open the val split of dataset"), std::string::npos) << err;
  EXPECT_NE(err.find("missing"), std::string::npos) << err;
}

TEST(ValSplitOpen, FolderWithOtherSampleShapeIsRejected) {
  TempDir dir;
  const std::filesystem::path main = dir.path() / "main", other = dir.path() / "other";
  std::filesystem::create_directories(main);
  std::filesystem::create_directories(other);
  write_idx_dataset(main);
  test::write_idx_split(other, "train", 4, 5, 5, 5, false, 0);
  DatasetSpec spec;
  spec.source = main.string();
  spec.split = Split::kVal;
  spec.val_split = ValSplit::from_folder(other.string());
  EXPECT_NE(error_of(open_dataset(spec)).find("its samples have another shape"), std::string::npos)
      << error_of(open_dataset(spec));
}

}  // namespace
}  // namespace hqp::data
