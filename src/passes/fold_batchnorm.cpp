// BatchNormalization folding into Conv / Gemm weights.
#include "passes/fold_batchnorm.h"

#include <cmath>

#include "ir/shape_inference.h"
#include "ir/rewrite.h"

namespace hqp::passes {

namespace {

// Per-channel affine form of an inference BatchNormalization: y = x * mul[c] + add[c], computed
// in double and rounded once when the folded tensors are written.
struct ChannelAffine {
  std::vector<double> mul;
  std::vector<double> add;
};

// The affine form when the node is an inference BN whose parameters are f32 constants of one
// length; nullopt otherwise.
std::optional<ChannelAffine> batchnorm_affine(const ir::Graph& graph, const ir::Node& bn) {
  if (bn.attr<ir::BatchNormAttrs>().training_mode != 0) return std::nullopt;
  for (size_t i = 1; i < bn.num_outputs(); ++i) {  // opset < 14 training outputs must be unread
    const ir::Value* o = bn.output(i);
    if (o != nullptr && (!o->uses().empty() || graph.is_graph_output(o))) return std::nullopt;
  }
  const Tensor* p[4];
  for (size_t i = 0; i < 4; ++i) {
    p[i] = ir::constant_of(bn.input(i + 1));
    if (p[i] == nullptr || p[i]->dtype() != DType::kF32 || p[i]->rank() != 1) return std::nullopt;
    if (p[i]->numel() != p[0]->numel()) return std::nullopt;
  }
  const float* gamma = p[0]->data<float>();
  const float* beta = p[1]->data<float>();
  const float* mean = p[2]->data<float>();
  const float* var = p[3]->data<float>();
  const double eps = bn.attr<ir::BatchNormAttrs>().epsilon;
  ChannelAffine a;
  for (int64_t c = 0; c < p[0]->numel(); ++c) {
    const double s = static_cast<double>(gamma[c]) / std::sqrt(static_cast<double>(var[c]) + eps);
    a.mul.push_back(s);
    a.add.push_back(static_cast<double>(beta[c]) - static_cast<double>(mean[c]) * s);
  }
  return a;
}

// w: [OC, ...] (Conv) scaled per row; returns a new tensor.
Tensor scale_rows(const Tensor& w, const std::vector<double>& mul) {
  Tensor out = w.clone();
  const int64_t rows = w.dim(0);
  const int64_t cols = w.numel() / rows;
  float* d = out.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < cols; ++i) d[r * cols + i] = static_cast<float>(d[r * cols + i] * mul[r]);
  }
  return out;
}

// w: [K, N] scaled per column; returns a new tensor.
Tensor scale_columns(const Tensor& w, const std::vector<double>& mul) {
  Tensor out = w.clone();
  const int64_t rows = w.dim(0);
  const int64_t cols = w.dim(1);
  float* d = out.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) d[r * cols + c] = static_cast<float>(d[r * cols + c] * mul[c]);
  }
  return out;
}

// bias'[c] = bias[c] * mul[c] + add[c]; `bias` may be nullptr (zero) or hold one broadcast value.
Tensor fold_bias(const Tensor* bias, float bias_factor, const ChannelAffine& a) {
  const int64_t n = static_cast<int64_t>(a.mul.size());
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t c = 0; c < n; ++c) {
    const double b = bias == nullptr ? 0.0 : bias_factor * bias->data<float>()[bias->numel() == 1 ? 0 : c];
    out[static_cast<size_t>(c)] = static_cast<float>(b * a.mul[static_cast<size_t>(c)] + a.add[static_cast<size_t>(c)]);
  }
  return Tensor::from_vector<float>({n}, out);
}

