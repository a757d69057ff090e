// `hqp train` / `hqp eval` end to end on tiny synthetic IDX datasets written into a temp dir (the
// class is the bright quadrant of a 16x16 image, so a small model learns it in a few steps): the
// loss falls, eval's JSON agrees with training's test accuracy, the stored preprocessing is used,
// --init fine-tuning and --resume work, and bad inputs give one clear line and no output file.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_test_util.h"
#include "cli/quadrant_data.h"

namespace hqp::test {
namespace {

// x, y f32 [N, 1, 16, 16] -> Add -> z.
onnx::ModelProto two_input_model() {
  onnx::ModelProto m = tiny_classifier(1);
  onnx::GraphProto* g = m.mutable_graph();
  g->clear_node();
  g->clear_initializer();
  g->clear_output();
  set_tensor_type(g->add_input(), "other", onnx::TensorProto::FLOAT, {1, 1, kSide, kSide});
  g->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0)->set_dim_value(1);
  set_tensor_type(g->add_output(), "sum", onnx::TensorProto::FLOAT, {1, 1, kSide, kSide});
  add_node(g, "Add", "add", {"input", "other"}, {"sum"});
  return m;
}

// One temp dir for the whole suite: datasets "quad" (256 train / 64 test) and "small"
// (64 train / 16 test), the tiny model (1 channel) and a 2-channel variant, and the model trained
// from the tiny one (shared by the eval tests).
class TrainEvalTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>();
    std::filesystem::create_directories(quad());
    std::filesystem::create_directories(small());
    write_quadrant_idx(quad(), "train", 256, 1);
    write_quadrant_idx(quad(), "t10k", 64, 2);
    write_quadrant_idx(small(), "train", 64, 3);
    write_quadrant_idx(small(), "t10k", 16, 4);
    ASSERT_TRUE(write_file(tiny(), serialize(tiny_classifier(1))));
    ASSERT_TRUE(write_file(file("tiny2.onnx"), serialize(tiny_classifier(2))));
    ASSERT_TRUE(write_file(file("two_inputs.onnx"), serialize(two_input_model())));
  }
  static void TearDownTestSuite() {
    train_result_.reset();
    dir_.reset();
  }

  // The model fine-tuned from tiny.onnx on "quad" (2 epochs of 14 steps; --threads 1 for
  // reproducibility), trained on first use: ctest runs each test in its own process.
  static const ProcessResult& train_result() {
    if (!train_result_) {
      train_result_ = std::make_unique<ProcessResult>(run_hqp(
          {"train", "--init", tiny(), "--data", quad(), "-o", trained(), "--epochs", "2", "--batch-size", "16", "--lr",
           "0.05", "--val-size", "32", "--threads", "1", "--workers", "1", "--json"}));
    }
    return *train_result_;
  }

  static std::string file(const std::string& name) { return dir_->file(name); }
  static std::string quad() { return file("quad"); }
  static std::string small() { return file("small"); }
  static std::string tiny() { return file("tiny.onnx"); }
  static std::string trained() { return file("trained.onnx"); }

  static std::unique_ptr<TempDir> dir_;
  static std::unique_ptr<ProcessResult> train_result_;
};

std::unique_ptr<TempDir> TrainEvalTest::dir_;
std::unique_ptr<ProcessResult> TrainEvalTest::train_result_;

