// Channel importance: weight criteria, Fisher probes and the group gradient accumulator.
#include "prune/importance.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "ir/rewrite.h"
#include "ir/verifier.h"
#include "prune/surgery.h"

namespace hqp::prune {

namespace {

constexpr std::pair<Criterion, std::string_view> kNames[] = {
    {Criterion::kFisher, "fisher"}, {Criterion::kTaylor, "taylor"},     {Criterion::kL1, "l1"},
    {Criterion::kL2, "l2"},         {Criterion::kBnScale, "bn_scale"}, {Criterion::kRandom, "random"},
};

// Adds f(x) of every entry of channel block c (entries [(offset + c)·block, (offset + c + 1)·block)
// along `axis`) to out[c], for c in [0, out.size()).
template <typename F>
void accumulate_along(const Tensor& t, int64_t axis, int64_t block, int64_t offset, std::vector<double>& out, F f) {
  const Shape& shape = t.shape();
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= shape[static_cast<size_t>(i)];
  for (size_t i = static_cast<size_t>(axis) + 1; i < shape.size(); ++i) inner *= shape[i];
  const int64_t len = shape[static_cast<size_t>(axis)];
  const float* d = t.data<float>();
  const int64_t begin = offset * block;
  const int64_t end = std::min(len, (offset + static_cast<int64_t>(out.size())) * block);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t a = begin; a < end; ++a) {
      double s = 0.0;
      const float* p = d + (o * len + a) * inner;
      for (int64_t i = 0; i < inner; ++i) s += f(static_cast<double>(p[i]));
      out[static_cast<size_t>(a / block - offset)] += s;
    }
  }
}

}  // namespace

std::optional<Criterion> criterion_from_name(std::string_view name) {
  for (const auto& [c, n] : kNames) {
    if (n == name) return c;
  }
  return std::nullopt;
}

std::string_view criterion_name(Criterion criterion) {
  for (const auto& [c, n] : kNames) {
    if (c == criterion) return n;
  }
  return "?";
}

bool needs_gradients(Criterion criterion) { return criterion == Criterion::kFisher || criterion == Criterion::kTaylor; }

Result<GroupScores> weight_importance(const ir::Graph& graph, const std::vector<ChannelGroup>& groups,
                                      Criterion criterion, uint64_t seed) {
  if (needs_gradients(criterion)) {
    return make_error(StatusCode::kInvalidArgument, "cannot score channels by '{}' from weights alone (it needs data)",
                      criterion_name(criterion));
  }
  GroupScores scores(groups.size());
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const ChannelGroup& g = groups[gi];
    if (!g.prunable) continue;
    std::vector<double>& s = scores[gi];
    s.assign(static_cast<size_t>(g.channels), 0.0);
    if (criterion == Criterion::kRandom) {
      for (double& v : s) v = uniform(rng);
      continue;
    }
    HQP_ASSIGN_OR_RETURN(std::vector<Slice> slices, slices_of(graph, g));
    bool any = false;
    for (const Slice& sl : slices) {
      const ir::OpKind kind = sl.node->kind;
      const bool is_norm = kind == ir::OpKind::BatchNormalization;
      // Weights only: conv / Gemm weights (input 1) and BatchNorm scales (input 1); bn_scale reads
      // the scales alone.
      if (sl.input != 1) continue;
      if (criterion == Criterion::kBnScale && !is_norm) continue;
      if (kind != ir::OpKind::Conv && kind != ir::OpKind::Gemm && kind != ir::OpKind::MatMul && !is_norm) continue;
      const Tensor* t = ir::constant_through_identity(sl.node->input(sl.input));
      if (t == nullptr || t->dtype() != DType::kF32) continue;
      any = true;
      if (criterion == Criterion::kL2) {
        accumulate_along(*t, sl.axis, sl.block, sl.offset, s, [](double x) { return x * x; });
      } else {
        accumulate_along(*t, sl.axis, sl.block, sl.offset, s, [](double x) { return std::fabs(x); });
      }
    }
    if (criterion == Criterion::kL2) {
      for (double& v : s) v = std::sqrt(v);
    }
    if (!any) {
      std::fill(s.begin(), s.end(), std::numeric_limits<double>::infinity());  // e.g. no BatchNorm
      continue;
    }
    // Weight norms of different layers are not on one scale (fan-in, BatchNorm folding, group
    // sizes), so a global ranking compares each channel with its group's mean.
    double mean = 0.0;
    for (double v : s) mean += v;
    mean /= static_cast<double>(s.size());
    if (mean > 0.0 && std::isfinite(mean)) {
      for (double& v : s) v /= mean;
    }
  }
  return scores;
}

