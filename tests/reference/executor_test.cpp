// Tests of the reference executor (reference::run_reference) on small hand-built graphs: results
// against hand-computed values, input validation messages, the Observer hook (every output once,
// right shapes, no copies) and freeing of intermediates. The values used are small integers or
// binary fractions, exact in FP32, so results are compared exactly.
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "ir/verifier.h"
#include "reference/executor.h"
#include "common/tensor_alloc_counter.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"  // designated initializers of attrs

namespace hqp::reference {
namespace {

using ir::Graph;
using ir::Node;
using ir::OpKind;
using ir::Value;
using test::dims;
using test::is_error;

std::vector<float> values_of(const Tensor& t) { return std::vector<float>(t.span<float>().begin(), t.span<float>().end()); }

// x[N,1,3,3] -> Conv(2 out channels, 3x3, pad 1) -> Relu -> Add(x) -> out[N,2,3,3]
//   channel 0: weights all +1, bias 0  -> sum of the 3x3 neighbourhood
//   channel 1: weights all -1, bias 30 -> 30 - sum
Graph residual_graph() {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({"N", 1, 3, 3}));
  std::vector<float> w(18, 1.0f);
  std::fill(w.begin() + 9, w.end(), -1.0f);
  Value* wv = g.add_initializer("w", Tensor::from_vector<float>({2, 1, 3, 3}, w));
  Value* bv = g.add_initializer("b", Tensor::from_vector<float>({2}, {0.0f, 30.0f}));
  Value* conv = g.add_value("conv_out");
  Value* relu = g.add_value("relu_out");
  Value* out = g.add_value("out");
  g.add_node(OpKind::Conv, "conv", {x, wv, bv}, {conv}, ir::ConvAttrs{.pads = {1, 1, 1, 1}});
  g.add_node(OpKind::Relu, "relu", {conv}, {relu});
  g.add_node(OpKind::Add, "residual", {relu, x}, {out});
  g.add_output(out);
  return g;
}

// Sample 0 is 1..9, sample 1 is -1..-9.
Tensor residual_input() {
  std::vector<float> v;
  for (int i = 1; i <= 9; ++i) v.push_back(static_cast<float>(i));
  for (int i = 1; i <= 9; ++i) v.push_back(static_cast<float>(-i));
  return Tensor::from_vector<float>({2, 1, 3, 3}, v);
}

TEST(Executor, ConvReluResidualByHand) {
  Graph g = residual_graph();
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<Tensor> in = {residual_input()};
  Result<std::vector<Tensor>> out = run_reference(g, in);
  HQP_ASSERT_OK(out.status());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 2, 3, 3}));
  // Neighbourhood sums of 1..9 with zero padding: 12 21 16 / 27 45 33 / 24 39 28.
  const std::vector<float> want = {
      // sample 0, channel 0: relu(sum) + x
      13, 23, 19, 31, 50, 39, 31, 47, 37,
      // sample 0, channel 1: relu(30 - sum) + x
      19, 11, 17, 7, 5, 6, 13, 8, 11,
      // sample 1, channel 0: relu(-sum) - x = -x
      -1, -2, -3, -4, -5, -6, -7, -8, -9,
      // sample 1, channel 1: relu(30 + sum) - x
      41, 49, 43, 53, 70, 57, 47, 61, 49};
  EXPECT_EQ(values_of((*out)[0]), want);
}

TEST(Executor, GemmByHand) {
  // Y = 0.5 * A * B^T + 2 * C, A [2,3] input, B [4,3], C [4]
  Graph g;
  Value* a = g.add_input("a", DType::kF32, dims({"M", 3}));
  Value* b = g.add_initializer("b", Tensor::from_vector<float>({4, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1}));
  Value* c = g.add_initializer("c", Tensor::from_vector<float>({4}, {1, 2, 3, 4}));
  Value* y = g.add_value("y");
  g.add_node(OpKind::Gemm, "gemm", {a, b, c}, {y}, ir::GemmAttrs{.alpha = 0.5f, .beta = 2.0f, .trans_b = 1});
  g.add_output(y);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<Tensor> in = {Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6})};
  Result<std::vector<Tensor>> out = run_reference(g, in);
  HQP_ASSERT_OK(out.status());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].shape(), (Shape{2, 4}));
  // A * B^T = [[1,2,3,6],[4,5,6,15]]
  EXPECT_EQ(values_of((*out)[0]), (std::vector<float>{2.5f, 5, 7.5f, 11, 4, 6.5f, 9, 15.5f}));
}

