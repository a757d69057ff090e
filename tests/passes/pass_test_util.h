// Builders and checks for the graph-pass tests: small hand-built graphs with seeded random
// weights, QDQ (fake-quant) wrapping with chosen scales, node counting, and running a graph
// before and after a pass on the same random inputs. Test-only.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/tensor_compare.h"
#include "ir/graph.h"
#include "ir/shape_inference.h"
#include "ir/verifier.h"
#include "reference/executor.h"

namespace hqp::test {

inline constexpr uint32_t kPassTestSeed = 20240611;

inline int count_kind(const ir::Graph& g, ir::OpKind kind) {
  int n = 0;
  for (const auto& node : g.nodes()) n += node->kind == kind ? 1 : 0;
  return n;
}

// Builds graphs node by node; every weight comes from one seeded generator.
class GraphBuilder {
 public:
  ir::Graph g;
  std::mt19937 rng{kPassTestSeed};

  Tensor random_f32(Shape shape, float lo, float hi) {
    Tensor t = Tensor::zeros(DType::kF32, std::move(shape)).value();
    std::uniform_real_distribution<float> d(lo, hi);
    for (float& v : t.span<float>()) v = d(rng);
    return t;
  }
  template <typename T>
  Tensor random_int(DType dtype, Shape shape, int lo, int hi) {
    Tensor t = Tensor::zeros(dtype, std::move(shape)).value();
    std::uniform_int_distribution<int> d(lo, hi);
    for (T& v : t.span<T>()) v = static_cast<T>(d(rng));
    return t;
  }

  ir::Value* input(const std::string& name, Shape shape, DType dtype = DType::kF32) {
    return g.add_input(name, dtype, ir::dims_from_shape(shape));
  }
  ir::Value* init(const std::string& base, Tensor t) { return g.add_initializer(g.unique_name(base), std::move(t)); }
  ir::Value* op(ir::OpKind kind, std::vector<ir::Value*> inputs, ir::Attrs attrs) {
    ir::Value* out = g.add_value(g.unique_name(std::string(ir::op_name(kind)) + "_out"));
    g.add_node(kind, g.unique_name(std::string(ir::op_name(kind))), std::move(inputs), {out}, std::move(attrs));
    return out;
  }
  ir::Value* op(ir::OpKind kind, std::vector<ir::Value*> inputs) {
    return op(kind, std::move(inputs), ir::default_attrs(kind));
  }

  // Conv with random weights [oc, ic/group, k, k], "same" padding.
  ir::Value* conv(ir::Value* x, int64_t ic, int64_t oc, int64_t k, int64_t stride = 1, int64_t group = 1,
                  bool bias = true) {
    ir::ConvAttrs a;
    a.strides = {stride, stride};
    a.pads = {k / 2, k / 2, k / 2, k / 2};
    a.group = group;
    const float bound = 1.0f / std::sqrt(static_cast<float>(ic / group * k * k));
    ir::Value* w = init("w", random_f32({oc, ic / group, k, k}, -bound, bound));
    std::vector<ir::Value*> in = {x, w};
    if (bias) in.push_back(init("b", random_f32({oc}, -0.5f, 0.5f)));
    return op(ir::OpKind::Conv, in, a);
  }

  ir::Value* batchnorm(ir::Value* x, int64_t c) {
    ir::Value* gamma = init("gamma", random_f32({c}, 0.5f, 1.5f));
    ir::Value* beta = init("beta", random_f32({c}, -0.5f, 0.5f));
    ir::Value* mean = init("mean", random_f32({c}, -0.3f, 0.3f));
    ir::Value* var = init("var", random_f32({c}, 0.2f, 2.0f));
    return op(ir::OpKind::BatchNormalization, {x, gamma, beta, mean, var});
  }

  // Gemm y = x * W^T + b with W [n, k] (transB = 1).
  ir::Value* gemm(ir::Value* x, int64_t k, int64_t n) {
    ir::GemmAttrs a;
    a.trans_b = 1;
    const float bound = 1.0f / std::sqrt(static_cast<float>(k));
    return op(ir::OpKind::Gemm, {x, init("fc_w", random_f32({n, k}, -bound, bound)), init("fc_b", random_f32({n}, -0.5f, 0.5f))},
              a);
  }

  // --- QDQ (fake-quant) pieces, ONNX Runtime / TensorRT convention ---

  // x -> QuantizeLinear(scale, zp) -> DequantizeLinear: the fake-quantized activation.
  ir::Value* qdq(ir::Value* x, float scale, int32_t zero_point, DType storage = DType::kU8) {
    ir::Value* s = init("act_scale", Tensor::scalar<float>(scale));
    ir::Value* zp = storage == DType::kU8 ? init("act_zp", Tensor::scalar<uint8_t>(static_cast<uint8_t>(zero_point)))
                                          : init("act_zp", Tensor::scalar<int8_t>(static_cast<int8_t>(zero_point)));
    ir::Value* q = op(ir::OpKind::QuantizeLinear, {x, s, zp}, ir::AxisAttrs{});
    return op(ir::OpKind::DequantizeLinear, {q, s, zp}, ir::AxisAttrs{});
  }

