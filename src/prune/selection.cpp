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
    {CostKind::kNone, "none"}, {CostKind::kMacs, "macs"}, {CostKind::kParams, "params"}};

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

Result<std::vector<GroupCost>> channel_costs(const ir::Graph& graph, const std::vector<ChannelGroup>& groups) {
  const ir::ModelStats base = ir::compute_stats(graph);
  std::vector<GroupCost> costs(groups.size());
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    if (!groups[gi].prunable || groups[gi].channels < 2) continue;
    ir::Graph trial = graph.clone();
    const int64_t one[] = {0};
    HQP_RETURN_IF_ERROR(remove_channels(trial, groups[gi], one));
    const ir::ModelStats s = ir::compute_stats(trial);
    costs[gi].macs = static_cast<double>(base.macs - s.macs);
    costs[gi].params = static_cast<double>(base.params - s.params);
  }
  return costs;
}

std::vector<Removal> select_channels(const std::vector<ChannelGroup>& groups, const GroupScores& scores,
                                     const std::vector<GroupCost>& costs, const SelectOptions& options) {
  const int64_t round_to = std::max<int64_t>(1, options.round_to);
  // Per group: channel order (ascending score) and its units.
  std::vector<std::vector<int64_t>> order(groups.size());
  std::vector<std::vector<Unit>> units(groups.size());
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const ChannelGroup& g = groups[gi];
    if (!g.prunable || g.max_removable <= 0 || gi >= scores.size() || scores[gi].size() != static_cast<size_t>(g.channels)) {
      continue;
    }
    const std::vector<double>& s = scores[gi];
    std::vector<int64_t>& o = order[gi];
    o.resize(static_cast<size_t>(g.channels));
    std::iota(o.begin(), o.end(), 0);
    std::stable_sort(o.begin(), o.end(), [&](int64_t a, int64_t b) { return s[static_cast<size_t>(a)] < s[static_cast<size_t>(b)]; });
    double normalizer = 1.0;
    if (options.normalize == CostKind::kMacs) normalizer = costs[gi].macs;
    if (options.normalize == CostKind::kParams) normalizer = costs[gi].params;
    if (!(normalizer > 0.0)) continue;  // frees nothing of what is counted: never chosen
    const int64_t first = g.channels % round_to != 0 ? g.channels % round_to : round_to;
    size_t pos = 0;
    int64_t size = first;
    while (static_cast<int64_t>(pos) + size <= g.max_removable) {
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
  double freed = 0.0;
  while (freed < options.macs_budget && !heap.empty()) {
    const Unit u = heap.top();
    heap.pop();
    taken[u.group] = u.end;
    freed += costs[u.group].macs * static_cast<double>(u.end - u.begin);
    if (++next[u.group] < units[u.group].size()) heap.push(units[u.group][next[u.group]]);
  }
  std::vector<Removal> out;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    if (taken[gi] == 0) continue;
    Removal r{gi, std::vector<int64_t>(order[gi].begin(), order[gi].begin() + static_cast<std::ptrdiff_t>(taken[gi]))};
    std::sort(r.channels.begin(), r.channels.end());
    out.push_back(std::move(r));
  }
  return out;
}

Status apply_removals(ir::Graph& graph, const std::vector<ChannelGroup>& groups, const std::vector<Removal>& removals) {
  for (const Removal& r : removals) {
    if (r.group >= groups.size()) {
      return make_error(StatusCode::kInvalidArgument, "cannot prune: group index {} out of range", r.group);
    }
    HQP_RETURN_IF_ERROR(remove_channels(graph, groups[r.group], r.channels));
  }
  return Status();
}

}  // namespace hqp::prune
