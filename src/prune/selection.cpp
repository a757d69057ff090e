// Channel costs, the global ranking and the removal of one pruning step.
#include "prune/selection.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <queue>

#include "ir/model_stats.h"
#include "prune/surgery.h"

namespace hqp::prune {

namespace {

constexpr std::pair<CostKind, std::string_view> kCostNames[] = {
    {CostKind::kNone, "none"}, {CostKind::kMacs, "macs"}, {CostKind::kParams, "params"},
                                                                   {CostKind::kLatency, "latency"}};

struct Unit {
  size_t group;
  size_t begin, end;  // positions in the group's ascending order
  double key;
};

}  // namespace

std::optional<CostKind> cost_from_name(std::string_view name) {
  for (const auto& [k, n] : kCostNames) {
    if (n == name) return k;
  }
  return std::nullopt;
}

std::string_view cost_name(CostKind kind) {
  for (const auto& [k, n] : kCostNames) {
    if (k == kind) return n;
  }
  return "?";
}

std::map<std::string, double> node_work(const ir::Graph& graph) {
  std::map<std::string, double> work;
  const ir::ModelStats stats = ir::compute_stats(graph);
  for (const ir::LayerStats& l : stats.layers) {
    if (l.macs > 0) work[l.name] = static_cast<double>(l.macs);
  }
  for (const auto& n : graph.nodes()) {
    if (work.count(n->name) != 0 || n->num_outputs() == 0) continue;
    const ir::Value* y = n->output(0);
    if (y == nullptr || !y->shape) continue;
    double numel = 1.0;
    for (size_t d = 0; d < y->shape->size(); ++d) {
      const auto& dim = (*y->shape)[d];
      if (d > 0 && dim.is_static()) numel *= static_cast<double>(dim.value);  // batch counts as 1
    }
    work[n->name] = numel;
  }
  return work;
}

double estimated_latency_ms(const ir::Graph& graph, const LatencyTable& table) {
  double ms = 0.0;
  for (const auto& [name, w] : node_work(graph)) {
    const auto it = table.find(name);
    if (it != table.end()) ms += it->second * w;
  }
  return ms;
}

Result<std::vector<GroupCost>> channel_costs(const ir::Graph& graph, const std::vector<ChannelGroup>& groups,
                                             const LatencyTable* latency) {
  const ir::ModelStats base = ir::compute_stats(graph);
  const double base_ms = latency != nullptr ? estimated_latency_ms(graph, *latency) : 0.0;
  std::vector<GroupCost> costs(groups.size());
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    int64_t block = std::max<int64_t>(1, groups[gi].block);
    if (!groups[gi].prunable) continue;
    // A collapsible group is priced at what removing its whole block frees, per channel: its last
    // channel also removes the nodes that only vanish with the block (an SE block's pooling and
    // gate, a residual branch's Add), each worth a fixed per-step time on the target engine.
    if (groups[gi].collapsible) {
      block = groups[gi].channels;
    } else if (groups[gi].channels < 2 * block) {
      continue;
    }
    // One block (one channel, or one conv group of a grouped conv), per channel.
    ir::Graph trial = graph.clone();
    std::vector<int64_t> first(static_cast<size_t>(block));
    std::iota(first.begin(), first.end(), 0);
    HQP_RETURN_IF_ERROR(remove_channels(trial, groups[gi], first));
    const ir::ModelStats s = ir::compute_stats(trial);
    const auto per = static_cast<double>(block);
    costs[gi].macs = static_cast<double>(base.macs - s.macs) / per;
    costs[gi].params = static_cast<double>(base.params - s.params) / per;
    if (latency != nullptr) costs[gi].latency_ms = (base_ms - estimated_latency_ms(trial, *latency)) / per;
  }
  return costs;
}

