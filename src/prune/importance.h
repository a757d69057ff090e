// Channel importance for structured pruning: one score per channel of every prunable group (higher
// = more important). Weight criteria read the graph (l1, l2, bn_scale, random); gradient criteria
// (fisher, taylor) need a·g terms from an executor with autograd: insert_fisher_probes builds the
// graph to run, GroupGradientAccumulator (an ir::GradientObserver) turns the reported terms into
// scores. Torch-free: the executor (train::TorchExecutor::gradient_pass) lives elsewhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"
#include "ir/observer.h"
#include "prune/channel_groups.h"

namespace hqp::prune {

enum class Criterion : uint8_t {
  kFisher,   // group Fisher (Liu et al., ICML 2021): mean over samples of (Σ_probes Σ_hw a·g)²
  kTaylor,   // first order: |Σ_samples Σ_probes Σ_hw a·g| / samples
  kL1,       // Σ |w| over the group's weights (producers' output and consumers' input slices, BN
             // scales), divided by the group's mean
  kL2,       // sqrt(Σ w²) over the same weights, / group mean
  kBnScale,  // Σ |γ| over the group's BatchNorms, / group mean (a group without BatchNorm is never chosen)
  kRandom,   // uniform in [0, 1), seeded
};
std::optional<Criterion> criterion_from_name(std::string_view name);  // "fisher", "taylor", "l1", ...
std::string_view criterion_name(Criterion criterion);
bool needs_gradients(Criterion criterion);  // fisher, taylor

// scores[i][c]: channel c of groups[i]; empty for blocked groups.
using GroupScores = std::vector<std::vector<double>>;

// l1, l2, bn_scale, random (kInvalidArgument for a gradient criterion). l1, l2 and bn_scale are
// divided by their group's mean (weight scales differ between layers; Torch-Pruning's global
// ranking normalizes the same way), so scores compare across groups; random is uniform in [0, 1).
Result<GroupScores> weight_importance(const ir::Graph& graph, const std::vector<ChannelGroup>& groups,
                                      Criterion criterion, uint64_t seed);

// Where a group's channels are read: the mask of surgery (mask_channels) sits on the input of every
// kConsumer / kGemmColumns member, so d Loss / d mask_c = Σ over those inputs of Σ_hw a·g. A probe
// is a Mul by ones inserted in front of one such input: it computes nothing, and its output has
// exactly one reader, so its gradient is that reader's share.
struct FisherProbe {
  std::string value;               // the probe's output value
  size_t group = 0;                // index into the groups
  int64_t columns_per_channel = 1; // a Gemm probe reports C·k columns: k per group channel
  int64_t offset = 0;              // the group's first channel in the probed tensor (behind a Concat)
  int64_t channel_axis = 1;        // the probed tensor's channel axis (its last behind a MatMul)
};
struct ProbedGraph {
  ir::Graph graph;                  // verified; same inputs and outputs as the original
  std::vector<FisherProbe> probes;  // one per consumer of every prunable group
};
Result<ProbedGraph> insert_fisher_probes(const ir::Graph& graph, const std::vector<ChannelGroup>& groups);

// Receives the probes' a·g during backward passes and accumulates per group and channel. Call
// end_batch() after each backward pass: it folds that batch's per-sample sums (over the probes of
// a group: the group Fisher couples all of its readers before squaring).
class GroupGradientAccumulator final : public ir::GradientObserver {
 public:
  GroupGradientAccumulator(const std::vector<ChannelGroup>& groups, const std::vector<FisherProbe>& probes);
  bool observes(const ir::Node& node, const ir::Value& value) override;
  int64_t channel_axis(const ir::Node& node, const ir::Value& value) override;
  void on_channel_fisher(const ir::Node& node, const ir::Value& value, const Tensor& a_dot_g) override;
  void end_batch();

  int64_t samples() const { return samples_; }
  // Everything accumulated so far as one flat vector (samples, then each group's Σ_n (Σ a·g)² and
  // Σ_n Σ a·g), and back: data-parallel ranks add their vectors up before scoring, which gives
  // the scores of all their samples together.
  std::vector<double> sums() const;
  void set_sums(const std::vector<double>& sums);
  GroupScores fisher() const;  // Σ_n (Σ a·g)² / samples
  GroupScores taylor() const;  // |Σ_n Σ a·g| / samples

 private:
  struct Probe {
    size_t group;
    int64_t columns_per_channel;
    int64_t offset;
    int64_t channel_axis;
  };
  std::unordered_map<std::string, Probe> probes_;
  std::vector<int64_t> channels_;              // per group (0: not probed)
  std::vector<std::vector<double>> batch_;     // per group: [N, C] of the current batch
  std::vector<int64_t> batch_rows_;            // per group: N of the current batch
  std::vector<std::vector<double>> fisher_;    // per group: [C]
  std::vector<std::vector<double>> sum_;       // per group: [C]
  int64_t samples_ = 0;
};

}  // namespace hqp::prune
