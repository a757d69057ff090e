// Test helpers for tests/train: single-op graphs covering every op the libtorch executor runs
// (shared by the forward and the gradient tests), a tiny trainable CNN and a synthetic dataset.
// Test-only.
#pragma once

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "core/tensor.h"
#include "ir/graph.h"
#include "ir/verifier.h"
#include "data/batch_source.h"

namespace hqp::test {

inline Tensor random_f32(Shape shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Result<Tensor> t = Tensor::zeros(DType::kF32, std::move(shape));
  EXPECT_TRUE(t.ok());
  for (float& x : t->span<float>()) x = dist(rng);
  return std::move(t).value();
}

// One input of a single-op graph: a runtime f32 input drawn from [lo, hi], a constant initializer,
// or absent.
struct OpInput {
  enum class Kind { kRuntime, kInitializer, kAbsent } kind = Kind::kRuntime;
  Shape shape;
  Tensor value;
  float lo = -1.0f, hi = 1.0f;
  static OpInput runtime(Shape s, float lo = -1.0f, float hi = 1.0f) { return {Kind::kRuntime, std::move(s), {}, lo, hi}; }
  static OpInput init(Tensor t) { return {Kind::kInitializer, t.shape(), std::move(t)}; }
  static OpInput absent() { return {Kind::kAbsent, {}, {}}; }
};

struct OpCase {
  std::string name;
  ir::OpKind kind;
  ir::Attrs attrs;
  std::vector<OpInput> inputs;
  bool differentiable = true;
  size_t num_outputs = 1;  // outputs "y", "y1", "y2", ... (gradients are checked on "y")
};

inline std::ostream& operator<<(std::ostream& os, const OpCase& c) { return os << c.name; }

// Graph "op": runtime inputs x<i>, initializers w<i>, output "y". verify_and_infer has run.
inline ir::Graph op_graph(const OpCase& c) {
  ir::Graph g;
  std::vector<ir::Value*> ins;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const OpInput& in = c.inputs[i];
    switch (in.kind) {
      case OpInput::Kind::kRuntime:
        ins.push_back(g.add_input(fmt::format("x{}", i), DType::kF32, ir::dims_from_shape(in.shape)));
        break;
      case OpInput::Kind::kInitializer: ins.push_back(g.add_initializer(fmt::format("w{}", i), in.value)); break;
      case OpInput::Kind::kAbsent: ins.push_back(nullptr); break;
    }
  }
  std::vector<ir::Value*> ys = {g.add_value("y")};
  for (size_t i = 1; i < c.num_outputs; ++i) ys.push_back(g.add_value(fmt::format("y{}", i)));
  g.add_node(c.kind, c.name, ins, ys, c.attrs);
  for (ir::Value* y : ys) g.add_output(y);
  Status s = ir::verify_and_infer(g);
  EXPECT_TRUE(s.ok()) << c.name << ": " << s.message();
  return g;
}

// Runtime inputs of an op case, deterministic per case.
inline std::vector<Tensor> op_inputs(const OpCase& c, uint64_t seed = 7) {
  std::vector<Tensor> xs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const OpInput& in = c.inputs[i];
    if (in.kind == OpInput::Kind::kRuntime) xs.push_back(random_f32(in.shape, seed + i, in.lo, in.hi));
  }
  return xs;
}

inline ir::ConvAttrs conv_attrs(std::vector<int64_t> strides, std::vector<int64_t> pads, std::vector<int64_t> dilations,
                                int64_t group, ir::AutoPad auto_pad = ir::AutoPad::kNotSet) {
  ir::ConvAttrs a;
  a.strides = std::move(strides);
  a.pads = std::move(pads);
  a.dilations = std::move(dilations);
  a.group = group;
  a.auto_pad = auto_pad;
  return a;
}

