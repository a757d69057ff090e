// Channel removal and masking over the members of a ChannelGroup.
#include "prune/surgery.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "ir/rewrite.h"
#include "ir/verifier.h"
#include "prune/collapse.h"

namespace hqp::prune {

namespace {

using ir::Node;
using ir::Value;

Status check_request(const ChannelGroup& group, std::span<const int64_t> remove) {
  if (!group.prunable) {
    return make_error(StatusCode::kInvalidArgument, "cannot prune channel group {}: {}", group.id, group.reason);
  }
  const int64_t most = group.collapsible ? group.channels : group.channels - 1;
  if (remove.empty() || static_cast<int64_t>(remove.size()) > most) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot prune channel group {}: {} of its {} channels requested (expected 1..{})", group.id,
                      remove.size(), group.channels, most);
  }
  for (size_t i = 0; i < remove.size(); ++i) {
    if (remove[i] < 0 || remove[i] >= group.channels || (i > 0 && remove[i] <= remove[i - 1])) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot prune channel group {}: channel list is not sorted, unique and in [0, {})", group.id,
                        group.channels);
    }
  }
  // Whole blocks only (a grouped conv loses whole groups): runs of `block` channels from a multiple of it.
  const auto block = static_cast<size_t>(std::max<int64_t>(1, group.block));
  for (size_t i = 0; i < remove.size(); ++i) {
    const bool aligned = i % block == 0 ? remove[i] % static_cast<int64_t>(block) == 0 : remove[i] == remove[i - 1] + 1;
    if (!aligned || remove.size() % block != 0) {
      return make_error(StatusCode::kInvalidArgument,
                        "cannot prune channel group {}: its channels go in aligned blocks of {} (grouped convolution)",
                        group.id, block);
    }
  }
  return Status();
}

// `t` with only the `keep` indices of `axis` (any dtype; a new tensor).
Result<Tensor> take(const Tensor& t, int64_t axis, const std::vector<int64_t>& keep) {
  Shape shape = t.shape();
  const int64_t outer = [&] {
    int64_t p = 1;
    for (int64_t i = 0; i < axis; ++i) p *= shape[static_cast<size_t>(i)];
    return p;
  }();
  int64_t inner = 1;
  for (size_t i = static_cast<size_t>(axis) + 1; i < shape.size(); ++i) inner *= shape[i];
  const int64_t len = shape[static_cast<size_t>(axis)];
  shape[static_cast<size_t>(axis)] = static_cast<int64_t>(keep.size());
  HQP_ASSIGN_OR_RETURN(Tensor out, Tensor::zeros(t.dtype(), shape));
  const size_t es = dtype_size(t.dtype());
  const auto* src = static_cast<const std::byte*>(t.raw_data());
  auto* dst = static_cast<std::byte*>(out.raw_data());
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t k = 0; k < keep.size(); ++k) {
      std::memcpy(dst + ((o * static_cast<int64_t>(keep.size()) + static_cast<int64_t>(k)) * inner) * es,
                  src + ((o * len + keep[k]) * inner) * es, static_cast<size_t>(inner) * es);
    }
  }
  return out;
}

// `t` with the indices `zero` of `axis` set to the value that means 0: 0.0f for f32, the zero
// point `zp` for s8 / u8 quantized weights (a new tensor).
Result<Tensor> zero_along(const Tensor& t, int64_t axis, const std::vector<int64_t>& zero, int32_t zp) {
  Tensor out = t.clone();
  const Shape& shape = t.shape();
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= shape[static_cast<size_t>(i)];
  for (size_t i = static_cast<size_t>(axis) + 1; i < shape.size(); ++i) inner *= shape[i];
  const int64_t len = shape[static_cast<size_t>(axis)];
  auto fill = [&](auto* d, auto value) {
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t z : zero) std::fill_n(d + (o * len + z) * inner, inner, value);
    }
  };
  switch (t.dtype()) {
    case DType::kF32: fill(out.data<float>(), 0.0f); break;
    case DType::kS8: fill(out.data<int8_t>(), static_cast<int8_t>(zp)); break;
    case DType::kU8: fill(out.data<uint8_t>(), static_cast<uint8_t>(zp)); break;
    default:
      return make_error(StatusCode::kUnsupported, "cannot mask a {} tensor (f32, s8 or u8 weights only)",
                        dtype_name(t.dtype()));
  }
  return out;
}

