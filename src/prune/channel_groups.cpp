// Channel-dependency analysis: a union-find over channel spaces, one pass over the graph in
// topological order; each op kind either defines a new space, carries its input's space, joins
// spaces, reads a space (a consumer), or blocks the spaces it touches. An activation's channels are
// one space, or, behind a channel Concat, a layout: several spaces one after another.
#include "prune/channel_groups.h"

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>  // std::lcm
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "ir/rewrite.h"
#include "prune/collapse.h"

namespace hqp::prune {

namespace {

using ir::Node;
using ir::OpKind;
using ir::Value;

// Static [N, C, ...] channel count of an activation (its axis 1), or -1.
int64_t channels_of(const Value* v) {
  if (v == nullptr || !v->shape || v->shape->size() < 2 || !(*v->shape)[1].is_static()) return -1;
  return (*v->shape)[1].value;
}

// Product of the static dims from 2 on (1 when all are static and there are none), or -1.
int64_t spatial_size(const Value* v) {
  if (v == nullptr || !v->shape) return -1;
  int64_t s = 1;
  for (size_t i = 2; i < v->shape->size(); ++i) {
    if (!(*v->shape)[i].is_static()) return -1;
    s *= (*v->shape)[i].value;
  }
  return s;
}

}  // namespace

bool is_elementwise_unary(OpKind kind) {
  switch (kind) {
    case OpKind::Relu:
    case OpKind::Clip:
    case OpKind::HardSigmoid:
    case OpKind::HardSwish:
    case OpKind::Sigmoid:
    case OpKind::LeakyRelu:
    case OpKind::Tanh:
    case OpKind::Exp:
    case OpKind::Sqrt:
    case OpKind::Erf:
    case OpKind::Gelu:
    case OpKind::Silu: return true;
    default: return false;
  }
}

namespace {

// Per-tensor quantization parameters (a scalar or one-element scale): the channels pass through.
bool per_tensor(const Node& n) {
  const Tensor* scale = ir::constant_through_identity(n.input(1));
  return scale != nullptr && scale->numel() == 1;
}

class Analysis {
 public:
  Analysis(const ir::Graph& g, const GroupOptions& o) : g_(g), o_(o) {}

  Status run() {
    HQP_ASSIGN_OR_RETURN(std::vector<Node*> order, g_.topological_order());
    for (const Value* v : g_.inputs()) block(v, fmt::format("reaches graph input '{}'", v->name));
    for (const Node* n : order) visit(*n);
    for (const Value* v : g_.outputs()) block(v, fmt::format("reaches graph output '{}'", v->name));
    return Status();
  }

