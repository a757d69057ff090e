// runtime::ThreadAdapter (the policy) on synthetic latencies, and SessionOptions::adapt_threads
// (the session's switch to a plan's one-thread alternative and back) on real plans.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "common/tensor_compare.h"
#include "onnx/import.h"
#include "runtime/session_test_util.h"
#include "runtime/thread_adapter.h"

namespace hqp::test {
namespace {

using runtime::ThreadAdapter;
using Choice = ThreadAdapter::Choice;

// Runs `n` steps of `a`, each with the latency `ms(choice)`; returns the choices made.
template <typename F>
std::vector<Choice> drive(ThreadAdapter& a, int n, F ms) {
  std::vector<Choice> made;
  for (int i = 0; i < n; ++i) {
    const Choice c = a.next();
    a.record(c, ms(c, i));
    made.push_back(c);
  }
  return made;
}

int count(const std::vector<Choice>& v, Choice c) { return static_cast<int>(std::count(v.begin(), v.end(), c)); }

TEST(ThreadAdapter, QuietMachineNeverProbesNarrow) {
  ThreadAdapter a;
  // +-10 % jitter and a 3x spike every 7th run: medians of 5 stay near the baseline.
  const auto made = drive(a, 500, [](Choice, int i) { return i % 7 == 3 ? 30.0 : 10.0 + (i % 3) - 1.0; });
  EXPECT_EQ(count(made, Choice::kNarrow), 0);
  EXPECT_EQ(a.switches(), 0);
  EXPECT_NEAR(a.wide_baseline_ms(), 10.0, 1.0);
}

TEST(ThreadAdapter, ContentionMovesToNarrowAndQuietBringsItBack) {
  ThreadAdapter a;
  drive(a, 20, [](Choice, int) { return 10.0; });
  ASSERT_EQ(a.next(), Choice::kWide);
  // A core is taken: wide 2.5x slower, narrow (on the free core) 1.7x.
  auto busy = [](Choice c, int) { return c == Choice::kWide ? 25.0 : 17.0; };
  const auto made = drive(a, 200, busy);
  EXPECT_EQ(a.switches(), 1);
  EXPECT_EQ(a.next(), Choice::kNarrow);
  // It noticed within a median window and tried narrow for one window.
  const auto first_narrow = std::find(made.begin(), made.end(), Choice::kNarrow) - made.begin();
  EXPECT_LE(first_narrow, ThreadAdapter::kWindow);
  // After that, one wide probe per kRecheckEvery narrow runs, never more.
  const int wide_after = count(std::vector<Choice>(made.begin() + first_narrow, made.end()), Choice::kWide);
  EXPECT_GE(wide_after, 1);
  EXPECT_LE(wide_after, 200 / ThreadAdapter::kRecheckEvery + 1);
  // The other process ends: the next wide probe is back at the quiet latency and wins.
  const auto quiet = drive(a, 2 * ThreadAdapter::kRecheckEvery, [](Choice c, int) {
    return c == Choice::kWide ? 10.0 : 17.0;
  });
  EXPECT_EQ(a.switches(), 2);
  EXPECT_EQ(a.next(), Choice::kWide);
  EXPECT_EQ(quiet.back(), Choice::kWide);
}

TEST(ThreadAdapter, SlowerButNotContendedKeepsWideWithANewBaseline) {
  ThreadAdapter a;
  drive(a, 20, [](Choice, int) { return 10.0; });
  // Everything 1.5x slower (another machine state), and narrow no better than wide.
  const auto made = drive(a, 300, [](Choice c, int) { return c == Choice::kWide ? 15.0 : 24.0; });
  EXPECT_EQ(a.switches(), 0);
  EXPECT_EQ(a.next(), Choice::kWide);
  // One narrow window to find out, then never again at this latency.
  EXPECT_EQ(count(made, Choice::kNarrow), ThreadAdapter::kWindow);
  EXPECT_NEAR(a.wide_baseline_ms(), 15.0, 1e-9);
}

TEST(ThreadAdapter, StarvedThreadsFromTheFirstRunMoveToNarrow) {
  // Busy from the start: no quiet baseline, but the two threads get 1.4 cores' worth of CPU time.
  ThreadAdapter a(2);
  for (int i = 0; i < 100; ++i) {
    const Choice c = a.next();
    if (c == Choice::kWide) a.record(c, 25.0, 25.0 * 2 * 0.7);
    else a.record(c, 17.0, 17.0);
  }
  EXPECT_EQ(a.switches(), 1);
  EXPECT_EQ(a.next(), Choice::kNarrow);
}

TEST(ThreadAdapter, ThreadsIdleForAnotherReasonCostLittle) {
  // Low utilization (a long single-threaded step), but narrow is slower: trials back off.
  ThreadAdapter a(2);
  std::vector<Choice> made;
  for (int i = 0; i < 1000; ++i) {
    const Choice c = a.next();
    if (c == Choice::kWide) a.record(c, 10.0, 10.0 * 2 * 0.6);
    else a.record(c, 18.0, 18.0);
    made.push_back(c);
  }
  EXPECT_EQ(a.switches(), 0);
  // Trials after 5, then 20, 40, 80, 160, 320 more wide runs: 6 windows of narrow in 1000 runs.
  EXPECT_LE(count(made, Choice::kNarrow), 7 * ThreadAdapter::kWindow);
  EXPECT_GE(count(made, Choice::kNarrow), ThreadAdapter::kWindow);
  EXPECT_NEAR(a.wide_baseline_ms(), 10.0, 1e-9);
}

TEST(ThreadAdapter, BusyThreadsNeverTrigger) {
  ThreadAdapter a(4);
  for (int i = 0; i < 300; ++i) a.record(a.next(), 10.0, 10.0 * 4 * 0.97);
  EXPECT_EQ(a.switches(), 0);
  EXPECT_EQ(a.next(), Choice::kWide);
}

TEST(ThreadAdapter, IgnoresNonLatencies) {
  ThreadAdapter a;
  for (int i = 0; i < 20; ++i) a.record(Choice::kWide, std::nan(""));
  for (int i = 0; i < 20; ++i) a.record(Choice::kWide, -1.0);
  EXPECT_EQ(a.wide_baseline_ms(), 0.0);
  EXPECT_EQ(a.next(), Choice::kWide);
}

TEST(ThreadAdapter, ForcedNarrowReturnsOnAQuietProbe) {
  ThreadAdapter a;
  drive(a, 10, [](Choice, int) { return 10.0; });
  a.force_narrow();
  EXPECT_EQ(a.next(), Choice::kNarrow);
  drive(a, ThreadAdapter::kRecheckEvery + 1, [](Choice c, int) { return c == Choice::kWide ? 10.0 : 17.0; });
  EXPECT_EQ(a.next(), Choice::kWide);
  EXPECT_EQ(a.switches(), 2);
}

// The session: after a (forced) switch, runs use the one-thread plan -- compiled then, from weights
// that earlier plans had already packed and released -- with the same results; a probe of the
// N-thread plan at quiet latency brings it back. Two input shapes, so two plans per kind.
TEST(SessionAdaptThreads, SwitchesToTheOneThreadPlanAndBackWithTheSameResults) {
  const ir::Graph g = onnx_io::import_model_file(std::string(HQP_SOURCE_DIR) +
                                                 "/models/fashion_mnist/mobilenet_v3_small.onnx").value();
  SessionOptions o;
  o.threads = 2;
  o.tune_threads = false;  // keep the two-thread plan, so that adapt_threads has something to switch
  Session s = Session::create(g, o).value();
  SessionOptions one = o;
  one.threads = 1;
  one.adapt_threads = false;
  Session s1 = Session::create(g, one).value();

  const std::vector<Tensor> b1 = {random_f32({1, 1, 28, 28}, 1)};
  const std::vector<Tensor> b3 = {random_f32({3, 1, 28, 28}, 2)};
  const Tensor want1 = s1.run(b1).value()[0];
  const Tensor want3 = s1.run(b3).value()[0];
  const Tensor wide1 = s.run(b1).value()[0];
  const Tensor wide3 = s.run(b3).value()[0];
  EXPECT_EQ(s.plan_threads(), 2);
  EXPECT_EQ(s.thread_switches(), 0);
  const int64_t weights_wide = s.weight_bytes();

  s.force_narrow_for_testing();
  EXPECT_EQ(s.thread_switches(), 2);  // one per plan
  for (int i = 0; i < 3; ++i) {
    const Tensor n1 = s.run(b1).value()[0];
    EXPECT_EQ(s.plan_threads(), 1);
    const Tensor n3 = s.run(b3).value()[0];
    EXPECT_EQ(s.plan_threads(), 1);
    // The one-thread plan computes what a one-thread session computes.
    EXPECT_EQ(allclose_mismatch(n1, want1, 0.0, 0.0), std::nullopt);
    EXPECT_EQ(allclose_mismatch(n3, want3, 0.0, 0.0), std::nullopt);
    EXPECT_EQ(allclose_mismatch(n1, wide1, 1e-4, 1e-5), std::nullopt);
  }
  EXPECT_EQ(s.weight_bytes(), weights_wide);  // the alternative packs the same weights

  // Within kRecheckEvery runs a probe of the two-thread plan comes; on this (quiet or not) machine
  // it either wins or not, but the two-thread plan must still run and give its results.
  bool saw_wide = false;
  for (int i = 0; i < ThreadAdapter::kRecheckEvery + 1; ++i) {
    const Tensor y = s.run(b1).value()[0];
    if (s.plan_threads() == 2) {
      saw_wide = true;
      EXPECT_EQ(allclose_mismatch(y, wide1, 0.0, 0.0), std::nullopt);
    }
  }
  EXPECT_TRUE(saw_wide);
}

TEST(SessionAdaptThreads, OffKeepsTheRequestedPlan) {
  const ir::Graph g = onnx_io::import_model_file(kDemoModel).value();
  SessionOptions o;
  o.threads = 2;
  o.tune_threads = false;
  o.adapt_threads = false;
  Session s = Session::create(g, o).value();
  const std::vector<Tensor> in = {random_f32({1, 1, 28, 28}, 3)};
  s.run(in).value();
  s.force_narrow_for_testing();
  for (int i = 0; i < 5; ++i) {
    s.run(in).value();
    EXPECT_EQ(s.plan_threads(), 2);
  }
}

}  // namespace
}  // namespace hqp::test