TEST(Executor, MultipleOutputsInOrderIncludingAnInput) {
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({4}));
  Value* r = g.add_value("r");
  Value* s = g.add_value("s");
  g.add_node(OpKind::Relu, "relu", {x}, {r});
  g.add_node(OpKind::Sub, "sub", {x, r}, {s});  // min(x, 0)
  g.add_output(s);
  g.add_output(r);
  g.add_output(x);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<Tensor> in = {Tensor::from_vector<float>({4}, {-2, -0.5f, 0.5f, 3})};
  Result<std::vector<Tensor>> out = run_reference(g, in);
  HQP_ASSERT_OK(out.status());
  ASSERT_EQ(out->size(), 3u);
  EXPECT_EQ(values_of((*out)[0]), (std::vector<float>{-2, -0.5f, 0, 0}));
  EXPECT_EQ(values_of((*out)[1]), (std::vector<float>{0, 0, 0.5f, 3}));
  EXPECT_TRUE((*out)[2].equals(in[0]));
}

// ---------------------------------------------------------------------------------------------
// Input validation

// image[N,3,4,4] f32 and mask[N,4] f32 -> Relu(image), Relu(mask)
Graph two_input_graph() {
  Graph g;
  Value* image = g.add_input("image", DType::kF32, dims({"N", 3, 4, 4}));
  Value* mask = g.add_input("mask", DType::kF32, dims({"N", 4}));
  Value* a = g.add_value("a");
  Value* b = g.add_value("b");
  g.add_node(OpKind::Relu, "r1", {image}, {a});
  g.add_node(OpKind::Relu, "r2", {mask}, {b});
  g.add_output(a);
  g.add_output(b);
  return g;
}

Tensor zeros_f32(Shape s) { return Tensor::zeros(DType::kF32, std::move(s)).value(); }

TEST(ExecutorInputs, WrongInputCountListsTheExpectedNames) {
  Graph g = two_input_graph();
  const std::vector<Tensor> one = {zeros_f32({1, 3, 4, 4})};
  EXPECT_TRUE(is_error(run_reference(g, one).status(), StatusCode::kInvalidArgument,
                       "cannot run model: got 1 inputs (expected 2: image, mask)"));
  const std::vector<Tensor> three = {zeros_f32({1, 3, 4, 4}), zeros_f32({1, 4}), zeros_f32({1})};
  EXPECT_TRUE(is_error(run_reference(g, three).status(), StatusCode::kInvalidArgument,
                       "got 3 inputs (expected 2: image, mask)"));
  EXPECT_TRUE(is_error(run_reference(g, {}).status(), StatusCode::kInvalidArgument, "got 0 inputs"));
}

TEST(ExecutorInputs, WrongDtypeNamesTheInput) {
  Graph g = two_input_graph();
  const std::vector<Tensor> in = {zeros_f32({1, 3, 4, 4}), Tensor::zeros(DType::kS64, {1, 4}).value()};
  EXPECT_TRUE(is_error(run_reference(g, in).status(), StatusCode::kInvalidArgument,
                       "cannot run model: input 'mask' has dtype s64 (expected f32)"));
}

TEST(ExecutorInputs, ShapeMismatchNamesTheDim) {
  Graph g = two_input_graph();
  const std::vector<Tensor> in = {zeros_f32({1, 3, 5, 4}), zeros_f32({1, 4})};
  EXPECT_TRUE(is_error(run_reference(g, in).status(), StatusCode::kInvalidArgument,
                       "input 'image' has shape 1x3x5x4 (expected [N,3,4,4]; dim 2 must be 4)"));
}