  std::vector<ChannelGroup> groups() {
    std::map<int, ChannelGroup> by_root;  // ordered by first space id: graph order
    std::vector<int> root_order;
    // Values in graph order (node order), so groups list their activations in that order.
    std::vector<const Value*> ordered;
    for (const Value* v : g_.inputs()) ordered.push_back(v);
    if (Result<std::vector<Node*>> order = g_.topological_order(); order.ok()) {
      for (const Node* n : *order) {
        for (const Value* v : n->outputs()) ordered.push_back(v);
      }
    }
    for (const Value* v : ordered) {
      auto it = space_of_.find(v);
      if (it == space_of_.end()) continue;
      const int root = find(it->second);
      auto [git, inserted] = by_root.try_emplace(root);
      ChannelGroup& grp = git->second;
      if (inserted) root_order.push_back(root);
      grp.values.push_back(v->name);
      const int64_t c = channels(v);
      if (grp.channels == 0) grp.channels = c;
      if (c != grp.channels && grp.prunable) {
        grp.prunable = false;
        grp.reason = fmt::format("activations disagree on the channel count ({} and {})", grp.channels, c);
      }
    }
    for (int space = 0; space < static_cast<int>(parent_.size()); ++space) {
      const int root = find(space);
      auto git = by_root.find(root);
      if (git == by_root.end()) continue;
      ChannelGroup& grp = git->second;
      grp.block = std::lcm(grp.block, block_[static_cast<size_t>(space)]);
      for (const std::string& r : reasons_[static_cast<size_t>(space)]) {
        if (grp.prunable) {
          grp.prunable = false;
          grp.reason = r;
        }
      }
    }
    // Members in graph order of recording.
    for (const auto& [space, member] : members_) {
      auto git = by_root.find(find(space));
      if (git != by_root.end()) git->second.members.push_back(member);
    }
    std::vector<ChannelGroup> out;
    for (int root : root_order) {
      ChannelGroup& grp = by_root.at(root);
      const bool produced = std::any_of(grp.members.begin(), grp.members.end(), [](const Member& m) {
        return m.role == MemberRole::kProducer;
      });
      if (grp.prunable && !produced) {
        grp.prunable = false;
        grp.reason = "no convolution or Gemm produces these channels";
      }
      if (grp.prunable) {
        for (const Member& m : grp.members) {
          if (std::find(o_.ignore.begin(), o_.ignore.end(), m.node) != o_.ignore.end()) {
            grp.prunable = false;
            grp.reason = fmt::format("node '{}' is ignored (--ignore)", m.node);
            break;
          }
        }
      }
      if (grp.prunable && (grp.channels <= 0 || grp.channels % grp.block != 0)) {
        grp.prunable = false;
        grp.reason = fmt::format("{} channels do not split into the grouped convs' blocks of {}", grp.channels, grp.block);
      }
      if (grp.prunable && o_.remove_blocks && collapse_blocker(g_, grp).empty()) {
        grp.collapsible = true;
        grp.max_removable = grp.channels;
      } else if (grp.prunable) {
        const int64_t step = std::lcm(grp.block, std::max<int64_t>(1, o_.round_to));
        const int64_t min_keep = (std::max<int64_t>(o_.min_channels, 1) + step - 1) / step * step;
        // Kept counts are multiples of round_to, at least min_channels: the smallest such count is
        // min_keep, so at most channels - min_keep go (fewer in steps that keep a multiple).
        grp.max_removable = grp.channels > min_keep ? grp.channels - min_keep : 0;
        if (grp.max_removable <= 0) {
          grp.max_removable = 0;
          grp.prunable = false;
          grp.reason = fmt::format("{} channels, at least {} must stay", grp.channels, min_keep);
        }
      }
      grp.id = static_cast<int>(out.size());
      out.push_back(std::move(grp));
    }
    return out;
  }

 private:
  // ---- union-find over spaces ----
  int new_space() {
    parent_.push_back(static_cast<int>(parent_.size()));
    reasons_.emplace_back();
    block_.push_back(1);
    return parent_.back();
  }
  int find(int s) {
    while (parent_[static_cast<size_t>(s)] != s) {
      parent_[static_cast<size_t>(s)] = parent_[static_cast<size_t>(parent_[static_cast<size_t>(s)])];
      s = parent_[static_cast<size_t>(s)];
    }
    return s;
  }
  void join(int a, int b) {
    a = find(a);
    b = find(b);
    if (a != b) parent_[static_cast<size_t>(std::max(a, b))] = std::min(a, b);
  }
  // One space in an activation's channel layout: `channels` consecutive channels of space `space`.
  struct Segment {
    int space;
    int64_t channels;
  };
  using Layout = std::vector<Segment>;

  bool is_concatenated(const Value* v) const { return layouts_.count(v) != 0; }
  bool is_last_axis(const Value* v) const { return last_axis_.count(v) != 0; }
  // The static channel count of `v`: its last dim for a channels-last activation, else dim 1; -1
  // when unknown.
  int64_t channels(const Value* v) const {
    if (!is_last_axis(v)) return channels_of(v);
    if (v == nullptr || !v->shape || v->shape->empty() || !v->shape->back().is_static()) return -1;
    return v->shape->back().value;
  }
  // The channel layout of `v`: the spaces a Concat placed side by side, or v's own space.
  Layout layout(const Value* v) {
    if (auto it = layouts_.find(v); it != layouts_.end()) return it->second;
    return {{space(v), channels(v)}};
  }

