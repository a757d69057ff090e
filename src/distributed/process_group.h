// A data-parallel process group on libtorch's c10d (ProcessGroupGloo over TCP, TCPStore
// rendezvous hosted by rank 0) -- the engine PyTorch DDP users run, not one of hqp's own.
// This header does not include libtorch: the pruner, quantizer and evaluators reduce their sums
// through it; the trainer's gradient averaging reaches c10d through distributed/gloo_group.h.
//
// Contract: every rank calls the same collectives in the same order with the same sizes.
// A peer that exits or stays silent for longer than the timeout makes the pending collective
// fail on every other rank with kIoError naming this rank and the operation; after that
// the group is unusable (each later call fails the same way).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "distributed/config.h"

namespace hqp::distributed {

enum class ReduceOp : uint8_t { kSum, kMin, kMax };

class ProcessGroup {
 public:
  // Rendezvous: rank 0 listens on master_addr:master_port, every rank connects; returns when all
  // world_size ranks joined, kIoError when they did not within config.timeout_s.
  static Result<std::shared_ptr<ProcessGroup>> connect(const DistConfig& config);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const;
  int world_size() const;
  const DistConfig& config() const;

  // In place, element-wise over all ranks; every rank ends with the same values.
  Status all_reduce(std::span<double> values, ReduceOp op = ReduceOp::kSum);
  Status all_reduce(std::span<float> values, ReduceOp op = ReduceOp::kSum);
  Status all_reduce(std::span<int64_t> values, ReduceOp op = ReduceOp::kSum);
  // Rank `root`'s bytes / values to every rank (size must agree).
  Status broadcast(std::span<uint8_t> bytes, int root = 0);
  Status broadcast(std::span<double> values, int root = 0);
  // Rank `root`'s string to every rank (any length).
  Status broadcast(std::string& text, int root = 0);
  Status barrier();

  // A failure of collective `what` (c10d's message) as the Status every caller returns.
  Status failure(const std::string& what, const std::string& detail);

  struct Impl;  // c10d objects; distributed/gloo_group.h
  Impl& impl() { return *impl_; }

 private:
  explicit ProcessGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

using GroupPtr = std::shared_ptr<ProcessGroup>;

// Helpers that are the identity without a group (nullptr), so callers need no branch.
// hits / total over every rank's counts (0 when the total is 0).
Result<double> global_fraction(ProcessGroup* group, int64_t hits, int64_t total);
// Rank 0's value on every rank: for figures each rank measures differently (a latency, a clock)
// that decisions depend on.
Result<double> rank0_value(ProcessGroup* group, double value);

}  // namespace hqp::distributed
