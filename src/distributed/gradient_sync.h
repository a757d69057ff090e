// Internal to hqp_train: data-parallel gradient averaging as DDP does it -- parameters in buckets
// of about `bucket_bytes` (reverse registration order, the order backward produces them), each
// bucket's allreduce started by autograd hooks as soon as its last gradient exists, so the
// communication overlaps the rest of backward. Torch-aware (includes ATen).
//
// Contract per step: begin() before backward, finish() after; every rank runs the same graph, so
// hooks fire in the same order everywhere and buckets are reduced in the same order. The caller
// scales its loss so that the SUM over ranks is the gradient wanted (a rank's mean loss times
// rows / global rows gives the global batch mean). A parameter whose gradient comes twice in one
// backward (shared weight) or never is handled in finish() (its bucket reduced again / with zero).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/ATen.h>

#include "core/status.h"
#include "distributed/process_group.h"

namespace hqp::distributed {

class GradientSync {
 public:
  static constexpr int64_t kFirstBucketBytes = 1 << 20;  // small first bucket: starts early

  // bucket_bytes >= 1: the size of every bucket after the first (DistConfig::bucket_mb, whose
  // default is DDP's 25 MiB).
  GradientSync(GroupPtr group, std::vector<at::Tensor> params, int64_t bucket_bytes);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Arms the hooks for one backward pass.
  void begin();
  // Waits for every bucket, starts the ones that did not fill (unused parameters contribute
  // zero), writes the summed gradients into each parameter's .grad(). Disarms the hooks.
  Status finish();
  // A rank without rows in this global batch: contributes zero gradients to every bucket (and
  // receives the others' sum), keeping the collectives in step.
  Status contribute_nothing();

  int64_t num_buckets() const;

  struct State;

 private:
  std::shared_ptr<State> state_;  // shared with the hooks
};

}  // namespace hqp::distributed
