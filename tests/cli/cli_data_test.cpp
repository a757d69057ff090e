// Datasets the way users bring them, through the real `hqp` binary: a flat <class>/<image> folder
// of RGB PNGs evaluated by a 1-channel model (issue 9: image folders were always decoded to RGB
// and a flat folder was refused), the decoded-image memory bound (--max-image-mb), and every
// numeric option outside its documented range refused as a usage error before anything is opened.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_test_util.h"
#include "common/temp_dir.h"
#include "data/data_test_util.h"
#include "data/idx.h"
#include "data/image_codec.h"

namespace hqp::test {
namespace {

const std::string kFashionModel = std::string(HQP_SOURCE_DIR) + "/models/fashion_mnist/mobilenet_v3_small.onnx";

// The first n Fashion-MNIST test images, written twice: as an IDX test split under idx/ and as a
// flat folder flat/<label>/<i>.png of RGB PNGs (gray replicated: R = G = B, whose luma is the
// gray value exactly).
void write_same_images(const std::filesystem::path& root, int64_t n) {
  const std::string dir = kFashionMnistDir;
  auto images = data::read_idx_file(dir + "/t10k-images-idx3-ubyte.gz", 3);
  auto labels = data::read_idx_file(dir + "/t10k-labels-idx1-ubyte.gz", 1);
  ASSERT_TRUE(images.ok() && labels.ok());
  const int64_t h = images->dims[1], w = images->dims[2];
  data::IdxArray sub_images{{n, h, w}, {images->data.begin(), images->data.begin() + n * h * w}};
  data::IdxArray sub_labels{{n}, {labels->data.begin(), labels->data.begin() + n}};
  std::filesystem::create_directories(root / "idx");
  ASSERT_TRUE(data::write_idx_file((root / "idx/t10k-images-idx3-ubyte").string(), sub_images, false).ok());
  ASSERT_TRUE(data::write_idx_file((root / "idx/t10k-labels-idx1-ubyte").string(), sub_labels, false).ok());
  for (int64_t i = 0; i < n; ++i) {
    data::Image8 img;
    img.height = h, img.width = w, img.channels = 3;
    for (int64_t p = 0; p < h * w; ++p) img.pixels.insert(img.pixels.end(), 3, sub_images.data[i * h * w + p]);
    write_png(root / "flat" / std::to_string(sub_labels.data[i]) / (std::to_string(1000 + i) + ".png"), img);
  }
}

TEST(CliData, FlatRgbFolderFeedsAOneChannelModelLikeTheIdxFiles) {
  TempDir tmp;
  write_same_images(tmp.path(), 60);
  // 60 test images cover all 10 classes, so the folder's sorted class names 0..9 are the labels.
  for (int c = 0; c < 10; ++c) ASSERT_TRUE(std::filesystem::is_directory(tmp.path() / "flat" / std::to_string(c)));
  const ProcessResult idx = run_hqp({"eval", kFashionModel, "--data", "idx:" + tmp.file("idx"), "--json"});
  ASSERT_EQ(idx.exit_code, 0) << idx.err;
  const ProcessResult flat = run_hqp({"eval", kFashionModel, "--data", tmp.file("flat"), "--json"});
  ASSERT_EQ(flat.exit_code, 0) << flat.err;
  const auto a = nlohmann::json::parse(idx.out);
  const auto b = nlohmann::json::parse(flat.out);
  EXPECT_EQ(b["samples"], 60);
  EXPECT_EQ(a["top1"], b["top1"]);
  EXPECT_DOUBLE_EQ(a["loss"].get<double>(), b["loss"].get<double>());
  EXPECT_GT(b["top1"].get<double>(), 0.5);
  // Forced RGB does not fit the 1-channel model: a clear error naming the channels.
  const ProcessResult rgb = run_hqp({"eval", kFashionModel, "--data", tmp.file("flat"), "--image-channels", "3"});
  EXPECT_TRUE(is_one_line_error(rgb, 1, "channels=3, expected 1"));
}

TEST(CliData, DecodedImageMemoryBound) {
  // A 2048 x 2048 RGB PNG needs 60 MiB decoded: refused under --max-image-mb 50 from its header.
  TempDir tmp;
  data::Image8 img;
  img.height = 2048, img.width = 2048, img.channels = 3;
  img.pixels.assign(2048 * 2048 * 3, 7);
  write_png(tmp.path() / "a/big.png", img);
  const ProcessResult r =
      run_hqp({"eval", kFashionModel, "--data", tmp.path().string(), "--image-channels", "3", "--max-image-mb", "50"});
  EXPECT_TRUE(is_one_line_error(r, 1, "needs 60 MiB decoded (max_image_mb=50"));
}

TEST(CliData, EveryNumericOptionOutsideItsRangeIsAUsageError) {
  // The model does not exist: a value that passed validation would fail on the model instead, so
  // exit 2 naming the option proves the check ran before anything was opened.
  const std::string m = "/nonexistent/model.onnx";
  const std::string d = "fashion-mnist";
  struct Case {
    std::vector<std::string> args;
    const char* option;
  };
  const std::vector<Case> cases = {
      {{"bench", m, "--batch", "0"}, "--batch"},
      {{"bench", m, "--batch", "100000000"}, "--batch"},
      {{"bench", m, "--runs", "0"}, "--runs"},
      {{"bench", m, "--warmup", "-1"}, "--warmup"},
      {{"bench", m, "--threads", "0"}, "--threads"},
      {{"eval", m, "--data", d, "--batch-size", "0"}, "--batch-size"},
      {{"eval", m, "--data", d, "--batch-size", "1e9"}, "--batch-size"},
      {{"eval", m, "--data", d, "--workers", "100000"}, "--workers"},
      {{"eval", m, "--data", d, "--max-image-mb", "0"}, "--max-image-mb"},
      {{"eval", m, "--data", d, "--image-channels", "2"}, "--image-channels"},
      {{"eval", m, "--data", d, "--val-size", "-3"}, "--val-size"},
      {{"train", "--data", d, "-o", "/tmp/x.onnx", "--epochs", "0"}, "--epochs"},
      {{"train", "--data", d, "-o", "/tmp/x.onnx", "--epochs", "10000000"}, "--epochs"},
      {{"train", "--data", d, "-o", "/tmp/x.onnx", "--lr", "nan"}, "--lr"},
      {{"train", "--data", d, "-o", "/tmp/x.onnx", "--weight-decay", "5"}, "--weight-decay"},
      {{"train", "--data", d, "-o", "/tmp/x.onnx", "--num-classes", "0"}, "--num-classes"},
      {{"train", "--data", d, "-o", "/tmp/x.onnx", "--in-channels", "100000"}, "--in-channels"},
      {{"train", "--data", d, "-o", "/tmp/x.onnx", "--kd-temperature", "1e9"}, "--kd-temperature"},
      {{"prune", m, "--data", d, "-o", "/tmp/x.onnx", "--min-channels", "0"}, "--min-channels"},
      {{"prune", m, "--data", d, "-o", "/tmp/x.onnx", "--min-step", "2"}, "--min-step"},
      {{"prune", m, "--data", d, "-o", "/tmp/x.onnx", "--step", "0.95"}, "--step"},
      {{"quantize", m, "--data", d, "-o", "/tmp/x.onnx", "--calib-samples", "0"}, "--calib-samples"},
      {{"compress", m, "--data", d, "-o", "/tmp/x.onnx", "--max-drop", "-1"}, "--max-drop"},
  };
  for (const Case& c : cases) {
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    SCOPED_TRACE("hqp " + joined);
    const ProcessResult r = run_hqp(c.args);
    EXPECT_TRUE(is_one_line_error(r, 2, c.option));
  }
}

}  // namespace
}  // namespace hqp::test
