// Data-parallel training end to end (issue 14): `hqp launch -n 2 -- hqp train ...` on loopback
// (c10d / Gloo) against one process with the doubled batch, a worker killed mid-epoch, and the
// flag / rendezvous errors. The model is the tiny classifier without batch norm, so that 2 ranks ×
// batch B and 1 rank × batch 2B compute the same gradients up to float summation order.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_test_util.h"
#include "cli/quadrant_data.h"

namespace hqp::test {
namespace {

std::map<std::string, std::vector<float>> initializers(const std::string& path) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(read_file(path))) << path;
  std::map<std::string, std::vector<float>> out;
  for (const onnx::TensorProto& t : m.graph().initializer()) out[t.name()] = float_values(t);
  return out;
}

// The pytorch_eval fixture (a small CNN PyTorch trained on Fashion-MNIST): its expected.json, or
// nullopt when the fixture skipped (no dataset).
std::optional<nlohmann::json> pytorch_fixture() {
  const std::string dir = HQP_PYTORCH_EVAL_DIR;
  if (std::filesystem::exists(dir + "/SKIPPED")) return std::nullopt;
  std::ifstream f(dir + "/expected.json");
  EXPECT_TRUE(f) << dir << "/expected.json missing (fixture pytorch_eval_generate did not run)";
  return f ? nlohmann::json::parse(f) : nlohmann::json::object();
}

// `verb` on the fixture's model and data (its normalization, 600 val samples), then `more`.
std::vector<std::string> pytorch_args(const std::string& verb, const nlohmann::json& expected,
                                      const std::vector<std::string>& more) {
  const std::string dir = HQP_PYTORCH_EVAL_DIR;
  std::vector<std::string> a = {verb, dir + "/model.onnx", "--data", dir + "/data", "--mean", expected["mean"].dump(),
                                "--std", expected["std"].dump(), "--val-split", "random:600", "--threads", "1",
                                "--workers", "1", "--json"};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

// The pid of a live process whose environment holds `tag` and RANK=`rank` (a launched worker).
pid_t find_worker(const std::string& tag, int rank) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream f(e.path() / "environ", std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    // NUL-separated VAR=value entries; match whole entries.
    std::vector<std::string> vars;
    std::string entry;
    while (std::getline(ss, entry, '\0')) vars.push_back(entry);
    const auto has = [&](const std::string& v) { return std::find(vars.begin(), vars.end(), v) != vars.end(); };
    if (has(tag) && has("RANK=" + std::to_string(rank))) {
      return static_cast<pid_t>(std::stol(name));
    }
  }
  return -1;
}

class DistributedTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>();
    std::filesystem::create_directories(quad());
    write_quadrant_idx(quad(), "train", 256, 11);
    write_quadrant_idx(quad(), "t10k", 64, 12);
    ASSERT_TRUE(write_file(tiny(), serialize(tiny_classifier(1))));
    ASSERT_TRUE(write_file(tiny_bn(), serialize(tiny_classifier(1, true))));
  }
  static void TearDownTestSuite() { dir_.reset(); }

  static std::vector<std::string> train_args(const std::string& out, const std::string& batch,
                                             const std::string& epochs = "2", const std::string& val_size = "40") {
    return {"train", "--init", tiny(), "--data", quad(), "-o", out, "--epochs", epochs, "--batch-size", batch,
            "--lr", "0.05", "--val-size", val_size, "--threads", "1", "--workers", "1", "--schedule", "constant",
            "--json"};
  }

  static std::string file(const std::string& name) { return dir_->file(name); }
  static std::string quad() { return file("quad"); }
  static std::string tiny() { return file("tiny.onnx"); }
  static std::string tiny_bn() { return file("tiny_bn.onnx"); }
  static std::unique_ptr<TempDir> dir_;
};

std::unique_ptr<TempDir> DistributedTest::dir_;

// Largest |a - b| over every initializer of two models (and that the first moved from `init`).
double max_weight_difference(const std::string& a_path, const std::string& b_path, const std::string& init) {
  const auto a = initializers(a_path), b = initializers(b_path), w0 = initializers(init);
  EXPECT_EQ(a.size(), b.size());
  double diff = 0.0, moved = 0.0;
  for (const auto& [name, va] : a) {
    const auto& vb = b.at(name);
    EXPECT_EQ(va.size(), vb.size()) << name;
    for (size_t i = 0; i < va.size() && i < vb.size(); ++i) {
      diff = std::max(diff, std::fabs(static_cast<double>(va[i]) - vb[i]));
      moved = std::max(moved, std::fabs(static_cast<double>(va[i]) - w0.at(name)[i]));
    }
  }
  EXPECT_GT(moved, 1e-3) << a_path << " did not train";
  return diff;
}