// The zero point of DequantizeLinear `dq` when every channel has the same one (masking writes it).
Result<int32_t> uniform_zero_point(const Node& dq) {
  if (dq.input(2) == nullptr) return 0;
  const Tensor* zp = ir::constant_through_identity(dq.input(2));
  if (zp == nullptr || zp->numel() < 1 || (zp->dtype() != DType::kS8 && zp->dtype() != DType::kU8)) {
    return make_error(StatusCode::kUnsupported, "cannot mask through '{}': its zero point is not s8 / u8", dq.name);
  }
  auto at = [&](int64_t i) {
    return zp->dtype() == DType::kS8 ? int32_t{zp->data<int8_t>()[i]} : int32_t{zp->data<uint8_t>()[i]};
  };
  for (int64_t i = 1; i < zp->numel(); ++i) {
    if (at(i) != at(0)) {
      return make_error(StatusCode::kUnsupported, "cannot mask through '{}': its zero points differ per channel",
                        dq.name);
    }
  }
  return at(0);
}

// The tensor behind weight operand `v`: an initializer, or the quantized tensor of a QDQ weight.
const Tensor* weight_tensor(const Value* v) {
  if (const Tensor* t = ir::constant_through_identity(v)) return t;
  const Node* dq = dequantized_constant(v);
  return dq != nullptr ? ir::constant_through_identity(dq->input(0)) : nullptr;
}

// Slices [first, end) of `out` that read a dequantized constant become slices of the
// DequantizeLinear's inputs: the quantized tensor on the same axis, and its scale and zero point
// when they are per-axis along that axis (per-tensor ones, or another axis, stay as they are).
void slice_through_dequantize(const ir::Graph& graph, std::vector<Slice>& out, size_t first) {
  std::vector<Slice> extra;
  for (size_t i = first; i < out.size(); ++i) {
    const Node* dq = dequantized_constant(out[i].node->input(out[i].input));
    if (dq == nullptr) continue;
    Node* d = graph.find_node(dq->name);
    Slice s = out[i];
    out[i] = {d, 0, s.axis, s.block, s.consumer_side, s.offset};
    const Tensor* q = ir::constant_through_identity(d->input(0));
    const Tensor* scale = ir::constant_through_identity(d->input(1));
    if (q == nullptr || scale == nullptr || scale->numel() <= 1) continue;
    const auto& a = d->attr<ir::AxisAttrs>();
    int64_t axis = a.present ? a.axis : 1;  // ONNX's default axis
    if (axis < 0) axis += q->rank();
    if (axis != s.axis) continue;
    extra.push_back({d, 1, 0, s.block, s.consumer_side, s.offset});
    if (d->input(2) != nullptr) extra.push_back({d, 2, 0, s.block, s.consumer_side, s.offset});
  }
  out.insert(out.end(), extra.begin(), extra.end());
}

}  // namespace

