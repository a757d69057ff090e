// A small hand-built CNN graph builder for pruning tests (tests/prune, tests/pruner): convs with
// random weights, BatchNorm with non-trivial statistics, element-wise ops, a GAP -> Flatten -> Gemm
// head. Deterministic: the seed advances with every tensor.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "common/ir_test_util.h"
#include "ir/graph.h"

namespace hqp::test {

inline Tensor random_tensor(Shape shape, uint32_t seed, float scale = 0.5f) {
  Tensor t = Tensor::zeros(DType::kF32, std::move(shape)).value();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  for (float& v : t.span<float>()) v = d(rng);
  return t;
}

// Small graphs built by hand.
struct Net {
  ir::Graph g;
  uint32_t seed = 1;
  ir::Value* input(Shape s) { return g.add_input("x", DType::kF32, dims({"N", s[1], s[2], s[3]})); }
  ir::Value* conv(ir::Value* x, int64_t in, int64_t out, const std::string& name, int64_t group = 1) {
    ir::Value* w = g.add_initializer(name + ".w", random_tensor({out, in / group, 3, 3}, seed++));
    ir::Value* b = g.add_initializer(name + ".b", random_tensor({out}, seed++));
    ir::Value* y = g.add_value(name + ".y");
    ir::ConvAttrs a;
    a.pads = {1, 1, 1, 1};
    a.group = group;
    g.add_node(ir::OpKind::Conv, name, {x, w, b}, {y}, a);
    return y;
  }
  ir::Value* bn(ir::Value* x, int64_t c, const std::string& name) {
    std::vector<ir::Value*> in = {x};
    for (const char* p : {"scale", "bias", "mean", "var"}) {
      Tensor t = random_tensor({c}, seed++, 0.3f);
      if (std::string(p) == "var" || std::string(p) == "scale") {
        for (float& v : t.span<float>()) v = 1.0f + v;
      }
      in.push_back(g.add_initializer(name + "." + p, t));
    }
    ir::Value* y = g.add_value(name + ".y");
    g.add_node(ir::OpKind::BatchNormalization, name, in, {y});
    return y;
  }
  ir::Value* unary(ir::OpKind k, ir::Value* x, const std::string& name) {
    ir::Value* y = g.add_value(name + ".y");
    g.add_node(k, name, {x}, {y});
    return y;
  }
  ir::Value* binary(ir::OpKind k, ir::Value* a, ir::Value* b, const std::string& name) {
    ir::Value* y = g.add_value(name + ".y");
    g.add_node(k, name, {a, b}, {y});
    return y;
  }
  ir::Value* head(ir::Value* x, int64_t c, int64_t classes) {
    ir::Value* p = unary(ir::OpKind::GlobalAveragePool, x, "gap");
    ir::Value* f = g.add_value("flat");
    g.add_node(ir::OpKind::Flatten, "flatten", {p}, {f}, ir::FlattenAttrs{});
    ir::Value* w = g.add_initializer("fc.w", random_tensor({classes, c}, seed++));
    ir::Value* b = g.add_initializer("fc.b", random_tensor({classes}, seed++));
    ir::Value* y = g.add_value("logits");
    ir::GemmAttrs a;
    a.trans_b = 1;
    g.add_node(ir::OpKind::Gemm, "fc", {f, w, b}, {y}, a);
    g.add_output(y);
    return y;
  }
};

// x [N,1,8,8] -> conv 12 -> bn -> relu -> conv 16 -> bn -> relu -> (+ residual conv 16) -> GAP -> fc 4
// (the pruner and pipeline tests' model).
inline ir::Graph make_residual_cnn() {
  Net n;
  ir::Value* x = n.input({1, 1, 8, 8});
  ir::Value* a = n.unary(ir::OpKind::Relu, n.bn(n.conv(x, 1, 12, "a"), 12, "a_bn"), "a_relu");
  ir::Value* b = n.unary(ir::OpKind::Relu, n.bn(n.conv(a, 12, 16, "b"), 16, "b_bn"), "b_relu");
  ir::Value* c = n.bn(n.conv(b, 16, 16, "c"), 16, "c_bn");
  ir::Value* s = n.unary(ir::OpKind::Relu, n.binary(ir::OpKind::Add, b, c, "add"), "add_relu");
  n.head(s, 16, 4);
  return std::move(n.g);
}

// x [N,1,8,8] -> conv 8 -> bn -> relu = a; Concat(conv 6 (a), conv 4 (a), a) -> conv 12 -> bn -> relu
// -> GAP -> fc 4: three groups read behind one Concat, one of them (a) also directly.
inline ir::Graph make_concat_cnn() {
  Net n;
  ir::Value* x = n.input({1, 1, 8, 8});
  ir::Value* a = n.unary(ir::OpKind::Relu, n.bn(n.conv(x, 1, 8, "a"), 8, "a_bn"), "a_relu");
  ir::Value* b1 = n.unary(ir::OpKind::Relu, n.conv(a, 8, 6, "b1"), "b1_relu");
  ir::Value* b2 = n.unary(ir::OpKind::Relu, n.conv(a, 8, 4, "b2"), "b2_relu");
  ir::Value* cat = n.g.add_value("cat.y");
  ir::AxisAttrs axis;
  axis.axis = 1;
  axis.present = true;
  n.g.add_node(ir::OpKind::Concat, "cat", {b1, b2, a}, {cat}, axis);
  ir::Value* c = n.unary(ir::OpKind::Relu, n.bn(n.conv(cat, 18, 12, "c"), 12, "c_bn"), "c_relu");
  n.head(c, 12, 4);
  return std::move(n.g);
}

}  // namespace hqp::test