  // Per-output-channel s8 weights: DequantizeLinear(wq [oc, ...], scale [oc], zp 0, axis 0).
  // pow2: scales 2^-(7 + oc % 3) (exact arithmetic), else random in [0.002, 0.02].
  struct QWeight {
    ir::Value* dq;
    std::vector<float> scale;
  };
  QWeight dq_weight(Shape shape, bool pow2) {
    const int64_t oc = shape[0];
    std::vector<float> scale;
    std::uniform_real_distribution<float> d(0.002f, 0.02f);
    for (int64_t c = 0; c < oc; ++c) scale.push_back(pow2 ? std::ldexp(1.0f, -7 - static_cast<int>(c % 3)) : d(rng));
    ir::Value* wq = init("wq", random_int<int8_t>(DType::kS8, shape, -127, 127));
    ir::Value* s = init("w_scale", Tensor::from_vector<float>({oc}, scale));
    ir::Value* zp = init("w_zp", Tensor::zeros(DType::kS8, {oc}).value());
    return {op(ir::OpKind::DequantizeLinear, {wq, s, zp}, ir::AxisAttrs{0, true}), scale};
  }
  // s32 bias with scale src_scale * wei_scale[oc], zero point 0.
  ir::Value* dq_bias(float src_scale, const std::vector<float>& wei_scale) {
    const int64_t oc = static_cast<int64_t>(wei_scale.size());
    std::vector<float> scale;
    for (float s : wei_scale) scale.push_back(src_scale * s);
    ir::Value* bq = init("bq", random_int<int32_t>(DType::kS32, {oc}, -2000, 2000));
    ir::Value* s = init("b_scale", Tensor::from_vector<float>({oc}, scale));
    return op(ir::OpKind::DequantizeLinear, {bq, s}, ir::AxisAttrs{0, true});
  }
  // Conv over a fake-quantized input with QDQ weights and an s32 QDQ bias.
  ir::Value* qdq_conv(ir::Value* x_dq, float src_scale, int64_t ic, int64_t oc, int64_t k, bool pow2,
                      int64_t stride = 1, int64_t group = 1) {
    QWeight w = dq_weight({oc, ic / group, k, k}, pow2);
    ir::ConvAttrs a;
    a.strides = {stride, stride};
    a.pads = {k / 2, k / 2, k / 2, k / 2};
    a.group = group;
    return op(ir::OpKind::Conv, {x_dq, w.dq, dq_bias(src_scale, w.scale)}, a);
  }

  // Verifies and infers; fails the test on error.
  void finish(std::vector<ir::Value*> outputs) {
    for (ir::Value* o : outputs) g.add_output(o);
    const Status s = ir::verify_and_infer(g);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  // Random inputs for every graph input (f32 in [-1, 1]; u8/s8 over their whole range).
  std::vector<Tensor> random_inputs() {
    std::vector<Tensor> out;
    for (const ir::Value* in : g.inputs()) {
      Shape shape = ir::static_shape(*in->shape).value();
      if (in->dtype == DType::kU8) {
        out.push_back(random_int<uint8_t>(DType::kU8, shape, 0, 255));
      } else if (in->dtype == DType::kS8) {
        out.push_back(random_int<int8_t>(DType::kS8, shape, -128, 127));
      } else {
        out.push_back(random_f32(shape, -1.0f, 1.0f));
      }
    }
    return out;
  }
};

inline std::vector<Tensor> run_graph(const ir::Graph& g, const std::vector<Tensor>& inputs) {
  Result<std::vector<Tensor>> r = reference::run_reference(g, inputs);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : std::vector<Tensor>{};
}

// Largest |got - want| over two u8/s8 tensors, in LSB, and the fraction of differing elements.
struct LsbDiff {
  int64_t max_lsb = 0;
  double mismatch_fraction = 0.0;
};
inline LsbDiff lsb_diff(const Tensor& got, const Tensor& want) {
  LsbDiff d;
  int64_t bad = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const int64_t e = std::llabs(got.element_as_int64(i) - want.element_as_int64(i));
    d.max_lsb = std::max(d.max_lsb, e);
    bad += e != 0 ? 1 : 0;
  }
  d.mismatch_fraction = want.numel() ? static_cast<double>(bad) / static_cast<double>(want.numel()) : 0.0;
  return d;
}

// Runs `before` and `after` on the same inputs and checks every output: f32 by max relative
// error (0 means bit-identical), integers by LSB distance.
inline void expect_same_outputs(const ir::Graph& before, const ir::Graph& after, const std::vector<Tensor>& inputs,
                                double max_rel_err, int64_t max_lsb = 0, double max_mismatch_fraction = 0.0) {
  std::vector<Tensor> want = run_graph(before, inputs);
  std::vector<Tensor> got = run_graph(after, inputs);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i].dtype(), want[i].dtype()) << "output " << i;
    ASSERT_EQ(got[i].shape(), want[i].shape()) << "output " << i;
    if (want[i].dtype() == DType::kF32) {
      if (max_rel_err == 0.0) {
        EXPECT_EQ(bitwise_mismatch(got[i], want[i]), std::nullopt) << "output " << i;
      } else {
        EXPECT_LE(max_relative_error(got[i], want[i]), max_rel_err) << "output " << i;
      }
    } else {
      const LsbDiff d = lsb_diff(got[i], want[i]);
      EXPECT_LE(d.max_lsb, max_lsb) << "output " << i;
      EXPECT_LE(d.mismatch_fraction, max_mismatch_fraction) << "output " << i;
    }
  }
}

}  // namespace hqp::test
