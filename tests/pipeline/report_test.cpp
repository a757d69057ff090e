// The compress report: report.json holds every figure and the whole trajectory; report.html is
// self-contained, cannot be broken out of by a hostile string, and renders in a real browser
// (headless Chromium): no script error, the charts' elements present.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/prune_test_net.h"
#include "common/self_labelled_data.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "ir/verifier.h"
#include "pipeline/compress.h"
#include "pipeline/report.h"

namespace hqp::test {
namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size())) ++n;
  return n;
}

// One small compress run (sensitivity on), shared by the tests.
const pipeline::CompressOutcome& outcome() {
  static const pipeline::CompressOutcome out = [] {
    ir::Graph m = make_residual_cnn();
    EXPECT_TRUE(ir::verify_and_infer(m).ok());
    auto train = make_self_labelled_data(m, 256, 61, true, 32);
    auto calib = make_self_labelled_data(m, 128, 62, false, 32);
    auto val = make_self_labelled_data(m, 200, 63, false, 50);
    auto test = make_self_labelled_data(m, 200, 64, false, 50);
    pipeline::CompressConfig c;
    c.max_drop = 5.0;
    c.prune.step = 0.2;
    c.prune.min_step = 0.05;
    c.prune.importance_batches = 2;
    c.prune.finetune_steps = 4;
    c.prune.max_attempts = 3;
    c.prune.cost = prune::CostKind::kLatency;
    c.quant.calib_samples = 64;
    c.sensitivity = true;
    c.latency_runs = 2;
    c.latency_rounds = 1;
    c.table_runs = 3;
    auto r = pipeline::compress_model(m, *train, *calib, *val, test.get(), c);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return std::move(r).value();
  }();
  return out;
}

pipeline::ReportContext context() {
  pipeline::ReportContext ctx;
  // A hostile command line: it must not close the page's script element.
  ctx.command = "hqp compress m.onnx --data d -o '</script><script>alert(1)</script>'";
  ctx.model = "m.onnx";
  ctx.output = "</script>.onnx";
  ctx.data = "synthetic";
  ctx.versions = {{"hqp", "test"}};
  ctx.created = "2026-12-05T00:00:00Z";
  return ctx;
}

TEST(CompressReport, JsonHoldsEveryFigureAndTheTrajectory) {
  const pipeline::CompressOutcome& o = outcome();
  pipeline::CompressConfig c;
  const nlohmann::json j = nlohmann::json::parse(pipeline::report_json(o, c, context()));
  EXPECT_EQ(j["format"], "hqp-compress-report");
  EXPECT_EQ(j["command"], context().command);
  EXPECT_DOUBLE_EQ(j["original"]["val_top1"].get<double>(), o.original.val_top1);
  EXPECT_DOUBLE_EQ(j["result"]["latency_ms"].get<double>(), o.result.latency_ms);
  EXPECT_EQ(j["pruning"]["steps"].size(), o.prune.steps.size());
  ASSERT_FALSE(o.prune.steps.empty());
  EXPECT_EQ(j["pruning"]["steps"][0]["channels"].size(), o.prune.steps[0].channels.size());
  ASSERT_TRUE(o.quant.has_value());
  EXPECT_FALSE(o.quant->sensitivity.empty());
  EXPECT_EQ(j["quantization"]["sensitivity"].size(), o.quant->sensitivity.size());
  EXPECT_EQ(j["channels"]["layers"].size(), o.channels_before.size());
  EXPECT_NEAR(j["summary"]["speedup"].get<double>(), o.original.latency_ms / o.result.latency_ms, 1e-12);
  EXPECT_FALSE(j["latency_table"]["ms_per_work"].empty());
}

TEST(CompressReport, HtmlIsSelfContainedAndEscapesTheData) {
  const std::string json = pipeline::report_json(outcome(), pipeline::CompressConfig{}, context());
  const std::string html = pipeline::report_html(json);
  EXPECT_EQ(count(html, "</script>"), 2u) << "embedded data closed a script element";
  EXPECT_EQ(count(html, "http://") + count(html, "https://"), 1u) << "only the SVG namespace URI may appear";
  EXPECT_EQ(count(html, "<link"), 0u);
  EXPECT_EQ(count(html, " src="), 0u);
}

TEST(CompressReport, RendersInHeadlessChromium) {
  const std::string chromium = HQP_CHROMIUM;
  ASSERT_FALSE(chromium.empty()) << "chromium not found at configure time (scripts/setup.sh installs Debian's chromium)";
  TempDir tmp;
  const std::string dir = (tmp.path() / "report").string();
  ASSERT_TRUE(pipeline::write_report(dir, pipeline::report_json(outcome(), pipeline::CompressConfig{}, context())).ok());
  ASSERT_TRUE(std::filesystem::exists(dir + "/report.json"));
  const ProcessResult r = run_process({"/usr/bin/timeout", "180", chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                       "--user-data-dir=" + (tmp.path() / "profile").string(), "--enable-logging=stderr",
                                       "--v=0", "--dump-dom", "file://" + dir + "/report.html"});
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.describe() << ": " << r.err.substr(0, 2000);
  const std::string& dom = r.out;
  EXPECT_NE(dom.find("data-rendered=\"ok\""), std::string::npos) << dom.substr(0, 3000);
  EXPECT_EQ(r.err.find("Uncaught"), std::string::npos) << r.err.substr(0, 3000);
  EXPECT_NE(dom.find("<pre id=\"errors\"></pre>"), std::string::npos) << "the page reported an error";
  // The charts: original + kept steps + final on the path; a bar per layer (before and after) and
  // one per sensitivity entry.
  const pipeline::CompressOutcome& o = outcome();
  size_t kept = 0;
  for (const auto& s : o.prune.steps) kept += s.accepted ? 1 : 0;
  EXPECT_EQ(count(dom, "class=\"point\""), kept + 2);
  EXPECT_EQ(count(dom, "class=\"bar\""), 2 * o.channels_before.size() + o.quant->sensitivity.size());
  EXPECT_NE(dom.find("id=\"chart-path\""), std::string::npos);
  EXPECT_NE(dom.find("hybrid"), std::string::npos);
}

}  // namespace
}  // namespace hqp::test