  // The space of activation `v` (created on first use; never for a concatenated activation).
  int space(const Value* v) {
    HQP_CHECK_MSG(!is_concatenated(v), fmt::format("'{}' holds several channel spaces", v->name));
    auto it = space_of_.find(v);
    if (it != space_of_.end()) return it->second;
    const int s = new_space();
    space_of_[v] = s;
    if (channels(v) <= 0) reasons_[static_cast<size_t>(s)].push_back(fmt::format("value '{}' has no static channel count", v->name));
    return s;
  }
  // `to` has the channels of `from` (a fresh output: it takes a concatenated layout as it is).
  void carry(const Value* from, const Value* to) {
    if (is_last_axis(from)) last_axis_.insert(to);
    if (auto it = layouts_.find(from); it != layouts_.end()) {
      layouts_[to] = it->second;
      return;
    }
    join(space(from), space(to));
  }
  void block(const Value* v, std::string reason) {
    if (v == nullptr || is_weight(v) || is_shape_value(v)) return;
    if (auto d = flattened_.find(v); d != flattened_.end()) v = d->second.first;
    for (const Segment& s : layout(v)) reasons_[static_cast<size_t>(s.space)].push_back(reason);
  }
  // `m` touches every channel of `v`: one member per space of v's layout, at its offset.
  void add_member(const Value* v, const Member& m) {
    int64_t offset = 0;
    for (const Segment& s : layout(v)) {
      Member at = m;
      at.offset = offset;
      members_.emplace_back(s.space, std::move(at));
      offset += std::max<int64_t>(s.channels, 0);
    }
  }
  bool is_activation(const Value* v) const { return v != nullptr && !is_weight(v); }

  void block_all(const Node& n, const std::string& why) {
    for (const Value* v : n.inputs()) {
      if (is_activation(v)) block(v, why);
    }
    for (const Value* v : n.outputs()) {
      if (v != nullptr) block(v, why);
    }
  }

  // A value of static rank < 2 with no channel layout of its own: a scalar or vector of shape
  // arithmetic (Shape -> Gather -> Div ... -> Reshape / Slice bounds), never an activation.
  bool is_shape_value(const Value* v) const {
    return v != nullptr && v->shape && v->shape->size() < 2 && space_of_.count(v) == 0 && layouts_.count(v) == 0 &&
           flattened_.count(v) == 0;
  }

