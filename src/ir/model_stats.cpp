// Parameter and MAC counting.
#include "ir/model_stats.h"

namespace hqp::ir {

namespace {

// Dim at batch 1: static value, symbolic/unknown as 1.
int64_t dim1(const Dim& d) { return d.is_static() ? d.value : 1; }

int64_t numel1(const Dims& ds, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end && i < ds.size(); ++i) n *= dim1(ds[i]);
  return n;
}

int64_t node_macs(const Node& n) {
  const Value* out = n.output(0);
  if (out == nullptr || !out->shape) return 0;
  const Dims& os = *out->shape;
  switch (op_schema(n.kind).mac_rule) {
    case MacRule::kConv: {
      const Value* w = n.input(1);
      if (!w || !w->shape || os.size() < 2) return 0;
      const Dims& ws = *w->shape;
      // OC * spatial_out * (IC/G) * K...; batch excluded.
      return numel1(os, 1, os.size()) * numel1(ws, 1, ws.size());
    }
    case MacRule::kGemm: {
      const Value* a = n.input(0);
      if (!a || !a->shape || a->shape->size() < 2) return 0;
      const GemmAttrs& g = n.kind == OpKind::Gemm ? n.attr<GemmAttrs>() : n.attr<FusedGemmAttrs>().gemm;
      const int64_t k = dim1((*a->shape)[g.trans_a ? 0 : a->shape->size() - 1]);
      return numel1(os, 1, os.size()) * k;  // the leading (batch) dim counts as 1; a FusedGemm may have rank > 2
    }
    case MacRule::kMatMul: {
      const Value* a = n.input(0);
      if (!a || !a->shape || a->shape->empty()) return 0;
      const int64_t k = dim1(a->shape->back());
      return numel1(os, 1, os.size()) * k;  // the leading (batch) dim counts as 1
    }
    case MacRule::kNone: return 0;
  }
  return 0;
}

}  // namespace

ModelStats compute_stats(const Graph& graph) {
  ModelStats s;
  // Weights of INT8 (QDQ) models are s8 initializers of rank >= 2: they count as parameters too.
  for (const Value* v : graph.initializers()) {
    if (v->dtype == DType::kF32 || (v->dtype == DType::kS8 && v->data.rank() >= 2)) s.params += v->data.numel();
  }
  auto order = graph.topological_order();
  if (!order.ok()) return s;
  for (const Node* n : *order) {
    ++s.nodes;
    ++s.op_counts[std::string(op_name(n->kind))];
    LayerStats l;
    l.name = n->name;
    l.op = std::string(op_name(n->kind));
    if (const Value* out = n->output(0); out && out->shape) l.output_shape = dims_to_string(*out->shape);
    for (const Value* in : n->inputs()) {
      if (in && in->is_initializer() && in->dtype == DType::kF32) l.params += in->data.numel();
    }
    l.macs = node_macs(*n);
    s.macs += l.macs;
    s.layers.push_back(std::move(l));
  }
  return s;
}

}  // namespace hqp::ir