Result<ProbedGraph> insert_fisher_probes(const ir::Graph& graph, const std::vector<ChannelGroup>& groups) {
  ProbedGraph out{graph.clone(), {}};
  ir::Graph& g = out.graph;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    if (!groups[gi].prunable) continue;
    for (const Member& m : groups[gi].members) {
      if (m.role != MemberRole::kConsumer && m.role != MemberRole::kGemmColumns) continue;
      ir::Node* node = g.find_node(m.node);
      if (node == nullptr || node->input(0) == nullptr || !node->input(0)->shape) {
        return make_error(StatusCode::kInvalidArgument, "cannot probe channel group {}: node '{}' has no shaped input",
                          groups[gi].id, m.node);
      }
      ir::Value* x = node->input(0);
      const ir::Dims& dims = *x->shape;
      // The channel axis: 1, or the last for a channels-last reader (a MatMul).
      const size_t axis = m.last_axis ? dims.size() - 1 : 1;
      if (dims.size() < 2 || !dims[axis].is_static()) {
        return make_error(StatusCode::kInvalidArgument,
                          "cannot probe channel group {}: input '{}' of node '{}' has no static channel dim",
                          groups[gi].id, x->name, m.node);
      }
      Shape ones_shape(dims.size(), 1);
      ones_shape[axis] = dims[axis].value;
      HQP_ASSIGN_OR_RETURN(Tensor ones, Tensor::zeros(DType::kF32, ones_shape));
      std::fill_n(ones.data<float>(), ones.numel(), 1.0f);
      ir::Value* c = g.add_initializer(g.unique_name(m.node + ".fisher_mask"), std::move(ones));
      ir::Value* y = g.add_value(g.unique_name(m.node + ".fisher_probe"));
      y->dtype = x->dtype;
      y->shape = x->shape;  // a second group read by this node (behind a Concat) probes y in turn
      g.add_node(ir::OpKind::Mul, g.unique_name(m.node + ".fisher_probe"), {x, c}, {y});
      g.set_input(node, 0, y);
      out.probes.push_back({y->name, gi, m.role == MemberRole::kGemmColumns ? m.columns_per_channel : 1, m.offset,
                            static_cast<int64_t>(axis)});
    }
  }
  HQP_RETURN_IF_ERROR(ir::verify_and_infer(g).with_context("cannot verify the graph with Fisher probes"));
  return out;
}

GroupGradientAccumulator::GroupGradientAccumulator(const std::vector<ChannelGroup>& groups,
                                                   const std::vector<FisherProbe>& probes)
    : channels_(groups.size(), 0),
      batch_(groups.size()),
      batch_rows_(groups.size(), 0),
      fisher_(groups.size()),
      sum_(groups.size()) {
  for (const FisherProbe& p : probes) {
    HQP_CHECK(p.group < groups.size());
    probes_.emplace(p.value, Probe{p.group, p.columns_per_channel, p.offset, p.channel_axis});
    const auto c = static_cast<size_t>(groups[p.group].channels);
    channels_[p.group] = groups[p.group].channels;
    fisher_[p.group].assign(c, 0.0);
    sum_[p.group].assign(c, 0.0);
  }
}

bool GroupGradientAccumulator::observes(const ir::Node& node, const ir::Value& value) {
  (void)node;
  return probes_.count(value.name) != 0;
}

