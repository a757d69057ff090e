// MatMul by a constant [+ bias Add] -> FusedGemm (fuse_matmul_bias.h).
#include "passes/fuse_matmul_bias.h"

#include <optional>
#include <vector>

#include "ir/rewrite.h"
#include "ir/shape_inference.h"

namespace hqp::passes {

namespace {

using ir::Node;
using ir::OpKind;
using ir::Value;

// The N bias values of `v` when it is a constant f32 whose dims are all 1 except the last (N), and
// whose rank does not exceed `max_rank` (so the Add does not broadcast y to a higher rank).
std::optional<Tensor> bias_vector(const Value* v, int64_t n, size_t max_rank) {
  const Tensor* t = ir::constant_of(v);
  if (t == nullptr || t->dtype() != DType::kF32 || t->rank() < 1 || static_cast<size_t>(t->rank()) > max_rank) return std::nullopt;
  if (t->numel() != n || t->dim(t->rank() - 1) != n) return std::nullopt;
  const float* d = t->data<float>();
  return Tensor::from_vector<float>({n}, std::vector<float>(d, d + n));
}

// The [K, N] constant matrix behind `w`: an f32 initializer, or a DequantizeLinear of constants
// (a QDQ file's weight, which lower_qdq then takes as the INT8 GEMM's s8 weights).
const Tensor* constant_matrix(const Value* w) {
  if (const Tensor* t = ir::constant_of(w)) return t->dtype() == DType::kF32 && t->rank() == 2 ? t : nullptr;
  const Node* dq = w->producer();
  if (dq == nullptr || dq->kind != OpKind::DequantizeLinear) return nullptr;
  for (const Value* in : dq->inputs()) {
    if (in != nullptr && ir::constant_of(in) == nullptr) return nullptr;
  }
  const Tensor* q = ir::constant_of(dq->input(0));
  return q != nullptr && q->rank() == 2 ? q : nullptr;
}

// A QDQ file's MatMul bias: DequantizeLinear of a constant s32 [N] (hqp quantize writes it so).
bool is_quantized_bias(const Value* v, int64_t n) {
  const Node* dq = v->producer();
  if (dq == nullptr || dq->kind != OpKind::DequantizeLinear) return false;
  for (const Value* in : dq->inputs()) {
    if (in != nullptr && ir::constant_of(in) == nullptr) return false;
  }
  const Tensor* q = ir::constant_of(dq->input(0));
  return q != nullptr && q->dtype() == DType::kS32 && q->rank() == 1 && q->numel() == n;
}

}  // namespace

Result<FuseMatMulBiasStats> fuse_matmul_bias(ir::Graph& graph) {
  FuseMatMulBiasStats stats;
  HQP_ASSIGN_OR_RETURN(std::vector<Node*> order, graph.topological_order());
  std::vector<Node*> candidates;  // collected first: each rewrite removes its MatMul and one Add
  for (Node* n : order) {
    if (n->kind == OpKind::MatMul) candidates.push_back(n);
  }
  for (Node* mm : candidates) {
    Value* a = mm->input(0);
    Value* w = mm->input(1);
    const Tensor* wt = constant_matrix(w);
    if (a->dtype != DType::kF32 || !a->shape || a->shape->size() < 2) continue;
    if (wt == nullptr) continue;
    const int64_t n = wt->dim(1);
    std::vector<Node*> remove = {mm};
    std::vector<Value*> inputs = {a, w};
    Value* out = mm->output(0);
    if (Node* add = ir::sole_consumer_of_kind(graph, out, OpKind::Add)) {
      Value* other = add->input(0) == out ? add->input(1) : add->input(0);
      std::optional<Tensor> b = other != out ? bias_vector(other, n, a->shape->size()) : std::nullopt;
      if (b) {
        inputs.push_back(graph.add_initializer(mm->name + "_bias", std::move(*b)));
      } else if (other != out && is_quantized_bias(other, n)) {
        inputs.push_back(other);  // DQ(s32 [N]): lower_qdq takes it as the QGemm's bias
      }
      if (inputs.size() == 3) {
        remove.push_back(add);
        out = add->output(0);
        ++stats.with_bias;
      }
    }
    ir::FusedGemmAttrs f;  // transA = transB = 0, alpha = beta = 1
    ir::replace_nodes(graph, remove, OpKind::FusedGemm, mm->name, inputs, {out}, f);
    ++stats.fused;
  }
  graph.remove_dead_code();
  HQP_RETURN_IF_ERROR(ir::infer_shapes(graph));
  return stats;
}

}  // namespace hqp::passes