TEST_F(TrainEvalTest, InitFineTuningLearnsTheTask) {
  const nlohmann::json j = parse_json(train_result());
  ASSERT_EQ(j["epochs"].size(), 2u) << j.dump(2);
  EXPECT_LT(j["epochs"][1]["train_loss"].get<double>(), j["epochs"][0]["train_loss"].get<double>()) << j.dump(2);
  EXPECT_EQ(j["train_samples"], 256 - 32);
  ASSERT_TRUE(j["val"].is_object());
  EXPECT_EQ(j["val"]["samples"], 32);
  ASSERT_TRUE(j["test"].is_object());
  EXPECT_EQ(j["test"]["samples"], 64);
  EXPECT_GT(j["test"]["top1"].get<double>(), 0.75) << "chance is 0.25; " << j.dump(2);
  EXPECT_TRUE(train_result().err.empty()) << "stderr is not a terminal: no progress bar expected: " << train_result().err;

  // Provenance and preprocessing in the output model.
  const std::string preprocess = metadata(trained(), "hqp.preprocess");
  EXPECT_EQ(preprocess, j["preprocess"].get<std::string>());
  EXPECT_NE(preprocess.find("normalize("), std::string::npos) << preprocess;
  EXPECT_EQ(metadata(trained(), "hqp.dataset"), quad());
  EXPECT_EQ(metadata(trained(), "hqp.classes"), R"(["0","1","2","3"])");
  EXPECT_EQ(metadata(trained(), "hqp.val_size"), "32");
  EXPECT_NE(metadata(trained(), "hqp.train").find("\"test_top1\""), std::string::npos);
}

TEST_F(TrainEvalTest, EvalJsonAgreesWithTraining) {
  const nlohmann::json t = parse_json(train_result());
  const nlohmann::json j = parse_json(run_hqp({"eval", trained(), "--data", quad(), "--json", "--threads", "1"}));
  for (const char* key : {"top1", "top5", "loss", "samples", "per_class", "samples_per_s"}) {
    EXPECT_TRUE(j.contains(key)) << key << " missing: " << j.dump(2);
  }
  EXPECT_EQ(j["samples"], 64);
  EXPECT_EQ(j["split"], "test");
  const double top1 = j["top1"].get<double>();
  EXPECT_GE(top1, 0.0);
  EXPECT_LE(top1, 1.0);
  EXPECT_GE(j["top5"].get<double>(), top1);
  // Same data and weights; the fast engine may differ from libtorch in the last bits only.
  const double one_sample = 1.0 / 64.0;
  EXPECT_NEAR(top1, t["test"]["top1"].get<double>(), one_sample + 1e-9);
  EXPECT_NEAR(j["loss"].get<double>(), t["test"]["loss"].get<double>(), 1e-3);
  EXPECT_GT(j["samples_per_s"].get<double>(), 0.0);
  ASSERT_EQ(j["per_class"].size(), static_cast<size_t>(kClasses));
  int64_t per_class_samples = 0;
  double per_class_correct = 0.0;
  for (const nlohmann::json& c : j["per_class"]) {
    per_class_samples += c["samples"].get<int64_t>();
    per_class_correct += c["top1"].get<double>() * c["samples"].get<double>();
  }
  EXPECT_EQ(per_class_samples, 64);
  EXPECT_NEAR(per_class_correct / 64.0, top1, 1e-9);

  // The libtorch engine gives the same numbers; the val split is the one training held out.
  const nlohmann::json torch = parse_json(run_hqp({"eval", trained(), "--data", quad(), "--json", "--engine", "torch", "--threads", "1"}));
  EXPECT_NEAR(torch["top1"].get<double>(), top1, one_sample + 1e-9);
  const nlohmann::json val = parse_json(run_hqp({"eval", trained(), "--data", quad(), "--json", "--split", "val"}));
  EXPECT_EQ(val["samples"], 32);
  EXPECT_NEAR(val["top1"].get<double>(), t["val"]["top1"].get<double>(), 1.0 / 32.0 + 1e-9);
}

