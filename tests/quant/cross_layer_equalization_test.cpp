// Cross-layer equalization: the float function is unchanged (reference executor, before / after),
// every equalized channel ends with equal ranges on both sides, depthwise second convs scale per
// group, and pairs it must not touch (joined by HardSwish, a shared output) stay as they are.
#include <cmath>

#include <gtest/gtest.h>

#include "common/ir_test_util.h"
#include "common/tensor_compare.h"
#include "ir/rewrite.h"
#include "quant/cross_layer_equalization.h"
#include "quant/quant_test_util.h"
#include "reference/executor.h"

namespace hqp::test {
namespace {

using ir::OpKind;

// Largest |w| of output channel i of W1, and of input channel i of W2 (group-aware).
double r1(const Tensor& w, int64_t i) {
  const int64_t k = w.numel() / w.dim(0);
  double r = 0.0;
  for (int64_t j = 0; j < k; ++j) r = std::max(r, std::fabs(static_cast<double>(w.data<float>()[i * k + j])));
  return r;
}
double r2(const Tensor& w, int64_t i, int64_t group) {
  const int64_t o2 = w.dim(0), cin = w.dim(1), k = w.numel() / (o2 * cin), per = o2 / group;
  double r = 0.0;
  for (int64_t o = 0; o < o2; ++o) {
    const int64_t base = (o / per) * cin;
    if (i < base || i >= base + cin) continue;
    for (int64_t j = 0; j < k; ++j) r = std::max(r, std::fabs(static_cast<double>(w.data<float>()[(o * cin + i - base) * k + j])));
  }
  return r;
}

const Tensor& weight_of(const ir::Graph& g, const std::string& conv_output) {
  return *ir::constant_of(g.find_value(conv_output)->producer()->input(1));
}

TEST(CrossLayerEqualization, KeepsTheFunctionAndEqualizesRanges) {
  for (int64_t group2 : {1, 8}) {
    NetBuilder b;
    ir::Value* x = b.input("x", {2, 3, 10, 10});
    ir::Value* a = b.conv(x, 3, 8, 3, 1, 1, "a");
    // Make channel 2 of the first conv tiny and channel 5 huge: per-channel INT8 would still keep
    // them, per-tensor would not; CLE moves the scale into the second conv.
    Tensor w = ir::constant_of(a->producer()->input(1))->clone();
    for (int64_t j = 0; j < 27; ++j) {
      w.data<float>()[2 * 27 + j] *= 0.01f;
      w.data<float>()[5 * 27 + j] *= 20.0f;
    }
    b.g.set_input(a->producer(), 1, b.init("a_w", w));
    ir::Value* r = b.relu(a);
    ir::Value* c = b.conv(r, 8, 8, 3, 1, group2, "c");
    b.finish({c});
    const std::vector<Tensor> in = {normal_f32({2, 3, 10, 10}, b.rng)};
    const Tensor before = reference::run_reference(b.g, in).value()[0];
    Result<quant::CleStats> s = quant::equalize_cross_layer(b.g);
    HQP_ASSERT_OK(s.status());
    EXPECT_EQ(s->pairs, 1);
    const Tensor after = reference::run_reference(b.g, in).value()[0];
    const std::optional<std::string> diff = allclose_mismatch(after, before, 1e-4, 1e-5);
    EXPECT_FALSE(diff.has_value()) << "group " << group2 << ": " << diff.value_or("");
    const Tensor& w1 = weight_of(b.g, a->name);
    const Tensor& w2 = weight_of(b.g, c->name);
    for (int64_t i = 0; i < 8; ++i) EXPECT_NEAR(r1(w1, i), r2(w2, i, group2), 1e-5 * r1(w1, i)) << i;
  }
}

TEST(CrossLayerEqualization, LeavesPairsItMustNotTouch) {
  {  // HardSwish is not positively homogeneous
    NetBuilder b;
    ir::Value* x = b.input("x", {1, 3, 6, 6});
    ir::Value* a = b.conv(x, 3, 4, 3);
    ir::Value* h = b.op(OpKind::HardSwish, {a});
    b.finish({b.conv(h, 4, 4, 3)});
    Result<quant::CleStats> s = quant::equalize_cross_layer(b.g);
    HQP_ASSERT_OK(s.status());
    EXPECT_EQ(s->pairs, 0);
  }
  {  // the first conv's output has a second reader
    NetBuilder b;
    ir::Value* x = b.input("x", {1, 3, 6, 6});
    ir::Value* a = b.conv(x, 3, 4, 3);
    ir::Value* c = b.conv(a, 4, 4, 3);
    b.finish({c, b.relu(a)});
    Result<quant::CleStats> s = quant::equalize_cross_layer(b.g);
    HQP_ASSERT_OK(s.status());
    EXPECT_EQ(s->pairs, 0);
  }
}

}  // namespace
}  // namespace hqp::test