TEST(ExecutorInputs, RankMismatch) {
  Graph g = two_input_graph();
  const std::vector<Tensor> in = {zeros_f32({1, 3, 4}), zeros_f32({1, 4})};
  EXPECT_TRUE(is_error(run_reference(g, in).status(), StatusCode::kInvalidArgument,
                       "input 'image' has shape 1x3x4 (expected [N,3,4,4])"));
}

TEST(ExecutorInputs, InconsistentSymbolicDimsAcrossInputs) {
  Graph g = two_input_graph();
  const std::vector<Tensor> in = {zeros_f32({2, 3, 4, 4}), zeros_f32({3, 4})};
  EXPECT_TRUE(is_error(run_reference(g, in).status(), StatusCode::kInvalidArgument,
                       "input 'mask' gives dim 'N' = 3 but an earlier input gave 2"));
}

TEST(ExecutorInputs, SymbolicDimsTakeTheGivenSizes) {
  Graph g = two_input_graph();
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  for (int64_t n : {1, 5}) {
    const std::vector<Tensor> in = {zeros_f32({n, 3, 4, 4}), zeros_f32({n, 4})};
    Result<std::vector<Tensor>> out = run_reference(g, in);
    HQP_ASSERT_OK(out.status());
    EXPECT_EQ((*out)[0].shape(), (Shape{n, 3, 4, 4}));
    EXPECT_EQ((*out)[1].shape(), (Shape{n, 4}));
  }
}

TEST(ExecutorInputs, RuntimeShapeErrorNamesTheNode) {
  // Reshape whose target only arrives at run time: 6 elements cannot become 4x4.
  Graph g;
  Value* x = g.add_input("x", DType::kF32, dims({"N", 6}));
  Value* s = g.add_input("target", DType::kS64, dims({2}));
  Value* y = g.add_value("y");
  g.add_node(OpKind::Reshape, "late_reshape", {x, s}, {y});
  g.add_output(y);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<Tensor> ok_in = {zeros_f32({1, 6}), test::s64_vector({3, 2})};
  Result<std::vector<Tensor>> ok = run_reference(g, ok_in);
  HQP_ASSERT_OK(ok.status());
  EXPECT_EQ((*ok)[0].shape(), (Shape{3, 2}));
  const std::vector<Tensor> bad_in = {zeros_f32({1, 6}), test::s64_vector({4, 4})};
  EXPECT_TRUE(is_error(run_reference(g, bad_in).status(), StatusCode::kInvalidArgument,
                       "node 'late_reshape' (Reshape)"));
}

// ---------------------------------------------------------------------------------------------
// Observer

struct Seen {
  std::string node;
  DType dtype;
  Shape shape;
  const void* data;
};

class RecordingObserver : public ir::Observer {
 public:
  std::map<std::string, std::vector<Seen>> by_value;
  void on_output(const ir::Node& node, const ir::Value& value, const Tensor& tensor) override {
    EXPECT_EQ(value.producer(), &node) << value.name;
    by_value[value.name].push_back({node.name, tensor.dtype(), tensor.shape(), tensor.raw_data()});
  }
};

// residual_graph() followed by MaxPool (with Indices) -> GlobalAveragePool -> Flatten -> Gemm.
Graph classifier_graph() {
  Graph g = residual_graph();
  Value* out = g.find_value("out");
  Value* pooled = g.add_value("pooled");
  Value* indices = g.add_value("indices");
  Value* gap = g.add_value("gap");
  Value* flat = g.add_value("flat");
  Value* logits = g.add_value("logits");
  Value* w = g.add_initializer("fc.w", test::iota_f32({3, 2}, 0.5f, -1.0f));
  g.add_node(OpKind::MaxPool, "maxpool", {out}, {pooled, indices}, ir::PoolAttrs{.kernel_shape = {2, 2}});
  g.add_node(OpKind::GlobalAveragePool, "gap", {pooled}, {gap});
  g.add_node(OpKind::Flatten, "flatten", {gap}, {flat});
  g.add_node(OpKind::Gemm, "fc", {flat, w}, {logits}, ir::GemmAttrs{.trans_b = 1});
  g.set_outputs({logits, indices});
  return g;
}