TEST_F(TrainEvalTest, EvalUsesStoredPreprocessingUnlessOverridden) {
  ASSERT_TRUE(train_result().exited && train_result().exit_code == 0) << train_result().err;
  const std::string stored = metadata(trained(), "hqp.preprocess");
  const nlohmann::json by_default = parse_json(run_hqp({"eval", trained(), "--data", quad(), "--json"}));
  EXPECT_EQ(by_default["preprocess"], stored);
  // Passing the stored pipeline explicitly changes nothing; other pipelines change the numbers.
  const nlohmann::json explicit_stored =
      parse_json(run_hqp({"eval", trained(), "--data", quad(), "--json", "--preprocess", stored}));
  EXPECT_EQ(explicit_stored["loss"], by_default["loss"]);
  const nlohmann::json raw = parse_json(run_hqp({"eval", trained(), "--data", quad(), "--json", "--preprocess", ""}));
  EXPECT_EQ(raw["preprocess"], "");
  // --mean/--std replace the stored normalization's values.
  const nlohmann::json custom =
      parse_json(run_hqp({"eval", trained(), "--data", quad(), "--json", "--mean", "0.5", "--std", "0.25"}));
  EXPECT_EQ(custom["preprocess"], "normalize(mean=0.5,std=0.25)");
}

TEST_F(TrainEvalTest, StoredResizeMakesLargerImagesFit) {
  // 32x32 data, a 16x16 model whose metadata says resize(size=16x16): eval needs no flag, and
  // overriding the pipeline with an empty one brings back the shape error.
  const std::string big = file("big");
  std::filesystem::create_directories(big);
  write_quadrant_idx(big, "train", 8, 5, 2 * kSide);
  write_quadrant_idx(big, "t10k", 8, 6, 2 * kSide);
  onnx::ModelProto m = tiny_classifier(1);
  onnx::StringStringEntryProto* e = m.add_metadata_props();
  e->set_key("hqp.preprocess");
  e->set_value("resize(size=16x16)");
  const std::string model = file("resizing.onnx");
  ASSERT_TRUE(write_file(model, serialize(m)));
  const nlohmann::json j = parse_json(run_hqp({"eval", model, "--data", big, "--json"}));
  EXPECT_EQ(j["preprocess"], "resize(size=16x16)");
  EXPECT_EQ(j["samples"], 8);
  EXPECT_TRUE(is_one_line_error(run_hqp({"eval", model, "--data", big, "--preprocess", ""}), 1,
                                "height x width=32x32, expected 16x16"));
}