Result<std::vector<Slice>> slices_of(const ir::Graph& graph, const ChannelGroup& group) {
  std::vector<Slice> out;
  for (const Member& m : group.members) {
    const size_t first = out.size();
    Node* n = graph.find_node(m.node);
    if (n == nullptr) {
      return make_error(StatusCode::kInvalidArgument, "cannot prune channel group {}: node '{}' is not in the graph",
                        group.id, m.node);
    }
    switch (m.role) {
      case MemberRole::kProducer:
        if (n->kind == ir::OpKind::Conv) {
          out.push_back({n, 1, 0, 1, false});
          if (n->input(2) != nullptr) out.push_back({n, 2, 0, 1, false});
        } else if (n->kind == ir::OpKind::MatMul) {  // B [K, N]: output channels are its columns
          out.push_back({n, 1, 1, 1, false});
        } else {  // Gemm: output channels are B's rows (transB) or columns, and C's last axis
          const auto& a = n->attr<ir::GemmAttrs>();
          out.push_back({n, 1, a.trans_b != 0 ? 0 : 1, 1, false});
          const Tensor* c = weight_tensor(n->input(2));
          if (c != nullptr && c->rank() >= 1 && c->shape().back() == group.channels) {
            out.push_back({n, 2, c->rank() - 1, 1, false});
          }
        }
        break;
      case MemberRole::kPassThrough:
        out.push_back({n, 1, 0, 1, false});
        if (n->input(2) != nullptr) out.push_back({n, 2, 0, 1, false});
        break;
      case MemberRole::kNorm:
        for (size_t i = 1; i < 5; ++i) out.push_back({n, i, 0, 1, false});
        break;
      case MemberRole::kConsumer:  // Conv: the weights' input channels; MatMul: B's rows
        out.push_back({n, 1, n->kind == ir::OpKind::MatMul ? 0 : 1, 1, true});
        break;
      case MemberRole::kGemmColumns: {
        const auto& a = n->attr<ir::GemmAttrs>();
        out.push_back({n, 1, a.trans_b != 0 ? 1 : 0, m.columns_per_channel, true});
        break;
      }
      case MemberRole::kConstOperand: {
        const Tensor* c = weight_tensor(n->input(static_cast<size_t>(m.input)));
        const Value* y = n->output(0);
        if (c == nullptr || !y->shape) {
          return make_error(StatusCode::kInvalidArgument, "cannot prune node '{}': operand {} is not a constant",
                            n->name, m.input);
        }
        // Aligned with the output's channel axis: its last (channels-last) or axis 1.
        const int64_t axis = m.last_axis ? c->rank() - 1 : c->rank() - static_cast<int64_t>(y->shape->size()) + 1;
        out.push_back({n, static_cast<size_t>(m.input), axis, 1, false});
        break;
      }
    }
    for (size_t i = first; i < out.size(); ++i) out[i].offset = m.offset;
    slice_through_dequantize(graph, out, first);
  }
  return out;
}

namespace {

// Gives `node` input `i` the tensor `data`. The old Tensor may share storage with other graphs, so
// it is never written: an initializer read only here gets the new Tensor under its own name (the
// Value belongs to this graph alone); one read elsewhere too gets a fresh initializer.
void replace_input(ir::Graph& graph, Node* node, size_t i, Tensor data) {
  Value* old = node->input(i);
  if (old->is_initializer() && old->uses().size() == 1 && !graph.is_graph_input(old) && !graph.is_graph_output(old)) {
    old->dtype = data.dtype();
    old->shape = ir::dims_from_shape(data.shape());
    old->data = std::move(data);
    return;
  }
  Value* fresh = graph.add_initializer(graph.unique_name(old->name), std::move(data));
  graph.set_input(node, i, fresh);
}

// Forgets every inferred intermediate shape, so infer_shapes recomputes them for the new widths.
void clear_intermediate_shapes(ir::Graph& graph) {
  for (const auto& v : graph.values()) {
    if (v->is_initializer() || graph.is_graph_input(v.get()) || graph.is_graph_output(v.get())) continue;
    if (v->producer() != nullptr && v->producer()->kind == ir::OpKind::Constant) continue;
    v->shape.reset();
  }
}

}  // namespace