bool fold_into_conv(ir::Graph& graph, ir::Node* conv, ir::Node* bn, const ChannelAffine& a) {
  const Tensor* w = ir::constant_of(conv->input(1));
  const ir::Value* b_value = conv->input(2);
  const Tensor* b = ir::constant_of(b_value);
  if (w == nullptr || w->dtype() != DType::kF32 || w->rank() < 3) return false;
  if (w->dim(0) != static_cast<int64_t>(a.mul.size())) return false;
  if (b_value != nullptr && (b == nullptr || b->dtype() != DType::kF32 || b->numel() != w->dim(0))) return false;
  ir::Value* new_w = graph.add_initializer(graph.unique_name(conv->input(1)->name + "_bnfold"), scale_rows(*w, a.mul));
  ir::Value* new_b = graph.add_initializer(graph.unique_name(conv->name + "_bnfold_bias"), fold_bias(b, 1.0f, a));
  ir::replace_nodes(graph, {conv, bn}, ir::OpKind::Conv, conv->name, {conv->input(0), new_w, new_b},
                        {bn->output(0)}, conv->attrs);
  return true;
}

// Gemm Y = alpha * A * B' + beta * C with B a constant, C absent or constant of [N] / one element,
// and Y: [M, N] normalized per column.
bool fold_into_gemm(ir::Graph& graph, ir::Node* gemm, ir::Node* bn, const ChannelAffine& a) {
  const auto& g = gemm->attr<ir::GemmAttrs>();
  const Tensor* w = ir::constant_of(gemm->input(1));
  const ir::Value* c_value = gemm->input(2);
  const Tensor* c = ir::constant_of(c_value);
  const int64_t n = static_cast<int64_t>(a.mul.size());
  if (w == nullptr || w->dtype() != DType::kF32 || w->rank() != 2 || w->dim(g.trans_b ? 0 : 1) != n) return false;
  if (c_value != nullptr &&
      (c == nullptr || c->dtype() != DType::kF32 || c->rank() > 1 || (c->numel() != n && c->numel() != 1))) {
    return false;
  }
  Tensor folded_w = g.trans_b ? scale_rows(*w, a.mul) : scale_columns(*w, a.mul);
  ir::Value* new_w = graph.add_initializer(graph.unique_name(gemm->input(1)->name + "_bnfold"), std::move(folded_w));
  ir::Value* new_c = graph.add_initializer(graph.unique_name(gemm->name + "_bnfold_bias"), fold_bias(c, g.beta, a));
  ir::GemmAttrs folded = g;
  folded.beta = 1.0f;
  ir::replace_nodes(graph, {gemm, bn}, ir::OpKind::Gemm, gemm->name, {gemm->input(0), new_w, new_c},
                        {bn->output(0)}, folded);
  return true;
}

}  // namespace

Result<FoldBatchNormStats> fold_batchnorm(ir::Graph& graph) {
  FoldBatchNormStats stats;
  HQP_ASSIGN_OR_RETURN(std::vector<ir::Node*> order, graph.topological_order());
  std::vector<ir::Node*> bns;
  for (ir::Node* n : order) {
    if (n->kind == ir::OpKind::BatchNormalization) bns.push_back(n);
  }
  // Each fold removes one BN and its producer; producers are never BNs, so the BN list stays valid.
  for (ir::Node* bn : bns) {
    ir::Node* producer = bn->input(0)->producer();
    if (producer == nullptr || ir::sole_consumer(graph, bn->input(0)) != bn) continue;
    if (producer->kind != ir::OpKind::Conv && producer->kind != ir::OpKind::Gemm) continue;
    std::optional<ChannelAffine> a = batchnorm_affine(graph, *bn);
    if (!a) continue;
    if (producer->kind == ir::OpKind::Conv) {
      if (fold_into_conv(graph, producer, bn, *a)) ++stats.folded_into_conv;
    } else if (bn->input(0)->shape && bn->input(0)->shape->size() == 2) {
      if (fold_into_gemm(graph, producer, bn, *a)) ++stats.folded_into_gemm;
    }
  }
  graph.remove_dead_code();
  HQP_RETURN_IF_ERROR(ir::infer_shapes(graph));
  return stats;
}

}  // namespace hqp::passes