TEST_F(TrainEvalTest, TextOutputHasOneLinePerEpochAndAccuracies) {
  const std::string out = file("text.onnx");
  const ProcessResult r = run_hqp({"train", "--init", tiny(), "--data", small(), "-o", out, "--epochs", "2",
                                   "--batch-size", "16", "--lr", "0.05", "--val-size", "16", "--threads", "1"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << "\n" << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  EXPECT_NE(r.out.find("epoch 1/2  loss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epoch 2/2  loss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("val top1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\ntest       top1"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(out));
}

TEST_F(TrainEvalTest, ZooArchitectureTrainsAndEvaluates) {
  const std::string out = file("mnv3.onnx");
  const ProcessResult r =
      run_hqp({"train", "--arch", "mobilenet_v3_small", "--small-input", "--data", small(), "-o", out, "--epochs", "1",
               "--batch-size", "32", "--val-size", "16", "--optimizer", "adamw", "--lr", "0.001", "--json"});
  const nlohmann::json j = parse_json(r);
  ASSERT_EQ(j["epochs"].size(), 1u);
  EXPECT_TRUE(std::isfinite(j["epochs"][0]["train_loss"].get<double>()));
  EXPECT_EQ(metadata(out, "hqp.arch"), "mobilenet_v3_small");
  EXPECT_EQ(metadata(out, "hqp.classes"), R"(["0","1","2","3"])");
  const nlohmann::json e = parse_json(run_hqp({"eval", out, "--data", small(), "--json"}));
  EXPECT_EQ(e["samples"], 16);
  EXPECT_NEAR(e["top1"].get<double>(), j["test"]["top1"].get<double>(), 1.0 / 16.0 + 1e-9);
}

TEST_F(TrainEvalTest, Bf16MixedPrecisionLearnsAndIsRecorded) {
  const std::string out = file("bf16.onnx");
  const nlohmann::json j = parse_json(run_hqp({"train", "--init", tiny(), "--data", quad(), "-o", out, "--epochs", "2",
                                               "--batch-size", "16", "--lr", "0.05", "--val-size", "32", "--threads",
                                               "1", "--precision", "bf16", "--json"}));
  ASSERT_EQ(j["epochs"].size(), 2u) << j.dump(2);
  EXPECT_LT(j["epochs"][1]["train_loss"].get<double>(), j["epochs"][0]["train_loss"].get<double>()) << j.dump(2);
  EXPECT_GT(j["test"]["top1"].get<double>(), 0.75) << "chance is 0.25; " << j.dump(2);
  EXPECT_NE(metadata(out, "hqp.train").find(R"("precision":"bf16")"), std::string::npos) << metadata(out, "hqp.train");
  // The written model is f32 and runs on the fast runtime with the accuracy training measured.
  const nlohmann::json e = parse_json(run_hqp({"eval", out, "--data", quad(), "--json"}));
  EXPECT_NEAR(e["top1"].get<double>(), j["test"]["top1"].get<double>(), 1.0 / 64.0 + 1e-9);
  EXPECT_TRUE(is_one_line_error(run_hqp({"train", "--init", tiny(), "--data", quad(), "-o", file("never.onnx"),
                                         "--precision", "fp16"}),
                                2, "precision"));
}

TEST_F(TrainEvalTest, DistillationFromATeacher) {
  ASSERT_TRUE(train_result().exited && train_result().exit_code == 0) << train_result().err;
  const std::string out = file("student.onnx");
  const nlohmann::json j = parse_json(run_hqp({"train", "--init", tiny(), "--teacher", trained(), "--kd-alpha", "0.7",
                                               "--kd-temperature", "2", "--data", small(), "-o", out, "--epochs", "1",
                                               "--batch-size", "16", "--lr", "0.05", "--val-size", "16", "--json"}));
  ASSERT_EQ(j["epochs"].size(), 1u);
  EXPECT_TRUE(std::isfinite(j["epochs"][0]["train_loss"].get<double>()));
  EXPECT_NE(metadata(out, "hqp.train").find("\"teacher\""), std::string::npos);
  // A teacher with other classes is refused before training.
  EXPECT_TRUE(is_one_line_error(run_hqp({"train", "--init", tiny(), "--teacher", file("tiny2.onnx"), "--data", small(),
                                         "-o", file("never.onnx")}),
                                1, "teacher"));
  EXPECT_FALSE(std::filesystem::exists(file("never.onnx")));
}

// With a constant schedule, 1 epoch + resume to 2 is the same run as 2 epochs (a decaying
// schedule depends on --epochs, so there the first run would have to be killed mid-way).
TEST_F(TrainEvalTest, ResumeEqualsAnUninterruptedRun) {
  const std::string ckpt = file("ckpt");
  const std::vector<std::string> common = {"--init", tiny(), "--data", small(), "--batch-size", "16", "--lr", "0.05",
                                           "--val-size", "16", "--threads", "1", "--schedule", "constant",
                                           "--checkpoint-dir", ckpt};
  auto train = [&](const std::string& out, const std::string& epochs, bool resume) {
    std::vector<std::string> argv = {kHqp, "train", "-o", out, "--epochs", epochs};
    argv.insert(argv.end(), common.begin(), common.end());
    if (resume) argv.push_back("--resume");
    return run_process(argv);
  };
  ProcessResult r = train(file("full.onnx"), "2", false);
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.err;
  std::filesystem::remove_all(ckpt);
  r = train(file("half.onnx"), "1", false);
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.err;
  ASSERT_TRUE(std::filesystem::exists(ckpt + "/checkpoint.json"));
  r = train(file("resumed.onnx"), "2", true);
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.err;
  EXPECT_NE(r.out.find("after epoch 1"), std::string::npos) << r.out;
  EXPECT_TRUE(read_file(file("resumed.onnx")) == read_file(file("full.onnx"))) << "resumed weights differ";
}

// ---------------------------------------------------------------------------------------------
// --val-split: tail:N and a folder on train and eval; the split is stored in the model and reused.

TEST_F(TrainEvalTest, TrainStoresTheRandomSplitItUsed) {
  ASSERT_TRUE(train_result().exited && train_result().exit_code == 0) << train_result().err;
  EXPECT_EQ(metadata(trained(), "hqp.val_split"), "random:32");
  EXPECT_EQ(parse_json(train_result())["val_split"], "random:32");
}

TEST_F(TrainEvalTest, TailValSplitOnTrainAndEval) {
  const std::string out = file("tail.onnx");
  const nlohmann::json t = parse_json(run_hqp({"train", "--init", tiny(), "--data", small(), "-o", out, "--epochs", "1",
                                               "--batch-size", "16", "--val-split", "tail:16", "--threads", "1",
                                               "--workers", "1", "--json"}));
  EXPECT_EQ(t["train_samples"], 64 - 16);
  ASSERT_TRUE(t["val"].is_object()) << t.dump(2);
  EXPECT_EQ(t["val"]["samples"], 16);
  EXPECT_EQ(t["val_split"], "tail:16");
  EXPECT_EQ(metadata(out, "hqp.val_split"), "tail:16");
  EXPECT_EQ(metadata(out, "hqp.val_size"), "16");
  // eval --split val reuses the stored split: the same 16 samples, the same accuracy.
  const nlohmann::json val = parse_json(run_hqp({"eval", out, "--data", small(), "--split", "val", "--json",
                                                 "--engine", "torch", "--threads", "1"}));
  EXPECT_EQ(val["samples"], 16);
  EXPECT_EQ(val["val_split"], "tail:16");
  EXPECT_NEAR(val["top1"].get<double>(), t["val"]["top1"].get<double>(), 1e-9);
  EXPECT_NEAR(val["loss"].get<double>(), t["val"]["loss"].get<double>(), 1e-4);
  // An explicit split overrides the stored one; tail:N on the train split leaves the first n - N.
  EXPECT_EQ(parse_json(run_hqp({"eval", out, "--data", small(), "--split", "val", "--val-split", "tail:4", "--json"}))
                ["samples"],
            4);
  EXPECT_EQ(parse_json(run_hqp({"eval", out, "--data", small(), "--split", "train", "--val-split", "tail:4", "--json"}))
                ["samples"],
            60);
}

TEST_F(TrainEvalTest, FolderValSplitOnTrainAndEval) {
  const std::string val_dir = file("quad-val");
  std::filesystem::create_directories(val_dir);
  write_quadrant_idx(val_dir, "train", 24, 9);
  // eval: val = the folder's 24 images.
  ASSERT_TRUE(train_result().exited && train_result().exit_code == 0) << train_result().err;
  const nlohmann::json e =
      parse_json(run_hqp({"eval", trained(), "--data", quad(), "--split", "val", "--val-split", val_dir, "--json"}));
  EXPECT_EQ(e["samples"], 24);
  EXPECT_EQ(e["val_split"], val_dir);
  EXPECT_GT(e["top1"].get<double>(), 0.5) << "the trained model knows quadrants: " << e.dump(2);
  // train: every training image trains, the folder validates, and the folder is stored.
  const std::string out = file("folder-val.onnx");
  const nlohmann::json t = parse_json(run_hqp({"train", "--init", tiny(), "--data", small(), "-o", out, "--epochs", "1",
                                               "--batch-size", "16", "--val-split", val_dir, "--threads", "1",
                                               "--workers", "1", "--json"}));
  EXPECT_EQ(t["train_samples"], 64);
  ASSERT_TRUE(t["val"].is_object()) << t.dump(2);
  EXPECT_EQ(t["val"]["samples"], 24);
  EXPECT_EQ(metadata(out, "hqp.val_split"), val_dir);
}

TEST_F(TrainEvalTest, BadValSplitFlags) {
  const std::string out = file("never.onnx");
  EXPECT_TRUE(is_one_line_error(run_hqp({"eval", tiny(), "--data", quad(), "--val-split", "tail:x"}), 1,
                                "cannot parse val split 'tail:x'"));
  EXPECT_TRUE(is_one_line_error(
      run_hqp({"train", "--init", tiny(), "--data", quad(), "-o", out, "--val-split", "random:8", "--val-size", "8"}), 1,
      "both choose the val split"));
  EXPECT_TRUE(is_one_line_error(
      run_hqp({"eval", tiny(), "--data", quad(), "--split", "val", "--val-split", file("no-such-val")}), 1,
      "cannot open the val split"));
  EXPECT_TRUE(is_one_line_error(run_hqp({"eval", tiny(), "--data", quad(), "--std", "0"}), 1, "expected > 0"));
  EXPECT_FALSE(std::filesystem::exists(out));
}

// ---------------------------------------------------------------------------------------------
// Bad input: one line on stderr, exit 1 (2 for usage errors), no output file.

TEST_F(TrainEvalTest, MissingDatasetFolder) {
  const std::string missing = file("no-such-dataset");
  const std::string out = file("never.onnx");
  EXPECT_TRUE(is_one_line_error(run_hqp({"train", "--init", tiny(), "--data", missing, "-o", out}), 1, missing));
  EXPECT_TRUE(is_one_line_error(run_hqp({"eval", tiny(), "--data", missing}), 1, "no such folder"));
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(TrainEvalTest, ModelInputThatDoesNotFitTheData) {
  // 2 input channels; the data has 1 and no transform makes 2.
  const std::string model = file("tiny2.onnx");
  const std::string out = file("never.onnx");
  EXPECT_TRUE(is_one_line_error(run_hqp({"eval", model, "--data", quad()}), 1, "channels=1, expected 2"));
  EXPECT_TRUE(is_one_line_error(run_hqp({"train", "--init", model, "--data", quad(), "-o", out}), 1,
                                "channels=1, expected 2"));
  // 16x16 model, 12x12 crop: the message names the fix.
  EXPECT_TRUE(is_one_line_error(run_hqp({"eval", tiny(), "--data", quad(), "--preprocess", "center_crop(size=12)"}),
                                1, "resize(size=16x16)"));
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(TrainEvalTest, ModelWithTwoInputs) {
  EXPECT_TRUE(
      is_one_line_error(run_hqp({"eval", file("two_inputs.onnx"), "--data", quad()}), 1, "expected 1 image input"));
}

TEST_F(TrainEvalTest, BadNumbersAreUsageErrors) {
  const std::string out = file("never.onnx");
  EXPECT_TRUE(is_one_line_error(run_hqp({"train", "--init", tiny(), "--data", quad(), "-o", out, "--epochs", "0"}), 2,
                                "--epochs: Value 0 not in range 1 to 100000"));
  EXPECT_TRUE(is_one_line_error(run_hqp({"train", "--init", tiny(), "--data", quad(), "-o", out, "--lr", "-0.1"}), 2,
                                "--lr: -0.1 is not > 0"));
  EXPECT_TRUE(is_one_line_error(run_hqp({"eval", tiny(), "--data", quad(), "--engine", "gpu"}), 2, "--engine"));
  EXPECT_TRUE(is_one_line_error(run_hqp({"train", "--arch", "resnet18", "--init", tiny(), "--data", quad(), "-o", out}),
                                1, "exactly one of --arch"));
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(TrainEvalTest, OutputIntoMissingDirectory) {
  const std::string out = file("no-such-dir") + "/model.onnx";
  EXPECT_TRUE(is_one_line_error(run_hqp({"train", "--init", tiny(), "--data", small(), "-o", out, "--epochs", "1"}), 1,
                                "does not exist"));
  EXPECT_FALSE(std::filesystem::exists(file("no-such-dir")));
}

TEST_F(TrainEvalTest, ResumeWithoutCheckpoint) {
  const std::string out = file("never.onnx");
  EXPECT_TRUE(is_one_line_error(run_hqp({"train", "--init", tiny(), "--data", small(), "-o", out, "--checkpoint-dir",
                                         file("empty-ckpt"), "--resume"}),
                                1, "checkpoint.json"));
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace hqp::test
