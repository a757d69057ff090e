// The CLI faces of the fast runtime on the demo model: `hqp bench` (--json keys, --profile rows,
// --threads 0 as a one-line error) and `hqp run --engine fast` against `--engine ref`.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "common/tensor_compare.h"
#include "onnx/import.h"
#include "runtime/session_test_util.h"
#include "runtime/session_tolerances.h"

namespace hqp::test {
namespace {

constexpr int kStatusErrorExit = 1;  // tools/hqp/main.cpp: a failed Status exits 1

ProcessResult run_hqp(std::vector<std::string> args) {
  args.insert(args.begin(), kHqp);
  return run_process(args);
}

// The CLI's error contract: exit `code`, exactly one line on stderr, containing `substr`.
::testing::AssertionResult is_one_line_error(const ProcessResult& r, int code, std::string_view substr) {
  if (!r.spawned || !r.exited || r.exit_code != code) {
    return ::testing::AssertionFailure() << r.describe() << " (expected exit " << code << "); stderr: " << r.err;
  }
  if (std::count(r.err.begin(), r.err.end(), '\n') != 1 || r.err.back() != '\n') {
    return ::testing::AssertionFailure() << "stderr is not one line: " << r.err;
  }
  if (r.err.find(substr) == std::string::npos) {
    return ::testing::AssertionFailure() << "stderr lacks '" << substr << "': " << r.err;
  }
  return ::testing::AssertionSuccess();
}

nlohmann::json bench_json(std::vector<std::string> extra) {
  std::vector<std::string> args = {"bench", kDemoModel, "--runs", "3", "--warmup", "1", "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const ProcessResult r = run_hqp(args);
  EXPECT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.out;
  return j;
}

TEST(CliBench, JsonHasTheDocumentedKeys) {
  const nlohmann::json j = bench_json({"--threads", "2"});
  ASSERT_TRUE(j.is_object());
  for (const char* key : {"median_ms", "min_ms", "p90_ms", "throughput_per_s", "peak_bytes", "weight_bytes",
                          "resident_growth_bytes", "resident_library_growth_bytes", "plan_threads",
                          "thread_switches"}) {
    ASSERT_TRUE(j.contains(key)) << key << " missing: " << j.dump();
    EXPECT_TRUE(j[key].is_number()) << key;
  }
  const double median = j["median_ms"], min = j["min_ms"], p90 = j["p90_ms"];
  EXPECT_GT(min, 0.0);
  EXPECT_LE(min, median);
  EXPECT_LE(median, p90);
  EXPECT_NEAR(j["throughput_per_s"].get<double>(), 1000.0 / median, 1e-6 * 1000.0 / median);
  EXPECT_GT(j["peak_bytes"].get<int64_t>(), 0);
  EXPECT_GT(j["weight_bytes"].get<int64_t>(), 0);
  EXPECT_GE(j["resident_growth_bytes"].get<int64_t>(), 0) << "/proc/self/status is readable here";
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["input_shape"], nlohmann::json::parse("[1, 1, 28, 28]"));
  EXPECT_FALSE(j.contains("profile")) << "per-node rows only with --profile";
  EXPECT_GE(j["thread_switches"].get<int64_t>(), 0);
  EXPECT_TRUE(j["plan_threads"] == 1 || j["plan_threads"] == 2) << j["plan_threads"];
}

TEST(CliBench, FixedThreadsNeverSwitches) {
  const nlohmann::json j = bench_json({"--threads", "2", "--fixed-threads"});
  EXPECT_EQ(j["plan_threads"], 2);
  EXPECT_EQ(j["thread_switches"], 0);
}

// --f32-layout reaches the plan: --verbose names each FP32 conv's layout.
TEST(CliBench, F32LayoutPicksTheConvLayout) {
  for (const std::string layout : {"nhwc", "nchw8c"}) {
    const ProcessResult r = run_hqp({"bench", kDemoModel, "--runs", "2", "--warmup", "0", "--verbose", "--f32-layout", layout});
    ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
    EXPECT_NE(r.out.find(", " + layout + ")"), std::string::npos) << r.out;
    if (layout == "nhwc") EXPECT_EQ(r.out.find("nchw8c"), std::string::npos) << r.out;
  }
  EXPECT_TRUE(is_one_line_error(run_hqp({"bench", kDemoModel, "--f32-layout", "nchw16c"}), 2, "--f32-layout"));
}

TEST(CliBench, BatchSetsTheDynamicDim) {
  const nlohmann::json j = bench_json({"--batch", "4"});
  EXPECT_EQ(j["input_shape"], nlohmann::json::parse("[4, 1, 28, 28]"));
  EXPECT_NEAR(j["throughput_per_s"].get<double>(), 4000.0 / j["median_ms"].get<double>(), 1e-3);
}

TEST(CliBench, ThreadsOutsideOneTo256IsAUsageError) {
  // Checked by the option parser (exit 2) before the model is opened; 100000 used to segfault
  // inside libgomp.
  for (const char* threads : {"0", "-3", "100000"}) {
    const ProcessResult r = run_hqp({"bench", kDemoModel, "--threads", threads});
    EXPECT_TRUE(is_one_line_error(r, 2, std::string("--threads: Value ") + threads + " not in range 1 to 256"));
    EXPECT_EQ(r.out, "");
  }
}

// Names of the nodes the fast plan runs, from the library (what --profile must list).
std::vector<std::string> demo_plan_nodes() {
  Result<Session> s = load_session(kDemoModel, session_options(Engine::kFast, 1));
  EXPECT_TRUE(s.ok()) << s.status().message();
  EXPECT_TRUE(s->run(std::vector<Tensor>{random_f32({1, 1, 28, 28}, 1)}).ok());
  std::vector<std::string> names;
  for (const NodePlanInfo& n : s->plan_info()) names.push_back(n.node);
  return names;
}

TEST(CliBench, ProfileJsonHasOneRowPerStep) {
  const nlohmann::json j = bench_json({"--profile"});
  ASSERT_TRUE(j.contains("profile") && j["profile"].is_array()) << j.dump();
  std::vector<std::string> rows;
  int conv_rows = 0;
  for (const nlohmann::json& p : j["profile"]) {
    for (const char* key : {"node", "op", "implementation", "ms", "macs", "gops"}) {
      ASSERT_TRUE(p.contains(key)) << key << " missing in " << p.dump();
    }
    rows.push_back(p["node"]);
    EXPECT_GE(p["ms"].get<double>(), 0.0) << p.dump();
    EXPECT_FALSE(p["implementation"].get<std::string>().empty()) << p.dump();
    const std::string op = p["op"];
    if (op == "Conv" || op == "FusedConv") {
      ++conv_rows;
      EXPECT_GT(p["macs"].get<int64_t>(), 0) << p.dump();
      EXPECT_GT(p["gops"].get<double>(), 0.0) << p.dump();
    }
  }
  EXPECT_EQ(conv_rows, 7) << "the demo model has 7 convolutions";
  // Every node of the plan has a row (reorder steps add rows of their own).
  for (const std::string& n : demo_plan_nodes()) {
    EXPECT_NE(std::find(rows.begin(), rows.end(), n), rows.end()) << "no profile row for node " << n;
  }
}

TEST(CliBench, ProfileTextHasPerNodeRows) {
  const ProcessResult r = run_hqp({"bench", kDemoModel, "--runs", "3", "--warmup", "1", "--profile"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  EXPECT_NE(r.out.find("median"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GOP/s"), std::string::npos) << r.out;
  for (const std::string& n : demo_plan_nodes()) {
    EXPECT_NE(r.out.find("\n" + n + " "), std::string::npos) << "no row starting with node " << n << ":\n" << r.out;
  }
}

TEST(CliRun, FastEngineEqualsReferenceEngineOnTheDemoModel) {
  TempDir tmp;
  const std::string fast_dir = tmp.file("fast");
  const std::string ref_dir = tmp.file("ref");
  const ProcessResult fast = run_hqp({"run", kDemoModel, "-i", kDemoInput, "-o", fast_dir, "--engine", "fast"});
  ASSERT_TRUE(fast.exited && fast.exit_code == 0) << fast.describe() << ": " << fast.err;
  const ProcessResult ref = run_hqp({"run", kDemoModel, "-i", kDemoInput, "-o", ref_dir, "--engine", "ref"});
  ASSERT_TRUE(ref.exited && ref.exit_code == 0) << ref.describe() << ": " << ref.err;
  Result<Tensor> got = onnx_io::read_tensor_file(fast_dir + "/output_0.pb");
  ASSERT_TRUE(got.ok()) << got.status().message();
  Result<Tensor> want = onnx_io::read_tensor_file(ref_dir + "/output_0.pb");
  ASSERT_TRUE(want.ok()) << want.status().message();
  ASSERT_FALSE(type_mismatch(*got, *want)) << *type_mismatch(*got, *want);
  const double err = max_relative_error(*got, *want);
  EXPECT_LE(err, kRunFastVsRefMaxRelErr);
  std::printf("[ CLI RUN  ] demo fast vs ref rel err %.2e\n", err);
}

TEST(CliRun, VerboseShowsTheKernelPerNode) {
  TempDir tmp;
  const ProcessResult r =
      run_hqp({"run", kDemoModel, "-i", kDemoInput, "-o", tmp.file("out"), "--engine", "fast", "--verbose"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err;
  EXPECT_NE(r.err.find("conv_f32__onednn"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hqp::test