TEST_F(DistributedTest, TwoRanksOfBatchBEqualOneRankOfBatch2B) {
  const std::string one = file("one.onnx"), two = file("two.onnx");
  const nlohmann::json j1 = parse_json(run_hqp(train_args(one, "32")));
  std::vector<std::string> launch = {"launch", "-n", "2", "--", "hqp"};
  for (const std::string& a : train_args(two, "16")) launch.push_back(a);
  const nlohmann::json j2 = parse_json(run_hqp(launch));  // rank 0's JSON; rank 1 prints nothing

  // 216 train samples (256 - 40 val), global batch 32: 6 steps per epoch, 12 in all, both ways.
  const auto w1 = initializers(one), w2 = initializers(two);
  ASSERT_EQ(w1.size(), 4u);
  ASSERT_EQ(w1.size(), w2.size());
  const auto w0 = initializers(tiny());
  for (const auto& [name, a] : w1) {
    const auto& b = w2.at(name);
    ASSERT_EQ(a.size(), b.size()) << name;
    double diff = 0.0, moved = 0.0, scale = 0.0;
    for (size_t i = 0; i < a.size(); ++i) {
      diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
      moved = std::max(moved, std::fabs(static_cast<double>(a[i]) - w0.at(name)[i]));
      scale = std::max(scale, std::fabs(static_cast<double>(a[i])));
    }
    EXPECT_GT(moved, 1e-3) << name << " did not train";
    EXPECT_LE(diff, 1e-5 * std::max(1.0, scale)) << name << ": 2 ranks x 16 and 1 rank x 32 differ";
  }
  // Epoch figures and evaluation cover the whole data set, not rank 0's shard.
  ASSERT_EQ(j1["epochs"].size(), 2u);
  ASSERT_EQ(j2["epochs"].size(), 2u);
  EXPECT_EQ(j2["val"]["samples"], 40);
  EXPECT_EQ(j2["test"]["samples"], 64);
  EXPECT_NEAR(j2["val"]["top1"].get<double>(), j1["val"]["top1"].get<double>(), 1e-9);
  EXPECT_NEAR(j2["test"]["top1"].get<double>(), j1["test"]["top1"].get<double>(), 1e-9);
  EXPECT_NEAR(j2["test"]["loss"].get<double>(), j1["test"]["loss"].get<double>(), 1e-4);
  EXPECT_NEAR(j2["epochs"][1]["train_loss"].get<double>(), j1["epochs"][1]["train_loss"].get<double>(), 1e-4);
  EXPECT_NE(metadata(two, "hqp.train").find("\"world_size\":2"), std::string::npos);

  // Buckets of at most 10 bytes: one per parameter (4, against one bucket by default), each
  // all-reduce started during backward; the sums, and so the weights, are the same.
  const std::string small = file("two_small_buckets.onnx");
  launch = {"launch", "-n", "2", "--", "hqp"};
  for (const std::string& a : train_args(small, "16")) launch.push_back(a);
  launch.insert(launch.end(), {"--bucket-mb", "0.00001"});
  (void)parse_json(run_hqp(launch));
  EXPECT_LE(max_weight_difference(small, one, tiny()), 1e-5) << "--bucket-mb 0.00001 changed the result";
}

// With BatchNorm, per-rank batch statistics differ from the global batch's; --sync-bn makes
// them the global ones again (weights and running statistics), and without it they differ.
TEST_F(DistributedTest, SyncBatchNormMatchesTheGlobalBatch) {
  auto args = [&](const std::string& out, const std::string& batch) {
    std::vector<std::string> a = train_args(out, batch);
    a[2] = tiny_bn();
    return a;
  };
  const std::string one = file("bn1.onnx"), synced = file("bn2_sync.onnx"), local = file("bn2_local.onnx");
  parse_json(run_hqp(args(one, "32")));
  std::vector<std::string> launch = {"launch", "-n", "2", "--", "hqp"};
  std::vector<std::string> launch_sync = launch;
  for (const std::string& a : args(synced, "16")) launch_sync.push_back(a);
  launch_sync.push_back("--sync-bn");
  parse_json(run_hqp(launch_sync));
  for (const std::string& a : args(local, "16")) launch.push_back(a);
  parse_json(run_hqp(launch));
  EXPECT_LE(max_weight_difference(synced, one, tiny_bn()), 2e-5);
  EXPECT_GT(max_weight_difference(local, one, tiny_bn()), 1e-4);
}

