// Dynamic batch of hqp::Session: each new input shape compiles one plan, a repeated shape reuses
// its plan, and a batch-3 run equals three batch-1 runs row by row (fast engine).
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/tensor_compare.h"
#include "runtime/session_test_util.h"
#include "runtime/session_tolerances.h"

namespace hqp::test {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kBatch = 3;

struct BatchCase {
  std::string name;
  std::string model;
  Shape sample_shape;  // one sample, without the batch dim
};

class SessionDynamicBatch : public ::testing::TestWithParam<BatchCase> {};

// Batch 1, then batch 3, then batch 1 again: two plans; the batch-3 rows equal the batch-1 runs.
TEST_P(SessionDynamicBatch, OnePlanPerShapeAndRowsMatch) {
  const BatchCase& c = GetParam();
  ASSERT_TRUE(fs::exists(c.model)) << c.model << " is missing; " << missing_golden_hint();
  Result<Session> s = load_session(c.model, session_options(Engine::kFast));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->plan_count(), 0);

  Shape batch_shape = {kBatch};
  batch_shape.insert(batch_shape.end(), c.sample_shape.begin(), c.sample_shape.end());
  const Tensor batch = random_f32(batch_shape, 11);

  std::vector<Tensor> single;
  for (int64_t b = 0; b < kBatch; ++b) {
    const std::vector<Tensor> in = {batch_row(batch, b)};
    Result<std::vector<Tensor>> out = s->run(in);
    ASSERT_TRUE(out.ok()) << out.status().message();
    single.push_back((*out)[0]);
    EXPECT_EQ(s->plan_count(), 1) << "batch 1, sample " << b;
  }
  const int64_t peak_1 = s->peak_activation_bytes();

  const std::vector<Tensor> in3 = {batch};
  Result<std::vector<Tensor>> out3 = s->run(in3);
  ASSERT_TRUE(out3.ok()) << out3.status().message();
  EXPECT_EQ(s->plan_count(), 2);
  const Tensor& y3 = (*out3)[0];
  ASSERT_EQ(y3.dim(0), kBatch);
  EXPECT_GT(s->peak_activation_bytes(), peak_1) << "the batch-3 plan needs a larger arena";

  for (int64_t b = 0; b < kBatch; ++b) {
    const Tensor row = batch_row(y3, b);
    ASSERT_FALSE(type_mismatch(row, single[static_cast<size_t>(b)]));
    const double err = max_relative_error(row, single[static_cast<size_t>(b)]);
    EXPECT_LE(err, kSessionBatchRowMaxRelErr) << c.name << ": row " << b;
    std::printf("[ BATCH    ] %-20s row %lld rel err %.2e\n", c.name.c_str(), static_cast<long long>(b), err);
  }

  // Back to batch 1: the cached plan, same result as before.
  const std::vector<Tensor> in1 = {batch_row(batch, 0)};
  Result<std::vector<Tensor>> again = s->run(in1);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(s->plan_count(), 2);
  EXPECT_EQ(s->peak_activation_bytes(), peak_1);
  const auto diff = bitwise_mismatch((*again)[0], single[0]);
  EXPECT_FALSE(diff) << "same plan, same input: " << *diff;
}

INSTANTIATE_TEST_SUITE_P(Models, SessionDynamicBatch,
                         ::testing::Values(BatchCase{"tiny_cnn", kDemoModel, {1, 28, 28}},
                                           BatchCase{"mobilenet_v3_small_op13",
                                                     golden_model("mobilenet_v3_small_op13"), {3, 224, 224}},
                                           BatchCase{"resnet18_op17", golden_model("resnet18_op17"), {3, 224, 224}}),
                         [](const ::testing::TestParamInfo<BatchCase>& info) { return info.param.name; });

}  // namespace
}  // namespace hqp::test