  void visit(const Node& n) {
    const std::string op(ir::op_name(n.kind));
    const Value* x = n.input(0);
    const Value* y = n.output(0);
    // Shape arithmetic carries no channels: its readers (Reshape, Slice, Expand ...) decide.
    const bool shape_only = n.num_outputs() > 0 &&
                            std::all_of(n.outputs().begin(), n.outputs().end(), [&](const Value* v) { return v == nullptr || is_shape_value(v); }) &&
                            std::all_of(n.inputs().begin(), n.inputs().end(), [&](const Value* v) { return v == nullptr || is_weight(v) || is_shape_value(v); });
    if (shape_only) return;
    // Channels-last activations (behind a MatMul) go on only through element-wise ops and MatMuls:
    // anything else (pooling, Transpose, normalization over the last axis ...) reads them differently.
    if (std::any_of(n.inputs().begin(), n.inputs().end(), [&](const Value* v) { return is_last_axis(v); }) &&
        !follows_last_axis(n.kind)) {
      return block_all(n, fmt::format("{} '{}' reads channels-last activations in a way pruning does not follow", op,
                                      n.name));
    }
    if (is_elementwise_unary(n.kind)) return carry_unary(n);
    switch (n.kind) {
      case OpKind::Conv: return visit_conv(n);
      case OpKind::BatchNormalization:
        for (size_t i = 1; i < 5; ++i) {
          if (ir::constant_through_identity(n.input(i)) == nullptr) return block_all(n, fmt::format("BatchNormalization '{}' has computed parameters", n.name));
        }
        carry(x, y);
        add_member(y, {MemberRole::kNorm, n.name});
        for (size_t i = 1; i < n.num_outputs(); ++i) {
          if (n.output(i) != nullptr) block(y, fmt::format("BatchNormalization '{}' outputs training statistics", n.name));
        }
        return;
      case OpKind::Identity:
        if (ir::constant_through_identity(x) != nullptr) return;  // an initializer routed through Identity
        return carry_unary(n);
      case OpKind::AveragePool:
      case OpKind::GlobalAveragePool:
        return carry_unary(n);
      case OpKind::Pow: {
        // x ** c with a constant scalar exponent acts on each element alone.
        const Tensor* e = ir::constant_through_identity(n.input(1));
        if (e != nullptr && e->numel() == 1) return carry_unary(n);
        return block_all(n, fmt::format("{} '{}' has a computed or per-element exponent", op, n.name));
      }
      case OpKind::ReduceMean:
      case OpKind::ReduceMax:
      case OpKind::ReduceSum: {
        // Over spatial axes only: a per-channel pooling ([N, C, 1, 1] like GlobalAveragePool, or [N, C]
        // with keepdims=0 as MNASNet's x.mean([2, 3]) writes it); the channel axis stays axis 1.
        const auto& a = n.attr<ir::ReduceAttrs>();
        const int64_t rank = x->shape ? static_cast<int64_t>(x->shape->size()) : 0;
        const bool spatial = rank >= 3 && n.input(1) == nullptr && a.axes && !a.axes->empty() &&
                             std::all_of(a.axes->begin(), a.axes->end(), [&](int64_t v) {
                               const int64_t axis = v < 0 ? v + rank : v;
                               return axis >= 2 && axis < rank;
                             });
        if (spatial) return carry_unary(n);
        return block_all(n, fmt::format("{} '{}' reduces the batch or channel axis (or computes its axes)", op, n.name));
      }
      case OpKind::Pad:
        if (pads_spatial_only(n)) return carry_unary(n);
        return block_all(n, fmt::format("{} '{}' pads the batch or channel axis (or computes its pads)", op, n.name));
      case OpKind::Resize:
        if (resize_keeps_channels(n)) return carry_unary(n);
        return block_all(n, fmt::format("{} '{}' resizes the batch or channel axis (or its output is unknown)", op,
                                        n.name));
      case OpKind::Slice:
        if (slice_keeps_channels(n)) return carry_unary(n);
        return block_all(n, fmt::format("{} '{}' slices the channel axis (or computes its bounds)", op, n.name));
      case OpKind::MaxPool:
      case OpKind::Dropout:
        for (size_t i = 1; i < n.num_outputs(); ++i) {
          if (n.output(i) != nullptr) return block_all(n, fmt::format("{} '{}' has a second output", op, n.name));
        }
        return carry_unary(n);
      case OpKind::Add:
      case OpKind::Sub:
      case OpKind::Mul:
      case OpKind::Div: return visit_elementwise(n);
      case OpKind::Flatten: return visit_flatten(n, n.attr<ir::FlattenAttrs>().axis);
      case OpKind::Reshape: return visit_reshape(n);
      case OpKind::Gemm: return visit_gemm(n);
      case OpKind::MatMul: return visit_matmul(n);
      case OpKind::Concat: return visit_concat(n);
      case OpKind::Constant: return;
      case OpKind::DequantizeLinear:
        if (is_weight(y) || ir::constant_through_identity(x) != nullptr) return;  // a weight, read by its node
        [[fallthrough]];
      case OpKind::QuantizeLinear:
        if (!per_tensor(n)) {
          return block_all(n, fmt::format("{} '{}' quantizes activations per channel", op, n.name));
        }
        if (auto f = flattened_.find(x); f != flattened_.end()) {  // Flatten -> Q -> DQ -> Gemm
          flattened_[y] = f->second;
          return;
        }
        return carry_unary(n);
      default:
        return block_all(n, fmt::format("{} '{}' reads the channel axis in a way pruning does not follow", op, n.name));
    }
  }