// Pruning on 2 ranks takes the decisions of 1 rank with the same global batch: the Fisher sums
// and val counts are all-reduced, rank 0's latencies broadcast. On the small CNN PyTorch trained
// on real Fashion-MNIST (fixture pytorch_eval), not on an hqp model.
TEST_F(DistributedTest, PruningDecisionsAreTheSameOnOneAndTwoRanks) {
  const auto expected = pytorch_fixture();
  if (!expected) GTEST_SKIP() << "fixture skipped (no dataset)";
  auto args = [&](const std::string& out, const std::string& report, const std::string& batch) {
    return pytorch_args("prune", *expected,
                        {"-o", out, "--max-drop", "2", "--target-macs", "0.6", "--step", "0.2", "--min-step", "0.1",
                         "--finetune-steps", "10", "--importance-batches", "4", "--batch-size", batch, "--report",
                         report});
  };
  const std::string r1 = file("prune1.json"), r2 = file("prune2.json");
  const nlohmann::json j1 = parse_json(run_hqp(args(file("pruned1.onnx"), r1, "64")));
  std::vector<std::string> launch = {"launch", "-n", "2", "--", "hqp"};
  for (const std::string& a : args(file("pruned2.onnx"), r2, "32")) launch.push_back(a);
  const nlohmann::json j2 = parse_json(run_hqp(launch));
  const nlohmann::json a = nlohmann::json::parse(read_file(r1)), b = nlohmann::json::parse(read_file(r2));
  ASSERT_GE(a["steps"].size(), 1u);
  ASSERT_EQ(a["steps"].size(), b["steps"].size());
  for (size_t i = 0; i < a["steps"].size(); ++i) {
    const auto& sa = a["steps"][i];
    const auto& sb = b["steps"][i];
    EXPECT_EQ(sa["accepted"], sb["accepted"]) << "step " << i;
    EXPECT_EQ(sa["channels_removed"], sb["channels_removed"]) << "step " << i;
    EXPECT_EQ(sa["channels"], sb["channels"]) << "step " << i << ": other channels kept";
    EXPECT_NEAR(sa["val_top1"].get<double>(), sb["val_top1"].get<double>(), 0.005) << "step " << i;
  }
  EXPECT_EQ(j1["after"]["macs"], j2["after"]["macs"]);
  EXPECT_DOUBLE_EQ(j1["before"]["val_top1"].get<double>(), j2["before"]["val_top1"].get<double>());
  EXPECT_DOUBLE_EQ(j1["before"]["test_top1"].get<double>(), j2["before"]["test_top1"].get<double>());
  EXPECT_FALSE(std::filesystem::exists(file("pruned2.onnx.prune-checkpoint"))) << "rank 0 removes its checkpoint";
}

// Calibration on 2 ranks sees the same rows as on 1 (each rank its share of the first
// --calib-samples): ranges are the min / max over ranks and histograms sum exactly, so the two
// QDQ models are the same bytes, and so are the val / test accuracies and the fallback decisions.
TEST_F(DistributedTest, CalibrationOnTwoRanksWritesTheSameQdqModel) {
  const auto expected = pytorch_fixture();
  if (!expected) GTEST_SKIP() << "fixture skipped (no dataset)";
  for (const std::string calibrator : {"minmax", "entropy"}) {
    auto args = [&](const std::string& out, const std::string& batch) {
      return pytorch_args("quantize", *expected,
                          {"-o", out, "--calibrator", calibrator, "--calib-samples", "200", "--batch-size", batch});
    };
    const std::string q1 = file("q1_" + calibrator + ".onnx"), q2 = file("q2_" + calibrator + ".onnx");
    const nlohmann::json j1 = parse_json(run_hqp(args(q1, "32")));
    std::vector<std::string> launch = {"launch", "-n", "2", "--", "hqp"};
    for (const std::string& a : args(q2, "16")) launch.push_back(a);
    const nlohmann::json j2 = parse_json(run_hqp(launch));
    onnx::ModelProto m1, m2;
    ASSERT_TRUE(m1.ParseFromString(read_file(q1)));
    ASSERT_TRUE(m2.ParseFromString(read_file(q2)));
    ASSERT_EQ(m1.graph().initializer_size(), m2.graph().initializer_size());
    for (int i = 0; i < m1.graph().initializer_size(); ++i) {
      EXPECT_EQ(m1.graph().initializer(i).SerializeAsString(), m2.graph().initializer(i).SerializeAsString())
          << calibrator << ": initializer " << m1.graph().initializer(i).name() << " differs";
    }
    EXPECT_EQ(j1["calib_samples"], 200);
    EXPECT_EQ(j2["calib_samples"], 200);
    EXPECT_DOUBLE_EQ(j1["int8"]["val_top1"].get<double>(), j2["int8"]["val_top1"].get<double>()) << calibrator;
    EXPECT_DOUBLE_EQ(j1["int8"]["test_top1"].get<double>(), j2["int8"]["test_top1"].get<double>()) << calibrator;
  }
}