TEST(ExecutorObserver, SeesEveryNodeOutputExactlyOnceWithItsShape) {
  Graph g = classifier_graph();
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  RecordingObserver obs;
  const std::vector<Tensor> in = {residual_input()};
  Result<std::vector<Tensor>> out = run_reference(g, in, RunOptions{.observer = &obs});
  HQP_ASSERT_OK(out.status());

  const std::map<std::string, std::pair<std::string, Shape>> want = {
      {"conv_out", {"conv", {2, 2, 3, 3}}},      {"relu_out", {"relu", {2, 2, 3, 3}}},
      {"out", {"residual", {2, 2, 3, 3}}},       {"pooled", {"maxpool", {2, 2, 2, 2}}},
      {"indices", {"maxpool", {2, 2, 2, 2}}},    {"gap", {"gap", {2, 2, 1, 1}}},
      {"flat", {"flatten", {2, 2}}},             {"logits", {"fc", {2, 3}}},
  };
  ASSERT_EQ(obs.by_value.size(), want.size());
  size_t produced = 0;
  for (const auto& n : g.nodes()) {
    for (const Value* v : n->outputs()) produced += v != nullptr;
  }
  EXPECT_EQ(produced, want.size());  // every node output of the graph is in `want`
  for (const auto& [name, node_and_shape] : want) {
    SCOPED_TRACE(name);
    auto it = obs.by_value.find(name);
    ASSERT_NE(it, obs.by_value.end());
    ASSERT_EQ(it->second.size(), 1u) << "observed more than once";
    EXPECT_EQ(it->second[0].node, node_and_shape.first);
    EXPECT_EQ(it->second[0].shape, node_and_shape.second);
    EXPECT_EQ(it->second[0].dtype, name == "indices" ? DType::kS64 : DType::kF32);
  }
  // The observer is handed the very buffers the executor returns (no copy for observing).
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ(obs.by_value["logits"][0].data, (*out)[0].raw_data());
  EXPECT_EQ(obs.by_value["indices"][0].data, (*out)[1].raw_data());
}

TEST(ExecutorObserver, ObservingDoesNotChangeResults) {
  Graph g = classifier_graph();
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<Tensor> in = {residual_input()};
  RecordingObserver obs;
  Result<std::vector<Tensor>> with = run_reference(g, in, RunOptions{.observer = &obs});
  Result<std::vector<Tensor>> without = run_reference(g, in);
  HQP_ASSERT_OK(with.status());
  HQP_ASSERT_OK(without.status());
  for (size_t i = 0; i < with->size(); ++i) EXPECT_TRUE((*with)[i].equals((*without)[i])) << i;
}

// A calibration-style observer: reduces each activation to per-channel sums during the call and
// keeps nothing else.
class ChannelSumObserver : public ir::Observer {
 public:
  std::map<std::string, std::vector<double>> sums;
  void on_output(const ir::Node&, const ir::Value& value, const Tensor& t) override {
    if (t.dtype() != DType::kF32 || t.rank() < 2) return;
    const int64_t n = t.dim(0);
    const int64_t c = t.dim(1);
    const int64_t inner = t.numel() / (n * c);
    std::vector<double>& s = sums[value.name];
    s.assign(static_cast<size_t>(c), 0.0);
    const float* d = t.data<float>();
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t ch = 0; ch < c; ++ch) {
        for (int64_t i = 0; i < inner; ++i) s[static_cast<size_t>(ch)] += d[(b * c + ch) * inner + i];
      }
    }
  }
};