  // Integer contents of a constant input (through Identity), else nullopt.
  static std::optional<std::vector<int64_t>> constant_ints(const Value* v) {
    const Tensor* t = ir::constant_through_identity(v);
    if (t == nullptr) return std::nullopt;
    std::vector<int64_t> out;
    for (int64_t i = 0; i < t->numel(); ++i) out.push_back(t->element_as_int64(i));
    return out;
  }

  // Pad with constant pads that are zero on axes 0 and 1: each channel is padded on its own.
  static bool pads_spatial_only(const Node& n) {
    const auto& a = n.attr<ir::PadAttrs>();
    const std::optional<std::vector<int64_t>> pads = a.pads ? a.pads : constant_ints(n.input(1));
    if (!pads || pads->size() < 4 || pads->size() % 2 != 0) return false;
    if (n.input(2) != nullptr && ir::constant_through_identity(n.input(2)) == nullptr) return false;
    const size_t r = pads->size() / 2;
    return (*pads)[0] == 0 && (*pads)[1] == 0 && (*pads)[r] == 0 && (*pads)[r + 1] == 0;
  }

  // Resize whose output keeps the input's batch and channel dims (known statically): each channel
  // is resized on its own.
  static bool resize_keeps_channels(const Node& n) {
    const Value* x = n.input(0);
    const Value* y = n.output(0);
    if (!x->shape || !y->shape || x->shape->size() < 3 || y->shape->size() != x->shape->size()) return false;
    for (size_t i = 0; i < 2; ++i) {
      const ir::Dim& a = (*x->shape)[i];
      const ir::Dim& b = (*y->shape)[i];
      if (!a.is_static() || !b.is_static() || a.value != b.value) return false;
    }
    return true;
  }

  // Slice with constant arguments that leaves axes 0 and 1 whole (not sliced, or [0, end of axis) step 1).
  static bool slice_keeps_channels(const Node& n) {
    const auto& a = n.attr<ir::SliceAttrs>();
    std::optional<std::vector<int64_t>> starts = a.starts, ends = a.ends, axes = a.axes, steps;
    if (!starts) {
      starts = constant_ints(n.input(1));
      ends = constant_ints(n.input(2));
      if (n.input(3) != nullptr && !(axes = constant_ints(n.input(3)))) return false;
      if (n.input(4) != nullptr && !(steps = constant_ints(n.input(4)))) return false;
    }
    if (!starts || !ends || starts->size() != ends->size()) return false;
    for (size_t i = 0; i < starts->size(); ++i) {
      const int64_t axis = axes ? (axes->size() == starts->size() ? (*axes)[i] : -100) : static_cast<int64_t>(i);
      if (axis == -100) return false;
      if (axis != 0 && axis != 1) {
        if (axis >= 2) continue;
        return false;  // a negative axis: the rank decides; not followed
      }
      const int64_t step = steps && steps->size() == starts->size() ? (*steps)[i] : 1;
      if ((*starts)[i] != 0 || step != 1 || (*ends)[i] < std::numeric_limits<int64_t>::max() / 2) return false;
    }
    return true;
  }

  void carry_unary(const Node& n) {
    const Value* x = n.input(0);
    if (flattened_.count(x) != 0) return block_all(n, fmt::format("'{}' reads a flattened tensor", n.name));
    carry(x, n.output(0));
  }

