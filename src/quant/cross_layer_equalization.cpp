// Cross-layer equalization of conv pairs joined by ReLU or nothing.
#include "quant/cross_layer_equalization.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "ir/rewrite.h"
#include "ir/verifier.h"

namespace hqp::quant {

namespace {

struct Pair {
  ir::Node* first = nullptr;
  ir::Node* second = nullptr;
};

bool constant_f32(const ir::Value* v) {
  const Tensor* t = v != nullptr ? ir::constant_of(v) : nullptr;
  return t != nullptr && t->dtype() == DType::kF32;
}

std::vector<Pair> find_pairs(const ir::Graph& g) {
  std::vector<Pair> pairs;
  for (const auto& n : g.nodes()) {
    if (n->kind != ir::OpKind::Conv || !constant_f32(n->input(1))) continue;
    if (n->input(2) != nullptr && !constant_f32(n->input(2))) continue;
    const ir::Value* y = n->output(0);
    if (g.is_graph_output(y)) continue;
    const ir::Value* link = y;
    ir::Node* next = ir::sole_consumer(g, y);
    if (next != nullptr && next->kind == ir::OpKind::Relu) {
      link = next->output(0);
      if (g.is_graph_output(link)) continue;
      next = ir::sole_consumer(g, link);
    }
    if (next == nullptr || next->kind != ir::OpKind::Conv || next->input(0) != link) continue;
    if (!constant_f32(next->input(1))) continue;
    const Tensor& w1 = *ir::constant_of(n->input(1));
    const Tensor& w2 = *ir::constant_of(next->input(1));
    const int64_t group2 = next->attr<ir::ConvAttrs>().group;
    if (w1.rank() < 3 || w2.rank() < 3 || w2.dim(1) * group2 != w1.dim(0)) continue;
    pairs.push_back({n.get(), next});
  }
  return pairs;
}

// Puts `t` in place of input `index` of `node` as a new initializer.
void replace_constant(ir::Graph& g, ir::Node* node, size_t index, Tensor t) {
  const std::string base = node->input(index)->name;
  g.set_input(node, index, g.add_initializer(g.unique_name(base + "_equalized"), std::move(t)));
}

// Equalizes one pair; false when nothing changed (every scale 1).
bool equalize(ir::Graph& g, const Pair& p) {
  const Tensor& w1 = *ir::constant_of(p.first->input(1));
  const Tensor& w2 = *ir::constant_of(p.second->input(1));
  const int64_t c = w1.dim(0);
  const int64_t k1 = w1.numel() / c;
  const int64_t o2 = w2.dim(0);
  const int64_t cin2 = w2.dim(1);  // input channels per group
  const int64_t k2 = w2.numel() / (o2 * cin2);
  const int64_t group2 = p.second->attr<ir::ConvAttrs>().group;
  const int64_t out_per_group = o2 / group2;
  std::vector<double> r1(static_cast<size_t>(c), 0.0), r2(static_cast<size_t>(c), 0.0);
  const float* a = w1.data<float>();
  for (int64_t i = 0; i < c; ++i) {
    for (int64_t j = 0; j < k1; ++j) r1[static_cast<size_t>(i)] = std::max(r1[static_cast<size_t>(i)], std::fabs(static_cast<double>(a[i * k1 + j])));
  }
  const float* b = w2.data<float>();
  for (int64_t o = 0; o < o2; ++o) {
    const int64_t base = (o / out_per_group) * cin2;
    for (int64_t k = 0; k < cin2; ++k) {
      double& r = r2[static_cast<size_t>(base + k)];
      for (int64_t j = 0; j < k2; ++j) r = std::max(r, std::fabs(static_cast<double>(b[(o * cin2 + k) * k2 + j])));
    }
  }
  std::vector<float> s(static_cast<size_t>(c), 1.0f);
  bool changed = false;
  for (int64_t i = 0; i < c; ++i) {
    const double x = r1[static_cast<size_t>(i)], y = r2[static_cast<size_t>(i)];
    if (x > 0.0 && y > 0.0 && std::isfinite(x) && std::isfinite(y)) {
      const double si = std::sqrt(x / y);
      if (std::fabs(si - 1.0) > 1e-6) {
        s[static_cast<size_t>(i)] = static_cast<float>(si);
        changed = true;
      }
    }
  }
  if (!changed) return false;
  Tensor nw1 = w1.clone();
  for (int64_t i = 0; i < c; ++i) {
    for (int64_t j = 0; j < k1; ++j) nw1.data<float>()[i * k1 + j] /= s[static_cast<size_t>(i)];
  }
  Tensor nw2 = w2.clone();
  for (int64_t o = 0; o < o2; ++o) {
    const int64_t base = (o / out_per_group) * cin2;
    for (int64_t k = 0; k < cin2; ++k) {
      for (int64_t j = 0; j < k2; ++j) nw2.data<float>()[(o * cin2 + k) * k2 + j] *= s[static_cast<size_t>(base + k)];
    }
  }
  if (p.first->input(2) != nullptr) {
    Tensor nb = ir::constant_of(p.first->input(2))->clone();
    if (nb.numel() == c) {
      for (int64_t i = 0; i < c; ++i) nb.data<float>()[i] /= s[static_cast<size_t>(i)];
    } else {  // a broadcast bias cannot be scaled per channel: expand it
      Tensor e = Tensor::zeros(DType::kF32, {c}).value();
      for (int64_t i = 0; i < c; ++i) e.data<float>()[i] = nb.data<float>()[0] / s[static_cast<size_t>(i)];
      nb = std::move(e);
    }
    replace_constant(g, p.first, 2, std::move(nb));
  }
  replace_constant(g, p.first, 1, std::move(nw1));
  replace_constant(g, p.second, 1, std::move(nw2));
  return true;
}

}  // namespace

Result<CleStats> equalize_cross_layer(ir::Graph& g, int iterations) {
  CleStats stats;
  const std::vector<Pair> pairs = find_pairs(g);
  stats.pairs = static_cast<int>(pairs.size());
  for (int it = 0; it < iterations; ++it) {
    bool changed = false;
    for (const Pair& p : pairs) changed = equalize(g, p) || changed;
    ++stats.iterations;
    if (!changed) break;
  }
  g.remove_dead_code();
  HQP_RETURN_IF_ERROR(ir::verify_and_infer(g).with_context("cannot equalize model: the graph does not verify"));
  return stats;
}

}  // namespace hqp::quant
