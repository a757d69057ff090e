// Zero-Pad folding into the next window op (fold_pad.h).
#include "passes/fold_pad.h"

#include <algorithm>

#include "ir/rewrite.h"
#include "ir/shape_inference.h"

namespace hqp::passes {

namespace {

// The Pad's amounts when it is a constant zero pad of spatial axes only; nullopt otherwise.
std::optional<std::vector<int64_t>> zero_spatial_pads(const ir::Node& pad) {
  const auto& a = pad.attr<ir::PadAttrs>();
  if (a.mode != ir::PadMode::kConstant) return std::nullopt;
  if (a.value && *a.value != 0.0f) return std::nullopt;
  if (pad.input(2) != nullptr) {
    const Tensor* v = ir::constant_through_identity(pad.input(2));
    if (v == nullptr || v->numel() != 1 || v->dtype() != DType::kF32 || v->data<float>()[0] != 0.0f) return std::nullopt;
  }
  std::vector<int64_t> pads;
  if (a.pads) {
    pads = *a.pads;
  } else {
    const Tensor* t = ir::constant_through_identity(pad.input(1));
    if (t == nullptr) return std::nullopt;
    for (int64_t i = 0; i < t->numel(); ++i) pads.push_back(t->element_as_int64(i));
  }
  const size_t r = pads.size() / 2;
  if (r < 2 || pads.size() != 2 * r) return std::nullopt;
  if (std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p < 0; })) return std::nullopt;
  if (pads[0] != 0 || pads[1] != 0 || pads[r] != 0 || pads[r + 1] != 0) return std::nullopt;
  return pads;
}

// window pads [b..., e...] over `spatial` dims widened by the Pad's spatial amounts.
std::vector<int64_t> widen(const std::vector<int64_t>& window_pads, const std::vector<int64_t>& pad, size_t spatial) {
  const size_t r = pad.size() / 2;
  std::vector<int64_t> out(2 * spatial, 0);
  if (window_pads.size() == 2 * spatial) out = window_pads;
  for (size_t i = 0; i < spatial; ++i) {
    out[i] += pad[2 + i];
    out[spatial + i] += pad[r + 2 + i];
  }
  return out;
}

}  // namespace

Result<FoldPadStats> fold_pad(ir::Graph& graph) {
  FoldPadStats stats;
  HQP_ASSIGN_OR_RETURN(std::vector<ir::Node*> order, graph.topological_order());
  // The Pads first: a fold removes its Pad and the consumer (never another Pad), so the other
  // candidates stay valid while nodes go.
  std::vector<ir::Node*> candidates;
  for (ir::Node* n : order) {
    if (n->kind == ir::OpKind::Pad) candidates.push_back(n);
  }
  for (ir::Node* pad : candidates) {
    const std::optional<std::vector<int64_t>> pads = zero_spatial_pads(*pad);
    if (!pads) continue;
    ir::Value* in = pad->input(0);
    ir::Value* out = pad->output(0);
    if (in->dtype != DType::kF32) continue;
    if (std::all_of(pads->begin(), pads->end(), [](int64_t p) { return p == 0; })) {
      if (graph.is_graph_output(out)) continue;
      graph.remove_node(pad);
      graph.replace_all_uses(out, in);
      ++stats.removed;
      continue;
    }
    ir::Node* user = ir::sole_consumer(graph, out);
    if (user == nullptr || user->input(0) != out) continue;
    const size_t spatial = pads->size() / 2 - 2;
    if (user->kind == ir::OpKind::Conv) {
      ir::ConvAttrs a = user->attr<ir::ConvAttrs>();
      if (a.auto_pad != ir::AutoPad::kNotSet || (!a.pads.empty() && a.pads.size() != 2 * spatial)) continue;
      a.pads = widen(a.pads, *pads, spatial);
      std::vector<ir::Value*> ins = user->inputs();
      ins[0] = in;
      ir::replace_nodes(graph, {user, pad}, user->kind, user->name, ins, user->outputs(), a);
      ++stats.into_conv;
    } else if (user->kind == ir::OpKind::AveragePool) {
      ir::PoolAttrs a = user->attr<ir::PoolAttrs>();
      const bool own_pads = std::any_of(a.pads.begin(), a.pads.end(), [](int64_t p) { return p != 0; });
      if (a.auto_pad != ir::AutoPad::kNotSet || a.ceil_mode != 0 || (own_pads && a.count_include_pad == 0) ||
          (!a.pads.empty() && a.pads.size() != 2 * spatial)) {
        continue;
      }
      a.pads = widen(a.pads, *pads, spatial);
      a.count_include_pad = 1;
      std::vector<ir::Value*> ins = user->inputs();
      ins[0] = in;
      ir::replace_nodes(graph, {user, pad}, user->kind, user->name, ins, user->outputs(), a);
      ++stats.into_avg_pool;
    }
  }
  graph.remove_dead_code();
  HQP_RETURN_IF_ERROR(ir::infer_shapes(graph));
  return stats;
}

}  // namespace hqp::passes