inline ir::PoolAttrs pool_attrs(std::vector<int64_t> kernel, std::vector<int64_t> strides, std::vector<int64_t> pads,
                                int64_t ceil_mode, int64_t count_include_pad, std::vector<int64_t> dilations = {}) {
  ir::PoolAttrs a;
  a.kernel_shape = std::move(kernel);
  a.strides = std::move(strides);
  a.pads = std::move(pads);
  a.ceil_mode = ceil_mode;
  a.count_include_pad = count_include_pad;
  a.dilations = std::move(dilations);
  return a;
}

// Every op of a CNN, with awkward sizes (odd/prime dims, asymmetric pads, stride 2, dilation,
// depthwise, groups, ceil mode, broadcasting).
inline std::vector<OpCase> op_cases() {
  using ir::OpKind;
  std::vector<OpCase> cases;
  auto W = [](Shape s, uint64_t seed) { return OpInput::init(random_f32(std::move(s), seed)); };
  cases.push_back({"conv_bias_pad1", OpKind::Conv, conv_attrs({1, 1}, {1, 1, 1, 1}, {1, 1}, 1),
                   {OpInput::runtime({2, 3, 7, 6}), W({4, 3, 3, 3}, 11), W({4}, 12)}});
  cases.push_back({"conv_stride2_dilation2_asym_pads", OpKind::Conv, conv_attrs({2, 2}, {1, 0, 2, 1}, {2, 2}, 1),
                   {OpInput::runtime({1, 2, 9, 8}), W({3, 2, 3, 3}, 13)}});
  cases.push_back({"conv_depthwise", OpKind::Conv, conv_attrs({1, 1}, {1, 1, 1, 1}, {1, 1}, 5),
                   {OpInput::runtime({2, 5, 5, 5}), W({5, 1, 3, 3}, 14)}});
  cases.push_back({"conv_groups_same_upper_stride2", OpKind::Conv,
                   conv_attrs({2, 2}, {}, {1, 1}, 2, ir::AutoPad::kSameUpper),
                   {OpInput::runtime({1, 4, 6, 7}), W({6, 2, 2, 2}, 15), W({6}, 16)}});
  cases.push_back({"conv_1d", OpKind::Conv, conv_attrs({2}, {1, 1}, {1}, 1),
                   {OpInput::runtime({2, 3, 11}), W({2, 3, 3}, 17)}});
  {
    ir::BatchNormAttrs a;
    a.epsilon = 1e-3f;
    cases.push_back({"batchnorm", OpKind::BatchNormalization, a,
                     {OpInput::runtime({3, 4, 3, 2}), W({4}, 21), W({4}, 22), W({4}, 23),
                      OpInput::init(random_f32({4}, 24, 0.5f, 2.0f))}});
  }
  cases.push_back({"relu", OpKind::Relu, ir::NoAttrs{}, {OpInput::runtime({2, 3, 4, 5})}});
  cases.push_back({"sigmoid", OpKind::Sigmoid, ir::NoAttrs{}, {OpInput::runtime({2, 3, 4, 5}, -4.0f, 4.0f)}});
  cases.push_back({"hardswish", OpKind::HardSwish, ir::NoAttrs{}, {OpInput::runtime({2, 3, 4, 5}, -5.0f, 5.0f)}});
  cases.push_back({"leaky_relu", OpKind::LeakyRelu, ir::LeakyReluAttrs{0.1f}, {OpInput::runtime({2, 3, 4, 5})}});
  cases.push_back({"tanh", OpKind::Tanh, ir::NoAttrs{}, {OpInput::runtime({2, 3, 4, 5}, -3.0f, 3.0f)}});
  cases.push_back({"exp", OpKind::Exp, ir::NoAttrs{}, {OpInput::runtime({2, 3, 4, 5}, -3.0f, 3.0f)}});
  cases.push_back({"sqrt", OpKind::Sqrt, ir::NoAttrs{}, {OpInput::runtime({2, 3, 4, 5}, 0.25f, 4.0f)}});
  cases.push_back({"erf", OpKind::Erf, ir::NoAttrs{}, {OpInput::runtime({2, 3, 4, 5}, -2.0f, 2.0f)}});
  cases.push_back({"pow_square", OpKind::Pow, ir::NoAttrs{},
                   {OpInput::runtime({2, 3, 4, 5}), OpInput::init(Tensor::scalar<float>(2.0f))}});
  cases.push_back({"prelu_per_channel", OpKind::PRelu, ir::NoAttrs{},
                   {OpInput::runtime({2, 3, 4, 5}), OpInput::init(random_f32({3, 1, 1}, 31, 0.05f, 0.3f))}});
  {
    ir::ReduceAttrs spatial;
    spatial.axes = std::vector<int64_t>{2, 3};
    cases.push_back({"reduce_mean_spatial", OpKind::ReduceMean, spatial, {OpInput::runtime({2, 3, 4, 5})}});
    ir::ReduceAttrs last;
    last.axes = std::vector<int64_t>{-1};
    last.keepdims = 0;
    cases.push_back({"reduce_max_last", OpKind::ReduceMax, last, {OpInput::runtime({2, 3, 4, 5})}});
    cases.push_back({"reduce_sum_all", OpKind::ReduceSum, ir::ReduceAttrs{}, {OpInput::runtime({2, 3, 4, 5})}});
  }
  cases.push_back({"hardsigmoid", OpKind::HardSigmoid, ir::HardSigmoidAttrs{0.2f, 0.5f},
                   {OpInput::runtime({2, 3, 4, 5}, -4.0f, 4.0f)}});
  cases.push_back({"clip", OpKind::Clip, ir::ClipAttrs{},
                   {OpInput::runtime({2, 3, 4, 5}), OpInput::init(Tensor::scalar<float>(-0.5f)),
                    OpInput::init(Tensor::scalar<float>(0.25f))}});
  cases.push_back({"clip_max_only", OpKind::Clip, ir::ClipAttrs{},
                   {OpInput::runtime({3, 7}), OpInput::absent(), OpInput::init(Tensor::scalar<float>(0.25f))}});
  cases.push_back({"add_broadcast", OpKind::Add, ir::NoAttrs{}, {OpInput::runtime({2, 3, 4}), OpInput::runtime({3, 1})}});
  cases.push_back({"sub_broadcast", OpKind::Sub, ir::NoAttrs{}, {OpInput::runtime({2, 1, 4}), OpInput::runtime({3, 4})}});
  cases.push_back({"mul_channel", OpKind::Mul, ir::NoAttrs{}, {OpInput::runtime({2, 3, 4, 5}), OpInput::runtime({2, 3, 1, 1})}});
  cases.push_back({"div", OpKind::Div, ir::NoAttrs{}, {OpInput::runtime({2, 3, 5}), OpInput::runtime({3, 5}, 0.5f, 2.0f)}});
  cases.push_back({"global_average_pool", OpKind::GlobalAveragePool, ir::NoAttrs{}, {OpInput::runtime({2, 3, 5, 7})}});
  cases.push_back({"avgpool_ceil_exclude_pad", OpKind::AveragePool, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}, 1, 0),
                   {OpInput::runtime({2, 3, 8, 7})}});
  cases.push_back({"avgpool_include_pad_asym", OpKind::AveragePool, pool_attrs({3, 2}, {2, 1}, {1, 0, 0, 1}, 0, 1),
                   {OpInput::runtime({1, 2, 7, 6})}});
  cases.push_back({"avgpool_plain", OpKind::AveragePool, pool_attrs({2, 2}, {2, 2}, {0, 0, 0, 0}, 0, 0),
                   {OpInput::runtime({2, 3, 6, 6})}});
  cases.push_back({"maxpool_ceil_pad", OpKind::MaxPool, pool_attrs({3, 3}, {2, 2}, {1, 1, 1, 1}, 1, 0),
                   {OpInput::runtime({2, 3, 8, 7})}});
  cases.push_back({"maxpool_dilation", OpKind::MaxPool, pool_attrs({2, 2}, {1, 2}, {0, 1, 0, 1}, 0, 0, {2, 1}),
                   {OpInput::runtime({1, 2, 7, 7})}});
  cases.push_back({"flatten_axis2", OpKind::Flatten, ir::FlattenAttrs{2}, {OpInput::runtime({2, 3, 4, 5})}});
  cases.push_back({"reshape_zero_minus1", OpKind::Reshape, ir::ReshapeAttrs{},
                   {OpInput::runtime({2, 3, 4}), OpInput::init(s64_vector({0, -1, 2}))}});
  cases.push_back({"transpose", OpKind::Transpose, ir::TransposeAttrs{{0, 2, 3, 1}}, {OpInput::runtime({2, 3, 4, 5})}});
  cases.push_back({"squeeze", OpKind::Squeeze, ir::AxesAttrs{},
                   {OpInput::runtime({2, 1, 3, 1}), OpInput::init(s64_vector({1, -1}))}});
  cases.push_back({"unsqueeze", OpKind::Unsqueeze, ir::AxesAttrs{},
                   {OpInput::runtime({2, 3}), OpInput::init(s64_vector({0, 3}))}});
  cases.push_back({"gather_axis1", OpKind::Gather, ir::AxisAttrs{1, true},
                   {OpInput::runtime({3, 5, 2}), OpInput::init(Tensor::from_vector<int64_t>({2, 2}, {4, 0, -1, 2}))}});
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  cases.push_back({"slice_steps_negative", OpKind::Slice, ir::SliceAttrs{},
                   {OpInput::runtime({2, 3, 6, 5}), OpInput::init(s64_vector({1, 4})), OpInput::init(s64_vector({5, kMin})),
                    OpInput::init(s64_vector({2, -1})), OpInput::init(s64_vector({2, -2}))}});
  cases.push_back({"slice_legacy_attrs", OpKind::Slice, ir::SliceAttrs{{{0, -3}}, {{2, 100}}, {{0, 2}}},
                   {OpInput::runtime({3, 2, 5})}});
  cases.push_back({"pad_constant_crop", OpKind::Pad, ir::PadAttrs{},
                   {OpInput::runtime({2, 3, 4, 5}), OpInput::init(s64_vector({0, 0, 1, -1, 0, 0, 2, 1})),
                    OpInput::init(Tensor::scalar<float>(0.5f))}});
  cases.push_back({"pad_reflect", OpKind::Pad, ir::PadAttrs{ir::PadMode::kReflect, {}, {}},
                   {OpInput::runtime({1, 2, 4, 3}), OpInput::init(s64_vector({0, 0, 3, 2, 0, 0, 1, 4}))}});
  cases.push_back({"pad_edge_legacy_attrs", OpKind::Pad,
                   ir::PadAttrs{ir::PadMode::kEdge, std::vector<int64_t>{0, 1, 2, 0, 2, 0}, {}},
                   {OpInput::runtime({2, 3, 4})}});
  cases.push_back({"split_axis1_sizes", OpKind::Split, ir::SplitAttrs{1, {}},
                   {OpInput::runtime({2, 5, 3}), OpInput::init(s64_vector({2, 3}))}, true, 2});
  cases.push_back({"split_equal_last", OpKind::Split, ir::SplitAttrs{-1, {}}, {OpInput::runtime({2, 3, 6})}, true, 3});
  cases.push_back({"expand_bidirectional", OpKind::Expand, ir::NoAttrs{},
                   {OpInput::runtime({3, 1}), OpInput::init(s64_vector({2, 1, 4}))}});
  {
    ir::LayerNormAttrs last;
    last.epsilon = 1e-3f;
    cases.push_back({"layer_norm_last_axis", OpKind::LayerNormalization, last,
                     {OpInput::runtime({2, 3, 6}), OpInput::init(random_f32({6}, 71, 0.5f, 1.5f)), W({6}, 72)}});
    ir::LayerNormAttrs from1;
    from1.axis = 1;
    cases.push_back({"layer_norm_axis1_no_bias", OpKind::LayerNormalization, from1,
                     {OpInput::runtime({2, 3, 4}), OpInput::init(random_f32({3, 4}, 73, 0.5f, 1.5f))}});
  }
  cases.push_back({"concat_axis1", OpKind::Concat, ir::AxisAttrs{1, true},
                   {OpInput::runtime({2, 3, 4}), OpInput::runtime({2, 2, 4}), W({2, 1, 4}, 31)}});
  {
    ir::GemmAttrs a;
    a.alpha = 0.5f;
    a.beta = 2.0f;
    a.trans_b = 1;
    cases.push_back({"gemm_transb_bias", OpKind::Gemm, a, {OpInput::runtime({3, 5}), W({4, 5}, 41), W({4}, 42)}});
    ir::GemmAttrs b;
    b.trans_a = 1;
    cases.push_back({"gemm_transa_matrix_c", OpKind::Gemm, b,
                     {OpInput::runtime({5, 3}), OpInput::runtime({5, 2}), W({3, 2}, 43)}});
  }
  {
    ir::ResizeAttrs lin;
    lin.mode = ir::ResizeMode::kLinear;
    cases.push_back({"resize_linear_half_pixel", OpKind::Resize, lin,
                     {OpInput::runtime({1, 2, 3, 4}), OpInput::absent(),
                      OpInput::init(Tensor::from_vector<float>({4}, {1.0f, 1.0f, 2.0f, 1.5f}))}});
    ir::ResizeAttrs nearest;
    nearest.coordinates = ir::ResizeCoordinates::kAsymmetric;
    nearest.nearest = ir::ResizeNearest::kFloor;
    cases.push_back({"resize_nearest_sizes", OpKind::Resize, nearest,
                     {OpInput::runtime({1, 2, 3, 4}), OpInput::absent(), OpInput::absent(),
                      OpInput::init(Tensor::from_vector<int64_t>({4}, {1, 2, 7, 2}))}});
  }
  cases.push_back({"matmul_batched", OpKind::MatMul, ir::NoAttrs{}, {OpInput::runtime({2, 3, 4}), W({4, 5}, 51)}});
  cases.push_back({"softmax_axis1", OpKind::Softmax, ir::SoftmaxAttrs{1, false}, {OpInput::runtime({2, 5, 3}, -3.0f, 3.0f)}});
  cases.push_back({"softmax_legacy", OpKind::Softmax, ir::SoftmaxAttrs{1, true}, {OpInput::runtime({2, 3, 4}, -3.0f, 3.0f)}});
  cases.push_back({"identity", OpKind::Identity, ir::NoAttrs{}, {OpInput::runtime({2, 3})}});
  cases.push_back({"dropout_eval", OpKind::Dropout, ir::DropoutAttrs{},
                   {OpInput::runtime({2, 6}), OpInput::init(Tensor::scalar<float>(0.3f))}});
  {
    ir::FusedConvAttrs a;
    a.conv = conv_attrs({1, 1}, {1, 1, 1, 1}, {1, 1}, 1);
    a.post.activation = ir::Activation::kRelu;
    a.post.has_sum = true;
    cases.push_back({"fused_conv_sum_relu", OpKind::FusedConv, a,
                     {OpInput::runtime({1, 2, 5, 5}), W({3, 2, 3, 3}, 61), W({3}, 62), OpInput::runtime({1, 3, 5, 5})}});
    ir::FusedGemmAttrs b;
    b.gemm.trans_b = 1;
    b.post.activation = ir::Activation::kHardSwish;
    cases.push_back({"fused_gemm_hardswish", OpKind::FusedGemm, b, {OpInput::runtime({3, 4}, -3.0f, 3.0f), W({5, 4}, 63), W({5}, 64)}});
    ir::FusedGemmAttrs rows;  // fuse_matmul_bias's form: A of rank 3, B [K, N], a [N] bias, GELU
    rows.post.activation = ir::Activation::kGelu;
    cases.push_back({"fused_gemm_rows_gelu", OpKind::FusedGemm, rows,
                     {OpInput::runtime({2, 3, 4}, -3.0f, 3.0f), W({4, 5}, 65), W({5}, 66)}});
  }
  return cases;
}