TEST(ExecutorObserver, ReductionObserverComputesPerChannelSumsWithoutCopies) {
  Graph g = residual_graph();
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<Tensor> in = {residual_input()};

  // Same run without and with the observer: the observer adds no tensor allocations.
  test::reset_tensor_alloc_stats();
  Result<std::vector<Tensor>> plain = run_reference(g, in);
  HQP_ASSERT_OK(plain.status());
  const test::TensorAllocStats plain_stats = test::tensor_alloc_stats();
  plain = Status(StatusCode::kInternal, "released");  // drop the outputs before the next run

  ChannelSumObserver obs;
  test::reset_tensor_alloc_stats();
  Result<std::vector<Tensor>> observed = run_reference(g, in, RunOptions{.observer = &obs});
  HQP_ASSERT_OK(observed.status());
  const test::TensorAllocStats observed_stats = test::tensor_alloc_stats();
  EXPECT_GT(plain_stats.allocations, 0);  // the counter sees tensor allocations at all
  EXPECT_EQ(observed_stats.allocations, plain_stats.allocations);
  EXPECT_EQ(observed_stats.total_bytes, plain_stats.total_bytes);

  // relu_out, channel 0: sample 0 gives the neighbourhood sums (total 245), sample 1 gives 0.
  // channel 1: relu(30 - sum) totals 52 for sample 0, 30 + sum totals 515 for sample 1.
  EXPECT_EQ(obs.sums["relu_out"], (std::vector<double>{245, 52 + 515}));
  // conv_out, before the Relu: channel 0 sums cancel between the samples; channel 1 is 18 * 30.
  EXPECT_EQ(obs.sums["conv_out"], (std::vector<double>{0, 540}));
  EXPECT_EQ(obs.sums.size(), 3u);  // conv_out, relu_out, out
}

// ---------------------------------------------------------------------------------------------
// Memory: intermediates are freed after their last reader.

// x[1,n] -> Add(+1) -> Add(+1) -> ... (`length` nodes) -> y
Graph add_chain(int64_t n, int length) {
  Graph g;
  Value* prev = g.add_input("x", DType::kF32, dims({1, n}));
  Value* one = g.add_initializer("one", Tensor::scalar<float>(1.0f));
  for (int i = 0; i < length; ++i) {
    Value* next = g.add_value(fmt::format("v{}", i));
    g.add_node(OpKind::Add, fmt::format("add{}", i), {prev, one}, {next});
    prev = next;
  }
  g.add_output(prev);
  return g;
}

TEST(ExecutorMemory, LongChainKeepsAtMostTwoActivationsAlive) {
  constexpr int64_t kElems = int64_t{1} << 20;  // 4 MiB per activation
  constexpr int kLength = 48;                    // 192 MiB if nothing were freed
  constexpr int64_t kBytes = kElems * 4;
  Graph g = add_chain(kElems, kLength);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<Tensor> in = {test::iota_f32({1, kElems}, 1.0f, -1000.0f)};

  test::reset_tensor_alloc_stats();
  const int64_t live_before = test::tensor_alloc_stats().live_bytes;
  Result<std::vector<Tensor>> out = run_reference(g, in);
  HQP_ASSERT_OK(out.status());
  const test::TensorAllocStats s = test::tensor_alloc_stats();
  EXPECT_GE(s.total_bytes, kLength * kBytes);  // every node allocated its output
  // At any moment: the node's input and its output (the caller's input is not counted).
  EXPECT_LE(s.peak_live_bytes - live_before, 2 * kBytes + 4096)
      << "peak " << s.peak_live_bytes - live_before << " bytes for " << kBytes << "-byte activations";
  // Only the result is still alive after the run.
  EXPECT_LE(s.live_bytes - live_before, kBytes + 4096);

  ASSERT_EQ(out->size(), 1u);
  const float* y = (*out)[0].data<float>();
  for (int64_t i : {int64_t{0}, int64_t{1}, kElems / 2, kElems - 1}) {
    EXPECT_EQ(y[i], static_cast<float>(i) - 1000.0f + kLength) << i;
  }
}

TEST(ExecutorMemory, ManySmallNodes) {
  Graph g = add_chain(3, 500);
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<Tensor> in = {Tensor::from_vector<float>({1, 3}, {0, 0.5f, -500})};
  Result<std::vector<Tensor>> out = run_reference(g, in);
  HQP_ASSERT_OK(out.status());
  EXPECT_EQ(values_of((*out)[0]), (std::vector<float>{500, 500.5f, 0}));
}

TEST(ExecutorMemory, CallerInputsAreNotModified) {
  Graph g = residual_graph();
  HQP_ASSERT_OK(ir::verify_and_infer(g));
  const std::vector<Tensor> in = {residual_input()};
  const Tensor copy = in[0].clone();
  HQP_ASSERT_OK(run_reference(g, in).status());
  EXPECT_TRUE(in[0].equals(copy));
}

}  // namespace
}  // namespace hqp::reference
