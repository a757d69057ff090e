// Drops conv-output Q -> DQ pairs that hqp's INT8 conv output stage makes unnecessary.
#include "passes/skip_output_requantize.h"

#include <unordered_map>

#include "ir/rewrite.h"
#include "ir/shape_inference.h"

namespace hqp::passes {

namespace {

// Per-tensor constant parameters of a Q / DQ node: (scale, zero point as a number).
struct Params {
  float scale = 0.0f;
  int64_t zero_point = 0;
  DType storage = DType::kU8;
};

std::optional<Params> per_tensor_params(const ir::Node& n) {
  const Tensor* s = ir::constant_of(n.input(1));
  if (s == nullptr || s->dtype() != DType::kF32 || s->numel() != 1) return std::nullopt;
  Params p;
  p.scale = s->data<float>()[0];
  const ir::Value* zv = n.input(2);
  if (zv == nullptr) return p;  // u8, zero point 0
  const Tensor* z = ir::constant_of(zv);
  if (z == nullptr || z->numel() != 1) return std::nullopt;
  p.storage = z->dtype();
  if (z->dtype() == DType::kU8) {
    p.zero_point = z->data<uint8_t>()[0];
  } else if (z->dtype() == DType::kS8) {
    p.zero_point = z->data<int8_t>()[0];
  } else {
    return std::nullopt;
  }
  return p;
}

// The conv whose output `v` dequantizes through a Q -> DQ pair read only by `reader`; the pair's
// nodes in q / dq.
ir::Node* conv_behind_pair(const ir::Graph& g, ir::Value* v, const ir::Node* reader, ir::Node*& q, ir::Node*& dq) {
  dq = v->producer();
  if (dq == nullptr || dq->kind != ir::OpKind::DequantizeLinear || g.is_graph_output(v)) return nullptr;
  if (ir::sole_consumer(g, v) != reader) return nullptr;
  ir::Value* qv = dq->input(0);
  q = qv->producer();
  if (q == nullptr || q->kind != ir::OpKind::QuantizeLinear || g.is_graph_output(qv)) return nullptr;
  if (ir::sole_consumer(g, qv) != dq) return nullptr;
  ir::Value* y = q->input(0);
  ir::Node* conv = y->producer();
  if (conv == nullptr || conv->kind != ir::OpKind::Conv || g.is_graph_output(y) || ir::sole_consumer(g, y) != q) {
    return nullptr;
  }
  const std::optional<Params> qp = per_tensor_params(*q);
  const std::optional<Params> dp = per_tensor_params(*dq);
  if (!qp || !dp || qp->scale != dp->scale || qp->zero_point != dp->zero_point || qp->storage != dp->storage) {
    return nullptr;
  }
  return conv;
}

bool is_dequantized(const ir::Value* v) {
  return v->producer() != nullptr && v->producer()->kind == ir::OpKind::DequantizeLinear;
}

}  // namespace

Result<SkipRequantizeStats> skip_output_requantize(ir::Graph& graph) {
  SkipRequantizeStats stats;
  HQP_ASSIGN_OR_RETURN(std::vector<ir::Node*> order, graph.topological_order());
  std::unordered_map<const ir::Node*, size_t> position;
  for (size_t i = 0; i < order.size(); ++i) position[order[i]] = i;
  bool changed = false;
  for (ir::Node* node : order) {
    ir::Node* q = nullptr;
    ir::Node* dq = nullptr;
    if (node->kind == ir::OpKind::Add && node->num_inputs() == 2) {
      int chosen = -1;
      ir::Node* chosen_conv = nullptr;
      for (int side = 0; side < 2; ++side) {
        ir::Value* other = node->input(static_cast<size_t>(1 - side));
        ir::Node* cq = nullptr;
        ir::Node* cdq = nullptr;
        ir::Node* conv = conv_behind_pair(graph, node->input(static_cast<size_t>(side)), node, cq, cdq);
        if (conv == nullptr || !is_dequantized(other)) continue;
        const ir::Value* y = cq->input(0);
        if (!y->shape || !other->shape || !(*y->shape == *other->shape)) continue;
        if (chosen_conv == nullptr || position.at(conv) > position.at(chosen_conv)) {
          chosen = side;
          chosen_conv = conv;
        }
      }
      if (chosen < 0) continue;
      ir::Node* conv = conv_behind_pair(graph, node->input(static_cast<size_t>(chosen)), node, q, dq);
      graph.set_input(node, static_cast<size_t>(chosen), conv->output(0));
      ++stats.residual;
      changed = true;
    } else if (node->kind == ir::OpKind::HardSwish || node->kind == ir::OpKind::HardSigmoid ||
               node->kind == ir::OpKind::Sigmoid) {
      ir::Node* conv = conv_behind_pair(graph, node->input(0), node, q, dq);
      if (conv == nullptr) continue;
      graph.set_input(node, 0, conv->output(0));
      ++stats.activation;
      changed = true;
    }
  }
  if (changed) {
    graph.remove_dead_code();
    HQP_RETURN_IF_ERROR(ir::infer_shapes(graph));
  }
  return stats;
}

}  // namespace hqp::passes
