// Helpers of the quantization tests: seeded calibration data, node counting, logits agreement
// (cosine similarity, top-1), and INT8 tensor comparison. Test-only.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/tensor.h"
#include "ir/graph.h"
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