  void visit_conv(const Node& n) {
    const Value* x = n.input(0);
    const Value* y = n.output(0);
    if (!is_weight(n.input(1)) || (n.input(2) != nullptr && !is_weight(n.input(2)))) {
      return block_all(n, fmt::format("Conv '{}' has computed weights", n.name));
    }
    const int64_t group = n.attr<ir::ConvAttrs>().group;
    const int64_t in = channels_of(x), out = channels_of(y);
    if (group == 1) {
      add_member(x, {MemberRole::kConsumer, n.name});
      add_member(y, {MemberRole::kProducer, n.name});
      space(y);
      return;
    }
    // Depthwise (w = 1) or grouped with as many outputs as inputs per group (ResNeXt, RegNet): channel
    // c in is channel c out, and the channels of one conv group go together.
    if (group > 1 && in == out && in % group == 0) {
      const int64_t w = in / group;
      if (w > 1 && is_concatenated(x)) {
        return block_all(n, fmt::format("grouped Conv '{}' reads concatenated channels", n.name));
      }
      carry(x, y);
      add_member(y, {MemberRole::kPassThrough, n.name});
      if (w > 1) {
        const int s = space(y);
        block_[static_cast<size_t>(s)] = std::lcm(block_[static_cast<size_t>(s)], w);
      }
      return;
    }
    block_all(n, fmt::format("Conv '{}' is grouped (group={}, in={}, out={}; expected in == out)", n.name, group,
                             in, out));
  }

  void visit_elementwise(const Node& n) {
    const Value* y = n.output(0);
    const size_t rank = y->shape ? y->shape->size() : 0;
    if (rank < 2) return block_all(n, fmt::format("'{}' writes a tensor without a channel axis", n.name));
    // Channels-last when an activation operand is (MatMul outputs and what follows them): then the
    // operands' last dims are aligned with the channels, else their dims under the output's axis 1.
    bool last = false;
    for (size_t i = 0; i < 2; ++i) last = last || is_last_axis(n.input(i));
    if (last) {
      for (size_t i = 0; i < 2; ++i) {
        const Value* v = n.input(i);
        if (is_activation(v) && !is_last_axis(v) && v->shape && v->shape->size() == rank && rank > 2) {
          return block_all(n, fmt::format("'{}' combines channels-last and channels-first tensors", n.name));
        }
      }
      last_axis_.insert(y);
    }
    const int64_t c = channels(y);
    std::vector<const Value*> full;   // activations with all of y's channels
    std::vector<int> per_channel;     // constant operands sliced with the group
    for (size_t i = 0; i < 2; ++i) {
      const Value* v = n.input(i);
      if (v == nullptr || !v->shape) return block_all(n, fmt::format("'{}' has an input of unknown shape", n.name));
      if (flattened_.count(v) != 0) return block_all(n, fmt::format("'{}' reads a flattened tensor", n.name));
      // The operand's dim aligned with the output's channel axis (numpy broadcasting from the right).
      const int64_t axis = last ? static_cast<int64_t>(v->shape->size()) - 1
                                : static_cast<int64_t>(v->shape->size()) - static_cast<int64_t>(rank) + 1;
      const int64_t vc = axis >= 0 && (*v->shape)[static_cast<size_t>(axis)].is_static()
                             ? (*v->shape)[static_cast<size_t>(axis)].value
                             : (axis < 0 ? 1 : -1);
      if (is_weight(v)) {
        // A per-channel constant (e.g. [C, 1, 1]) is sliced with the group; a broadcast one is not.
        if (vc > 1) per_channel.push_back(static_cast<int>(i));
        continue;
      }
      if (vc == c && static_cast<size_t>(v->shape->size()) == rank) {
        full.push_back(v);
      } else if (vc != 1) {
        return block_all(n, fmt::format("'{}' broadcasts across the channel axis", n.name));
      }
    }
    const bool concatenated = std::any_of(full.begin(), full.end(), [&](const Value* v) { return is_concatenated(v); });
    if (concatenated) {
      // Operands concatenated the same way are joined space by space; any other mix is not followed.
      const Layout first = layout(full[0]);
      for (size_t k = 1; k < full.size(); ++k) {
        const Layout other = layout(full[k]);
        const bool same = other.size() == first.size() &&
                          std::equal(first.begin(), first.end(), other.begin(), [](const Segment& a, const Segment& b) {
                            return a.channels == b.channels;
                          });
        if (!same) return block_all(n, fmt::format("'{}' combines tensors concatenated differently", n.name));
        for (size_t s = 0; s < first.size(); ++s) join(first[s].space, other[s].space);
      }
      layouts_[y] = first;
    } else {
      for (const Value* v : full) carry(v, y);
      space(y);
    }
    for (int i : per_channel) {
      Member m{MemberRole::kConstOperand, n.name, i};
      m.last_axis = last;
      add_member(y, m);
    }
  }

