// Which channels one pruning step removes: the cost each group frees per channel (MACs, params,
// measured by trial surgery), a global ranking of all groups' channels by importance (optionally
// per unit of cost), and the removal of the chosen channels in one pass. Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"
#include "prune/channel_groups.h"
#include "prune/importance.h"

namespace hqp::prune {

// Hardware-aware cost: measured milliseconds per unit of work of each node (by name), where a node's
// work is its MACs at batch 1 (Conv, Gemm, MatMul) or else the element count of its output 0
// (node_work). Built from a runtime profile of the model on the target engine (pruner/
// latency_table.h), once per model: the cost of removing work is modelled as linear in the work,
// at each node's own measured rate -- a depthwise conv or an element-wise op that costs more per
// MAC than a dense conv on this CPU costs more here too.
using LatencyTable = std::map<std::string, double>;
std::map<std::string, double> node_work(const ir::Graph& graph);
// The table's estimate of the whole graph's latency (nodes absent from the table count 0).
double estimated_latency_ms(const ir::Graph& graph, const LatencyTable& table);

// What removing one channel of a group frees, at batch 1 (ir::compute_stats before and after
// removing one channel from a clone; 0 for blocked groups; for a collapsible group, what removing
// the whole block frees, per channel). latency_ms only with a table.
struct GroupCost {
  double macs = 0.0;
  double params = 0.0;
  double latency_ms = 0.0;
};
Result<std::vector<GroupCost>> channel_costs(const ir::Graph& graph, const std::vector<ChannelGroup>& groups,
                                             const LatencyTable* latency = nullptr);

// Cost normalization of the ranking: importance / (what one channel frees).
enum class CostKind : uint8_t { kNone, kMacs, kParams, kLatency };
std::optional<CostKind> cost_from_name(std::string_view name);  // "none", "macs", "params", "latency"
std::string_view cost_name(CostKind kind);

struct SelectOptions {
  double macs_budget = 0.0;  // remove channels until at least this many MACs are freed (or nothing is left)
  // With normalize == kLatency: stop as well once this many estimated milliseconds are freed (> 0).
  double latency_budget_ms = 0.0;
  CostKind normalize = CostKind::kMacs;
  int64_t round_to = 1;      // channels leave a group in units that keep its count a multiple of this
};

struct Removal {
  size_t group = 0;               // index into the groups
  std::vector<int64_t> channels;  // sorted ascending
};

// Global ranking: each prunable group's channels (its blocks of group.block channels, for grouped
// convs; scored by their mean) sorted by score, cut into units (lcm(block, round_to) channels; the
// first unit brings the count to a multiple), a unit's key its mean score per channel divided by
// the group's per-channel cost; units leave in ascending key order, each group's in its own order,
// never beyond group.max_removable, until the freed MACs reach the budget. Channels with an
// infinite score never leave. Deterministic (ties: lower group index, then lower channel).
std::vector<Removal> select_channels(const std::vector<ChannelGroup>& groups, const GroupScores& scores,
                                     const std::vector<GroupCost>& costs, const SelectOptions& options);

// Applies the removals to `graph` (groups computed on this graph before any removal). Errors leave
// the graph partly changed: apply to a clone.
Status apply_removals(ir::Graph& graph, const std::vector<ChannelGroup>& groups, const std::vector<Removal>& removals);

}  // namespace hqp::prune
