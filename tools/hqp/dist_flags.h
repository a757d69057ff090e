// The data-parallel flags of train / prune / compress / quantize: --world-size, --rank,
// --master ADDR:PORT, --timeout, --sync-bn, --bucket-mb (and torchrun's WORLD_SIZE / RANK / MASTER_ADDR /
// MASTER_PORT variables, which `hqp launch` sets). The rules live in src/distributed.
#pragma once

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "distributed/config.h"
#include "distributed/process_group.h"

namespace hqp::cli {

void add_dist_flags(CLI::App* sub, distributed::DistFlags& flags);

// The process group of this run, or nullptr when the world has one process.
Result<distributed::GroupPtr> join_group(const distributed::DistFlags& flags);

// True when this process writes files and prints (rank 0, or no group).
inline bool is_writer(const distributed::GroupPtr& group) { return group == nullptr || group->rank() == 0; }

}  // namespace hqp::cli