Status remove_channels(ir::Graph& graph, std::span<const ChannelRemoval> removals) {
  // Every (node, input, axis) to slice, in the order first met, with the entries that go.
  struct Cut {
    Node* node;
    size_t input;
    int64_t axis;
    std::set<int64_t> drop;
  };
  std::vector<Cut> cuts;
  std::vector<std::pair<Node*, int64_t>> grouped;  // depthwise / grouped convs and their channels per group
  std::vector<const ChannelGroup*> collapses;       // groups losing every channel: their blocks go last
  for (const ChannelRemoval& r : removals) {
    const ChannelGroup& group = *r.group;
    HQP_RETURN_IF_ERROR(check_request(group, r.channels));
    if (static_cast<int64_t>(r.channels.size()) == group.channels) {
      collapses.push_back(&group);
      continue;
    }
    HQP_ASSIGN_OR_RETURN(std::vector<Slice> slices, slices_of(graph, group));
    for (const Slice& s : slices) {
      const Value* v = s.node->input(s.input);
      const Tensor* t = ir::constant_through_identity(v);
      if (t == nullptr) {
        return make_error(StatusCode::kInvalidArgument, "cannot prune node '{}': input {} is not a constant",
                          s.node->name, s.input);
      }
      if (t->rank() <= s.axis || t->dim(s.axis) < (s.offset + group.channels) * s.block) {
        return make_error(StatusCode::kInvalidArgument,
                          "cannot prune node '{}': input '{}' has {} entries on axis {} (expected channels {}..{} x {})",
                          s.node->name, v->name, t->rank() > s.axis ? t->dim(s.axis) : 0, s.axis, s.offset,
                          s.offset + group.channels, s.block);
      }
      auto it = std::find_if(cuts.begin(), cuts.end(), [&](const Cut& c) {
        return c.node == s.node && c.input == s.input && c.axis == s.axis;
      });
      if (it == cuts.end()) it = cuts.insert(cuts.end(), Cut{s.node, s.input, s.axis, {}});
      for (int64_t c : r.channels) {
        for (int64_t b = 0; b < s.block; ++b) it->drop.insert((s.offset + c) * s.block + b);
      }
    }
    for (const Member& m : group.members) {
      if (m.role != MemberRole::kPassThrough) continue;
      Node* n = graph.find_node(m.node);
      const int64_t per_group = weight_tensor(n->input(1))->dim(0) / n->attr<ir::ConvAttrs>().group;
      if (std::none_of(grouped.begin(), grouped.end(), [&](const auto& g) { return g.first == n; })) {
        grouped.emplace_back(n, per_group);
      }
    }
  }
  for (const Cut& c : cuts) {
    const Tensor& t = *ir::constant_through_identity(c.node->input(c.input));
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < t.dim(c.axis); ++i) {
      if (c.drop.count(i) == 0) keep.push_back(i);
    }
    HQP_ASSIGN_OR_RETURN(Tensor sliced, take(t, c.axis, keep));
    replace_input(graph, c.node, c.input, std::move(sliced));
  }
  // A depthwise / grouped conv keeps one group per `per_group` channels it still has.
  for (const auto& [n, per_group] : grouped) {
    n->attr<ir::ConvAttrs>().group = weight_tensor(n->input(1))->dim(0) / per_group;
  }
  graph.remove_dead_code();
  clear_intermediate_shapes(graph);
  std::string ids;
  for (const ChannelRemoval& r : removals) ids += fmt::format("{}{}", ids.empty() ? "" : ", ", r.group->id);
  const std::string context = fmt::format("cannot re-verify the graph after pruning group(s) {}", ids);
  HQP_RETURN_IF_ERROR(ir::verify_and_infer(graph).with_context(context));
  // Whole blocks after the slicing (their constants take the sliced widths), one at a time on the
  // re-inferred graph; a block inside another one that went already is skipped by collapse_group.
  for (const ChannelGroup* g : collapses) {
    HQP_RETURN_IF_ERROR(collapse_group(graph, *g));
    clear_intermediate_shapes(graph);
    HQP_RETURN_IF_ERROR(ir::verify_and_infer(graph).with_context(context));
  }
  return Status();
}

Status remove_channels(ir::Graph& graph, const ChannelGroup& group, std::span<const int64_t> remove) {
  const ChannelRemoval one[] = {{&group, remove}};
  return remove_channels(graph, one);
}

Status mask_channels(ir::Graph& graph, const ChannelGroup& group, std::span<const int64_t> remove) {
  HQP_RETURN_IF_ERROR(check_request(group, remove));
  HQP_ASSIGN_OR_RETURN(std::vector<Slice> slices, slices_of(graph, group));
  for (const Slice& s : slices) {
    if (!s.consumer_side) continue;
    const Tensor* t = ir::constant_through_identity(s.node->input(s.input));
    if (t == nullptr) {
      return make_error(StatusCode::kInvalidArgument, "cannot mask node '{}': input {} is not a constant",
                        s.node->name, s.input);
    }
    if (t->rank() <= s.axis || t->dim(s.axis) < (s.offset + group.channels) * s.block) {
      return make_error(StatusCode::kInvalidArgument, "cannot mask node '{}': input {} is too small on axis {}",
                        s.node->name, s.input, s.axis);
    }
    std::vector<int64_t> zero;
    for (int64_t c : remove) {
      for (int64_t b = 0; b < s.block; ++b) zero.push_back((s.offset + c) * s.block + b);
    }
    int32_t zp = 0;
    if (s.node->kind == ir::OpKind::DequantizeLinear) {
      HQP_ASSIGN_OR_RETURN(zp, uniform_zero_point(*s.node));
    }
    HQP_ASSIGN_OR_RETURN(Tensor masked, zero_along(*t, s.axis, zero, zp));
    replace_input(graph, s.node, s.input, std::move(masked));
  }
  graph.remove_dead_code();
  return Status();
}

}  // namespace hqp::prune