int64_t GroupGradientAccumulator::channel_axis(const ir::Node& node, const ir::Value& value) {
  (void)node;
  const auto it = probes_.find(value.name);
  return it == probes_.end() ? 1 : it->second.channel_axis;
}

void GroupGradientAccumulator::on_channel_fisher(const ir::Node& node, const ir::Value& value, const Tensor& a_dot_g) {
  (void)node;
  const auto it = probes_.find(value.name);
  if (it == probes_.end()) return;
  const Probe& p = it->second;
  const int64_t c = channels_[p.group];
  HQP_CHECK(a_dot_g.dtype() == DType::kF32 && a_dot_g.rank() == 2);
  const int64_t k = p.columns_per_channel;
  const int64_t width = a_dot_g.dim(1);
  HQP_CHECK_MSG(width >= (p.offset + c) * k,
                fmt::format("probe '{}' reports {} columns (expected channels {}..{} x {})", value.name, width,
                            p.offset, p.offset + c, k));
  const int64_t n = a_dot_g.dim(0);
  std::vector<double>& b = batch_[p.group];
  if (batch_rows_[p.group] == 0) {
    batch_rows_[p.group] = n;
    b.assign(static_cast<size_t>(n * c), 0.0);
  }
  HQP_CHECK_MSG(batch_rows_[p.group] == n, "probes of one group report different batch sizes");
  const float* src = a_dot_g.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      double s = 0.0;
      for (int64_t j = 0; j < k; ++j) s += src[i * width + (p.offset + ch) * k + j];
      b[static_cast<size_t>(i * c + ch)] += s;
    }
  }
}

void GroupGradientAccumulator::end_batch() {
  int64_t rows = 0;
  for (size_t g = 0; g < batch_.size(); ++g) {
    const int64_t n = batch_rows_[g];
    if (n == 0) continue;
    rows = std::max(rows, n);
    const auto c = static_cast<size_t>(channels_[g]);
    for (int64_t i = 0; i < n; ++i) {
      for (size_t ch = 0; ch < c; ++ch) {
        const double v = batch_[g][static_cast<size_t>(i) * c + ch];
        fisher_[g][ch] += v * v;
        sum_[g][ch] += v;
      }
    }
    batch_rows_[g] = 0;
  }
  samples_ += rows;
}

std::vector<double> GroupGradientAccumulator::sums() const {
  std::vector<double> v = {static_cast<double>(samples_)};
  for (const auto& f : fisher_) v.insert(v.end(), f.begin(), f.end());
  for (const auto& f : sum_) v.insert(v.end(), f.begin(), f.end());
  return v;
}

void GroupGradientAccumulator::set_sums(const std::vector<double>& v) {
  size_t i = 0;
  HQP_CHECK(!v.empty());
  samples_ = static_cast<int64_t>(std::llround(v[i++]));
  for (auto* table : {&fisher_, &sum_}) {
    for (auto& f : *table) {
      HQP_CHECK(i + f.size() <= v.size());
      std::copy_n(v.begin() + static_cast<std::ptrdiff_t>(i), f.size(), f.begin());
      i += f.size();
    }
  }
  HQP_CHECK(i == v.size());
}

GroupScores GroupGradientAccumulator::fisher() const {
  GroupScores out(fisher_.size());
  const double n = samples_ > 0 ? static_cast<double>(samples_) : 1.0;
  for (size_t g = 0; g < fisher_.size(); ++g) {
    for (double v : fisher_[g]) out[g].push_back(v / n);
  }
  return out;
}

GroupScores GroupGradientAccumulator::taylor() const {
  GroupScores out(sum_.size());
  const double n = samples_ > 0 ? static_cast<double>(samples_) : 1.0;
  for (size_t g = 0; g < sum_.size(); ++g) {
    for (double v : sum_[g]) out[g].push_back(std::fabs(v) / n);
  }
  return out;
}

}  // namespace hqp::prune