// --resume on 2 ranks continues the run rank 0 checkpointed: the same bytes as an uninterrupted
// 2-rank run. A checkpoint of another world size is refused (global batch and order depend on it).
TEST_F(DistributedTest, ResumeWithTheSameWorldSizeEqualsAnUninterruptedRun) {
  auto launch = [&](const std::string& out, const std::string& epochs, const std::string& ckpt, bool resume) {
    std::vector<std::string> a = {"launch", "-n", "2", "--", "hqp"};
    for (const std::string& x : train_args(out, "16", epochs)) a.push_back(x);
    a.insert(a.end(), {"--checkpoint-dir", ckpt});
    if (resume) a.push_back("--resume");
    return run_hqp(a);
  };
  const std::string full_ckpt = file("ckpt_full"), ckpt = file("ckpt_resume");
  ProcessResult r = launch(file("full.onnx"), "2", full_ckpt, false);
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.err;
  r = launch(file("half.onnx"), "1", ckpt, false);
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.err;
  r = launch(file("resumed.onnx"), "2", ckpt, true);
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.err;
  EXPECT_TRUE(read_file(file("resumed.onnx")) == read_file(file("full.onnx"))) << "resumed weights differ";
  // One process cannot continue a 2-rank checkpoint.
  std::vector<std::string> single = train_args(file("single.onnx"), "32", "2");
  single.insert(single.end(), {"--checkpoint-dir", ckpt, "--resume"});
  EXPECT_TRUE(is_one_line_error(run_hqp(single), 1, "written by a run of 2 rank(s)"));
}

// The whole pipeline on 2 ranks: pruning gated on the quantized candidate (the deploy step
// calibrates on the group), the final INT8 model, the same decisions as one process. MAC costs:
// compress's default latency costs come from a timed table, which two separate runs never measure
// alike (on one rank or two).
TEST_F(DistributedTest, CompressTakesTheSameDecisionsOnTwoRanks) {
  const auto expected = pytorch_fixture();
  if (!expected) GTEST_SKIP() << "fixture skipped (no dataset)";
  auto args = [&](const std::string& out, const std::string& batch) {
    return pytorch_args("compress", *expected,
                        {"-o", out, "--max-drop", "2", "--target-macs", "0.7", "--step", "0.2", "--min-step", "0.1",
                         "--finetune-steps", "10", "--importance-batches", "4", "--batch-size", batch,
                         "--calib-samples", "128", "--latency-runs", "5", "--cost", "macs"});
  };
  const nlohmann::json j1 = parse_json(run_hqp(args(file("c1.onnx"), "64")));
  std::vector<std::string> launch = {"launch", "-n", "2", "--", "hqp"};
  for (const std::string& a : args(file("c2.onnx"), "32")) launch.push_back(a);
  const nlohmann::json j2 = parse_json(run_hqp(launch));
  EXPECT_EQ(j1["steps_kept"], j2["steps_kept"]);
  EXPECT_EQ(j1["after"]["macs"], j2["after"]["macs"]);
  EXPECT_EQ(j1["kept_float"], j2["kept_float"]);
  EXPECT_DOUBLE_EQ(j1["before"]["val_top1"].get<double>(), j2["before"]["val_top1"].get<double>());
  EXPECT_NEAR(j1["after"]["val_top1"].get<double>(), j2["after"]["val_top1"].get<double>(), 0.005);
  EXPECT_LE(j2["val_drop_pp"].get<double>(), 2.0 + 1e-9);
  EXPECT_FALSE(std::filesystem::exists(file("c2.onnx.compress-work"))) << "rank 0 removes its work dir";
}

