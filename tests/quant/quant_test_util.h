// Helpers of the quantization tests: a small seeded graph builder, calibration data, node
// counting, logits agreement (cosine similarity, top-1), and INT8 tensor comparison. Test-only.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/tensor.h"
#include "ir/graph.h"
#include "ir/verifier.h"
#include "quant/calibrate.h"

namespace hqp::test {

inline constexpr uint32_t kCalibSeed = 20241125;
inline constexpr uint32_t kEvalSeed = 777;

// make_golden.py's models used here (the CTest fixture golden_models_generate writes them).
inline const std::string kGoldenDir = HQP_GOLDEN_DIR;
inline std::string golden_model(const std::string& name) { return kGoldenDir + "/" + name + "/model.onnx"; }

inline int count_kind(const ir::Graph& g, ir::OpKind kind) {
  int n = 0;
  for (const auto& node : g.nodes()) n += node->kind == kind ? 1 : 0;
  return n;
}

// f32 tensor of N(0, 1) values.
inline Tensor normal_f32(const Shape& shape, std::mt19937& rng) {
  Tensor t = Tensor::zeros(DType::kF32, shape).value();
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (float& v : t.span<float>()) v = d(rng);
  return t;
}

// `batches` batches of one N(0, 1) input of `shape` (single-input graphs).
inline quant::CalibrationData random_calibration(const Shape& shape, int batches, uint32_t seed) {
  std::mt19937 rng(seed);
  quant::CalibrationData c;
  for (int b = 0; b < batches; ++b) c.batches.push_back({normal_f32(shape, rng)});
  return c;
}

// Float CNN pieces with seeded random weights (a conv's weights scaled like PyTorch's default init).
class NetBuilder {
 public:
  ir::Graph g;
  std::mt19937 rng{kCalibSeed};

  Tensor uniform(Shape shape, float lo, float hi) {
    Tensor t = Tensor::zeros(DType::kF32, std::move(shape)).value();
    std::uniform_real_distribution<float> d(lo, hi);
    for (float& v : t.span<float>()) v = d(rng);
    return t;
  }
  ir::Value* input(const std::string& name, Shape shape) {
    return g.add_input(name, DType::kF32, ir::dims_from_shape(shape));
  }
  ir::Value* init(const std::string& base, Tensor t) { return g.add_initializer(g.unique_name(base), std::move(t)); }
  ir::Value* op(ir::OpKind kind, std::vector<ir::Value*> inputs, ir::Attrs attrs, const std::string& name = "") {
    const std::string base = name.empty() ? std::string(ir::op_name(kind)) : name;
    ir::Value* out = g.add_value(g.unique_name(base + "_out"));
    g.add_node(kind, g.unique_name(base), std::move(inputs), {out}, std::move(attrs));
    return out;
  }
  ir::Value* op(ir::OpKind kind, std::vector<ir::Value*> inputs) {
    return op(kind, std::move(inputs), ir::default_attrs(kind));
  }
  ir::Value* conv(ir::Value* x, int64_t ic, int64_t oc, int64_t k, int64_t stride = 1, int64_t group = 1,
                  const std::string& name = "") {
    ir::ConvAttrs a;
    a.strides = {stride, stride};
    a.pads = {k / 2, k / 2, k / 2, k / 2};
    a.group = group;
    const float bound = 1.0f / std::sqrt(static_cast<float>(ic / group * k * k));
    ir::Value* w = init("w", uniform({oc, ic / group, k, k}, -bound, bound));
    return op(ir::OpKind::Conv, {x, w, init("b", uniform({oc}, -0.2f, 0.2f))}, a, name);
  }
  ir::Value* batchnorm(ir::Value* x, int64_t c) {
    return op(ir::OpKind::BatchNormalization,
              {x, init("gamma", uniform({c}, 0.5f, 1.5f)), init("beta", uniform({c}, -0.3f, 0.3f)),
               init("mean", uniform({c}, -0.2f, 0.2f)), init("var", uniform({c}, 0.5f, 1.5f))});
  }
  ir::Value* relu(ir::Value* x) { return op(ir::OpKind::Relu, {x}); }
  // y = x W^T + b with W [n, k] (trans_b = 1), or x W + b with W [k, n] (trans_b = 0).
  ir::Value* gemm(ir::Value* x, int64_t k, int64_t n, bool trans_b = true) {
    ir::GemmAttrs a;
    a.trans_b = trans_b ? 1 : 0;
    const float bound = 1.0f / std::sqrt(static_cast<float>(k));
    Shape ws = trans_b ? Shape{n, k} : Shape{k, n};
    return op(ir::OpKind::Gemm, {x, init("fc_w", uniform(ws, -bound, bound)), init("fc_b", uniform({n}, -0.2f, 0.2f))},
              a);
  }
  ir::Value* maxpool(ir::Value* x) {
    ir::PoolAttrs p;
    p.kernel_shape = {2, 2};
    p.strides = {2, 2};
    return op(ir::OpKind::MaxPool, {x}, p);
  }
  ir::Value* global_pool_flatten(ir::Value* x) {
    return op(ir::OpKind::Flatten, {op(ir::OpKind::GlobalAveragePool, {x})}, ir::FlattenAttrs{});
  }
  void finish(const std::vector<ir::Value*>& outputs) {
    for (ir::Value* o : outputs) g.add_output(o);
    const Status s = ir::verify_and_infer(g);
    ASSERT_TRUE(s.ok()) << s.message();
  }
};

// The node that produces value `name` (nullptr when none).
inline const ir::Node* producer_of(const ir::Graph& g, const std::string& name) {
  const ir::Value* v = g.find_value(name);
  return v != nullptr ? v->producer() : nullptr;
}

// Cosine similarity of two f32 tensors of equal size, computed in double.
inline double cosine_similarity(const Tensor& a, const Tensor& b) {
  double ab = 0.0;
  double aa = 0.0;
  double bb = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.data<float>()[i];
    const double y = b.data<float>()[i];
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / std::sqrt(aa * bb);
}

// Index of the largest element of row `r` of an f32 [rows, cols] tensor.
inline int64_t argmax_row(const Tensor& t, int64_t r) {
  const int64_t cols = t.dim(1);
  const float* p = t.data<float>() + r * cols;
  int64_t best = 0;
  for (int64_t c = 1; c < cols; ++c) best = p[c] > p[best] ? c : best;
  return best;
}

// Largest |got - want| in LSB over two u8/s8 tensors, and how many elements differ.
struct LsbDiff {
  int64_t max_lsb = 0;
  int64_t mismatches = 0;
};
inline LsbDiff lsb_diff(const Tensor& got, const Tensor& want) {
  LsbDiff d;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const int64_t e = std::llabs(got.element_as_int64(i) - want.element_as_int64(i));
    d.max_lsb = std::max(d.max_lsb, e);
    d.mismatches += e != 0 ? 1 : 0;
  }
  return d;
}

}  // namespace hqp::test