std::vector<Removal> select_channels(const std::vector<ChannelGroup>& groups, const GroupScores& scores,
                                     const std::vector<GroupCost>& costs, const SelectOptions& options) {
  // Per group: its blocks ("atoms": one channel, or one conv group of a grouped conv) in ascending
  // order of mean score, and its units of atoms.
  std::vector<std::vector<int64_t>> order(groups.size());
  std::vector<std::vector<Unit>> units(groups.size());
  std::vector<int64_t> atom_size(groups.size(), 1);
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const ChannelGroup& g = groups[gi];
    if (!g.prunable || g.max_removable <= 0 || gi >= scores.size() || scores[gi].size() != static_cast<size_t>(g.channels)) {
      continue;
    }
    const int64_t blk = std::max<int64_t>(1, g.block);
    atom_size[gi] = blk;
    const int64_t atoms = g.channels / blk;
    std::vector<double> s(static_cast<size_t>(atoms), 0.0);
    for (int64_t c = 0; c < atoms * blk; ++c) s[static_cast<size_t>(c / blk)] += scores[gi][static_cast<size_t>(c)];
    for (double& v : s) v /= static_cast<double>(blk);
    std::vector<int64_t>& o = order[gi];
    o.resize(static_cast<size_t>(atoms));
    std::iota(o.begin(), o.end(), 0);
    std::stable_sort(o.begin(), o.end(), [&](int64_t a, int64_t b) { return s[static_cast<size_t>(a)] < s[static_cast<size_t>(b)]; });
    double normalizer = 1.0;
    if (options.normalize == CostKind::kMacs) normalizer = costs[gi].macs;
    if (options.normalize == CostKind::kParams) normalizer = costs[gi].params;
    if (options.normalize == CostKind::kLatency) normalizer = costs[gi].latency_ms;
    if (!(normalizer > 0.0)) continue;  // frees nothing of what is counted: never chosen
    // Kept counts stay multiples of lcm(block, round_to): units of that many channels, the first
    // one bringing the count to such a multiple.
    const int64_t quantum = std::lcm(blk, std::max<int64_t>(1, options.round_to)) / blk;  // in atoms
    const int64_t first = atoms % quantum != 0 ? atoms % quantum : quantum;
    const int64_t max_atoms = g.max_removable / blk;
    const int64_t round_to = quantum;
    size_t pos = 0;
    int64_t size = first;
    while (static_cast<int64_t>(pos) + size <= max_atoms) {
      double sum = 0.0;
      for (size_t i = pos; i < pos + static_cast<size_t>(size); ++i) sum += s[static_cast<size_t>(o[i])];
      if (!std::isfinite(sum)) break;
      units[gi].push_back({gi, pos, pos + static_cast<size_t>(size), sum / static_cast<double>(size) / normalizer});
      pos += static_cast<size_t>(size);
      size = round_to;
    }
  }
  // k-way merge over the groups' unit lists (each taken in its own order).
  auto later = [](const Unit& a, const Unit& b) {
    if (a.key != b.key) return a.key > b.key;
    if (a.group != b.group) return a.group > b.group;
    return a.begin > b.begin;
  };
  std::priority_queue<Unit, std::vector<Unit>, decltype(later)> heap(later);
  std::vector<size_t> next(groups.size(), 0);
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    if (!units[gi].empty()) heap.push(units[gi][0]);
  }
  std::vector<size_t> taken(groups.size(), 0);  // positions taken per group
  double freed = 0.0, freed_ms = 0.0;
  const bool by_latency = options.normalize == CostKind::kLatency && options.latency_budget_ms > 0.0;
  while (freed < options.macs_budget && (!by_latency || freed_ms < options.latency_budget_ms) && !heap.empty()) {
    const Unit u = heap.top();
    heap.pop();
    taken[u.group] = u.end;
    const double channels = static_cast<double>((u.end - u.begin) * static_cast<size_t>(atom_size[u.group]));
    freed += costs[u.group].macs * channels;
    freed_ms += costs[u.group].latency_ms * channels;
    if (++next[u.group] < units[u.group].size()) heap.push(units[u.group][next[u.group]]);
  }
  std::vector<Removal> out;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    if (taken[gi] == 0) continue;
    Removal r{gi, {}};
    for (size_t i = 0; i < taken[gi]; ++i) {
      for (int64_t c = 0; c < atom_size[gi]; ++c) r.channels.push_back(order[gi][i] * atom_size[gi] + c);
    }
    std::sort(r.channels.begin(), r.channels.end());
    out.push_back(std::move(r));
  }
  return out;
}

Status apply_removals(ir::Graph& graph, const std::vector<ChannelGroup>& groups, const std::vector<Removal>& removals) {
  std::vector<ChannelRemoval> all;
  for (const Removal& r : removals) {
    if (r.group >= groups.size()) {
      return make_error(StatusCode::kInvalidArgument, "cannot prune: group index {} out of range", r.group);
    }
    all.push_back({&groups[r.group], r.channels});
  }
  return remove_channels(graph, all);  // one call: groups behind a Concat share tensors
}

}  // namespace hqp::prune