TEST_F(DistributedTest, AShortLastBatchLeavesARankWithoutRowsAndStillMatches) {
  // Validation is not dropped to whole batches: 41 val samples over 2 ranks × batch 8 end with a
  // global batch of 1 row, whose share on rank 1 is empty; the counts still add up.
  const std::string one = file("short1.onnx"), two = file("short2.onnx");
  const nlohmann::json j1 = parse_json(run_hqp(train_args(one, "16", "1", "41")));
  std::vector<std::string> launch = {"launch", "-n", "2", "--", "hqp"};
  for (const std::string& a : train_args(two, "8", "1", "41")) launch.push_back(a);
  const nlohmann::json j2 = parse_json(run_hqp(launch));
  EXPECT_EQ(j2["val"]["samples"], 41);
  EXPECT_NEAR(j2["val"]["top1"].get<double>(), j1["val"]["top1"].get<double>(), 1e-9);
}

TEST_F(DistributedTest, AKilledWorkerEndsTheOtherWithinTheTimeoutNamingTheRank) {
  const std::string tag = "HQP_DIST_TEST_TAG=" + std::to_string(::getpid());
  ASSERT_EQ(::setenv("HQP_DIST_TEST_TAG", std::to_string(::getpid()).c_str(), 1), 0);
  const std::string ckpt = file("kill_ckpt");
  std::vector<std::string> args = {"launch", "-n", "2", "--timeout", "30", "--", "hqp"};
  for (const std::string& a : train_args(file("killed.onnx"), "16", "100000")) args.push_back(a);
  args.insert(args.end(), {"--checkpoint-dir", ckpt, "--timeout", "20"});

  std::atomic<bool> done{false};
  std::chrono::steady_clock::time_point killed_at{};
  std::atomic<bool> killed{false};
  std::thread killer([&] {
    // Mid-training: after the first epoch's checkpoint, kill rank 1 hard.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!done && std::chrono::steady_clock::now() < give_up) {
      if (std::filesystem::exists(ckpt + "/checkpoint.json")) {
        const pid_t pid = find_worker(tag, 1);
        if (pid > 0) {
          killed_at = std::chrono::steady_clock::now();
          ::kill(pid, SIGKILL);
          killed = true;
          return;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const ProcessResult r = run_hqp(args);
  const auto ended = std::chrono::steady_clock::now();
  done = true;
  killer.join();
  ::unsetenv("HQP_DIST_TEST_TAG");
  ASSERT_TRUE(killed.load()) << "the worker was never found: " << r.err;
  ASSERT_TRUE(r.exited) << r.describe();
  EXPECT_NE(r.exit_code, 0);
  const double seconds = std::chrono::duration<double>(ended - killed_at).count();
  EXPECT_LT(seconds, 20.0) << "rank 0 outlived its --timeout: " << r.err;
  // The launcher names the dead rank; rank 0 names itself and the collective that failed.
  EXPECT_NE(r.err.find("rank 1 of 2 was killed by signal 9"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rank 0 of 2: "), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(file("killed.onnx"))) << "no output after a failed run";
}

TEST_F(DistributedTest, FlagAndRendezvousErrorsAreOneLine) {
  EXPECT_TRUE(is_one_line_error(run_hqp({"train", "--init", tiny(), "--data", quad(), "-o", file("x.onnx"),
                                         "--world-size", "2", "--rank", "2"}),
                                1, "bad rank 2 for world size 2"));
  EXPECT_TRUE(is_one_line_error(run_hqp({"train", "--init", tiny(), "--data", quad(), "-o", file("x.onnx"),
                                         "--world-size", "2", "--master", "127.0.0.1:notaport"}),
                                1, "bad port in --master 'notaport'"));
  // Rank 1 of 2 alone: the rendezvous at a port nobody serves gives up after --timeout.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(is_one_line_error(run_hqp({"train", "--init", tiny(), "--data", quad(), "-o", file("x.onnx"),
                                         "--world-size", "2", "--rank", "1", "--master", "127.0.0.1:9",
                                         "--timeout", "2"}),
                                1, "rank 1 of 2: cannot join the process group at 127.0.0.1:9 within 2 s"));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 60.0);
  EXPECT_FALSE(std::filesystem::exists(file("x.onnx")));
  EXPECT_TRUE(is_one_line_error(run_hqp({"launch", "-n", "2"}), 2, ""));
  // A failing command: the launcher reports the first failed rank and exits non-zero.
  const ProcessResult r = run_hqp({"launch", "-n", "2", "--", "/bin/false"});
  EXPECT_TRUE(r.exited && r.exit_code == 1) << r.describe();
  EXPECT_NE(r.err.find("exited with status 1"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hqp::test