  // Ops through which channels-last activations keep their channels where they are.
  static bool follows_last_axis(OpKind kind) {
    switch (kind) {
      case OpKind::MatMul:
      case OpKind::Add:
      case OpKind::Sub:
      case OpKind::Mul:
      case OpKind::Div:
      case OpKind::Identity:
      case OpKind::Dropout:
      case OpKind::Pow: return true;
      default: return is_elementwise_unary(kind);
    }
  }

  // MatMul by a constant [K, N] matrix: reads K channels on A's last axis and writes N channels on
  // its output's last axis (a Linear layer on a channels-last tensor: ConvNeXt's MLP). A's channels
  // are followed when they are on its last axis already (another MatMul's output) or A is [N, K];
  // otherwise A is blocked (its channels are on axis 1, not the axis this MatMul reads).
  void visit_matmul(const Node& n) {
    const Value* a = n.input(0);
    const Value* y = n.output(0);
    const Tensor* b = ir::constant_through_identity(n.input(1));
    const Node* dq = dequantized_constant(n.input(1));
    const Tensor* bq = dq != nullptr ? ir::constant_through_identity(dq->input(0)) : nullptr;
    const Tensor* w = b != nullptr ? b : bq;
    if (w == nullptr || w->rank() != 2) {
      return block_all(n, fmt::format("MatMul '{}' multiplies by a computed or non-2-D matrix", n.name));
    }
    if (!a->shape || a->shape->size() < 2 || !y->shape || y->shape->size() != a->shape->size()) {
      return block_all(n, fmt::format("MatMul '{}' reads a tensor of unknown or broadcast rank", n.name));
    }
    if (flattened_.count(a) != 0) return block_all(n, fmt::format("MatMul '{}' reads a flattened tensor", n.name));
    if (is_last_axis(a) || a->shape->size() == 2) {
      Member m{MemberRole::kConsumer, n.name};
      m.last_axis = true;
      add_member(a, m);
    } else {
      block(a, fmt::format("MatMul '{}' reads the last axis of '{}', whose channels are on axis 1", n.name, a->name));
    }
    last_axis_.insert(y);
    space(y);
    Member m{MemberRole::kProducer, n.name};
    m.last_axis = true;
    add_member(y, m);
  }

  void visit_concat(const Node& n) {
    const Value* y = n.output(0);
    const int64_t rank = y->shape ? static_cast<int64_t>(y->shape->size()) : 0;
    int64_t axis = n.attr<ir::AxisAttrs>().axis;
    if (axis < 0) axis += rank;
    if (axis != 1) return block_all(n, fmt::format("Concat '{}' joins along axis {}, not the channel axis", n.name, axis));
    Layout out;
    for (const Value* v : n.inputs()) {
      if (!is_activation(v)) return block_all(n, fmt::format("Concat '{}' has a constant input", n.name));
      if (flattened_.count(v) != 0) return block_all(n, fmt::format("Concat '{}' reads a flattened tensor", n.name));
      for (const Segment& s : layout(v)) out.push_back(s);
    }
    layouts_[y] = std::move(out);
  }

  void visit_flatten(const Node& n, int64_t axis) {
    const Value* x = n.input(0);
    const int64_t s = spatial_size(x);
    if (axis != 1 || s <= 0 || flattened_.count(x) != 0) {
      return block_all(n, fmt::format("Flatten '{}' merges the channel axis with the batch", n.name));
    }
    flattened_[n.output(0)] = {x, s};
  }