// A tiny classifier: input [N, 1, 8, 8] -> Conv 3x3 (4) -> BN -> Relu -> GAP -> Flatten ->
// Dropout(0.2) -> Gemm (2 classes). Initializer names follow torchvision style.
inline ir::Graph tiny_classifier(uint64_t seed = 1) {
  ir::Graph g;
  ir::Value* x = g.add_input("input", DType::kF32, dims({"N", 1, 8, 8}));
  auto node = [&](ir::OpKind kind, const std::string& name, std::vector<ir::Value*> ins, ir::Attrs attrs) {
    ir::Value* out = g.add_value(name);
    g.add_node(kind, name, std::move(ins), {out}, std::move(attrs));
    return out;
  };
  ir::Value* y = node(ir::OpKind::Conv, "conv", {x, g.add_initializer("conv.weight", random_f32({4, 1, 3, 3}, seed, -0.5f, 0.5f)),
                                                 g.add_initializer("conv.bias", random_f32({4}, seed + 1, -0.1f, 0.1f))},
                      conv_attrs({1, 1}, {1, 1, 1, 1}, {1, 1}, 1));
  y = node(ir::OpKind::BatchNormalization, "bn",
           {y, g.add_initializer("bn.weight", full_f32({4}, 1.0f)), g.add_initializer("bn.bias", full_f32({4}, 0.0f)),
            g.add_initializer("bn.running_mean", full_f32({4}, 0.0f)),
            g.add_initializer("bn.running_var", full_f32({4}, 1.0f))},
           ir::BatchNormAttrs{});
  y = node(ir::OpKind::Relu, "relu", {y}, ir::NoAttrs{});
  y = node(ir::OpKind::GlobalAveragePool, "gap", {y}, ir::NoAttrs{});
  y = node(ir::OpKind::Flatten, "flatten", {y}, ir::FlattenAttrs{1});
  y = node(ir::OpKind::Dropout, "dropout", {y, g.add_initializer("dropout.ratio", Tensor::scalar<float>(0.2f))},
           ir::DropoutAttrs{});
  ir::GemmAttrs ga;
  ga.trans_b = 1;
  ir::Value* logits = g.add_value("logits");
  g.add_node(ir::OpKind::Gemm, "fc",
             {y, g.add_initializer("fc.weight", random_f32({2, 4}, seed + 2, -0.5f, 0.5f)),
              g.add_initializer("fc.bias", full_f32({2}, 0.0f))},
             {logits}, ga);
  g.add_output(logits);
  Status s = ir::verify_and_infer(g);
  EXPECT_TRUE(s.ok()) << s.message();
  return g;
}

// Two classes of [1, 8, 8] images: uniform noise in [-1, 1] plus +0.5 (class 0) or -0.5 (class 1)
// on every pixel, so that the global average pool keeps the class. Labels alternate.
struct SyntheticData {
  Tensor images;  // f32 [n, 1, 8, 8]
  Tensor labels;  // s64 [n]
};
inline SyntheticData synthetic_data(int64_t n, uint64_t seed) {
  SyntheticData d;
  d.images = random_f32({n, 1, 8, 8}, seed, -1.0f, 1.0f);
  std::vector<int64_t> labels(static_cast<size_t>(n));
  float* px = d.images.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = i % 2;
    labels[static_cast<size_t>(i)] = label;
    for (int64_t k = 0; k < 64; ++k) px[i * 64 + k] += label == 0 ? 0.5f : -0.5f;
  }
  d.labels = Tensor::from_vector<int64_t>({n}, labels);
  return d;
}

inline std::unique_ptr<data::TensorBatchSource> batches(const SyntheticData& d, int64_t batch_size, bool shuffle,
                                                         uint64_t seed) {
  auto s = data::TensorBatchSource::create(d.images, d.labels, batch_size, shuffle, seed);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return std::move(s).value();
}

}  // namespace hqp::test
