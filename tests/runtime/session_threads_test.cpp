// SessionOptions::tune_threads: a small model's plan may run on one thread when that is faster
// than the requested count; either way its results equal a one-thread session's (INT8: bit for
// bit), the choice is per plan, and tune_threads = false keeps exactly the requested count.
#include <vector>

#include <gtest/gtest.h>

#include "common/tensor_compare.h"
#include "onnx/import.h"
#include "runtime/session_test_util.h"

namespace hqp::test {
namespace {

Tensor demo_input(int64_t batch) {
  Tensor x = Tensor::zeros(DType::kF32, {batch, 1, 28, 28}).value();
  float* p = x.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) p[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;
  return x;
}

TEST(SessionThreads, TunedPlanMatchesOneThreadAndFixedKeepsTheCount) {
  const ir::Graph g = onnx_io::import_model_file(kDemoModel).value();
  SessionOptions one;
  one.threads = 1;
  Session s1 = Session::create(g, one).value();
  SessionOptions tuned;
  tuned.threads = 2;
  Session s2 = Session::create(g, tuned).value();
  SessionOptions fixed = tuned;
  fixed.tune_threads = false;
  Session s3 = Session::create(g, fixed).value();
  for (int64_t batch : {1, 3}) {
    const std::vector<Tensor> in = {demo_input(batch)};
    const Tensor y1 = s1.run(in).value()[0];
    const Tensor y2 = s2.run(in).value()[0];
    const Tensor y3 = s3.run(in).value()[0];
    EXPECT_TRUE(s2.plan_threads() == 1 || s2.plan_threads() == 2) << s2.plan_threads();
    EXPECT_EQ(s3.plan_threads(), 2);
    EXPECT_EQ(s1.plan_threads(), 1);
    // FP32 with a different thread count may reassociate sums: compare within float tolerance.
    EXPECT_EQ(allclose_mismatch(y2, y1, 1e-4, 1e-5), std::nullopt);
    EXPECT_EQ(allclose_mismatch(y3, y1, 1e-4, 1e-5), std::nullopt);
    // The plan chosen for this shape is reused (no re-tuning on the next run).
    const int chosen = s2.plan_threads();
    const Tensor again = s2.run(in).value()[0];
    EXPECT_EQ(s2.plan_threads(), chosen);
    EXPECT_EQ(allclose_mismatch(again, y2, 0.0, 0.0), std::nullopt);
  }
  EXPECT_EQ(s2.plan_count(), 2);
}

}  // namespace
}  // namespace hqp::test