  void visit_reshape(const Node& n) {
    const Value* x = n.input(0);
    const Value* y = n.output(0);
    // A Reshape that flattens [N, C, ...] into [N, C * spatial] (torchvision's x.view(N, -1)).
    if (y->shape && y->shape->size() == 2 && x->shape && x->shape->size() >= 2 && (*y->shape)[1].is_static() &&
        channels_of(x) > 0 && spatial_size(x) > 0 && (*y->shape)[1].value == channels_of(x) * spatial_size(x)) {
      return visit_flatten(n, 1);
    }
    block_all(n, fmt::format("Reshape '{}' moves the channel axis", n.name));
  }

  void visit_gemm(const Node& n) {
    const auto& a = n.attr<ir::GemmAttrs>();
    const Value* x = n.input(0);
    const Value* y = n.output(0);
    if (!is_weight(n.input(1)) || (n.input(2) != nullptr && !is_weight(n.input(2)))) {
      return block_all(n, fmt::format("Gemm '{}' has computed weights", n.name));
    }
    if (a.trans_a != 0) return block_all(n, fmt::format("Gemm '{}' transposes its input", n.name));
    if (auto d = flattened_.find(x); d != flattened_.end()) {
      Member m{MemberRole::kGemmColumns, n.name};
      m.columns_per_channel = d->second.second;
      add_member(d->second.first, m);
    } else if (x->shape && x->shape->size() == 2) {
      add_member(x, {MemberRole::kGemmColumns, n.name});
    } else {
      return block_all(n, fmt::format("Gemm '{}' reads a tensor that is not [N, K]", n.name));
    }
    add_member(y, {MemberRole::kProducer, n.name});
  }

  const ir::Graph& g_;
  const GroupOptions& o_;
  std::vector<int> parent_;
  std::vector<std::vector<std::string>> reasons_;
  std::vector<int64_t> block_;  // per space: channels that go together (grouped convs' widths)
  std::unordered_map<const Value*, int> space_of_;
  std::unordered_map<const Value*, Layout> layouts_;  // concatenated activations (never in space_of_)
  std::unordered_set<const Value*> last_axis_;         // activations whose channels are on the last axis
  std::unordered_map<const Value*, std::pair<const Value*, int64_t>> flattened_;  // y -> (x, spatial size)
  std::vector<std::pair<int, Member>> members_;
};

}  // namespace

const ir::Node* dequantized_constant(const ir::Value* v) {
  if (v == nullptr || v->uses().size() != 1) return nullptr;
  const Node* p = v->producer();
  if (p == nullptr || p->kind != OpKind::DequantizeLinear) return nullptr;
  for (size_t i = 0; i < p->num_inputs(); ++i) {
    if (p->input(i) != nullptr && ir::constant_through_identity(p->input(i)) == nullptr) return nullptr;
  }
  return p;
}

bool is_weight(const ir::Value* v) {
  return v != nullptr && (ir::constant_through_identity(v) != nullptr || dequantized_constant(v) != nullptr);
}

std::string_view member_role_name(MemberRole role) {
  switch (role) {
    case MemberRole::kProducer: return "producer";
    case MemberRole::kPassThrough: return "depthwise";
    case MemberRole::kNorm: return "batchnorm";
    case MemberRole::kConsumer: return "consumer";
    case MemberRole::kGemmColumns: return "gemm_columns";
    case MemberRole::kConstOperand: return "constant";
  }
  return "?";
}

Result<std::vector<ChannelGroup>> channel_groups(const ir::Graph& graph, const GroupOptions& options) {
  if (options.min_channels < 1 || options.round_to < 1) {
    return make_error(StatusCode::kInvalidArgument,
                      "cannot build channel groups: min_channels={} round_to={} (expected both >= 1)",
                      options.min_channels, options.round_to);
  }
  for (const std::string& name : options.ignore) {
    if (graph.find_node(name) == nullptr) {
      return make_error(StatusCode::kNotFound, "cannot ignore node '{}': the model has no node of that name", name);
    }
  }
  Analysis a(graph, options);
  HQP_RETURN_IF_ERROR(a.run());
  return a.groups();
}

}  // namespace hqp::prune
