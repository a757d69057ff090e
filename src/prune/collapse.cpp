// Block removal: a group's consumers become constants, its carriers go, the constants are folded
// (reference kernels) and absorbed into neighbouring convolutions.
#include "prune/collapse.h"

#include <algorithm>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "ir/rewrite.h"
#include "reference/executor.h"

namespace hqp::prune {

namespace {

using ir::Node;
using ir::OpKind;
using ir::Value;

bool is_binary(OpKind k) { return k == OpKind::Add || k == OpKind::Sub || k == OpKind::Mul || k == OpKind::Div; }

// Per-channel ops a constant [1, C, 1, ...] passes through unchanged in meaning (evaluated on it).
bool is_per_channel_unary(const Node& n) {
  switch (n.kind) {
    case OpKind::Identity: return true;
    case OpKind::Clip: return ir::activation_post_ops(n).has_value();  // constant bounds
    case OpKind::BatchNormalization:
      if (n.num_outputs() > 1 && std::any_of(n.outputs().begin() + 1, n.outputs().end(), [](const Value* v) { return v != nullptr; })) {
        return false;
      }
      for (size_t i = 1; i < 5; ++i) {
        if (ir::constant_through_identity(n.input(i)) == nullptr) return false;
      }
      return true;
    default: return is_elementwise_unary(n.kind);
  }
}

bool same_static_shape(const Value* a, const Value* b) {
  if (a == nullptr || b == nullptr || !a->shape || !b->shape || a->shape->size() != b->shape->size()) return false;
  for (size_t i = 0; i < a->shape->size(); ++i) {
    const auto& x = (*a->shape)[i];
    const auto& y = (*b->shape)[i];
    if (x.is_static() != y.is_static()) return false;
    if (x.is_static() ? x.value != y.value : x.symbol != y.symbol) return false;
  }
  return true;
}

// A constant that keeps a per-channel constant per-channel: a single f32 element (x + 3, x / 6).
bool small_weight(const Value* v) {
  const Tensor* t = ir::constant_through_identity(v);
  return t != nullptr && t->dtype() == DType::kF32 && t->numel() == 1;
}

struct Plan {
  std::set<const Node*> carriers;  // nodes producing the group's activations: they go
  std::vector<Node*> consumers;    // group-1 convs reading the group: each becomes its bias
};

// The carriers and consumers of `group`, or why the group cannot collapse.
std::string plan_collapse(const ir::Graph& graph, const ChannelGroup& group, Plan& plan) {
  if (!group.prunable) return group.reason;
  std::vector<const Value*> values;
  for (const std::string& name : group.values) {
    const Value* v = graph.find_value(name);
    if (v == nullptr) continue;  // gone with a block removed in the same step
    if (graph.is_graph_output(v) || graph.is_graph_input(v)) return fmt::format("'{}' is a graph input or output", name);
    if (v->producer() == nullptr) return fmt::format("'{}' has no producer", name);
    values.push_back(v);
    plan.carriers.insert(v->producer());
  }
  if (values.empty()) return {};  // nothing left: the group went with another block
  std::set<const Node*> consumer_members;
  for (const Member& m : group.members) {
    if (m.role == MemberRole::kConsumer) consumer_members.insert(graph.find_node(m.node));
  }
  std::set<Node*> consumers;
  for (const Value* v : values) {
    for (const ir::Use& u : v->uses()) {
      if (plan.carriers.count(u.node) != 0) continue;
      if (consumer_members.count(u.node) == 0 || u.input_index != 0) {
        return fmt::format("'{}' reads the group's channels (only convolutions may)", u.node->name);
      }
      consumers.insert(u.node);
    }
  }
  if (consumers.empty()) return "no convolution reads the group's channels";
  if (group.block > 1) return "its channels pass through a grouped convolution";
  for (Node* c : consumers) {
    if (c->kind != OpKind::Conv) return fmt::format("'{}' reads the group's channels (only convolutions may)", c->name);
    const Tensor* w = ir::constant_through_identity(c->input(1));
    if (w == nullptr || w->dtype() != DType::kF32) return fmt::format("Conv '{}' has no f32 constant weights", c->name);
    if (c->input(2) != nullptr) {
      const Tensor* b = ir::constant_through_identity(c->input(2));
      if (b == nullptr || b->dtype() != DType::kF32) return fmt::format("Conv '{}' has no f32 constant bias", c->name);
    }
    plan.consumers.push_back(c);
  }
  // What becomes constant: the consumers' outputs, and (to a fixed point) the outputs of per-channel
  // ops and of element-wise ops whose operands are all constant (x * HardSigmoid(x), x + 3, ...).
  std::set<const Value*> constant;
  for (const Node* c : plan.consumers) constant.insert(c->output(0));
  auto is_constant = [&](const Value* v) { return constant.count(v) != 0 || (v != nullptr && small_weight(v)); };
  for (bool grew = true; grew;) {
    grew = false;
    for (const Value* v : std::vector<const Value*>(constant.begin(), constant.end())) {
      for (const ir::Use& u : v->uses()) {
        const Node* n = u.node;
        if (plan.carriers.count(n) != 0 || constant.count(n->output(0)) != 0) continue;
        const bool unary = u.input_index == 0 && is_per_channel_unary(*n);
        const bool folded = is_binary(n->kind) && n->num_inputs() == 2 && is_constant(n->input(0)) && is_constant(n->input(1));
        if (unary || folded) grew = constant.insert(n->output(0)).second || grew;
      }
    }
  }
  // Each constant must end in a carrier (which goes with it) or in an element-wise op with a full
  // activation that does not depend on it (which it then shifts or scales).
  for (const Value* v : constant) {
    if (graph.is_graph_output(v)) return fmt::format("'{}' would become a constant graph output", v->name);
    for (const ir::Use& u : v->uses()) {
      const Node* n = u.node;
      if (plan.carriers.count(n) != 0 || constant.count(n->output(0)) != 0) continue;
      if (consumers.count(const_cast<Node*>(n)) != 0) return fmt::format("'{}' reads its own group", n->name);
      if (is_binary(n->kind) && n->num_inputs() == 2) {
        const Value* other = n->input(static_cast<size_t>(1 - u.input_index));
        if (other != nullptr && !is_weight(other) && constant.count(other) == 0 && same_static_shape(other, n->output(0))) {
          continue;
        }
      }
      return fmt::format("'{}' would become constant and reach '{}'", v->name, n->name);
    }
  }
  std::sort(plan.consumers.begin(), plan.consumers.end(), [](const Node* a, const Node* b) { return a->name < b->name; });
  return {};
}

// Evaluates every node that reads only constants, starting from `seeds` (the reference kernels, so
// the folded values are exactly what the graph computed). Returns the seeds and the folded values.
Result<std::vector<Value*>> fold_from(ir::Graph& graph, std::vector<Value*> seeds) {
  std::vector<Value*> all = seeds;
  while (!seeds.empty()) {
    Value* v = seeds.back();
    seeds.pop_back();
    std::vector<Node*> readers;
    for (const ir::Use& u : v->uses()) readers.push_back(u.node);
    for (Node* n : readers) {
      if (std::find_if(graph.nodes().begin(), graph.nodes().end(), [&](const auto& p) { return p.get() == n; }) ==
          graph.nodes().end()) {
        continue;  // already folded through another input
      }
      std::vector<const Tensor*> args(n->num_inputs(), nullptr);
      bool constant = true;
      for (size_t i = 0; i < n->num_inputs() && constant; ++i) {
        const Value* in = n->input(i);
        if (in == nullptr) continue;
        const Tensor* t = ir::constant_through_identity(in);
        if (t == nullptr) constant = false;
        args[i] = t;
      }
      if (!constant) continue;
      HQP_ASSIGN_OR_RETURN(std::vector<Tensor> outs, reference::run_node_reference(*n, args, graph.opset()));
      std::vector<Value*> outputs = n->outputs();
      graph.remove_node(n);
      for (size_t i = 0; i < outputs.size(); ++i) {
        if (outputs[i] == nullptr) continue;
        outputs[i]->data = std::move(outs[i]);
        outputs[i]->dtype = outputs[i]->data.dtype();
        outputs[i]->shape = ir::dims_from_shape(outputs[i]->data.shape());
        outputs[i]->shape_value.reset();
        seeds.push_back(outputs[i]);
        all.push_back(outputs[i]);
      }
    }
  }
  return all;
}

// A per-channel f32 constant of a binary op whose output has `rank` dims and `channels` channels:
// its values per channel (broadcast over everything but the channel axis), or empty.
std::vector<float> per_channel_values(const Tensor* t, size_t rank, int64_t channels) {
  if (t == nullptr || t->dtype() != DType::kF32 || t->rank() > static_cast<int64_t>(rank)) return {};
  const int64_t axis = t->rank() - static_cast<int64_t>(rank) + 1;  // the channel axis in t (numpy broadcasting)
  for (int64_t i = 0; i < t->rank(); ++i) {
    if (i != axis && t->dim(i) != 1) return {};
  }
  const int64_t tc = axis >= 0 ? t->dim(axis) : 1;
  if (tc != channels && tc != 1) return {};
  std::vector<float> out(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) out[static_cast<size_t>(c)] = t->data<float>()[tc == 1 ? 0 : c];
  return out;
}

// `node` input `i` gets `data` as a fresh initializer (never written in place: tensors may be shared).
void set_constant(ir::Graph& graph, Node* node, size_t i, Tensor data) {
  const std::string base = node->input(i) != nullptr ? node->input(i)->name : node->name + "_bias";
  Value* fresh = graph.add_initializer(graph.unique_name(base), std::move(data));
  graph.set_input(node, i, fresh);
}

// Adds `shift` (per channel) to what `v` holds by changing its producer; false if it cannot.
bool push_shift(ir::Graph& graph, Value* v, const std::vector<float>& shift) {
  Node* p = v->producer();
  if (p == nullptr || v->uses().size() != 1 || graph.is_graph_output(v)) return false;
  if (p->kind == OpKind::Conv) {
    const Tensor* w = ir::constant_through_identity(p->input(1));
    if (w == nullptr || w->dtype() != DType::kF32 || w->dim(0) != static_cast<int64_t>(shift.size())) return false;
    const Tensor* b = p->input(2) != nullptr ? ir::constant_through_identity(p->input(2)) : nullptr;
    if (p->input(2) != nullptr && (b == nullptr || b->dtype() != DType::kF32)) return false;
    std::vector<float> bias(shift.size(), 0.0f);
    for (size_t c = 0; c < shift.size(); ++c) bias[c] = (b != nullptr ? b->data<float>()[c] : 0.0f) + shift[c];
    set_constant(graph, p, 2, Tensor::from_vector<float>({static_cast<int64_t>(bias.size())}, bias));
    return true;
  }
  if (p->kind == OpKind::BatchNormalization && is_per_channel_unary(*p)) {
    const Tensor* b = ir::constant_through_identity(p->input(2));
    if (b == nullptr || b->dtype() != DType::kF32 || b->numel() != static_cast<int64_t>(shift.size())) return false;
    std::vector<float> nb(shift.size());
    for (size_t c = 0; c < shift.size(); ++c) nb[c] = b->data<float>()[c] + shift[c];
    set_constant(graph, p, 2, Tensor::from_vector<float>({static_cast<int64_t>(nb.size())}, nb));
    return true;
  }
  if (p->kind == OpKind::Add) {  // (a + b) + s = a + (b + s): into whichever operand can take it
    for (size_t i = 0; i < 2; ++i) {
      Value* operand = p->input(i);
      if (operand != nullptr && !is_weight(operand) && same_static_shape(operand, v) && push_shift(graph, operand, shift)) {
        return true;
      }
    }
  }
  return false;
}

// Multiplies the input channels of every reader of `v` (all group-1 or grouped convs reading it as
// input 0, f32 constant weights) by `scale`; false (graph unchanged) if some reader cannot take it.
bool push_scale(ir::Graph& graph, const Value* v, const std::vector<float>& scale) {
  if (graph.is_graph_output(v) || v->uses().empty()) return false;
  for (const ir::Use& u : v->uses()) {
    const Node* n = u.node;
    const Tensor* w = n->kind == OpKind::Conv && u.input_index == 0 ? ir::constant_through_identity(n->input(1)) : nullptr;
    if (w == nullptr || w->dtype() != DType::kF32 || w->rank() < 2) return false;
    const int64_t group = n->attr<ir::ConvAttrs>().group;
    if (w->dim(1) * group != static_cast<int64_t>(scale.size()) || w->dim(0) % group != 0) return false;
  }
  std::vector<Node*> readers;
  for (const ir::Use& u : v->uses()) readers.push_back(u.node);
  for (Node* n : readers) {
    const Tensor& w = *ir::constant_through_identity(n->input(1));
    const int64_t group = n->attr<ir::ConvAttrs>().group;
    const int64_t out = w.dim(0), in = w.dim(1), per_out = out / group;
    int64_t inner = 1;
    for (int64_t d = 2; d < w.rank(); ++d) inner *= w.dim(d);
    Tensor scaled = w.clone();
    float* d = scaled.data<float>();
    for (int64_t o = 0; o < out; ++o) {
      for (int64_t i = 0; i < in; ++i) {
        const float s = scale[static_cast<size_t>((o / per_out) * in + i)];
        for (int64_t k = 0; k < inner; ++k) d[(o * in + i) * inner + k] *= s;
      }
    }
    set_constant(graph, n, 1, std::move(scaled));
  }
  return true;
}

// Removes element-wise `n` (x op constant) by absorbing the constant into a neighbour: a scale into
// the convolutions reading the result, a shift into the op producing x. False: it stays.
bool absorb(ir::Graph& graph, Node* n) {
  if (!(n->kind == OpKind::Add || n->kind == OpKind::Sub || n->kind == OpKind::Mul) || n->num_inputs() != 2) return false;
  Value* y = n->output(0);
  if (y == nullptr || !y->shape || y->shape->size() < 2 || !(*y->shape)[1].is_static() || graph.is_graph_output(y)) return false;
  const size_t ci = ir::constant_of(n->input(1)) != nullptr ? 1 : 0;
  Value* x = n->input(1 - ci);
  if (x == nullptr || ir::constant_of(x) != nullptr || !same_static_shape(x, y)) return false;
  if (n->kind == OpKind::Sub && ci == 0) return false;  // c - x negates x
  std::vector<float> values = per_channel_values(ir::constant_of(n->input(ci)), y->shape->size(), (*y->shape)[1].value);
  if (values.empty()) return false;
  if (n->kind == OpKind::Sub) {
    for (float& f : values) f = -f;
  }
  const bool done = n->kind == OpKind::Mul ? push_scale(graph, y, values) : push_shift(graph, x, values);
  if (!done) return false;
  graph.replace_all_uses(y, x);
  graph.remove_node(n);
  return true;
}

}  // namespace

std::string collapse_blocker(const ir::Graph& graph, const ChannelGroup& group) {
  Plan plan;
  return plan_collapse(graph, group, plan);
}

Status collapse_group(ir::Graph& graph, const ChannelGroup& group) {
  Plan plan;
  if (std::string why = plan_collapse(graph, group, plan); !why.empty()) {
    return make_error(StatusCode::kInvalidArgument, "cannot remove every channel of group {}: {}", group.id, why);
  }
  if (plan.carriers.empty()) return Status();  // removed already with an enclosing block
  // 1. Each consumer computes only its bias: a [1, C, 1, ...] constant in place of its output.
  std::vector<Value*> constants;
  for (Node* c : plan.consumers) {
    Value* y = c->output(0);
    const Tensor& w = *ir::constant_through_identity(c->input(1));
    const int64_t out = w.dim(0);
    Shape shape(y->shape ? y->shape->size() : static_cast<size_t>(w.rank()), 1);
    shape[1] = out;
    HQP_ASSIGN_OR_RETURN(Tensor bias, Tensor::zeros(DType::kF32, shape));
    if (c->input(2) != nullptr) {
      const Tensor& b = *ir::constant_through_identity(c->input(2));
      std::copy_n(b.data<float>(), out, bias.data<float>());
    }
    Value* k = graph.add_initializer(graph.unique_name(c->name + "_collapsed"), std::move(bias));
    graph.replace_all_uses(y, k);
    graph.remove_node(c);
    constants.push_back(k);
  }
  // 2. The carriers go (their outputs have no readers left but each other).
  std::vector<Node*> doomed;
  for (const auto& n : graph.nodes()) {
    if (plan.carriers.count(n.get()) != 0) doomed.push_back(n.get());
  }
  for (Node* n : doomed) graph.remove_node(n);
  // (Dead code goes only at the end: the constants must stay alive while they are folded.)
  // 3. Per-channel ops on the constants are evaluated; the element-wise ops they reach are absorbed
  //    into a neighbouring convolution where one can take them.
  HQP_ASSIGN_OR_RETURN(std::vector<Value*> folded, fold_from(graph, constants));
  std::vector<Node*> candidates;  // the element-wise ops reading those constants (each read once)
  for (Value* v : folded) {
    for (const ir::Use& u : v->uses()) {
      if (is_binary(u.node->kind) && std::find(candidates.begin(), candidates.end(), u.node) == candidates.end()) {
        candidates.push_back(u.node);
      }
    }
  }
  for (Node* n : candidates) absorb(graph, n);  // an absorbed node is removed; the others stay as they are
  graph.remove_dead_code();
  return Status();
}

}  // namespace hqp::prune
